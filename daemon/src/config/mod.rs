//! The daemon's configuration, resolved once: [`DaemonConfig::resolve`] takes an
//! [`EnvSnapshot`] and the socket path, reads every source into a [`Layer`] (the defaults,
//! anaconda-auth's `~/.anaconda/config.toml`, our `config.toml`, `ANACONDAD_<KEY>`, the existing
//! client's variables `ANACONDA_AUTH_*` and `CONDA_TOKEN_REPO_URL`, the daemon's flags), folds
//! them by one rule (a later layer wins: layer.rs says the order), so every value carries where
//! it came from (`config show`), and hands everything below `main` as values, so tests run
//! whole daemons in temporary homes.

pub mod anaconda_auth;
pub mod auth_keyring;
mod dotenv;
pub mod edit;
mod headless;
pub mod layer;
pub mod names;
pub mod origin;
mod our_file;
mod paths;
mod settings;
pub mod site;
mod site_keys;
mod site_values;
pub mod sites;
mod variables;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use layer::Layer;
pub use paths::{CondaUserConfig, Paths};
pub use settings::{DEFAULT_COMMAND_TIMEOUT_SECS, Settings};

use crate::api::ApiConfig;
use crate::store::{StorageMode, StoreOptions};

/// The process environment, captured once by `main`, with the directory it started in.
#[derive(Debug, Clone, Default)]
pub struct EnvSnapshot(BTreeMap<String, String>, Option<PathBuf>);

impl EnvSnapshot {
    /// Reads this process's environment (variables that are not valid UTF-8 are skipped) and
    /// working directory.
    pub fn from_process() -> Self {
        Self(std::env::vars().collect(), std::env::current_dir().ok())
    }

    /// The directory the process started in, where a `.env` file is read; `None`: none is.
    pub fn cwd(&self) -> Option<&Path> {
        self.1.as_deref()
    }

