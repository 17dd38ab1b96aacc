//! The CLI's failures and their documented exit codes.

use std::fmt;

/// Exit codes; `anacondactl --help` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// The operation failed; the message says why.
    Failed = 1,
    /// Bad usage (clap's own code).
    Usage = 2,
    /// The daemon could not be reached or started.
    Daemon = 3,
    /// A prompt was needed but there is no terminal; the message names the flag.
    NeedsAnswer = 4,
    /// Not logged in, or the login lapsed: run `anacondactl login`.
    LoginRequired = 5,
    /// `condarc check` found drift.
    Drift = 6,
    /// The CLI and the daemon speak different protocol versions.
    ProtocolMismatch = 7,
    /// The daemon did not answer within the command's deadline (hung, or stopped by a signal).
    Unresponsive = 8,
    /// `doctor` found a check that fails.
    DoctorFailed = 9,
    /// The service did not answer within the command's deadline (`command_timeout_secs`);
    /// the message says what was waited for and what was done.
    ServiceTimeout = 10,
    /// Ctrl-C at a question; the message says what was done by then (128 + SIGINT, what a
    /// shell reports for a command ended by Ctrl-C).
    Interrupted = 130,
}

pub const EXIT_CODES_HELP: &str = "Exit codes:\n  \
    0  success\n  \
    1  the operation failed (the message says why)\n  \
    2  bad usage\n  \
    3  the daemon could not be reached or started\n  \
    4  a prompt was needed but there is no terminal (pass --yes / --org)\n  \
    5  login required: run `anacondactl login`\n  \
    6  `condarc check` found drift\n  \
    7  the CLI and the daemon speak different protocol versions\n  \
    8  the daemon did not answer in time (hung or stopped; `credential get --timeout-ms`)\n  \
    9  `doctor` found a failing check\n  \
    10 the service did not answer in time (command_timeout_secs in anacondad's config.toml)\n  \
    130  interrupted at a question (Ctrl-C); the message says what was done by then\n\
    `exec` exits with its command's status (128 + a signal that ended it; 127 not found, \
    126 cannot run)";

impl ExitKind {
    /// The kind as the `reason` of a JSON error, when the daemon gave no reason of its own.
    pub fn code(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Usage => "usage",
            Self::Daemon => "daemon_unavailable",
            Self::NeedsAnswer => "needs_answer",
            Self::LoginRequired => "login_required",
            Self::Drift => "drift",
            Self::ProtocolMismatch => "protocol_mismatch",
            Self::Unresponsive => "unresponsive",
            Self::DoctorFailed => "doctor_failed",
            Self::ServiceTimeout => "service_timeout",
            Self::Interrupted => "interrupted",
        }
    }
}

/// Why the daemon said no, as it said it: the reason of an error status, or why a lookup
/// found no credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Daemon(anacondad_proto::v1::ErrorReason),
    NoCredential(anacondad_proto::v1::NoCredentialReason),
}

impl Reason {
    /// The wire name without its prefix: `login_required`, `no_token_for_org`.
    pub fn code(self) -> String {
        let (name, prefix) = match self {
            Self::Daemon(r) => (r.as_str_name(), "ERROR_REASON_"),
            Self::NoCredential(r) => (r.as_str_name(), "NO_CREDENTIAL_REASON_"),
        };
        crate::json::enum_name(name, prefix)
    }
}

/// A failure to report: what happened and what to do next.
#[derive(Debug)]
pub struct CliError {
    pub kind: ExitKind,
    pub message: String,
    /// The daemon's reason, when the failure is its answer.
    pub reason: Option<Reason>,
}

impl CliError {
    pub fn new(kind: ExitKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            reason: None,
        }
    }

    /// The same failure, with the daemon's reason for it.
    pub fn because(mut self, reason: Reason) -> Self {
        self.reason = Some(reason);
        self
    }

    /// The `reason` of the JSON error: the daemon's when it gave one (and a specific one),
    /// else the kind of failure.
    pub fn reason_code(&self) -> String {
        use anacondad_proto::v1::{ErrorReason, NoCredentialReason};
        match self.reason {
            Some(Reason::Daemon(ErrorReason::Unspecified))
            | Some(Reason::NoCredential(NoCredentialReason::Unspecified))
            | None => self.kind.code().to_owned(),
            Some(reason) => reason.code(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ExitKind::Failed, message)
    }

    pub fn code(&self) -> u8 {
        self.kind as u8
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        use anacondad_proto::v1::ErrorReason;
        use tonic::Code;
        let message = status.message().to_owned();
        let from_daemon = status
            .metadata()
            .contains_key(anacondad_proto::ORIGIN_METADATA_KEY);
        if from_daemon && status.code() == Code::DeadlineExceeded {
            return Self::new(ExitKind::ServiceTimeout, message);
        }
        if let Some(detail) = anacondad_proto::error_detail(&status) {
            let kind = match detail.reason() {
                ErrorReason::LoginRequired => ExitKind::LoginRequired,
                ErrorReason::ProtocolMismatch => ExitKind::ProtocolMismatch,
                _ => ExitKind::Failed,
            };
            return Self::new(kind, message).because(Reason::Daemon(detail.reason()));
        }
        if from_daemon {
            return Self::failed(message);
        }
        match status.code() {
            Code::Unauthenticated => Self::new(ExitKind::LoginRequired, message),
            // Not the daemon's own answer: the connection to it broke (e.g. it was killed).
            Code::Unavailable | Code::Unknown | Code::Cancelled => Self::new(
                ExitKind::Daemon,
                format!(
                    "lost the connection to the daemon ({message}); run the command again, or \
                     see `anacondactl daemon status`"
                ),
            ),
            Code::Unimplemented => Self::failed(format!(
                "the running daemon does not support this yet ({message}); restart it with \
                 `anacondactl daemon stop` so the installed version starts"
            )),
            _ => Self::failed(message),
        }
    }
}

/// The reason a daemon's error status carries, when it carries one.
pub fn reason(status: &tonic::Status) -> Option<anacondad_proto::v1::ErrorReason> {
    anacondad_proto::error_detail(status).map(|d| d.reason())
}

#[cfg(test)]
mod tests {
    use super::*;
    use anacondad_proto::v1::{ErrorReason, NoCredentialReason};

    #[test]
    fn the_json_reason_is_the_daemons_when_it_gave_one_else_the_kind_of_failure() {
        let refused =
            CliError::failed("x").because(Reason::NoCredential(NoCredentialReason::NoTokenForOrg));
        assert_eq!(refused.reason_code(), "no_token_for_org");
        let login = CliError::new(ExitKind::LoginRequired, "x")
            .because(Reason::Daemon(ErrorReason::LoginRequired));
        assert_eq!(login.reason_code(), "login_required");
        let vague = CliError::failed("x").because(Reason::Daemon(ErrorReason::Unspecified));
        assert_eq!(vague.reason_code(), "failed");
        assert_eq!(
            CliError::new(ExitKind::Daemon, "x").reason_code(),
            "daemon_unavailable"
        );
    }
}
