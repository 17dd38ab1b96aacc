//! `anacondactl env`: the API key and organisation tokens as assignments for a shell, a
//! dotenv file or GitHub Actions; and the variables `exec` gives its command (one naming
//! rule for both).

use anacondad_proto::v1::CredentialKind;
use zeroize::Zeroizing;

use super::Output;
use crate::ci_args::{EnvArgs, EnvFormat, HandOutArgs};
use crate::connection::{DaemonClient, Target};
use crate::exit::CliError;

/// The variable that carries the API key: the one anaconda-auth, its conda plugin and `ana`
/// read.
pub const API_KEY_VARIABLE: &str = "ANACONDA_AUTH_API_KEY";

/// The variable that carries `org`'s repo token: `ANACONDA_ORG_TOKEN_` and the org's name in
/// upper case, every character but a letter or digit as `_` (`my-org` ->
/// `ANACONDA_ORG_TOKEN_MY_ORG`).
pub fn org_token_variable(org: &str) -> String {
    let name: String = org
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("ANACONDA_ORG_TOKEN_{name}")
}

/// What `exec` and `env` hand out: each variable and its value, and the id of a key minted
/// for it (to revoke when the command ends).
pub struct HandOut {
    pub variables: Vec<(String, Zeroizing<String>)>,
    pub minted_id: Option<String>,
}

/// Gathers the API key (a minted one when `mint`) and each asked org's token.
pub async fn hand_out(
    client: &DaemonClient,
    args: &HandOutArgs,
    mint: bool,
) -> Result<HandOut, CliError> {
    let mut variables = Vec::new();
    let mut minted_id = None;
    if mint {
        let minted = super::keys::mint(client, &args.key).await?;
        minted_id = minted.key.as_ref().map(|k| k.id.clone());
        variables.push((
            API_KEY_VARIABLE.to_owned(),
            Zeroizing::new(minted.api_key.clone()),
        ));
    } else {
        let key = super::keys::reveal(client, CredentialKind::ApiKey, "").await?;
        variables.push((
            API_KEY_VARIABLE.to_owned(),
            Zeroizing::new(key.value.clone()),
        ));
    }
    for org in &args.orgs {
        let token = super::keys::reveal(client, CredentialKind::RepoToken, org).await;
        let token = match token {
            Ok(token) => token,
            Err(e) => {
                if let Some(id) = &minted_id {
                    let _ = super::keys::revoke(client, Some(id), false).await;
                }
                return Err(e);
            }
        };
        variables.push((org_token_variable(org), Zeroizing::new(token.value.clone())));
    }
    Ok(HandOut {
        variables,
        minted_id,
    })
}

pub async fn run(args: EnvArgs, target: &Target, _out: Output) -> Result<(), CliError> {
    let client = target.connect_or_start().await?;
    let handed = hand_out(&client, &args.hand_out, args.mint).await?;
    let mut text = String::new();
    if args.format == EnvFormat::Github {
        for (_, value) in &handed.variables {
            text.push_str(&format!("::add-mask::{}\n", value.as_str()));
        }
    }
    let mut assignments = String::new();
    for (name, value) in &handed.variables {
        assignments.push_str(&assignment(args.format, name, value));
        assignments.push('\n');
    }
    // In a GitHub Actions step the assignments go to the file the runner reads the next
    // steps' environment from, and only the mask commands to the log.
    let github_env = std::env::var_os("GITHUB_ENV").filter(|p| !p.is_empty());
    match github_env {
        Some(path) if args.format == EnvFormat::Github => append(&path, &assignments)?,
        _ => text.push_str(&assignments),
    }
    // Printed as is: the values are the service's tokens, checked by the daemon to be
    // printable ASCII, and quoting must reach the shell unaltered.
    print!("{text}");
    Ok(())
}

/// Appends `text` to the file `path` (`$GITHUB_ENV`).
fn append(path: &std::ffi::OsStr, text: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| {
            CliError::failed(format!(
                "cannot append to $GITHUB_ENV ({}): {e}",
                std::path::Path::new(path).display()
            ))
        })
}

/// One assignment in `format`. Values are single-quoted where the syntax has quotes.
fn assignment(format: EnvFormat, name: &str, value: &str) -> String {
    match format {
        EnvFormat::Sh => format!("export {name}={}", sh_quote(value)),
        EnvFormat::Fish => format!("set -gx {name} {}", fish_quote(value)),
        EnvFormat::Powershell => format!("$Env:{name} = '{}'", value.replace('\'', "''")),
        EnvFormat::Dotenv | EnvFormat::Github => format!("{name}={value}"),
    }
}

fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

fn fish_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_orgs_variable_is_its_name_in_upper_case_with_underscores() {
        assert_eq!(org_token_variable("acme"), "ANACONDA_ORG_TOKEN_ACME");
        assert_eq!(
            org_token_variable("my-org.eu"),
            "ANACONDA_ORG_TOKEN_MY_ORG_EU"
        );
    }

    #[test]
    fn each_format_quotes_as_its_reader_expects() {
        let v = "a'b";
        assert_eq!(assignment(EnvFormat::Sh, "K", v), r"export K='a'\''b'");
        assert_eq!(assignment(EnvFormat::Fish, "K", v), r"set -gx K 'a\'b'");
        assert_eq!(assignment(EnvFormat::Powershell, "K", v), "$Env:K = 'a''b'");
        assert_eq!(assignment(EnvFormat::Dotenv, "K", v), "K=a'b");
        assert_eq!(assignment(EnvFormat::Github, "K", v), "K=a'b");
    }
}
