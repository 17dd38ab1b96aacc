//! Where the daemon's files live and the settings it runs with: `config.toml`, overridden by
//! `ANACONDAD_<KEY>` environment variables. Everything is resolved once in `main` from an
//! [`EnvSnapshot`] and passed down, so tests run whole daemons in temporary homes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::store::StorageMode;

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

/// Every file and directory the daemon uses.
#[derive(Debug, Clone)]
pub struct Paths {
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME/anacondad/config.toml`.
    pub config_file: PathBuf,
    /// `$XDG_STATE_HOME/anacondad`: the non-secret state file and the log of a spawned daemon.
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    /// anaconda-auth's file keyring (`ANACONDA_AUTH_KEYRING_PATH`, else `~/.anaconda/keyring`).
    pub anaconda_keyring: PathBuf,
    /// conda's user configuration file, `~/.condarc`.
    pub condarc: PathBuf,
    /// Every user-writable place conda reads settings from.
    pub conda_user_config: CondaUserConfig,
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
}

impl Paths {
    /// Applies this platform's directory rules ([`anacondad_proto::dirs`]: XDG on Linux) to
    /// `env`; `socket` is the already resolved socket path.
    pub fn resolve(env: &EnvSnapshot, socket: PathBuf) -> Result<Self, ConfigError> {
        let dirs = anacondad_proto::dirs::UserDirs::resolve(
            anacondad_proto::dirs::Platform::CURRENT,
            |name| env.path(name),
        )
        .ok_or(ConfigError::NoHome)?;
        let home = dirs.home;
        Ok(Self {
            config_file: env
                .path("ANACONDAD_CONFIG")
                .unwrap_or_else(|| dirs.config_dir.join("config.toml")),
            state_dir: dirs.state_dir,
            socket,
            anaconda_keyring: env
                .path("ANACONDA_AUTH_KEYRING_PATH")
                .unwrap_or_else(|| home.join(".anaconda/keyring")),
            condarc: home.join(".condarc"),
            conda_user_config: CondaUserConfig::resolve(&home, env),
            home,
        })
    }

    /// The state file of non-secret token facts.
    pub fn state_file(&self) -> PathBuf {
        self.state_dir.join("state.json")
    }
}

/// The user-writable places conda reads settings from: files, and `condarc.d/` directories
/// whose `*.yml`/`*.yaml` files it reads in sorted order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CondaUserConfig {
    /// In conda's order (later wins).
    pub files: Vec<PathBuf>,
    pub dropin_dirs: Vec<PathBuf>,
}

impl CondaUserConfig {
    /// conda's search path, less the system-wide and environment locations.
    pub fn resolve(home: &Path, env: &EnvSnapshot) -> Self {
        let mut dirs = Vec::new();
        if let Some(xdg) = env.path("XDG_CONFIG_HOME") {
            dirs.push(xdg.join("conda"));
        }
        dirs.push(home.join(".config/conda"));
        dirs.push(home.join(".conda"));
        let mut files: Vec<PathBuf> = Vec::new();
        let mut dropin_dirs = Vec::new();
        for dir in dirs {
            files.push(dir.join(".condarc"));
            files.push(dir.join("condarc"));
            dropin_dirs.push(dir.join("condarc.d"));
        }
        files.push(home.join(".condarc"));
        if let Some(condarc) = env.path("CONDARC")
            && is_condarc_name(&condarc)
        {
            files.push(condarc);
        }
        let mut seen = BTreeSet::new();
        files.retain(|f| seen.insert(f.clone()));
        dropin_dirs.dedup();
        Self { files, dropin_dirs }
    }

    /// True for a file conda would read from these places.
    pub fn covers(&self, path: &Path) -> bool {
        self.files.iter().any(|f| f == path)
            || (path
                .parent()
                .is_some_and(|dir| self.dropin_dirs.iter().any(|d| d == dir))
                && is_yaml(path))
    }

    /// Every file that exists now, the drop-ins of each directory sorted by name.
    pub fn existing_files(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = self.files.iter().filter(|f| f.is_file()).cloned().collect();
        for dir in &self.dropin_dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut dropins: Vec<PathBuf> = entries
                .filter_map(|e| Some(e.ok()?.path()))
                .filter(|p| is_yaml(p) && p.is_file())
                .collect();
            dropins.sort();
            found.extend(dropins);
        }
        found
    }

    /// The directories to watch: those of the files and the drop-in directories.
    pub fn watched_dirs(&self) -> BTreeSet<PathBuf> {
        self.files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .chain(self.dropin_dirs.iter().cloned())
            .collect()
    }
}

fn is_yaml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yml" || e == "yaml")
}

/// conda ignores a `$CONDARC` whose name is not `.condarc`, `condarc` or `*.yml`/`*.yaml`.
fn is_condarc_name(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    matches!(name, ".condarc" | "condarc") || is_yaml(path)
}

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
}

fn storage_mode<'de, D: serde::Deserializer<'de>>(d: D) -> Result<StorageMode, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
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
        }
    }
}

impl Settings {
    /// Reads `path` (a missing file means defaults), then applies `ANACONDAD_<KEY>` overrides.
    pub fn load(path: &Path, env: &EnvSnapshot) -> Result<Self, ConfigError> {
        let mut table = match std::fs::read_to_string(path) {
            Ok(text) => text
                .parse::<toml::Table>()
                .map_err(|e| ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        for key in Self::KEYS {
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

    const KEYS: &'static [&'static str] = &[
        "storage",
        "domain",
        "repo_url",
        "ssl_verify",
        "ca_bundle",
        "proxy",
        "keychain_timeout_secs",
        "auth_handler",
        "refresh_lead_fraction",
        "browser_login_port",
    ];

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
}

/// An environment value as the TOML value its key expects.
fn env_value(key: &str, value: &str) -> toml::Value {
    match key {
        "ssl_verify" => toml::Value::Boolean(parse_bool(value).unwrap_or(true)),
        "keychain_timeout_secs" | "browser_login_port" => value
            .parse::<i64>()
            .map(toml::Value::Integer)
            .unwrap_or_else(|_| toml::Value::String(value.to_owned())),
        "refresh_lead_fraction" => value
            .parse::<f64>()
            .map(toml::Value::Float)
            .unwrap_or_else(|_| toml::Value::String(value.to_owned())),
        _ => toml::Value::String(value.to_owned()),
    }
}

/// `false`, `0`, `no` and `off` (any case) are false; `true`, `1`, `yes`, `on` are true.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "false" | "0" | "no" | "off" => Some(false),
        "true" | "1" | "yes" | "on" => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
        pairs.iter().copied().collect()
    }

    #[test]
    fn paths_follow_xdg_and_fall_back_to_home() {
        let p = Paths::resolve(&env(&[("HOME", "/h")]), PathBuf::from("/s")).unwrap();
        assert_eq!(
            p.config_file,
            PathBuf::from("/h/.config/anacondad/config.toml")
        );
        assert_eq!(p.state_dir, PathBuf::from("/h/.local/state/anacondad"));
        assert_eq!(p.anaconda_keyring, PathBuf::from("/h/.anaconda/keyring"));
        let p = Paths::resolve(
            &env(&[
                ("HOME", "/h"),
                ("XDG_CONFIG_HOME", "/c"),
                ("XDG_STATE_HOME", "/st"),
                ("ANACONDA_AUTH_KEYRING_PATH", "/k"),
            ]),
            PathBuf::from("/s"),
        )
        .unwrap();
        assert_eq!(p.config_file, PathBuf::from("/c/anacondad/config.toml"));
        assert_eq!(p.state_file(), PathBuf::from("/st/anacondad/state.json"));
        assert_eq!(p.anaconda_keyring, PathBuf::from("/k"));
    }

    #[test]
    fn the_search_path_covers_the_user_files_in_condas_order() {
        let config = CondaUserConfig::resolve(Path::new("/h"), &env(&[("CONDARC", "/x/site.yml")]));
        let shown: Vec<String> = config
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        assert_eq!(
            shown,
            [
                "/h/.config/conda/.condarc",
                "/h/.config/conda/condarc",
                "/h/.conda/.condarc",
                "/h/.conda/condarc",
                "/h/.condarc",
                "/x/site.yml",
            ]
        );
    }

    #[test]
    fn a_condarc_variable_with_a_name_conda_ignores_is_ignored() {
        let config =
            CondaUserConfig::resolve(Path::new("/h"), &env(&[("CONDARC", "/x/settings.txt")]));
        assert!(!config.files.iter().any(|f| f.ends_with("settings.txt")));
    }

    #[test]
    fn drop_in_files_count_and_are_read_in_name_order() {
        let home = tempfile::tempdir().unwrap();
        let config = CondaUserConfig::resolve(home.path(), &env(&[]));
        let dropins = home.path().join(".conda/condarc.d");
        std::fs::create_dir_all(&dropins).unwrap();
        for name in ["b.yml", "a.yaml", "notes.txt"] {
            std::fs::write(dropins.join(name), "channels: []\n").unwrap();
        }
        std::fs::write(home.path().join(".condarc"), "{}\n").unwrap();
        let names: Vec<String> = config
            .existing_files()
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [".condarc", "a.yaml", "b.yml"]);
        assert!(config.covers(&dropins.join("c.yaml")));
        assert!(!config.covers(&dropins.join("notes.txt")));
        assert!(config.watched_dirs().contains(&dropins));
    }

    #[test]
    fn missing_home_is_an_error() {
        assert!(matches!(
            Paths::resolve(&env(&[]), PathBuf::from("/s")),
            Err(ConfigError::NoHome)
        ));
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
