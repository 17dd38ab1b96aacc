//! The daemon's configuration, resolved once: [`DaemonConfig::resolve`] takes an
//! [`EnvSnapshot`] and the socket path, reads our `config.toml` and anaconda-auth's
//! `~/.anaconda/config.toml` (ours wins where both say something), applies `ANACONDAD_<KEY>`
//! variables and then the existing client's variables (`ANACONDA_AUTH_*`,
//! `CONDA_TOKEN_REPO_URL`, which win), records where every value came from (`config show`),
//! and hands everything below `main` as values, so tests run whole daemons in temporary homes.

pub mod anaconda_auth;
pub mod edit;
mod keys;
pub mod names;
pub mod origin;
mod paths;
pub mod site;
mod site_keys;
pub mod sites;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use paths::{CondaUserConfig, Paths};

use crate::api::{ApiConfig, ProxyConfig};
use crate::boolean::parse_bool;
use crate::secret::Secret;
use crate::store::{StorageMode, StoreOptions};

/// The process environment, captured once by `main`.
#[derive(Debug, Clone, Default)]
pub struct EnvSnapshot(BTreeMap<String, String>);

impl EnvSnapshot {
    /// Reads this process's environment (variables that are not valid UTF-8 are skipped).
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    /// A value, treating an empty one as unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn path(&self, key: &str) -> Option<PathBuf> {
        self.get(key).map(PathBuf::from)
    }

    pub fn map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EnvSnapshot {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot tell your home directory: set HOME")]
    NoHome,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}; fix it or remove it to use the defaults")]
    Invalid { path: PathBuf, message: String },
    #[error("{variable}={value} is not valid: {message}")]
    InvalidVariable {
        variable: String,
        value: String,
        message: String,
    },
    #[error("{key} = {value:?} ({from}) is not valid: {message}")]
    InvalidValue {
        key: String,
        value: String,
        from: String,
        message: String,
    },
    #[error(
        "default_site = {name:?} ({from}) names no configured site; the sites are {known}: \
         name one of them (or its domain), or remove default_site to use the first"
    )]
    UnknownDefaultSite {
        name: String,
        from: String,
        known: String,
    },
    #[error(
        "the sites {first:?} ({first_source}) and {second:?} ({second_source}) both have the \
         domain {domain}: a domain is one site; remove one of them (`anacondactl sites remove`) \
         or give it its own domain"
    )]
    DuplicateDomain {
        domain: String,
        first: String,
        first_source: String,
        second: String,
        second_source: String,
    },
}

/// Everything a daemon runs with.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub paths: Paths,
    pub settings: Settings,
    /// The default site's service client configuration (`sites[default]`'s `api`).
    pub api: ApiConfig,
    /// Every site this daemon serves, at least one; names are unique, domains too.
    pub sites: Vec<sites::SiteConfig>,
    /// The name of the site served when a request names none.
    pub default_site: String,
    pub store: StoreOptions,
    /// Who started this daemon (`doctor` shows it); `main` sets it, the default is a test or
    /// an embedding program.
    pub started_by: StartedBy,
    /// The proxy variable reqwest's system handling would use (`HTTPS_PROXY=http://host:port`,
    /// credentials left out), for `doctor`; `None` when none is set.
    pub system_proxy: Option<String>,
    /// The environment the daemon was started with (conda's files and installations depend
    /// on it when a caller sends none).
    pub env: EnvSnapshot,
    /// Where each daemon-wide value came from (`config show`).
    pub origins: Vec<origin::Origin>,
    /// Where each site and its values came from, in the order of `sites`.
    pub site_origins: Vec<sites::SiteOrigins>,
    /// anaconda-auth's configuration file (it need not exist).
    pub anaconda_auth_config: PathBuf,
    /// What was left out at start and why (anaconda-auth's file that does not parse, a site
    /// record set aside): `status`, `doctor` and the command that started the daemon say it.
    pub warnings: Vec<String>,
}