    /// This environment, started in `dir`.
    pub fn in_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.1 = Some(dir.into());
        self
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
            None,
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
        Self::resolve_with_flags(env, socket, hostname, &Layer::default())
    }

    /// [`Self::resolve`] with the daemon's command-line flags as the top layer.
    pub fn resolve_with_flags(
        env: &EnvSnapshot,
        socket: PathBuf,
        hostname: &str,
        flags: &Layer,
    ) -> Result<Self, ConfigError> {
        let mut paths = Paths::defaults(env, socket)?;
        // The lowest layer: the built-in values and the platform's places for files.
        let defaults = Layer {
            settings: settings::SettingKeys::defaults(),
            ..paths.layer()
        };
        // The layers above the files, lowest first, each read into a Layer whose values carry
        // its own Source. anaconda-auth's order among its own: the environment, the secrets
        // directory, the `.env` file; the keyring in ANACONDA_AUTH_KEYRING only gives a key
        // where none of them does.
        let mut warnings = Vec::new();
        let dotenv = env.cwd().and_then(|dir| dotenv::DotEnv::read(dir, env));
        let dotenv_layer = match &dotenv {
            Some(file) => {
                warnings.extend(file.warnings.iter().cloned());
                dotenv::layer(file, &paths.home)
            }
            None => Layer::default(),
        };
        let ours_env = variables::ours(env)?;
        let above_keyring = [
            ours_env.clone(),
            dotenv_layer,
            headless::layer(env),
            variables::clients(env, &paths.home),
        ];
        let their_domain = Layer::fold(&above_keyring).site.domain.map(|d| d.value);
        let (keyring, keyring_warning) =
            auth_keyring::layer(env, dotenv.as_ref(), their_domain.as_deref());
        warnings.extend(keyring_warning);
        let variables: Vec<Layer> = std::iter::once(keyring).chain(above_keyring).collect();
        // Where the files are, before they are read.
        let located =
            Layer::fold(std::iter::once(&defaults).chain(&variables).chain([flags])).locations;
        paths.locate(&located);
        let ours = our_file::read(&paths.config_file)?;
        let theirs_path = located
            .anaconda_auth_config
            .map_or_else(|| anaconda_auth::config_path(env, &paths.home), |p| p.value);
        // anaconda-auth's file is another tool's: when it does not parse (or its values do
        // not make a site), the daemon starts without it and says so, rather than leave conda
        // without credentials until that file is fixed.
        let mut theirs = anaconda_auth::load(&theirs_path).unwrap_or_else(|e| {
            warnings.push(left_out(&e));
            None
        });
        let base = ApiConfig::new(anacondad_proto::CRATE_VERSION, hostname);
        let site_file = paths.site_file();
        let loaded_site = site::load(&site_file, jiff::Timestamp::now())?;
        warnings.extend(loaded_site.warning);
        let last_login = loaded_site.record.map(|record| (record, site_file.clone()));
        let ours_default = Layer::fold(std::iter::once(&ours.top).chain(&variables)).default_site;
        let input = |theirs| sites::SitesInput {
            base: &base,
            ours_path: &paths.config_file,
            ours: &ours.sites,
            ours_default: ours_default.clone(),
            ours_top: ours.top.site.clone(),
            variables: variables.iter().map(|layer| layer.site.clone()).collect(),
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
        // Every layer, lowest first: the one order of precedence.
        let (their_plugin, their_site) =
            anaconda_auth_layers(theirs.as_ref(), &default_site, &paths.home);
        let files = [&defaults, &their_plugin, &their_site, &ours.top];
        let folded = Layer::fold(files.into_iter().chain(&variables).chain([flags]));
        paths.locate(&folded.locations);
        // `Settings`' site keys are what our own file and variables say (`ANACONDAD_<KEY>`).
        let settings =
            Settings::from_keys(&folded.settings, &Layer::fold([&ours.top, &ours_env]).site);
        let mut store = StoreOptions::new(settings.storage, &paths.anaconda_keyring);
        store.env_api_key = resolved.api_key.as_ref().map(|k| k.value.clone());
        store.env_api_key_origin = resolved
            .api_key
            .as_ref()
            .map(|k| k.source.to_string())
            .unwrap_or_default();
        store.timeout = settings.keychain_timeout();
        store.config_file = paths.config_file.clone();
        let their_state = if theirs.is_some() {
            "read"
        } else if warnings.iter().any(|w| w.starts_with("anaconda-auth's")) {
            "left out: see `anacondactl daemon status`"
        } else {
            "none"
        };
        let origins = origin_rows(&OriginInputs {
            folded: &folded,
            socket: &paths.socket,
            default_site: &resolved.default_site,
            theirs: theirs.as_ref(),
            their_state,
            env,
        });
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

    /// Makes a daemon `anacondactl` started with memory storage exit when idle, unless a layer
    /// said whether it does: nothing it holds outlives it, so neither need the daemon.
    pub fn exit_when_idle_with_memory_storage(&mut self) {
        if self.settings.storage != StorageMode::Memory {
            return;
        }
        let Some(row) = self.origins.iter_mut().find(|o| o.key == "exit_when_idle") else {
            return;
        };
        if row.source == origin::Source::Default {
            self.settings.exit_when_idle = true;
            row.value = "yes".to_owned();
            row.source = origin::Source::DerivedFrom("storage");
        }
    }

    /// Records that the socket was named by a flag of the daemon's command line.
    pub fn socket_from_flag(&mut self, flag: &str) {
        if let Some(origin) = self.origins.iter_mut().find(|o| o.key == "socket") {
            origin.source = origin::Source::Flag(flag.to_owned());
        }
    }
}

/// Why anaconda-auth's file is not used.
fn left_out(e: &ConfigError) -> String {
    format!("anaconda-auth's configuration was left out, so none of its values are used: {e}")
}

/// anaconda-auth's file as two layers: its `[plugin.auth]`, and the table of the default site
/// (which says its keyring file over `[plugin.auth]`). Their site keys reach the sites through
/// `sites.rs`; here they say where anaconda-auth's keyring file is (`~` is `home`).
fn anaconda_auth_layers(
    theirs: Option<&anaconda_auth::AuthFile>,
    default_site: &str,
    home: &Path,
) -> (Layer, Layer) {
    let layer = |table: Option<&anaconda_auth::AuthTable>, theirs: &anaconda_auth::AuthFile| {
        let mut layer = Layer::default();
        layer.locations.anaconda_keyring = table.and_then(|t| t.keyring_path.clone()).map(|path| {
            let path = match path.strip_prefix("~") {
                Ok(rest) => home.join(rest),
                Err(_) => path,
            };
            origin::Sourced::new(path, origin::Source::AnacondaAuth(theirs.path.clone()))
        });
        layer
    };
    match theirs {
        None => (Layer::default(), Layer::default()),
        Some(theirs) => (
            layer(Some(&theirs.plugin_auth), theirs),
            layer(theirs.site(default_site), theirs),
        ),
    }
}

/// What `config show`'s daemon-wide lines are made of.
struct OriginInputs<'a> {
    folded: &'a Layer,
    /// The socket bound (its source is the folded layer's).
    socket: &'a Path,
    default_site: &'a origin::Sourced<String>,
    theirs: Option<&'a anaconda_auth::AuthFile>,
    /// Whether anaconda-auth's file was read, left out or absent.
    their_state: &'a str,
    env: &'a EnvSnapshot,
}

