//! `anacondactl credential get URL`: what conda's plugin asks for every request.

use anacondad_proto::v1::GetCredentialRequest;

use super::Output;
use crate::cli::CredentialCommand;
use crate::connection::Target;
use crate::exit::CliError;

pub async fn run(cmd: CredentialCommand, target: &Target, out: Output) -> Result<(), CliError> {
    let CredentialCommand::Get { url } = cmd;
    let client = target.connect_or_start().await?;
    let answer = client
        .credentials()
        .get_credential(GetCredentialRequest { url })
        .await?
        .into_inner();
    if !answer.found {
        if out.json {
            out.print_json(&serde_json::json!({ "found": false, "reason": answer.reason }));
        }
        return Err(CliError::failed(answer.reason));
    }
    if out.json {
        out.print_json(&serde_json::json!({
            "found": true,
            "header_value": answer.header_value,
            "kind": answer.kind().as_str_name().trim_start_matches("CREDENTIAL_KIND_").to_ascii_lowercase(),
            "org": answer.org,
            "expires_at": answer.expires_at,
        }));
    } else {
        println!("{}", answer.header_value);
    }
    Ok(())
}