/// How the daemon came to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartedBy {
    /// systemd handed over the socket (`anacondad.socket`).
    SocketActivation,
    /// A systemd service without socket activation (`INVOCATION_ID` set).
    SystemdService,
    /// `anacondactl` started it on demand (`--spawned`).
    OnDemand,
    /// Run by hand in a terminal (`anacondad`, `anacondactl daemon run`).
    Foreground,
    /// Built inside another program (the in-process test harness).
    #[default]
    Embedded,
}

impl StartedBy {
    pub fn describe(self) -> &'static str {
        match self {
            Self::SocketActivation => "systemd socket activation (anacondad.socket)",
            Self::SystemdService => "systemd (anacondad.service)",
            Self::OnDemand => "anacondactl, on demand",
            Self::Foreground => "by hand, in the foreground",
            Self::Embedded => "another program (embedded)",
        }
    }
}

/// The first proxy variable set among those reqwest reads for https, without its credentials.
fn system_proxy(env: &EnvSnapshot) -> Option<String> {
    ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .find_map(|name| env.get(name).map(|value| (name, value)))
        .map(|(name, value)| {
            let shown = match url::Url::parse(value) {
                Ok(mut url) => {
                    let _ = url.set_username("");
                    let _ = url.set_password(None);
                    url.to_string()
                }
                Err(_) => "(not a URL)".to_owned(),
            };
            format!("{name}={shown}")
        })
}

impl DaemonConfig {
    /// The site named `name` (a site's name, else its domain), or the default site for `None`.
    pub fn site(&self, name: Option<&str>) -> Option<&sites::SiteConfig> {
        let name = name.unwrap_or(&self.default_site);
        self.sites
            .iter()
            .find(|s| s.name == name)
            .or_else(|| self.sites.iter().find(|s| s.api.domain == name))
    }

    /// Records the site this daemon serves as the one chosen at login, for every later daemon.
    pub fn remember_site(&self) -> std::io::Result<()> {
        site::save(&self.paths.site_file(), &site::SiteRecord::of(&self.api))
    }

