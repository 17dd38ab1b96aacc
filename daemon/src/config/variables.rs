//! The environment as two layers: ours (`ANACONDAD_<KEY>`) and the existing client's
//! (`ANACONDA_AUTH_*`, `CONDA_TOKEN_REPO_URL`, `ANACONDA_CONFIG_TOML`). Each variable is read
//! beside its name, and a value that is not valid is an error naming the variable and saying
//! what it must be. An empty variable is unset.

use std::path::{Path, PathBuf};

use super::layer::Layer;
use super::origin::{Source, Sourced};
use super::settings::{Raw, SETTING_KEYS};
use super::site_keys::SiteKeys;
use super::{ConfigError, EnvSnapshot};
use crate::api::ProxyConfig;
use crate::secret::Secret;

/// Our variable for `key`: `ANACONDAD_<KEY>`.
pub fn ours_for(key: &str) -> String {
    format!("ANACONDAD_{}", key.to_ascii_uppercase())
}

/// `name`'s value in `env`, said by the variable.
fn said(env: &EnvSnapshot, name: &str) -> Option<(String, Source)> {
    env.get(name)
        .map(|value| (value.to_owned(), Source::Env(name.to_owned())))
}

/// `ANACONDAD_<KEY>` for every key of `config.toml`, and `ANACONDAD_CONFIG`,
/// `ANACONDAD_SOCKET`, `ANACONDAD_DEFAULT_SITE`.
pub fn ours(env: &EnvSnapshot) -> Result<Layer, ConfigError> {
    let mut layer = Layer::default();
    for key in SETTING_KEYS {
        let variable = ours_for(key);
        if let Some(value) = env.get(&variable) {
            let source = Source::Env(variable.clone());
            layer
                .settings
                .read(key, Raw::Text(value), &source)
                .map_err(|message| invalid(&variable, value, message))?;
        }
    }
    let site = &mut layer.site;
    let text = |name: &str| said(env, &ours_for(name));
    site.domain = text("domain").map(|(v, s)| Sourced::new(v, s));
    site.repo_url = text("repo_url").map(|(v, s)| Sourced::new(v, s));
    if let Some((value, source)) = text("ssl_verify") {
        let on = Raw::Text(&value).boolean().map_err(|e| {
            invalid(
                &ours_for("ssl_verify"),
                &value,
                format!("ssl_verify must be {e}"),
            )
        })?;
        site.ssl_verify = Some(Sourced::new(on, source));
    }
    site.ca_bundle = text("ca_bundle").map(|(v, s)| Sourced::new(Some(PathBuf::from(v)), s));
    site.proxy = text("proxy").map(|(v, s)| Sourced::new(ProxyConfig::Url(Secret::new(v)), s));
    layer.default_site = text("default_site").map(|(v, s)| Sourced::new(v, s));
    let locations = &mut layer.locations;
    locations.config_file = text("config").map(|(v, s)| Sourced::new(PathBuf::from(v), s));
    locations.socket = text("socket").map(|(v, s)| Sourced::new(PathBuf::from(v), s));
    Ok(layer)
}

/// The existing client's variables: its site keys ([`SiteKeys::of_client_env`]), where its
/// configuration file is (`ANACONDA_CONFIG_TOML`, `~` is `home`) and its keyring file
/// (`ANACONDA_AUTH_KEYRING_PATH`).
pub fn clients(env: &EnvSnapshot, home: &Path) -> Layer {
    clients_said(env, home, &|name| Source::Env(name.to_owned()))
}

/// [`clients`] over `vars`, each value said by `source(name)` (a `.env` file's statements).
pub fn clients_said(vars: &EnvSnapshot, home: &Path, source: &dyn Fn(&str) -> Source) -> Layer {
    let mut layer = Layer {
        site: SiteKeys::of_client_vars(vars, source),
        ..Layer::default()
    };
    let said = |name: &str| vars.get(name).map(|value| (value.to_owned(), source(name)));
    let locations = &mut layer.locations;
    locations.anaconda_auth_config = said(super::anaconda_auth::CONFIG_ENV)
        .map(|(_, source)| Sourced::new(super::anaconda_auth::config_path(vars, home), source));
    locations.anaconda_keyring = said("ANACONDA_AUTH_KEYRING_PATH")
        .map(|(path, source)| Sourced::new(PathBuf::from(path), source));
    layer
}

fn invalid(variable: &str, value: &str, message: String) -> ConfigError {
    ConfigError::InvalidVariable {
        variable: variable.to_owned(),
        value: value.to_owned(),
        message: format!("{message}; set it to a valid value or unset it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
        pairs.iter().copied().collect()
    }

    #[test]
    fn a_bad_variable_is_named_with_its_value_and_what_it_must_be() {
        for (variable, value, says) in [
            ("ANACONDAD_KEYCHAIN_TIMEOUT_SECS", "abc", "whole number"),
            ("ANACONDAD_COMMAND_TIMEOUT_SECS", "0", "at least 1"),
            ("ANACONDAD_BROWSER_LOGIN_PORT", "70000", "port"),
            (
                "ANACONDAD_REFRESH_LEAD_FRACTION",
                "0.9",
                "between 0 and 0.5",
            ),
            ("ANACONDAD_STORAGE", "vault", "\"auto\""),
            ("ANACONDAD_EXPORT", "conda", "rattler"),
            ("ANACONDAD_SSL_VERIFY", "maybe", "true or false"),
        ] {
            let err = ours(&env(&[(variable, value)])).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("{variable}={value} is not valid"))
                    && err.contains(says)
                    && err.contains("unset it")
                    && !err.contains("config.toml"),
                "{err}"
            );
        }
    }

    #[test]
    fn each_variable_says_its_key_and_is_the_source_of_it() {
        let layer = ours(&env(&[
            ("ANACONDAD_EXPORT", "mamba, rattler"),
            ("ANACONDAD_SSL_VERIFY", "off"),
            ("ANACONDAD_DEFAULT_SITE", "work"),
            ("ANACONDAD_CONFIG", "/etc/anacondad.toml"),
            ("ANACONDAD_STORAGE", ""),
        ]))
        .unwrap();
        let export = layer.settings.export.unwrap();
        assert_eq!(export.value.len(), 2);
        assert_eq!(export.source, Source::Env("ANACONDAD_EXPORT".into()));
        assert!(!layer.site.ssl_verify.unwrap().value);
        assert_eq!(layer.default_site.unwrap().value, "work");
        assert_eq!(
            layer.locations.config_file.unwrap().value,
            PathBuf::from("/etc/anacondad.toml")
        );
        assert!(
            layer.settings.storage.is_none(),
            "an empty variable is unset"
        );
    }
}
