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
    let (answer, others) = tokio::time::timeout(deadline, ask(cmd, target))
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
        let mut json = crate::json::commands::Credential::from(&answer);
        json.also = others.into_iter().map(other_json).collect();
        out.print_json(&json);
    } else {
        crate::outln!("{}", answer.header_value);
    }
    Ok(())
}

/// The answer for one of `--also`'s URLs, or why it has none.
struct Other {
    url: String,
    answer: Result<GetCredentialResponse, CliError>,
}

fn other_json(other: Other) -> crate::json::commands::OtherCredential {
    use crate::json::commands::OtherCredential;
    let shown = anacondad_proto::redact_url(&other.url);
    match other.answer {
        Ok(answer) if answer.found => OtherCredential::found(shown, &answer),
        Ok(answer) => OtherCredential::failed(
            shown,
            &CliError::failed(hide_url(&answer.reason, &other.url))
                .because(Reason::NoCredential(answer.no_credential())),
        ),
        Err(mut e) => {
            e.message = hide_url(&e.message, &other.url);
            OtherCredential::failed(shown, &e)
        }
    }
}

/// `text` with every copy of `url` in its redacted form: the daemon's reasons name the URL
/// asked about, which may carry a token (`/t/<token>/`), a password or a signed query.
fn hide_url(text: &str, url: &str) -> String {
    if url.is_empty() {
        return text.to_owned();
    }
    text.replace(url, &anacondad_proto::redact_url(url))
}

async fn ask(
    cmd: CredentialCommand,
    target: &Target,
) -> Result<(GetCredentialResponse, Vec<Other>), CliError> {
    let client = target.connect_or_start().await?;
    Ok(match cmd {
        CredentialCommand::Get {
            url, entry, also, ..
        } => {
            let (credential_type, auth_domain) = wire_entry(entry);
            let request = |url: String| GetCredentialRequest {
                url,
                credential_type,
                auth_domain: auth_domain.clone(),
            };
            // Every URL's call is sent at once on the one connection: the daemon answers them
            // side by side, so the others cost this process about one round trip.
            let mut others = tokio::task::JoinSet::new();
            for (i, other) in also.into_iter().enumerate() {
                let mut api = client.credentials();
                let sent = request(other.clone());
                others.spawn(async move {
                    let answer = api.get_credential(sent).await;
                    (i, other, answer.map(tonic::Response::into_inner))
                });
            }
            let answer = client
                .credentials()
                .get_credential(request(url))
                .await?
                .into_inner();
            let mut done = Vec::with_capacity(others.len());
            while let Some(joined) = others.join_next().await {
                if let Ok((i, url, answer)) = joined {
                    done.push((
                        i,
                        Other {
                            url,
                            answer: answer.map_err(CliError::from),
                        },
                    ));
                }
            }
            done.sort_by_key(|(i, _)| *i);
            (answer, done.into_iter().map(|(_, other)| other).collect())
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
            let answer = client
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
                .unwrap_or_default();
            (answer, Vec::new())
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
/// [--timeout-ms MS] [--socket PATH] [--credential-type TYPE] [--auth-domain DOMAIN]
/// [--also URL]...`, read without building the whole command tree (most of a lookup's
/// start-up otherwise). Anything else, or anything odd (a value clap would refuse,
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
    let mut also = Vec::new();
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
            "--also" => also.push(rest.next()?.to_str()?.to_owned()),
            _ if arg.starts_with("--timeout-ms=") => timeout_ms = timeout(&arg[13..])?,
            _ if arg.starts_with("--socket=") && arg.len() > 9 => socket = Some(arg[9..].into()),
            _ if arg.starts_with("--credential-type=") => {
                entry.credential_type = Some(credential_type(&arg[18..])?);
            }
            _ if arg.starts_with("--auth-domain=") => entry.auth_domain = Some(arg[14..].into()),
            _ if arg.starts_with("--also=") => also.push(arg[7..].to_owned()),
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
            also,
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
            &[
                "--json",
                "credential",
                "get",
                "https://r/repo/main/noarch/",
                "--also",
                "https://r/repo/acme/x/noarch/",
                "--also=https://r/repo/r/noarch/",
            ],
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
            &["credential", "get", "u", "--also"],
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