    /// Resolves the whole configuration from `env`; `socket` is the already chosen socket path
    /// and `hostname` this machine's name (only its hash leaves the machine).
    pub fn resolve(
        env: &EnvSnapshot,
        socket: PathBuf,
        hostname: &str,
    ) -> Result<Self, ConfigError> {
        use origin::{Origin, Source, Sourced};
        let mut paths = Paths::resolve(env, socket)?;
        let ours_path = paths.config_file.clone();
        let ours = Source::Ours(ours_path.clone());
        let mut file_table = read_table(&ours_path)?;
        let our_sites = sites::read_our_sites(file_table.remove("sites").as_ref(), &ours_path)?;
        let file_default = match file_table.remove("default_site") {
            None => None,
            Some(toml::Value::String(name)) => Some(name),
            Some(other) => {
                return Err(ConfigError::Invalid {
                    path: ours_path,
                    message: format!(
                        "default_site must be a site name or a domain (a string), not {other}"
                    ),
                });
            }
        };
        let settings = Settings::from_table(file_table.clone(), env, &ours_path)?;
        let file_settings =
            Settings::from_table(file_table.clone(), &EnvSnapshot::default(), &ours_path)?;
        let variable = |key: &str| format!("ANACONDAD_{}", key.to_ascii_uppercase());
        let source_of = |key: &str| {
            if env.get(&variable(key)).is_some() {
                Source::Env(variable(key))
            } else if file_table.contains_key(key) {
                ours.clone()
            } else {
                Source::Default
            }
        };
        let mut warnings = Vec::new();
        // anaconda-auth's file is another tool's: when it does not parse (or its values do
        // not make a site), the daemon starts without it and says so, rather than leave conda
        // without credentials until that file is fixed.
        let theirs_path = anaconda_auth::config_path(env, &paths.home);
        let left_out = |e: &ConfigError| {
            format!(
                "anaconda-auth's configuration was left out, so none of its values are used: \
                 {e}"
            )
        };
        let mut theirs = anaconda_auth::load(&theirs_path).unwrap_or_else(|e| {
            warnings.push(left_out(&e));
            None
        });
        let base = ApiConfig::new(anacondad_proto::CRATE_VERSION, hostname);
        let site_file = paths.site_file();
        let loaded_site = site::load(&site_file, jiff::Timestamp::now())?;
        warnings.extend(loaded_site.warning);
        let last_login = loaded_site.record.map(|record| (record, site_file.clone()));
        let top_keys = |s: &Settings, source: &dyn Fn(&str) -> Option<Source>| {
            let at = |key: &str, value| source(key).map(|src| Sourced::new(value, src));
            sites::SiteKeys {
                domain: s.domain.clone().and_then(|v| at("domain", v)),
                repo_url: s.repo_url.clone().and_then(|v| at("repo_url", v)),
                ssl_verify: s
                    .ssl_verify
                    .and_then(|v| source("ssl_verify").map(|src| Sourced::new(v, src))),
                ca_bundle: s
                    .ca_bundle
                    .clone()
                    .and_then(|v| source("ca_bundle").map(|src| Sourced::new(Some(v), src))),
                proxy: s.proxy.clone().and_then(|v| {
                    source("proxy").map(|src| Sourced::new(ProxyConfig::Url(Secret::new(v)), src))
                }),
                ..sites::SiteKeys::default()
            }
        };
        let ours_top = top_keys(&file_settings, &|key| {
            file_table.contains_key(key).then(|| ours.clone())
        });
        let ours_env = top_keys(&settings, &|key| {
            env.get(&variable(key)).map(|_| Source::Env(variable(key)))
        });
        let ours_default = match env.get("ANACONDAD_DEFAULT_SITE") {
            Some(name) => Some(Sourced::new(
                name.to_owned(),
                Source::Env("ANACONDAD_DEFAULT_SITE".into()),
            )),
            None => file_default.map(|name| Sourced::new(name, ours.clone())),
        };
        let input = |theirs| sites::SitesInput {
            base: &base,
            ours_path: &ours_path,
            ours: &our_sites,
            ours_default: ours_default.clone(),
            ours_top: ours_top.clone(),
            ours_env: ours_env.clone(),
            client_env: sites::SiteKeys::of_client_env(env),
            theirs,
            last_login: last_login.clone(),
        };
        let resolved = match sites::resolve(input(theirs.as_ref())) {
            Err(e) if theirs.is_some() => {
                let without = sites::resolve(input(None))?;
                warnings.push(left_out(&e));
                theirs = None;
                without
            }
            other => other?,
        };
        let default_site = resolved.default_site.value.clone();
        let api = resolved
            .sites
            .iter()
            .find(|s| s.name == default_site)
            .map(|s| s.api.clone())
            .unwrap_or(base);
        // anaconda-auth's keyring file: its variable, else its file's `keyring_path`.
        let mut keyring_source = if env.get("ANACONDA_AUTH_KEYRING_PATH").is_some() {
            Source::Env("ANACONDA_AUTH_KEYRING_PATH".into())
        } else {
            Source::Default
        };
        if keyring_source == Source::Default
            && let Some(theirs) = &theirs
            && let Some(path) = theirs
                .site(&default_site)
                .and_then(|t| t.keyring_path.clone())
                .or_else(|| theirs.plugin_auth.keyring_path.clone())
        {
            paths.anaconda_keyring = match path.strip_prefix("~") {
                Ok(rest) => paths.home.join(rest),
                Err(_) => path,
            };
            keyring_source = Source::AnacondaAuth(theirs.path.clone());
        }
        let mut store = StoreOptions::new(settings.storage, &paths.anaconda_keyring);
        store.env_api_key = resolved.api_key.as_ref().map(|k| k.value.clone());
        store.timeout = settings.keychain_timeout();
        store.config_file = paths.config_file.clone();
        let path_source = |var: &str| match env.get(var) {
            Some(_) => Source::Env(var.to_owned()),
            None => Source::Default,
        };
        let their_site = theirs
            .as_ref()
            .and_then(|t| t.site(&default_site))
            .map(|_| default_site.as_str());
        let their_storage = anaconda_auth::effective_storage(env, theirs.as_ref(), their_site);
        let mut origins = vec![
            Origin::new(
                "socket",
                paths.socket.display().to_string(),
                path_source("ANACONDAD_SOCKET"),
            ),
            Origin::new(
                "config_file",
                ours_path.display().to_string(),
                path_source("ANACONDAD_CONFIG"),
            ),
            Origin::new(
                "default_site",
                &default_site,
                resolved.default_site.source.clone(),
            ),
            Origin::new("storage", settings.storage.as_str(), source_of("storage")),
            Origin::new(
                "keychain_timeout_secs",
                settings.keychain_timeout_secs.to_string(),
                source_of("keychain_timeout_secs"),
            ),
            Origin::new(
                "auth_handler",
                &settings.auth_handler,
                source_of("auth_handler"),
            ),
            Origin::new(
                "refresh_lead_fraction",
                settings.refresh_lead_fraction.to_string(),
                source_of("refresh_lead_fraction"),
            ),
            Origin::new(
                "browser_login_port",
                settings.browser_login_port.to_string(),
                source_of("browser_login_port"),
            ),
            Origin::new(
                "export",
                settings
                    .export
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                source_of("export"),
            ),
            Origin::new(
                "credential_preference",
                settings.credential_preference.as_str(),
                source_of("credential_preference"),
            ),
            Origin::new(
                "anaconda_auth.config_file",
                format!(
                    "{} ({})",
                    theirs_path.display(),
                    if theirs.is_some() {
                        "read"
                    } else if warnings.iter().any(|w| w.starts_with("anaconda-auth's")) {
                        "left out: see `anacondactl daemon status`"
                    } else {
                        "none"
                    }
                ),
                path_source(anaconda_auth::CONFIG_ENV),
            ),
            Origin::new(
                "anaconda_auth.keyring_path",
                paths.anaconda_keyring.display().to_string(),
                keyring_source,
            ),
            Origin::new(
                "anaconda_auth.preferred_token_storage",
                &their_storage.value,
                their_storage.source,
            ),
        ];
        if let Some(theirs) = &theirs {
            let ignored: Vec<String> = std::iter::once(("plugin.auth", &theirs.plugin_auth))
                .chain(theirs.sites.iter().map(|(n, t)| (n.as_str(), t)))
                .flat_map(|(at, t)| t.not_honoured.iter().map(move |k| format!("[{at}] {k}")))
                .collect();
            if !ignored.is_empty() {
                origins.push(Origin::new(
                    "anaconda_auth.not_honoured",
                    ignored.join(", "),
                    Source::AnacondaAuth(theirs.path.clone()),
                ));
            }
        }
        Ok(Self {
            paths,
            settings,
            api,
            sites: resolved.sites,
            default_site,
            store,
            started_by: StartedBy::default(),
            system_proxy: system_proxy(env),
            env: env.clone(),
            origins,
            site_origins: resolved.origins,
            anaconda_auth_config: theirs_path,
            warnings,
        })
    }

