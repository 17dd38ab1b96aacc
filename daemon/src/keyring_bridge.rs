//! What the Python keyring backend (packaging/conda-plugin, `conda_anacondad.keyring`) asks of
//! the daemon, and the one rule for adopting a record another client wrote: anaconda-auth's
//! record of a served domain, built from the daemon's current credentials; pip's and uv's
//! credential for an index under a served repository (`__token__` + API key for Anaconda's
//! wheels index, the key + `x-auth-token` for a Package Security Manager's PyPI channel:
//! `anacondad_proto::index`); a written record's API key and repo tokens kept when the service
//! accepts them. Anything else is not the daemon's.

use std::sync::Arc;

pub use anacondad_proto::index::IndexForm;
use url::Url;

use crate::api::RepoTokenCheck;
use crate::secret::Secret;
use crate::sites::{Site, Sites};
use crate::store::record::{ANACONDA_SERVICE, RECORD_VERSION, RepoToken, TokenRecord};
use crate::tokens::TokenSource;

/// The username pip and uv send for Anaconda's wheels index (`__token__:<key>`).
pub const INDEX_USERNAME: &str = anacondad_proto::index::WHEELS_USERNAME;

/// Which of the daemon's credentials a keyring look-up concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concern {
    /// anaconda-auth's record of the site's domain.
    Record,
    /// An index under the site's repository: the API key in the index's form.
    Index(IndexForm),
}

/// The site a keyring `(service, username)` belongs to, and what it asks for; `None`: not the
/// daemon's (the backend asks the keyring it would otherwise have used).
pub fn owner<'a>(
    sites: &'a Sites,
    service: &str,
    username: &str,
) -> Option<(&'a Arc<Site>, Concern)> {
    if service == ANACONDA_SERVICE {
        let username = username.trim();
        return sites
            .iter()
            .find(|site| {
                site.domain().eq_ignore_ascii_case(username)
                    || site
                        .config
                        .api
                        .domain
                        .trim_end_matches('/')
                        .eq_ignore_ascii_case(username)
            })
            .map(|site| (site, Concern::Record));
    }
    let url = Url::parse(service).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let (site, repo) = sites.iter().find_map(|site| {
        site.repos
            .iter()
            .find(|repo| repo.channel_of(&url).is_some())
            .map(|repo| (site, repo))
    })?;
    let form = IndexForm::of(repo.as_str());
    // The username the index's URL names: `__token__` for the wheels index; none for a Package
    // Security Manager's, whose username is the secret.
    let named = match form {
        IndexForm::AnacondaWheels => username.is_empty() || username == INDEX_USERNAME,
        IndexForm::PackageSecurityManager => username.is_empty(),
    };
    named.then_some((site, Concern::Index(form)))
}

/// The (username, password) pip and uv send to an index of `form` with the site's API key.
/// A Package Security Manager's PyPI channel documents a "user token" as the username; which
/// of a site's credentials that is, is not documented: the API key is assumed, as for the
/// wheels index.
pub fn index_credential(form: IndexForm, api_key: &Secret) -> (String, String) {
    form.credential(api_key.expose())
}

/// anaconda-auth's record (`TokenInfo`) of what `site` holds now: its domain, its API key and
/// its repo tokens by organisation; `None` when it holds neither.
pub async fn current_record(site: &Site) -> crate::error::Result<Option<TokenRecord>> {
    let held = site.vault.snapshot().await?;
    if held.api_key.is_none() && held.tokens.is_empty() {
        return Ok(None);
    }
    let mut record = TokenRecord::new(site.domain());
    record.version = Some(RECORD_VERSION);
    record.api_key = held.api_key.clone();
    record.repo_tokens = held
        .tokens
        .iter()
        .map(|(org, token)| RepoToken {
            token: token.clone(),
            org_name: Some(org.clone()),
            extra: serde_json::Map::new(),
        })
        .collect();
    Ok(Some(record))
}

/// What adopting a record did: what was taken and what was not, one line each (never a
/// secret).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Adoption {
    pub adopted: Vec<String>,
    pub refused: Vec<String>,
}

impl Adoption {
    /// True when nothing in the record differed from what the daemon holds.
    pub fn is_empty(&self) -> bool {
        self.adopted.is_empty() && self.refused.is_empty()
    }
}

/// Takes from `record` what differs from what `site` holds and the service accepts: a new API
/// key (the service must say whose it is, as `anacondactl login --api-key` asks), a new repo
/// token of an organisation (the repository must serve it). Nothing is removed: a record that
/// lacks a token or the key leaves the daemon's in place (`anacondactl token uninstall` and
/// `anacondactl logout` remove them).
pub async fn adopt(site: &Site, record: &TokenRecord) -> crate::error::Result<Adoption> {
    let held = site.vault.snapshot().await?;
    let mut outcome = Adoption::default();
    if let Some(key) = record.api_key.as_ref().filter(|k| !k.is_empty())
        && held.api_key.as_ref() != Some(key)
    {
        match site.account.set_api_key(key.clone()).await {
            Ok(_) => outcome.adopted.push("the API key".to_owned()),
            Err(e) => outcome.refused.push(format!("the API key: {e}")),
        }
    }
    for token in &record.repo_tokens {
        let Some(org) = token.org_name.as_deref() else {
            outcome
                .refused
                .push("a repo token without an organisation: it names none to serve".to_owned());
            continue;
        };
        if held.tokens.get(org) == Some(&token.token) || token.token.is_empty() {
            continue;
        }
        match adopt_repo_token(site, org, &token.token).await {
            Ok(()) => outcome.adopted.push(format!("the repo token of {org}")),
            Err(reason) => outcome
                .refused
                .push(format!("the repo token of {org}: {reason}")),
        }
    }
    Ok(outcome)
}

/// Keeps `token` as `org`'s once the repository served it; then learns its facts from the
/// service (best effort: a failed reconcile leaves the token stored and served).
async fn adopt_repo_token(site: &Site, org: &str, token: &Secret) -> Result<(), String> {
    match site.api.validate_repo_token(token).await {
        Ok(RepoTokenCheck::Accepted) => {}
        Ok(RepoTokenCheck::Rejected { status }) => {
            return Err(format!("the repository refused it (HTTP {status})"));
        }
        Err(e) => return Err(format!("it could not be checked: {e}")),
    }
    site.tokens
        .install(org, TokenSource::Given(token.clone()), true)
        .await
        .map_err(|e| e.to_string())?;
    if let Err(e) = site.tokens.reconcile(org).await {
        tracing::info!(org, error = %e, "an adopted token's facts could not be learnt");
    }
    Ok(())
}

/// `value` (a keyring password for `Anaconda Cloud`) as anaconda-auth's record of `domain`.
pub fn decode_record(value: &str, domain: &str) -> Result<TokenRecord, String> {
    TokenRecord::decode(&Secret::new(value), domain).map_err(|e| e.to_string())
}
