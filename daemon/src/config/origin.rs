//! Where each effective value came from, for `anacondactl config show`: a default, one of the
//! two configuration files, a variable, the record of the last login, or a command-line flag.

use std::fmt;
use std::path::PathBuf;

/// One source of a configuration value, in the words `config show` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built in.
    Default,
    /// Built in, worked out from another value (a repository from the site's domain).
    DerivedFrom(&'static str),
    /// The site of the last login, `<state dir>/site.json`.
    LastLogin(PathBuf),
    /// Our `config.toml`.
    Ours(PathBuf),
    /// anaconda-auth's `~/.anaconda/config.toml`.
    AnacondaAuth(PathBuf),
    /// A variable of the daemon's environment.
    Env(String),
    /// A file of the secrets directory (`ANACONDA_SECRETS_DIR`, else `/run/secrets`).
    SecretFile(PathBuf),
    /// The `.env` file in the directory the daemon started in.
    DotEnv(PathBuf),
    /// anaconda-auth's record of a domain in the keyring `ANACONDA_AUTH_KEYRING` holds, said
    /// by the environment (`None`) or by a `.env` file.
    AuthKeyring(Option<PathBuf>),
    /// A command-line flag (`--socket` of the daemon, `--at` of the client).
    Flag(String),
}

impl Source {
    /// `value`, said by this source.
    pub fn says<T>(&self, value: T) -> Sourced<T> {
        Sourced::new(value, self.clone())
    }

    /// The machine form `config show --json` prints: `default`, `anacondad`, `anaconda-auth`,
    /// `environment`, `flag`, `last-login`, `secret-file`, `dotenv`, `auth-keyring`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Default | Self::DerivedFrom(_) => "default",
            Self::LastLogin(_) => "last-login",
            Self::Ours(_) => "anacondad",
            Self::AnacondaAuth(_) => "anaconda-auth",
            Self::Env(_) => "environment",
            Self::SecretFile(_) => "secret-file",
            Self::DotEnv(_) => "dotenv",
            Self::AuthKeyring(_) => "auth-keyring",
            Self::Flag(_) => "flag",
        }
    }

    /// The file or variable the value came from; empty for a default.
    pub fn detail(&self) -> String {
        match self {
            Self::Default => String::new(),
            Self::DerivedFrom(key) => format!("from {key}"),
            Self::LastLogin(path)
            | Self::Ours(path)
            | Self::AnacondaAuth(path)
            | Self::SecretFile(path)
            | Self::DotEnv(path)
            | Self::AuthKeyring(Some(path)) => path.display().to_string(),
            Self::AuthKeyring(None) => "ANACONDA_AUTH_KEYRING".to_owned(),
            Self::Env(name) | Self::Flag(name) => name.clone(),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::DerivedFrom(key) => write!(f, "default, from the {key}"),
            Self::LastLogin(path) => write!(f, "last login ({})", path.display()),
            Self::Ours(path) => write!(f, "anacondad config.toml ({})", path.display()),
            Self::AnacondaAuth(path) => write!(f, "anaconda-auth config.toml ({})", path.display()),
            Self::Env(name) => write!(f, "environment ({name})"),
            Self::SecretFile(path) => write!(f, "secret file ({})", path.display()),
            Self::DotEnv(path) => write!(f, ".env ({})", path.display()),
            Self::AuthKeyring(None) => {
                f.write_str("keyring in ANACONDA_AUTH_KEYRING (environment)")
            }
            Self::AuthKeyring(Some(path)) => {
                write!(
                    f,
                    "keyring in ANACONDA_AUTH_KEYRING (.env {})",
                    path.display()
                )
            }
            Self::Flag(name) => write!(f, "flag ({name})"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: Source) -> Self {
        Self { value, source }
    }
}

/// The one precedence rule every key of every layer follows: what a later (higher) layer says
/// replaces what is below it, and keeps its source; a layer that says nothing leaves it.
pub fn overlay<T: Clone>(below: &mut Option<Sourced<T>>, above: &Option<Sourced<T>>) {
    if above.is_some() {
        below.clone_from(above);
    }
}

/// One line of `config show`: a key, its value as shown (secrets redacted) and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub key: String,
    pub value: String,
    pub source: Source,
}

impl Origin {
    pub fn new(key: impl Into<String>, value: impl Into<String>, source: Source) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            source,
        }
    }
}

/// What `config show` says of a secret: that it is set, never what it is.
pub const REDACTED: &str = "(set, redacted)";

/// A proxy URL without its password (`http://user:***@host:port`), or a note that it is not a
/// URL.
pub fn redact_proxy(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.has_host() => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        _ => "(not a URL, redacted)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_password_is_never_shown() {
        assert_eq!(
            redact_proxy("http://me:hunter2@proxy.example:3128"),
            "http://me:***@proxy.example:3128/"
        );
        assert!(!redact_proxy("me:hunter2@proxy").contains("hunter2"));
    }
}