    /// Records that the socket was named by a flag of the daemon's command line.
    pub fn socket_from_flag(&mut self, flag: &str) {
        if let Some(origin) = self.origins.iter_mut().find(|o| o.key == "socket") {
            origin.source = origin::Source::Flag(flag.to_owned());
        }
    }
}

/// The TOML table of `path`; a missing file is an empty one.
fn read_table(path: &Path) -> Result<toml::Table, ConfigError> {
    match crate::fsutil::read_to_string(path) {
        Ok(text) => text
            .parse::<toml::Table>()
            .map_err(|e| ConfigError::Invalid {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(toml::Table::new()),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The default of `command_timeout_secs`: read-only commands answer or give up within it.
pub const DEFAULT_COMMAND_TIMEOUT_SECS: u64 = 30;

/// The keys of `config.toml`; each can be overridden by `ANACONDAD_<KEY>` (upper case).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `auto`, `system` or `file`: where secrets go.
    #[serde(deserialize_with = "storage_mode")]
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
    #[serde(deserialize_with = "export_targets")]
    pub export: Vec<crate::export::ExportTarget>,
    /// `repo-token` or `api-key`: which credential is sent first where a conda entry's
    /// `credential_type` and the site's `use_unified_repo_api_key` say nothing (the other one
    /// answers after a refusal). The repo token by default: see [`CredentialRule::preference`].
    ///
    /// [`CredentialRule::preference`]: crate::credentials::CredentialRule::preference
    #[serde(deserialize_with = "credential_kind")]
    pub credential_preference: crate::credential_kind::CredentialKind,
    /// How long one call of a user-facing command (`whoami`, `token list`, `token install`'s
    /// steps) may wait for the service before the daemon gives up and says what it was
    /// waiting for. A reissue under way is finished all the same.
    pub command_timeout_secs: u64,
}

fn storage_mode<'de, D: serde::Deserializer<'de>>(d: D) -> Result<StorageMode, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

fn credential_kind<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<crate::credential_kind::CredentialKind, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

fn export_targets<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<crate::export::ExportTarget>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    names
        .iter()
        .map(|n| n.parse().map_err(serde::de::Error::custom))
        .collect()
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            storage: StorageMode::Auto,
            domain: None,
            repo_url: None,
            ssl_verify: None,
            ca_bundle: None,
            proxy: None,
            keychain_timeout_secs: 5,
            auth_handler: "anacondad".to_owned(),
            refresh_lead_fraction: 0.1,
            browser_login_port: 8000,
            export: Vec::new(),
            credential_preference: crate::credentials::CredentialRule::default().preference,
            command_timeout_secs: DEFAULT_COMMAND_TIMEOUT_SECS,
        }
    }
}

