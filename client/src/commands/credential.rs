//! `anacondactl credential get|rejected URL`: what conda's plugin asks for every request, and
//! after the repository refused a credential. Both end within their deadline, whatever the
//! daemon does.

use std::time::Duration;

use anacondad_proto::v1::{
    CredentialKind, GetCredentialRequest, GetCredentialResponse, ReportRejectedRequest,
};

use super::Output;
use crate::cli::{CredentialCommand, RejectedKind};
use crate::connection::Target;
use crate::exit::CliError;

pub async fn run(cmd: CredentialCommand, target: &Target, out: Output) -> Result<(), CliError> {
    let (url, deadline) = match &cmd {
        CredentialCommand::Get { url, deadline }
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
        let reason = hide_url(&answer.reason, &url);
        if out.json {
            out.print_json(&serde_json::json!({ "found": false, "reason": reason }));
        }
        return Err(CliError::failed(reason));
    }
    if out.json {
        out.print_json(&serde_json::json!({
            "found": true,
            "header_value": answer.header_value,
            "kind": answer.kind().as_str_name().trim_start_matches("CREDENTIAL_KIND_").to_ascii_lowercase(),
            "org": answer.org,
            "expires_at": answer.expires_at,
            "scope": answer.scope,
        }));
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
        CredentialCommand::Get { url, .. } => client
            .credentials()
            .get_credential(GetCredentialRequest { url })
            .await?
            .into_inner(),
        CredentialCommand::Rejected {
            url,
            status,
            kind,
            header_sha256,
            ..
        } => client
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
            })
            .await?
            .into_inner()
            .credential
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
