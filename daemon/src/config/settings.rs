//! The daemon-wide keys: [`SettingKeys`], what one source says of them (each value with where
//! it came from), and [`Settings`], what the daemon runs with once the layers are folded. Each
//! key is read in one place, beside its name ([`SettingKeys::read`]), from either a file's TOML
//! value or a variable's text ([`Raw`]), with its own error.

use std::path::PathBuf;
use std::time::Duration;

use super::origin::{Origin, Source, Sourced, overlay};
use super::site_keys::SiteKeys;
use crate::credential_kind::CredentialKind;
use crate::export::ExportTarget;
use crate::store::StorageMode;

/// The default of `command_timeout_secs`: read-only commands answer or give up within it.
pub const DEFAULT_COMMAND_TIMEOUT_SECS: u64 = 30;

/// The default of `idle_exit_secs`: five minutes. Longer than the gap between the steps of a
/// CI job that call conda in most jobs (each step finds the daemon still there, with the
/// token it installed in memory), short enough that a self-hosted runner, whose machine
/// outlives the job, does not keep a job's credentials in a process for long after it.
pub const DEFAULT_IDLE_EXIT_SECS: u64 = 300;

/// The daemon-wide keys one source says; `None` says nothing.
#[derive(Debug, Clone, Default)]
pub struct SettingKeys {
    pub storage: Option<Sourced<StorageMode>>,
    pub keychain_timeout_secs: Option<Sourced<u64>>,
    pub auth_handler: Option<Sourced<String>>,
    pub refresh_lead_fraction: Option<Sourced<f64>>,
    pub browser_login_port: Option<Sourced<u16>>,
    pub export: Option<Sourced<Vec<ExportTarget>>>,
    pub credential_preference: Option<Sourced<CredentialKind>>,
    pub command_timeout_secs: Option<Sourced<u64>>,
    pub exit_when_idle: Option<Sourced<bool>>,
    pub idle_exit_secs: Option<Sourced<u64>>,
}

/// The names of [`SettingKeys`]' keys in `config.toml` (`ANACONDAD_<KEY>` in upper case).
pub const SETTING_KEYS: &[&str] = &[
    "storage",
    "keychain_timeout_secs",
    "auth_handler",
    "refresh_lead_fraction",
    "browser_login_port",
    "export",
    "credential_preference",
    "command_timeout_secs",
    "exit_when_idle",
    "idle_exit_secs",
];

/// A value as a source gives it: a variable's text or a file's TOML value.
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    Text(&'a str),
    Toml(&'a toml::Value),
}

impl Raw<'_> {
    /// The value as a string (a variable's text, a TOML string), else what it is instead.
    pub fn string(self) -> Result<String, String> {
        match self {
            Raw::Text(text) => Ok(text.to_owned()),
            Raw::Toml(toml::Value::String(text)) => Ok(text.clone()),
            Raw::Toml(other) => Err(format!("a string, not {other}")),
        }
    }

    /// A whole number: a variable's digits, a TOML integer.
    fn integer(self) -> Result<i64, String> {
        match self {
            Raw::Text(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("a whole number, not {text:?}")),
            Raw::Toml(toml::Value::Integer(n)) => Ok(*n),
            Raw::Toml(other) => Err(format!("a whole number, not {other}")),
        }
    }

    /// `true`/`false` (a variable also takes 1/0, yes/no, on/off).
    pub fn boolean(self) -> Result<bool, String> {
        match self {
            Raw::Text(text) => crate::boolean::parse_bool(text)
                .ok_or_else(|| format!("true or false (or 1/0, yes/no, on/off), not {text:?}")),
            Raw::Toml(toml::Value::Boolean(b)) => Ok(*b),
            Raw::Toml(other) => Err(format!("true or false, not {other}")),
        }
    }

    /// A list of names: a variable's comma-separated text, a TOML array of strings.
    fn names(self) -> Result<Vec<String>, String> {
        match self {
            Raw::Text(text) => Ok(text
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect()),
            Raw::Toml(toml::Value::Array(items)) => {
                items.iter().map(|item| Raw::Toml(item).string()).collect()
            }
            Raw::Toml(other) => Err(format!("a list of names, not {other}")),
        }
    }
}

/// A number of seconds, at least 1.
fn seconds(raw: Raw<'_>) -> Result<u64, String> {
    let n = raw.integer()?;
    u64::try_from(n)
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("at least 1 (seconds), not {n}"))
}

