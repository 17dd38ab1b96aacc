//! `anacondactl credential get|rejected URL`: what conda's plugin asks for every request, and
//! after the repository refused a credential. Both end within their deadline, whatever the
//! daemon does.

use std::time::Duration;

use anacondad_proto::v1::{
    CredentialKind, GetCredentialRequest, GetCredentialResponse, ReportRejectedRequest,
};

use super::Output;
use crate::cli::{CredentialCommand, CredentialType, EntryArgs, RejectedKind};
use crate::connection::Target;
use crate::exit::{CliError, Reason};

pub async fn run(cmd: CredentialCommand, target: &Target, out: Output) -> Result<(), CliError> {
    let (url, deadline) = match &cmd {
        CredentialCommand::Get { url, deadline, .. }
        | CredentialCommand::Rejected { url, deadline, .. } => {
            (url.clone(), Duration::from_millis(deadline.timeout_ms))
        }
    };
    let hide = |mut e: CliError| {
        e.message = hide_url(&e.message, &url);
        e
    };
    let answer = tokio::time::timeout(deadline, ask(cmd, target))
        .await
        .map_err(|_| target.unresponsive(deadline))?
        .map_err(hide)?;
    if !answer.found {
        // Printed as every failure is (`{"error", "reason", "exit_code"}` under --json), the
        // reason being the daemon's.
        let reason = Reason::NoCredential(answer.no_credential());
        return Err(CliError::failed(hide_url(&answer.reason, &url)).because(reason));
    }
    if out.json {
        out.print_json(&crate::json::commands::Credential::from(&answer));
    } else {
        crate::outln!("{}", answer.header_value);
    }
    Ok(())
}

/// `text` with every copy of `url` in its redacted form: the daemon's reasons name the URL
/// asked about, which may carry a token (`/t/<token>/`), a password or a signed query.
fn hide_url(text: &str, url: &str) -> String {
    if url.is_empty() {
        return text.to_owned();
    }
    text.replace(url, &anacondad_proto::redact_url(url))
}

async fn ask(cmd: CredentialCommand, target: &Target) -> Result<GetCredentialResponse, CliError> {
    let client = target.connect_or_start().await?;
    Ok(match cmd {
        CredentialCommand::Get { url, entry, .. } => {
            let (credential_type, auth_domain) = wire_entry(entry);
            client
                .credentials()
                .get_credential(GetCredentialRequest {
                    url,
                    credential_type,
                    auth_domain,
                })
                .await?
                .into_inner()
        }
        CredentialCommand::Rejected {
            url,
            status,
            kind,
            header_sha256,
            entry,
            ..
        } => {
            let (credential_type, auth_domain) = wire_entry(entry);
            client
                .credentials()
                .report_rejected(ReportRejectedRequest {
                    url,
                    http_status: status,
                    kind: match kind {
                        RejectedKind::RepoToken => CredentialKind::RepoToken,
                        RejectedKind::ApiKey => CredentialKind::ApiKey,
                    }
                    .into(),
                    rejected_header_sha256: header_sha256.unwrap_or_default(),
                    credential_type,
                    auth_domain,
                })
                .await?
                .into_inner()
                .credential
                .unwrap_or_default()
        }
    })
}

/// The entry's keys as the request carries them: unspecified and empty when it names none.
fn wire_entry(entry: EntryArgs) -> (i32, String) {
    let kind = match entry.credential_type {
        None => CredentialKind::Unspecified,
        Some(CredentialType::RepoToken) => CredentialKind::RepoToken,
        Some(CredentialType::ApiKey) => CredentialKind::ApiKey,
    };
    (kind.into(), entry.auth_domain.unwrap_or_default())
}