impl Settings {
    /// Reads `path` (a missing file means defaults), then applies `ANACONDAD_<KEY>` overrides.
    pub fn load(path: &Path, env: &EnvSnapshot) -> Result<Self, ConfigError> {
        let mut table = read_table(path)?;
        table.remove("sites");
        table.remove("default_site");
        Self::from_table(table, env, path)
    }

    /// The settings of `table` (our file's top level, `[sites]` and `default_site` taken out)
    /// under the `ANACONDAD_<KEY>` overrides of `env`.
    fn from_table(
        mut table: toml::Table,
        env: &EnvSnapshot,
        path: &Path,
    ) -> Result<Self, ConfigError> {
        for key in keys::field_names::<Self>() {
            let variable = format!("ANACONDAD_{}", key.to_ascii_uppercase());
            if let Some(value) = env.get(&variable) {
                table.insert((*key).to_owned(), env_value(key, value));
            }
        }
        let settings: Self =
            table
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: e.message().to_owned(),
                })?;
        settings.validate(path)
    }

    fn validate(self, path: &Path) -> Result<Self, ConfigError> {
        if !(0.0..=0.5).contains(&self.refresh_lead_fraction) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "refresh_lead_fraction must be between 0 and 0.5, not {}",
                    self.refresh_lead_fraction
                ),
            });
        }
        if self.command_timeout_secs == 0 {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: "command_timeout_secs must be at least 1".to_owned(),
            });
        }
        if self.keychain_timeout_secs == 0 {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: "keychain_timeout_secs must be at least 1".to_owned(),
            });
        }
        Ok(self)
    }

    pub fn keychain_timeout(&self) -> Duration {
        Duration::from_secs(self.keychain_timeout_secs)
    }

    pub fn command_timeout(&self) -> Duration {
        Duration::from_secs(self.command_timeout_secs)
    }
}