/// `config show`'s daemon-wide lines, in its order, each value with the layer that won.
fn origin_rows(input: &OriginInputs<'_>) -> Vec<origin::Origin> {
    use origin::{Origin, Source};
    let located = &input.folded.locations;
    let path_row =
        |key: &str, path: &Option<origin::Sourced<PathBuf>>, shown: &dyn Fn(&Path) -> String| {
            let path = path.as_ref().expect("the defaults locate every file");
            Origin::new(key, shown(&path.value), path.source.clone())
        };
    let display = |p: &Path| p.display().to_string();
    let socket = located
        .socket
        .as_ref()
        .map_or(Source::Default, |s| s.source.clone());
    let mut rows = vec![
        Origin::new("socket", input.socket.display().to_string(), socket),
        path_row("config_file", &located.config_file, &display),
        Origin::new(
            "default_site",
            &input.default_site.value,
            input.default_site.source.clone(),
        ),
    ];
    rows.extend(input.folded.settings.origins());
    rows.push(path_row(
        "anaconda_auth.config_file",
        &located.anaconda_auth_config,
        &|p| format!("{} ({})", p.display(), input.their_state),
    ));
    rows.push(path_row(
        "anaconda_auth.keyring_path",
        &located.anaconda_keyring,
        &display,
    ));
    let default_site = input.default_site.value.as_str();
    let their_site = input
        .theirs
        .and_then(|t| t.site(default_site))
        .map(|_| default_site);
    let storage = anaconda_auth::effective_storage(input.env, input.theirs, their_site);
    rows.push(Origin::new(
        "anaconda_auth.preferred_token_storage",
        &storage.value,
        storage.source,
    ));
    if let Some(theirs) = input.theirs {
        let ignored: Vec<String> = std::iter::once(("plugin.auth", &theirs.plugin_auth))
            .chain(theirs.sites.iter().map(|(n, t)| (n.as_str(), t)))
            .flat_map(|(at, t)| t.not_honoured.iter().map(move |k| format!("[{at}] {k}")))
            .collect();
        if !ignored.is_empty() {
            rows.push(Origin::new(
                "anaconda_auth.not_honoured",
                ignored.join(", "),
                Source::AnacondaAuth(theirs.path.clone()),
            ));
        }
    }
    rows
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod precedence_tests;
