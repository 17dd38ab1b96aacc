//! [`SiteKeys`]: what one source (a file's table, the environment, the last login) says of a
//! site, each key with where it came from. Below both readers of anaconda-auth's file
//! (`anaconda_auth.rs`) and the overlay that merges the sources (`sites.rs`).

use std::path::{Path, PathBuf};

use super::EnvSnapshot;
use super::origin::{Source, Sourced, overlay};
use super::site::SiteRecord;
use crate::api::{ApiConfig, ProxyConfig};
use crate::secret::Secret;

/// The keys one source says of a site, each with where it came from; `None` says nothing.
#[derive(Debug, Clone, Default)]
pub struct SiteKeys {
    pub domain: Option<Sourced<String>>,
    pub repo_url: Option<Sourced<String>>,
    pub extra_repo_urls: Option<Sourced<Vec<String>>>,
    pub ssl_verify: Option<Sourced<bool>>,
    /// `Some(None)`: the OS trust store, said explicitly (a boolean `ssl_verify` of
    /// anaconda-auth or its variable).
    pub ca_bundle: Option<Sourced<Option<PathBuf>>>,
    pub proxy: Option<Sourced<ProxyConfig>>,
    pub api_key: Option<Sourced<Secret>>,
    pub use_unified_repo_api_key: Option<Sourced<bool>>,
}

impl SiteKeys {
    /// Every key `other` says replaces ours.
    pub fn overlay(&mut self, other: &SiteKeys) {
        macro_rules! take {
            ($($field:ident),*) => {$(
                overlay(&mut self.$field, &other.$field);
            )*};
        }
        take!(
            domain,
            repo_url,
            extra_repo_urls,
            ssl_verify,
            ca_bundle,
            proxy,
            api_key,
            use_unified_repo_api_key
        );
    }

    /// Only the keys that apply to every site: TLS and proxy.
    pub fn transport(&self) -> SiteKeys {
        SiteKeys {
            ssl_verify: self.ssl_verify.clone(),
            ca_bundle: self.ca_bundle.clone(),
            proxy: self.proxy.clone(),
            ..SiteKeys::default()
        }
    }

    /// The values of a last login's record.
    pub fn of_record(record: &SiteRecord, path: &Path) -> Self {
        let source = Source::LastLogin(path.to_path_buf());
        let mut api = ApiConfig::new("", "");
        record.apply(&mut api);
        SiteKeys {
            domain: Some(source.says(api.domain)),
            repo_url: Some(Sourced::new(api.repo_url, source.clone())),
            ssl_verify: Some(Sourced::new(api.ssl_verify, source.clone())),
            ca_bundle: Some(Sourced::new(api.ca_bundle, source.clone())),
            proxy: Some(Sourced::new(api.proxy, source.clone())),
            ..SiteKeys::default()
        }
    }

    /// The existing client's variables: `ANACONDA_AUTH_DOMAIN`, `CONDA_TOKEN_REPO_URL`,
    /// `ANACONDA_AUTH_SSL_VERIFY` (as [`ApiConfig::apply_env`] reads it), `ANACONDA_AUTH_API_KEY`.
    pub fn of_client_env(env: &EnvSnapshot) -> Self {
        Self::of_client_vars(env, &|name| Source::Env(name.to_owned()))
    }

    /// [`Self::of_client_env`] over `env`, each value said by `src(name)`.
    pub fn of_client_vars(env: &EnvSnapshot, src: &dyn Fn(&str) -> Source) -> Self {
        let mut keys = SiteKeys::default();
        let var = |name: &str| env.get(name).map(str::trim).filter(|v| !v.is_empty());
        if let Some(domain) = var("ANACONDA_AUTH_DOMAIN") {
            keys.domain = Some(Sourced::new(domain.to_owned(), src("ANACONDA_AUTH_DOMAIN")));
        }
        if let Some(repo) = var("CONDA_TOKEN_REPO_URL") {
            keys.repo_url = Some(Sourced::new(repo.to_owned(), src("CONDA_TOKEN_REPO_URL")));
        }
        if var("ANACONDA_AUTH_SSL_VERIFY").is_some() {
            let mut api = ApiConfig::new("", "");
            api.apply_env(env.map());
            let source = src("ANACONDA_AUTH_SSL_VERIFY");
            keys.ssl_verify = Some(Sourced::new(api.ssl_verify, source.clone()));
            keys.ca_bundle = Some(Sourced::new(api.ca_bundle, source));
        }
        if let Some(key) = var("ANACONDA_AUTH_API_KEY") {
            keys.api_key = Some(Sourced::new(Secret::new(key), src("ANACONDA_AUTH_API_KEY")));
        }
        keys
    }
}
