//! The site chosen at login, kept in `<state dir>/site.json` (mode 0600: a proxy URL may carry
//! a password), so a daemon started later without the login's variables (by the conda plugin,
//! by systemd) serves the same domain, repository, TLS and proxy settings.
//!
//! It serves only the implicit site (no `[sites]` configured anywhere). Precedence when the
//! daemon starts: the existing client's variables (`ANACONDA_AUTH_*`, `CONDA_TOKEN_REPO_URL`),
//! then `ANACONDAD_<KEY>`, our `config.toml`, anaconda-auth's `[plugin.auth]`, then this file,
//! then the defaults ([`super::sites`]). One site per file.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api::{ApiConfig, ProxyConfig};
use crate::secret::Secret;
use crate::store::atomic::{resolve_symlinks, write_atomically};

/// The file's name in the state directory.
pub const SITE_FILE: &str = "site.json";

/// What is kept of a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRecord {
    pub domain: String,
    pub repo_url: String,
    pub ssl_verify: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
    /// `None`: the system's proxy settings; `Some("")`: no proxy; else the proxy URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
}

impl SiteRecord {
    /// The site a client configuration serves.
    pub fn of(api: &ApiConfig) -> Self {
        Self {
            domain: api.domain.clone(),
            repo_url: api.repo_url.clone(),
            ssl_verify: api.ssl_verify,
            ca_bundle: api.ca_bundle.clone(),
            proxy: match &api.proxy {
                ProxyConfig::System => None,
                ProxyConfig::Disabled => Some(String::new()),
                ProxyConfig::Url(url) => Some(url.expose().to_owned()),
            },
        }
    }

    /// Puts the record's values into `api` (then config and variables go on top).
    pub fn apply(&self, api: &mut ApiConfig) {
        api.domain = self.domain.clone();
        api.repo_url = self.repo_url.clone();
        api.ssl_verify = self.ssl_verify;
        api.ca_bundle = self.ca_bundle.clone();
        api.proxy = match self.proxy.as_deref() {
            None => ProxyConfig::System,
            Some("") => ProxyConfig::Disabled,
            Some(url) => ProxyConfig::Url(Secret::new(url.to_owned())),
        };
    }
}

/// What [`load`] found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub record: Option<SiteRecord>,
    /// Why the file was set aside, when it was.
    pub warning: Option<String>,
}

/// The record in `path`; none when there is none. A file that is not a record (garbage,
/// empty, another shape, not UTF-8, too large) is set aside as the state file is, to
/// `<name>.unreadable-<now>`, and the daemon starts without it (the next login writes it
/// again), saying so. Something that cannot be read at all (a FIFO, no permission) is an error
/// naming it.
pub fn load(path: &Path, now: jiff::Timestamp) -> Result<Loaded, super::ConfigError> {
    let problem = match crate::fsutil::read_regular_text(path) {
        Ok(None) => return Ok(Loaded::default()),
        Ok(Some(text)) => match serde_json::from_str(&text) {
            Ok(record) => {
                return Ok(Loaded {
                    record: Some(record),
                    warning: None,
                });
            }
            Err(e) => format!("it is not a site record ({e})"),
        },
        Err(e) if e.kind() == io::ErrorKind::InvalidData => format!("it cannot be read ({e})"),
        Err(source) => {
            return Err(super::ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".unreadable-{}", now.as_second()));
    let aside = PathBuf::from(aside);
    std::fs::rename(path, &aside).map_err(|source| super::ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Loaded {
        record: None,
        warning: Some(format!(
            "{} (the site of the last login) was set aside as {} because {problem}; the \
             daemon serves the configured site meanwhile, and `anacondactl login` records it \
             again",
            path.display(),
            aside.display()
        )),
    })
}

/// Writes the record atomically, mode 0600, creating the directory (0700) when needed.
pub fn save(path: &Path, site: &SiteRecord) -> io::Result<()> {
    let target = resolve_symlinks(path)?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder.create(dir)?;
    }
    let mut text = serde_json::to_string_pretty(site).map_err(io::Error::other)?;
    text.push('\n');
    write_atomically(&target, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_site_loads_back_and_sets_the_client_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/site.json");
        let mut api = ApiConfig::new("1", "host");
        api.domain = "http://127.0.0.1:9".into();
        api.repo_url = "http://127.0.0.1:9/repo/".into();
        api.ssl_verify = false;
        api.proxy = ProxyConfig::Disabled;
        save(&path, &SiteRecord::of(&api)).unwrap();
        let now = jiff::Timestamp::now();
        let loaded = load(&path, now).unwrap().record.expect("a record");
        let mut fresh = ApiConfig::new("1", "host");
        loaded.apply(&mut fresh);
        assert_eq!(SiteRecord::of(&fresh), SiteRecord::of(&api));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(
            load(&dir.path().join("none.json"), now).unwrap().record,
            None
        );
    }

    #[test]
    fn a_garbage_empty_or_misshapen_record_is_set_aside_and_the_daemon_starts_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.json");
        for (at, text) in ["{", "", "[1, 2]", r#"{"domain": 7}"#]
            .into_iter()
            .enumerate()
        {
            std::fs::write(&path, text).unwrap();
            let now = jiff::Timestamp::from_second(1_000 + at as i64).unwrap();
            let loaded = load(&path, now).unwrap();
            assert_eq!(loaded.record, None, "{text:?}");
            let warning = loaded.warning.expect("it says so");
            assert!(
                warning.contains("site.json") && warning.contains("anacondactl login"),
                "{warning}"
            );
            assert!(!path.exists(), "{text:?}");
            let aside = dir
                .path()
                .join(format!("site.json.unreadable-{}", 1_000 + at));
            assert_eq!(std::fs::read_to_string(aside).unwrap(), text);
        }
    }
}
