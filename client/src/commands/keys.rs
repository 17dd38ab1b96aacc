//! `anacondactl api-key` (print, `--mint`, `--list`, `--revoke`), `token show --org ORG`, and
//! `logout --revoke`'s revocations: the credentials a script or CI job asks for.

use anacondad_proto::v1::{
    CredentialKind, ListApiKeysRequest, MintApiKeyRequest, MintApiKeyResponse,
    RevealCredentialRequest, RevealCredentialResponse, RevokeApiKeyRequest,
};

use super::Output;
use crate::ci_args::{ApiKeyArgs, MintArgs};
use crate::connection::{DaemonClient, Target};
use crate::exit::CliError;
use crate::json::keys as json;

/// Told on standard error when a secret is printed on a terminal (where it stays in the
/// scrollback and may be shared in a screenshot); a pipe or a file gets it silently.
const ON_A_TERMINAL: &str = "this is a secret: it is printed for scripts (`$(anacondactl ...)`); \
     anyone who sees this screen can use it";

pub async fn api_key(args: ApiKeyArgs, target: &Target, out: Output) -> Result<(), CliError> {
    let client = target.connect_or_start().await?;
    if args.mint {
        let minted = mint(&client, &args.key).await?;
        let record = minted.key.as_ref().map(json::MintedKey::from);
        if out.json {
            out.print_json(&json::Minted {
                api_key: minted.api_key.clone(),
                key: record.expect("a minted key has a record"),
            });
        } else {
            print_secret(&minted.api_key, out);
            if let Some(k) = &record {
                crate::errln!(
                    "minted {} ({}), expires {}; revoke it with `anacondactl api-key --revoke {}`",
                    k.id,
                    k.scopes.join(","),
                    k.expires_at.as_deref().unwrap_or("unknown"),
                    k.id
                );
            }
        }
        return Ok(());
    }
    if args.list {
        let keys = client
            .keys()
            .list_api_keys(ListApiKeysRequest {})
            .await?
            .into_inner()
            .keys;
        let keys: Vec<json::MintedKey> = keys.iter().map(json::MintedKey::from).collect();
        if out.json {
            out.print_json(&json::MintedKeys { keys });
        } else if keys.is_empty() {
            crate::outln!("No minted key is valid (`anacondactl api-key --mint` makes one).");
        } else {
            for k in keys {
                let state = match &k.revocation_error {
                    Some(why) => format!("expired; not revoked yet ({why}): the daemon retries"),
                    None => format!("expires {}", k.expires_at.as_deref().unwrap_or("unknown")),
                };
                crate::outln!("{}  {}  {}  {state}", k.id, k.name, k.scopes.join(","));
            }
        }
        return Ok(());
    }
    if let Some(id) = args.revoke {
        let revoked = revoke(&client, Some(&id), false).await?;
        if out.json {
            out.print_json(&json::Revoked { revoked });
        } else {
            crate::outln!("Revoked {id}: the service refuses it from now on.");
        }
        return Ok(());
    }
    let key = reveal(&client, CredentialKind::ApiKey, "").await?;
    if out.json {
        out.print_json(&json::Revealed::from_wire(&key));
    } else {
        print_secret(&key.value, out);
    }
    Ok(())
}

pub async fn token_show(org: &str, client: &DaemonClient, out: Output) -> Result<(), CliError> {
    let token = reveal(client, CredentialKind::RepoToken, org).await?;
    if out.json {
        out.print_json(&json::Revealed::from_wire(&token));
    } else {
        print_secret(&token.value, out);
    }
    Ok(())
}

/// The raw value on standard output (nothing else there, so `$(...)` takes it whole), and the
/// warning on standard error when standard output is a terminal.
fn print_secret(value: &str, out: Output) {
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        out.warn(ON_A_TERMINAL);
    }
    crate::outln!("{value}");
}

pub async fn reveal(
    client: &DaemonClient,
    kind: CredentialKind,
    org: &str,
) -> Result<RevealCredentialResponse, CliError> {
    Ok(client
        .keys()
        .reveal_credential(RevealCredentialRequest {
            kind: kind.into(),
            org: org.to_owned(),
        })
        .await?
        .into_inner())
}

pub async fn mint(client: &DaemonClient, args: &MintArgs) -> Result<MintApiKeyResponse, CliError> {
    Ok(client
        .keys()
        .mint_api_key(MintApiKeyRequest {
            scopes: args.scopes.clone(),
            ttl_secs: args.ttl.map_or(0, |d| d.as_secs()),
            name: args.name.clone().unwrap_or_default(),
        })
        .await?
        .into_inner())
}

/// Revokes the minted key `id`, or (`None`) every minted key and, with `account_key`, the
/// account's own key last.
pub async fn revoke(
    client: &DaemonClient,
    id: Option<&str>,
    account_key: bool,
) -> Result<Vec<String>, CliError> {
    Ok(client
        .keys()
        .revoke_api_key(RevokeApiKeyRequest {
            id: id.unwrap_or_default().to_owned(),
            all: id.is_none(),
            account_key,
        })
        .await?
        .into_inner()
        .revoked)
}