/// An environment value as the TOML value its key expects.
fn env_value(key: &str, value: &str) -> toml::Value {
    match key {
        "ssl_verify" => toml::Value::Boolean(parse_bool(value).unwrap_or(true)),
        "keychain_timeout_secs" | "browser_login_port" | "command_timeout_secs" => value
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(value.to_owned())),
        "refresh_lead_fraction" => value
            .parse::<f64>()
            .map(toml::Value::Float)
            .unwrap_or_else(|_| toml::Value::String(value.to_owned())),
        // A comma-separated list: `ANACONDAD_EXPORT=rattler,mamba`.
        "export" => toml::Value::Array(
            value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| toml::Value::String(v.to_owned()))
                .collect(),
        ),
        _ => toml::Value::String(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
        pairs.iter().copied().collect()
    }

    #[test]
    fn file_settings_are_overridden_by_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "storage = \"system\"\nkeychain_timeout_secs = 9\n").unwrap();
        let s = Settings::load(&file, &env(&[])).unwrap();
        assert_eq!(s.storage, StorageMode::System);
        assert_eq!(s.keychain_timeout_secs, 9);
        let s = Settings::load(
            &file,
            &env(&[("ANACONDAD_STORAGE", "file"), ("ANACONDAD_SSL_VERIFY", "0")]),
        )
        .unwrap();
        assert_eq!(s.storage, StorageMode::File);
        assert_eq!(s.ssl_verify, Some(false));
    }

    #[test]
    fn exports_are_off_by_default_and_listed_in_the_file_or_the_environment() {
        use crate::export::ExportTarget;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        assert!(Settings::load(&file, &env(&[])).unwrap().export.is_empty());
        std::fs::write(&file, "export = [\"rattler\"]\n").unwrap();
        let s = Settings::load(&file, &env(&[])).unwrap();
        assert_eq!(s.export, vec![ExportTarget::Rattler]);
        let s = Settings::load(&file, &env(&[("ANACONDAD_EXPORT", "mamba, rattler")])).unwrap();
        assert_eq!(s.export, vec![ExportTarget::Mamba, ExportTarget::Rattler]);
        std::fs::write(&file, "export = [\"conda\"]\n").unwrap();
        let err = Settings::load(&file, &env(&[])).unwrap_err().to_string();
        assert!(err.contains("conda") && err.contains("rattler"), "{err}");
    }

    #[test]
    fn the_repo_token_goes_first_unless_the_file_or_the_environment_prefers_the_api_key() {
        use crate::credential_kind::CredentialKind;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        let s = Settings::load(&file, &env(&[])).unwrap();
        assert_eq!(s.credential_preference, CredentialKind::RepoToken);
        std::fs::write(&file, "credential_preference = \"api-key\"\n").unwrap();
        let s = Settings::load(&file, &env(&[])).unwrap();
        assert_eq!(s.credential_preference, CredentialKind::ApiKey);
        let vars = env(&[("ANACONDAD_CREDENTIAL_PREFERENCE", "repo-token")]);
        let s = Settings::load(&file, &vars).unwrap();
        assert_eq!(s.credential_preference, CredentialKind::RepoToken);
        std::fs::write(&file, "credential_preference = \"token\"\n").unwrap();
        let err = Settings::load(&file, &env(&[])).unwrap_err().to_string();
        assert!(
            err.contains("config.toml") && err.contains("`token`") && err.contains("api-key"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_means_defaults() {
        let s = Settings::load(Path::new("/nonexistent/config.toml"), &env(&[])).unwrap();
        assert_eq!(s.storage, StorageMode::Auto);
        assert_eq!(s.auth_handler, "anacondad");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "storag = \"system\"\n").unwrap();
        let err = Settings::load(&file, &env(&[])).unwrap_err().to_string();
        assert!(
            err.contains("config.toml") && err.contains("storag"),
            "{err}"
        );
        std::fs::write(&file, "storage = \"vault\"\n").unwrap();
        let err = Settings::load(&file, &env(&[])).unwrap_err().to_string();
        assert!(err.contains("vault"), "{err}");
    }
}

#[cfg(test)]
mod precedence_tests;
