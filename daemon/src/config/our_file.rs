//! Our `config.toml` as a layer: its top-level keys, each read beside its name with its own
//! error, and its `[sites.<name>]` tables (`sites::read_our_sites`). A missing file says
//! nothing.

use std::path::{Path, PathBuf};

use super::ConfigError;
use super::layer::Layer;
use super::origin::{Source, Sourced};
use super::settings::{Raw, SETTING_KEYS};
use super::site_keys::SiteKeys;
use crate::api::ProxyConfig;
use crate::secret::Secret;

/// What our file says.
#[derive(Debug, Clone, Default)]
pub struct OurFile {
    /// Its top level.
    pub top: Layer,
    /// Its `[sites.<name>]`, in the file's order.
    pub sites: Vec<(String, SiteKeys)>,
}

/// The keys of a site that our file's top level may say too.
const TOP_SITE_KEYS: &[&str] = &["domain", "repo_url", "ssl_verify", "ca_bundle", "proxy"];

/// Reads `path`; errors name the file and the key.
pub fn read(path: &Path) -> Result<OurFile, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let table = match crate::fsutil::read_to_string(path) {
        Ok(text) => text
            .parse::<toml::Table>()
            .map_err(|e| invalid(e.to_string()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let source = Source::Ours(path.to_path_buf());
    let mut file = OurFile::default();
    for (key, value) in &table {
        let raw = Raw::Toml(value);
        match key.as_str() {
            "sites" => file.sites = super::sites::read_our_sites(Some(value), path)?,
            "default_site" => {
                let toml::Value::String(name) = value else {
                    return Err(invalid(format!(
                        "default_site must be a site name or a domain (a string), not {value}"
                    )));
                };
                file.top.default_site = Some(Sourced::new(name.clone(), source.clone()));
            }
            key if TOP_SITE_KEYS.contains(&key) => {
                read_site_key(&mut file.top.site, key, raw, &source).map_err(invalid)?;
            }
            key => {
                let known = file.top.settings.read(key, raw, &source).map_err(invalid)?;
                if !known {
                    let keys: Vec<&str> = SETTING_KEYS
                        .iter()
                        .chain(TOP_SITE_KEYS)
                        .chain(&["default_site", "sites"])
                        .copied()
                        .collect();
                    return Err(invalid(format!(
                        "unknown key `{key}`, expected one of `{}`",
                        keys.join("`, `")
                    )));
                }
            }
        }
    }
    Ok(file)
}

/// One site key of our top level into `keys`.
fn read_site_key(
    keys: &mut SiteKeys,
    key: &str,
    raw: Raw<'_>,
    source: &Source,
) -> Result<(), String> {
    let must = |what: String| format!("{key} must be {what}");
    let says = |v| Sourced::new(v, source.clone());
    match key {
        "domain" => keys.domain = Some(says(raw.string().map_err(must)?)),
        "repo_url" => keys.repo_url = Some(says(raw.string().map_err(must)?)),
        "ssl_verify" => {
            keys.ssl_verify = Some(Sourced::new(raw.boolean().map_err(must)?, source.clone()));
        }
        "ca_bundle" => {
            let path = PathBuf::from(raw.string().map_err(must)?);
            keys.ca_bundle = Some(Sourced::new(Some(path), source.clone()));
        }
        "proxy" => {
            let url = Secret::new(raw.string().map_err(must)?);
            keys.proxy = Some(Sourced::new(ProxyConfig::Url(url), source.clone()));
        }
        _ => {}
    }
    Ok(())
}
