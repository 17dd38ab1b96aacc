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
    130  interrupted at a question (Ctrl-C); the message says what was done by then";

/// A failure to report: what happened and what to do next.
#[derive(Debug)]
pub struct CliError {
    pub kind: ExitKind,
    pub message: String,
}

impl CliError {
    pub fn new(kind: ExitKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
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
        if let Some(detail) = anacondad_proto::error_detail(&status) {
            let kind = match detail.reason() {
                ErrorReason::LoginRequired => ExitKind::LoginRequired,
                ErrorReason::ProtocolMismatch => ExitKind::ProtocolMismatch,
                _ => ExitKind::Failed,
            };
            return Self::new(kind, message);
        }
        let from_daemon = status
            .metadata()
            .contains_key(anacondad_proto::ORIGIN_METADATA_KEY);
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