impl SettingKeys {
    /// Reads `key` of `config.toml` (or of `ANACONDAD_<KEY>`) into this layer as said by
    /// `source`; `Ok(false)` when `key` is none of these keys. The error says what the key
    /// must be.
    pub fn read(&mut self, key: &str, raw: Raw<'_>, source: &Source) -> Result<bool, String> {
        let must = |what: String| format!("{key} must be {what}");
        match key {
            "storage" => {
                let text = raw.string().map_err(must)?;
                self.storage = said_by(source, text.parse().map_err(|e| format!("{key}: {e}"))?);
            }
            "keychain_timeout_secs" => {
                self.keychain_timeout_secs = said_by(source, seconds(raw).map_err(must)?)
            }
            "command_timeout_secs" => {
                self.command_timeout_secs = said_by(source, seconds(raw).map_err(must)?)
            }
            "idle_exit_secs" => self.idle_exit_secs = said_by(source, seconds(raw).map_err(must)?),
            "exit_when_idle" => self.exit_when_idle = said_by(source, raw.boolean().map_err(must)?),
            "auth_handler" => self.auth_handler = said_by(source, raw.string().map_err(must)?),
            "refresh_lead_fraction" => {
                let fraction = match raw {
                    Raw::Text(text) => text.trim().parse::<f64>().ok(),
                    Raw::Toml(toml::Value::Float(f)) => Some(*f),
                    Raw::Toml(toml::Value::Integer(n)) => Some(*n as f64),
                    Raw::Toml(_) => None,
                }
                .filter(|f| (0.0..=0.5).contains(f));
                let fraction = fraction.ok_or_else(|| {
                    must(format!(
                        "a fraction between 0 and 0.5 (e.g. 0.1), not {}",
                        shown(raw)
                    ))
                })?;
                self.refresh_lead_fraction = said_by(source, fraction);
            }
            "browser_login_port" => {
                let n = raw.integer().map_err(must)?;
                let port = u16::try_from(n)
                    .map_err(|_| must(format!("a port number (0 to 65535), not {n}")))?;
                self.browser_login_port = said_by(source, port);
            }
            "export" => {
                let targets = raw
                    .names()
                    .map_err(must)?
                    .iter()
                    .map(|name| name.parse().map_err(|e| format!("{key}: {e}")))
                    .collect::<Result<Vec<ExportTarget>, String>>()?;
                self.export = said_by(source, targets);
            }
            "credential_preference" => {
                let text = raw.string().map_err(must)?;
                self.credential_preference =
                    said_by(source, text.parse().map_err(|e| format!("{key}: {e}"))?);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The built-in values.
    pub fn defaults() -> Self {
        let default = |v| Some(Sourced::new(v, Source::Default));
        Self {
            storage: Some(Sourced::new(StorageMode::Auto, Source::Default)),
            keychain_timeout_secs: default(5),
            auth_handler: Some(Sourced::new("anacondad".to_owned(), Source::Default)),
            refresh_lead_fraction: Some(Sourced::new(0.1, Source::Default)),
            browser_login_port: Some(Sourced::new(8000, Source::Default)),
            export: Some(Sourced::new(Vec::new(), Source::Default)),
            credential_preference: Some(Sourced::new(
                crate::credentials::CredentialRule::default().preference,
                Source::Default,
            )),
            command_timeout_secs: default(DEFAULT_COMMAND_TIMEOUT_SECS),
            exit_when_idle: Some(Sourced::new(false, Source::Default)),
            idle_exit_secs: default(DEFAULT_IDLE_EXIT_SECS),
        }
    }

    /// Every key `above` says replaces ours.
    pub fn overlay(&mut self, above: &SettingKeys) {
        overlay(&mut self.storage, &above.storage);
        overlay(
            &mut self.keychain_timeout_secs,
            &above.keychain_timeout_secs,
        );
        overlay(&mut self.auth_handler, &above.auth_handler);
        overlay(
            &mut self.refresh_lead_fraction,
            &above.refresh_lead_fraction,
        );
        overlay(&mut self.browser_login_port, &above.browser_login_port);
        overlay(&mut self.export, &above.export);
        overlay(
            &mut self.credential_preference,
            &above.credential_preference,
        );
        overlay(&mut self.command_timeout_secs, &above.command_timeout_secs);
        overlay(&mut self.exit_when_idle, &above.exit_when_idle);
        overlay(&mut self.idle_exit_secs, &above.idle_exit_secs);
    }

    /// `config show`'s lines of these keys, in its order, each with the layer that won.
    pub fn origins(&self) -> Vec<Origin> {
        let export = |targets: &Vec<ExportTarget>| {
            let names: Vec<&str> = targets.iter().map(|t| t.as_str()).collect();
            names.join(", ")
        };
        [
            row("storage", &self.storage, |m| m.as_str().to_owned()),
            row(
                "keychain_timeout_secs",
                &self.keychain_timeout_secs,
                u64::to_string,
            ),
            row("auth_handler", &self.auth_handler, String::clone),
            row(
                "refresh_lead_fraction",
                &self.refresh_lead_fraction,
                f64::to_string,
            ),
            row(
                "browser_login_port",
                &self.browser_login_port,
                u16::to_string,
            ),
            row("export", &self.export, export),
            row("credential_preference", &self.credential_preference, |k| {
                k.as_str().to_owned()
            }),
            row(
                "command_timeout_secs",
                &self.command_timeout_secs,
                u64::to_string,
            ),
            row("exit_when_idle", &self.exit_when_idle, |on| {
                if *on { "yes" } else { "no" }.to_owned()
            }),
            row("idle_exit_secs", &self.idle_exit_secs, u64::to_string),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// One line of `config show`: `key`, its value as `show` says it, and the layer that said it.
fn row<T>(key: &str, said: &Option<Sourced<T>>, show: impl Fn(&T) -> String) -> Option<Origin> {
    said.as_ref()
        .map(|s| Origin::new(key, show(&s.value), s.source.clone()))
}

/// `value`, said by `source`.
fn said_by<T>(source: &Source, value: T) -> Option<Sourced<T>> {
    Some(source.says(value))
}

/// A folded value; the defaults say every key.
fn value<T>(said: Option<Sourced<T>>) -> T {
    said.expect("the defaults say every key").value
}

/// A raw value as an error shows it.
fn shown(raw: Raw<'_>) -> String {
    match raw {
        Raw::Text(text) => format!("{text:?}"),
        Raw::Toml(value) => value.to_string(),
    }
}

/// What the daemon runs with: the keys of `config.toml`, folded from every layer.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `auto`, `system` or `file`: where secrets go.
    pub storage: StorageMode,
    /// API and login host; `ANACONDA_AUTH_DOMAIN` is honoured too.
    pub domain: Option<String>,
    /// The package repository; `CONDA_TOKEN_REPO_URL` is honoured too.
    pub repo_url: Option<String>,
    /// `false` turns TLS verification off; `ANACONDA_AUTH_SSL_VERIFY` is honoured too.
    pub ssl_verify: Option<bool>,
    /// A PEM bundle of extra trusted certificate authorities.
    pub ca_bundle: Option<PathBuf>,
    /// Proxy URL for every request (else the usual `HTTPS_PROXY` variables apply).
    pub proxy: Option<String>,
    /// How long a keychain call may take before it is reported as hung (locked keychain).
    pub keychain_timeout_secs: u64,
    /// The conda auth handler written into `.condarc`.
    pub auth_handler: String,
    /// Renew a repo token this share of its lifetime before it expires (clamped to 1..30 days
    /// and never more than half the lifetime).
    pub refresh_lead_fraction: f64,
    /// The loopback port of the browser login's redirect; the service registers 8000.
    pub browser_login_port: u16,
    /// Other tools' credential stores kept current with the daemon's credential (`rattler`,
    /// `mamba`); none by default. `anacondactl export` turns one on or off at run time.
    pub export: Vec<ExportTarget>,
    /// `repo-token` or `api-key`: which credential is sent first where a conda entry's
    /// `credential_type` and the site's `use_unified_repo_api_key` say nothing (the other one
    /// answers after a refusal). The repo token by default: see [`CredentialRule::preference`].
    ///
    /// [`CredentialRule::preference`]: crate::credentials::CredentialRule::preference
    pub credential_preference: CredentialKind,
    /// How long one call of a user-facing command (`whoami`, `token list`, `token install`'s
    /// steps) may wait for the service before the daemon gives up and says what it was
    /// waiting for. A reissue under way is finished all the same.
    pub command_timeout_secs: u64,
    /// Stop by itself after `idle_exit_secs` with no connection open and nothing under way:
    /// a daemon `anacondactl` started for a job without a terminal (`--exit-when-idle`), or
    /// one it started with memory storage. A daemon of the service manager, or one started
    /// by hand, keeps running unless told.
    pub exit_when_idle: bool,
    /// How long a daemon that exits when idle waits, idle, before it stops.
    pub idle_exit_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self::from_keys(&SettingKeys::default(), &SiteKeys::default())
    }
}

impl Settings {
    /// The values of folded keys (daemon-wide, and a site's said at the top level); a key no
    /// layer says takes its default.
    pub fn from_keys(settings: &SettingKeys, site: &SiteKeys) -> Self {
        let mut keys = SettingKeys::defaults();
        keys.overlay(settings);
        Self {
            storage: value(keys.storage),
            domain: site.domain.as_ref().map(|d| d.value.clone()),
            repo_url: site.repo_url.as_ref().map(|d| d.value.clone()),
            ssl_verify: site.ssl_verify.as_ref().map(|d| d.value),
            ca_bundle: site.ca_bundle.as_ref().and_then(|d| d.value.clone()),
            proxy: match site.proxy.as_ref().map(|p| &p.value) {
                Some(crate::api::ProxyConfig::Url(url)) => Some(url.expose().to_owned()),
                _ => None,
            },
            keychain_timeout_secs: value(keys.keychain_timeout_secs),
            auth_handler: value(keys.auth_handler),
            refresh_lead_fraction: value(keys.refresh_lead_fraction),
            browser_login_port: value(keys.browser_login_port),
            export: value(keys.export),
            credential_preference: value(keys.credential_preference),
            command_timeout_secs: value(keys.command_timeout_secs),
            exit_when_idle: value(keys.exit_when_idle),
            idle_exit_secs: value(keys.idle_exit_secs),
        }
    }

    pub fn keychain_timeout(&self) -> Duration {
        Duration::from_secs(self.keychain_timeout_secs)
    }

    pub fn command_timeout(&self) -> Duration {
        Duration::from_secs(self.command_timeout_secs)
    }

    /// How long this daemon stays idle before it stops; `None`: it keeps running.
    pub fn idle_exit(&self) -> Option<Duration> {
        self.exit_when_idle
            .then(|| Duration::from_secs(self.idle_exit_secs))
    }
}
