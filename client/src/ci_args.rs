//! The command line of the commands for scripts, CI jobs and containers: `api-key`, `token
//! show`, `exec`, `env`, `logout --revoke`.

use std::time::Duration;

use clap::Args;

#[derive(Debug, Args)]
pub struct ApiKeyArgs {
    /// Mint a new short-lived key with only the scopes asked for, and print it (the account's
    /// key is never shown then).
    #[arg(long, conflicts_with_all = ["list", "revoke"])]
    pub mint: bool,
    /// The minted keys that are still valid: id, name, scopes, expiry.
    #[arg(long, conflicts_with = "revoke")]
    pub list: bool,
    /// Revoke the minted key ID at the service (`--list` shows the ids).
    #[arg(long, value_name = "ID")]
    pub revoke: Option<String>,
    #[command(flatten)]
    pub key: MintArgs,
}

/// What a minted key may do and for how long.
#[derive(Debug, Clone, Default, Args)]
pub struct MintArgs {
    /// A scope of the minted key: `repo:read` (packages and repodata), `cloud:read` (the
    /// account), `cloud:write` (reissue tokens, mint keys); repeat or separate with commas
    /// [default: repo:read].
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// The minted key's lifetime: `90s`, `30m`, `2h`, `1d` [default: 1h].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub ttl: Option<Duration>,
    /// A name to tell the minted key by [default: anacondad and the time].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct TokenShowArgs {
    /// The organisation whose repo token to print.
    #[arg(long, value_name = "ORG")]
    pub org: String,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// First revoke at the service every key minted here (`api-key --mint`, `exec`), then the
    /// account's own key, so none of ours stays valid anywhere.
    #[arg(long)]
    pub revoke: bool,
}

/// The credentials `exec` and `env` hand out.
#[derive(Debug, Clone, Args)]
pub struct HandOutArgs {
    /// Also give this organisation's repo token (as ANACONDA_ORG_TOKEN_<ORG>); repeat for more.
    #[arg(long = "org", value_name = "ORG")]
    pub orgs: Vec<String>,
    #[command(flatten)]
    pub key: MintArgs,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub hand_out: HandOutArgs,
    /// Give the command the account's own API key instead of minting a short-lived one.
    #[arg(long, conflicts_with_all = ["scopes", "ttl", "name"])]
    pub account_key: bool,
    /// Pass the command's output through untouched (by default every value handed out is
    /// shown as `***` in its standard output and error).
    #[arg(long)]
    pub no_mask: bool,
    /// The command and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    #[command(flatten)]
    pub hand_out: HandOutArgs,
    /// Mint a short-lived key for ANACONDA_AUTH_API_KEY (it is not revoked when the shell ends:
    /// it lapses at its --ttl) instead of the account's own key.
    #[arg(long)]
    pub mint: bool,
    /// How to write the assignments.
    #[arg(long, value_enum, default_value = "sh")]
    pub format: EnvFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EnvFormat {
    /// `export NAME='value'` (bash, zsh, dash).
    Sh,
    /// `set -gx NAME 'value'`.
    Fish,
    /// `$Env:NAME = 'value'`.
    Powershell,
    /// `NAME=value`, as docker's `--env-file` and `.env` files read it.
    Dotenv,
    /// `::add-mask::value` lines, then `NAME=value` lines (appended to `$GITHUB_ENV` when set).
    Github,
}

/// `90s`, `30m`, `2h`, `1d`, or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let seconds_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?} is not a duration: write 90s, 30m, 2h or 1d"
            ));
        }
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: write 90s, 30m, 2h or 1d"))?;
    match n.checked_mul(seconds_per) {
        Some(0) | None => Err(format!("{text:?} is not a usable lifetime")),
        Some(secs) => Ok(Duration::from_secs(secs)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_their_unit_or_as_seconds() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }
}
