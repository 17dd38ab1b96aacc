//! [`Sites`]: every site a daemon serves, each with its own parts ([`SiteRuntime`]: vault,
//! service client, account, tokens, credentials, conda's entry), and the two ways a request
//! finds its site: by name (`--at SITE`, the `anacondad-site` header; the default site when
//! none is named) and, for the hot path, by the URL conda asks about.

use std::sync::Arc;

use url::Url;

use crate::account::Account;
use crate::api::AnacondaClient;
use crate::conda::Conda;
use crate::config::sites::SiteConfig;
use crate::credentials::Credentials;
use crate::repo_url::RepoUrl;
use crate::tokens::Tokens;
use crate::vault::Vault;

/// One site's parts.
#[derive(Debug)]
pub struct SiteRuntime {
    pub config: SiteConfig,
    pub vault: Arc<Vault>,
    pub api: Arc<AnacondaClient>,
    pub account: Arc<Account>,
    pub tokens: Arc<Tokens>,
    pub credentials: Arc<Credentials>,
    /// conda's configuration for this site's repository (the default site's also writes
    /// `default_channels`).
    pub conda: Arc<Conda>,
    /// The repositories this site's credentials open: its own first.
    pub repos: Vec<RepoUrl>,
}

impl SiteRuntime {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// `host[:port]` of its domain: its store record's key.
    pub fn domain(&self) -> &str {
        self.vault.domain()
    }

    /// True when `name` is this site's name or its domain (as written or as `host[:port]`).
    pub fn is_named(&self, name: &str) -> bool {
        let name = name.trim();
        name == self.config.name
            || name.eq_ignore_ascii_case(self.domain())
            || name.eq_ignore_ascii_case(self.config.api.domain.trim_end_matches('/'))
    }

    /// How long the longest of its repositories that `url` is under is (0: none).
    fn covers(&self, url: &Url) -> usize {
        self.repos
            .iter()
            .filter(|repo| repo.channel_of(url).is_some())
            .map(|repo| repo.as_str().len())
            .max()
            .unwrap_or(0)
    }
}

/// A request named a site the daemon does not serve.
#[derive(Debug, thiserror::Error)]
#[error(
    "no site named {name} is configured (this daemon serves: {known}); run `anacondactl sites \
     list`, or add it with `anacondactl sites add {name} --domain DOMAIN`"
)]
pub struct UnknownSite {
    pub name: String,
    pub known: String,
}

/// Every site, the default one among them.
#[derive(Debug)]
pub struct Sites {
    all: Vec<Arc<SiteRuntime>>,
    default: usize,
}

impl Sites {
    /// `all` must hold at least one site; `default` is the index of the default one.
    pub fn new(all: Vec<Arc<SiteRuntime>>, default: usize) -> Self {
        assert!(
            default < all.len(),
            "the default site must be one of the sites"
        );
        Self { all, default }
    }

    pub fn default_site(&self) -> &Arc<SiteRuntime> {
        &self.all[self.default]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<SiteRuntime>> {
        self.all.iter()
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    pub fn is_default(&self, site: &SiteRuntime) -> bool {
        std::ptr::eq(site, Arc::as_ptr(self.default_site()))
    }

    /// The site `name` names, or the default one for `None`.
    pub fn named(&self, name: Option<&str>) -> Result<&Arc<SiteRuntime>, UnknownSite> {
        let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
            return Ok(self.default_site());
        };
        self.all
            .iter()
            .find(|s| s.config.name == name)
            .or_else(|| self.all.iter().find(|s| s.is_named(name)))
            .ok_or_else(|| UnknownSite {
                name: name.to_owned(),
                known: self
                    .all
                    .iter()
                    .map(|s| s.config.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The site whose repository `url` is under (the most specific one when several are), or
    /// the default site: its answer then says the URL is not under its repository.
    pub fn for_url(&self, url: &str) -> &Arc<SiteRuntime> {
        if self.all.len() == 1 {
            return self.default_site();
        }
        let Ok(parsed) = Url::parse(url) else {
            return self.default_site();
        };
        self.all
            .iter()
            .map(|site| (site.covers(&parsed), site))
            .filter(|(len, _)| *len > 0)
            .max_by_key(|(len, _)| *len)
            .map_or_else(|| self.default_site(), |(_, site)| site)
    }
}
