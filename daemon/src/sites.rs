//! [`Sites`]: every site a daemon serves, each with its own parts ([`SiteRuntime`]: vault,
//! service client, account, tokens, credentials, conda's entry), and the two ways a request
//! finds its site: by name (`--at SITE`, the `anacondad-site` header; the default site when
//! none is named) and, for the hot path, by the URL conda asks about.

use std::path::PathBuf;
use std::sync::Arc;

use url::Url;

use crate::account::Account;
use crate::api::AnacondaClient;
use crate::channels::OrgChannels;
use crate::conda::{Conda, TargetRequest};
use crate::config::sites::SiteConfig;
use crate::credentials::{Credentials, NoCredential};
use crate::error;
use crate::repo_url::RepoUrl;
use crate::store::StoreError;
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

/// What an uninstall did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uninstalled {
    /// The organisations whose tokens were removed, and those whose tokens remain.
    pub removed: Vec<String>,
    pub remaining: Vec<String>,
    /// conda's user file and the changes made to it, when the last token went and the file
    /// was not kept.
    pub condarc: Option<(PathBuf, Vec<String>)>,
}

impl SiteRuntime {
    /// Removes `org`'s token (every token when `None`); when none remains and `condarc` says
    /// which conda file (`None`: keep it), removes our entry from that file too, restoring
    /// `default_channels` when asked.
    pub async fn uninstall(
        &self,
        org: Option<&str>,
        condarc: Option<&TargetRequest>,
        restore_default_channels: bool,
    ) -> error::Result<Uninstalled> {
        let (removed, remaining) = self.tokens.uninstall(org).await?;
        let mut done = Uninstalled {
            removed,
            remaining,
            condarc: None,
        };
        let Some(request) = condarc else {
            return Ok(done);
        };
        let mut changes = Vec::new();
        // The org channels we added for each removed org, and only those.
        let channels = self.org_channels();
        for org in &done.removed {
            let target = self.conda.target(request);
            changes.extend(channels.remove_ours(org, &target).await?);
        }
        if done.remaining.is_empty() {
            let target = self.conda.target(request);
            changes.extend(self.conda.remove(target, restore_default_channels).await?);
        }
        if done.remaining.is_empty() || !changes.is_empty() {
            done.condarc = Some((self.conda.target(request).path.clone(), changes));
        }
        Ok(done)
    }

    /// The site's organisation channels.
    pub fn org_channels(&self) -> OrgChannels {
        OrgChannels::new(self.vault.clone(), self.api.clone(), self.conda.clone())
    }

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
    /// What of the site `name`'s credentials is stored, in words; `None` when nothing is, or
    /// when this daemon does not serve it (a site added since it started holds nothing it
    /// wrote).
    pub async fn stored_credentials(&self, name: &str) -> Result<Option<String>, StoreError> {
        let Ok(site) = self.named(Some(name)) else {
            return Ok(None);
        };
        let snapshot = site.vault.snapshot().await?;
        let mut what = Vec::new();
        if snapshot.api_key.is_some() {
            what.push("an API key".to_owned());
        }
        if !snapshot.tokens.is_empty() {
            what.push(format!("{} repo token(s)", snapshot.tokens.len()));
        }
        Ok((!what.is_empty()).then(|| what.join(" and ")))
    }

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

    /// The site whose credential answers a request through a conda `channel_settings` entry
    /// naming `auth_domain` (anaconda-auth's key: a served site's domain, or its name), else
    /// the site the request names (`named`), else the URL's. A domain no site has is no
    /// credential, with the sites to pick from.
    pub fn for_entry<'a>(
        &'a self,
        auth_domain: Option<&str>,
        named: Option<&'a Arc<SiteRuntime>>,
        url: &str,
    ) -> Result<&'a Arc<SiteRuntime>, NoCredential> {
        match auth_domain.map(str::trim).filter(|d| !d.is_empty()) {
            Some(domain) => {
                self.named(Some(domain))
                    .map_err(|unknown| NoCredential::UnknownAuthDomain {
                        domain: unknown.name,
                        served: unknown.known,
                    })
            }
            None => Ok(named.unwrap_or_else(|| self.for_url(url))),
        }
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
