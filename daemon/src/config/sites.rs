//! The sites a daemon serves. A site is one Anaconda domain with its repository, TLS and proxy
//! settings; its credentials are one keychain record (keyed by the domain, as anaconda-auth
//! keys them) and one entry of the state file. A daemon serves every configured site at once;
//! `--at SITE` (the `anacondad-site` request header) names one, else the default site.
//!
//! Where sites come from, first wins per name: `[sites.<name>]` in our `config.toml`, then
//! `[sites.<name>]` in anaconda-auth's `~/.anaconda/config.toml`; when neither names any, the
//! one implicit site of the top-level settings, the last login (`site.json`) and the existing
//! client's variables, named by its domain.

use crate::api::ApiConfig;

/// The gRPC metadata key a client names a site with (`anacondactl --at SITE`).
pub const SITE_HEADER: &str = anacondad_proto::SITE_METADATA_KEY;

/// One site the daemon serves.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// What `--at` takes: the key of `[sites.<name>]`, or the domain of the implicit site.
    pub name: String,
    /// Its service client settings: domain, repository, TLS, proxy.
    pub api: ApiConfig,
    /// Further repository URLs this site's credentials answer for, beside `api.repo_url`
    /// (anaconda.com's also covers `https://repo.anaconda.com/`).
    pub extra_repo_urls: Vec<String>,
    /// anaconda-auth's `use_unified_repo_api_key`: the API key goes first on every channel.
    pub use_unified_repo_api_key: bool,
}

impl SiteConfig {
    /// The implicit site of `api`, named by its domain as written.
    pub fn implicit(api: ApiConfig) -> Self {
        Self {
            name: api
                .keyring_username()
                .unwrap_or_else(|_| api.domain.clone()),
            extra_repo_urls: Vec::new(),
            use_unified_repo_api_key: false,
            api,
        }
    }
}