/// The command line conda's plugin runs for every lookup, `[--json] credential get URL
/// [--timeout-ms MS] [--socket PATH] [--credential-type TYPE] [--auth-domain DOMAIN]`, read without building the whole command tree (most of
/// a lookup's start-up otherwise). Anything else, or anything odd (a value clap would refuse,
/// `--help`), is `None`: clap parses it and says what is wrong.
pub fn parse_lookup(args: &[std::ffi::OsString]) -> Option<crate::cli::Cli> {
    use crate::cli::{Cli, Command, DEFAULT_CREDENTIAL_TIMEOUT_MS, Deadline};
    let timeout = |v: &str| v.parse::<u64>().ok().filter(|ms| *ms >= 1);
    let mut json = false;
    let mut socket = std::env::var_os("ANACONDAD_SOCKET").map(std::path::PathBuf::from);
    let mut timeout_ms = match std::env::var("ANACONDACTL_CREDENTIAL_TIMEOUT_MS") {
        Ok(v) => timeout(&v)?,
        Err(std::env::VarError::NotPresent) => DEFAULT_CREDENTIAL_TIMEOUT_MS,
        Err(std::env::VarError::NotUnicode(_)) => return None,
    };
    let credential_type = |v: &str| match v {
        "repo-token" => Some(CredentialType::RepoToken),
        "api-key" => Some(CredentialType::ApiKey),
        _ => None,
    };
    let mut entry = EntryArgs::default();
    let mut words = Vec::with_capacity(3);
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let arg = arg.to_str()?;
        match arg {
            "--json" => json = true,
            "--timeout-ms" => timeout_ms = timeout(rest.next()?.to_str()?)?,
            "--socket" => socket = Some(rest.next().filter(|v| !v.is_empty())?.into()),
            "--credential-type" => {
                entry.credential_type = Some(credential_type(rest.next()?.to_str()?)?);
            }
            "--auth-domain" => entry.auth_domain = Some(rest.next()?.to_str()?.to_owned()),
            _ if arg.starts_with("--timeout-ms=") => timeout_ms = timeout(&arg[13..])?,
            _ if arg.starts_with("--socket=") && arg.len() > 9 => socket = Some(arg[9..].into()),
            _ if arg.starts_with("--credential-type=") => {
                entry.credential_type = Some(credential_type(&arg[18..])?);
            }
            _ if arg.starts_with("--auth-domain=") => entry.auth_domain = Some(arg[14..].into()),
            _ if arg.starts_with('-') || arg.is_empty() => return None,
            _ => words.push(arg),
        }
    }
    let [verb, noun, url] = words.as_slice() else {
        return None;
    };
    if (*verb, *noun) != ("credential", "get") {
        return None;
    }
    Some(Cli {
        socket: socket.filter(|s| !s.as_os_str().is_empty()),
        json,
        at: None,
        command: Command::Credential(CredentialCommand::Get {
            url: (*url).to_owned(),
            deadline: Deadline { timeout_ms },
            entry,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugins_lookup_line_reads_as_clap_reads_it() {
        use clap::Parser as _;
        let lines: &[&[&str]] = &[
            &["credential", "get", "https://repo.example/repo/main/"],
            &[
                "--json",
                "credential",
                "get",
                "https://r/repo/acme/x/",
                "--timeout-ms",
                "250",
            ],
            &["credential", "--json", "get", "u", "--timeout-ms=7"],
            &["--socket", "/tmp/s.sock", "credential", "get", "u"],
            &["credential", "get", "u", "--socket=/tmp/x"],
            &[
                "--json",
                "credential",
                "get",
                "https://r/repo/acme/x/",
                "--credential-type",
                "api-key",
                "--auth-domain",
                "anaconda.com",
            ],
            &["credential", "get", "u", "--credential-type=repo-token"],
            &["credential", "get", "u", "--auth-domain=example.com"],
        ];
        for line in lines {
            let args: Vec<std::ffi::OsString> = std::iter::once("anacondactl")
                .chain(line.iter().copied())
                .map(Into::into)
                .collect();
            let fast = parse_lookup(&args).expect("the lookup line is read");
            let clap = crate::cli::Cli::try_parse_from(&args).expect("clap reads it");
            assert_eq!(format!("{fast:?}"), format!("{clap:?}"), "{line:?}");
        }
    }

    #[test]
    fn anything_else_is_left_to_clap() {
        let lines: &[&[&str]] = &[
            &["credential", "get"],
            &["credential", "get", "u", "v"],
            &["credential", "get", "--help"],
            &["credential", "get", "u", "--timeout-ms", "0"],
            &["credential", "get", "u", "--timeout-ms", "x"],
            &["credential", "get", "u", "--timeout-ms"],
            &["credential", "rejected", "u"],
            &["token", "list", "x"],
            &["credential", "get", "-"],
            &["credential", "get", "u", "--credential-type", "api_key"],
            &["credential", "get", "u", "--credential-type=token"],
            &["credential", "get", "u", "--auth-domain"],
        ];
        for line in lines {
            let args: Vec<std::ffi::OsString> = std::iter::once("anacondactl")
                .chain(line.iter().copied())
                .map(Into::into)
                .collect();
            assert!(parse_lookup(&args).is_none(), "{line:?}");
        }
    }

    #[test]
    fn a_reason_naming_the_url_shows_it_redacted() {
        let url = "https://u:pw@other.example/t/tok-secret/repo/x?sig=1";
        let shown = hide_url(&format!("{url} is not under the repository"), url);
        assert_eq!(
            shown,
            "https://other.example/t/<redacted>/repo/x is not under the repository"
        );
    }
}
