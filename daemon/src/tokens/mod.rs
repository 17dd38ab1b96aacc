//! [`Tokens`]: organisations and their repo tokens. Which orgs may have one (checked here, for
//! every client), install (reissue, store at once, validate), renewal, uninstall, and the
//! descriptions `token list` shows.
//!
//! The order is the point: a reissue revokes the previous token everywhere, so the new one is
//! stored the moment it arrives, in a task the daemon's shutdown waits for and a caller that
//! hangs up cannot cancel.

mod install;
mod reconcile;
mod view;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use tokio_util::task::TaskTracker;

pub use reconcile::Reconciled;
pub use view::{Installed, TokenHealth, TokenStatusView, TokenView, Validation};

use crate::api::Organization;
use crate::error::{Error, Result};
use crate::renewal::{Renewal, RenewalPolicy};
use crate::secret::Secret;
use crate::site_context::SiteContext;
use crate::vault::Vault;
use anacondad_proto::v1::EventKind;

/// How long before a scheduled reissue watchers are told of it.
pub const RENEWAL_ANNOUNCE_AHEAD: SignedDuration = SignedDuration::from_hours(24);

/// How long `token list` waits for the service's answer about one token.
const RECONCILE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where a token to install comes from.
#[derive(Debug)]
pub enum TokenSource {
    /// A new one from the service; `confirmed` allows revoking an existing one.
    Reissue { confirmed: bool },
    /// One the user received (by mail, from an admin): stored as it is.
    Given(Secret),
}

#[derive(Debug)]
pub struct Tokens {
    parts: SiteContext,
    policy: RenewalPolicy,
    /// Reissue-and-store runs here: shutdown waits for it, a caller's hang-up cannot cut it.
    critical: TaskTracker,
    /// One reissue per org at a time.
    org_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Scheduled reissues already announced to watchers, by org and time.
    announced: Mutex<BTreeSet<(String, Timestamp)>>,
}

impl Tokens {
    pub fn new(parts: SiteContext, policy: RenewalPolicy, critical: TaskTracker) -> Self {
        Self {
            parts,
            policy,
            critical,
            org_locks: Mutex::new(HashMap::new()),
            announced: Mutex::new(BTreeSet::new()),
        }
    }

    /// Tells watchers, once per planned time, of each reissue due within
    /// [`RENEWAL_ANNOUNCE_AHEAD`], with the command that turns it off: a reissue revokes the
    /// token on every other machine that uses it.
    pub fn announce_upcoming(&self, deadlines: &[(Renewal, Timestamp)]) {
        let now = self.parts.clock.now();
        let horizon = now.checked_add(RENEWAL_ANNOUNCE_AHEAD).unwrap_or(now);
        let mut announced = self.announced.lock().unwrap_or_else(|p| p.into_inner());
        for (renewal, at) in deadlines {
            let Renewal::RepoToken(org) = renewal else {
                continue;
            };
            if *at > horizon || !announced.insert((org.clone(), *at)) {
                continue;
            }
            self.parts.events.publish(
                EventKind::RenewalUpcoming,
                org,
                "",
                format!(
                    "the token of {org} will be reissued at {at}, which revokes it on every other \
                     machine that uses it; to keep it, run `anacondactl token auto-renew --org {org} off`"
                ),
            );
        }
    }

    pub fn vault(&self) -> &Arc<Vault> {
        &self.parts.vault
    }

    pub fn policy(&self) -> RenewalPolicy {
        self.policy
    }

    /// An org whose install, refresh or renewal is under way (its lock is held), if any.
    pub fn reissue_under_way(&self) -> Option<String> {
        let locks = self.org_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks
            .iter()
            .find(|(_, lock)| lock.try_lock().is_err())
            .map(|(org, _)| org.clone())
    }

    fn org_lock(&self, org: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.org_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(org.to_owned()).or_default().clone()
    }

    /// The user's organisations that may have a repo token (a non-starter subscription).
    pub async fn organizations(&self) -> Result<Vec<Organization>> {
        let key = self.parts.vault.api_key().await?;
        Ok(self.parts.api.eligible_organizations(&key).await?)
    }

    /// `org` when it is one of [`Tokens::organizations`]; otherwise the error names them.
    async fn eligible(&self, key: &Secret, org: &str) -> Result<()> {
        let orgs = self.parts.api.eligible_organizations(key).await?;
        if orgs.iter().any(|o| o.name == org) {
            return Ok(());
        }
        let known: Vec<&str> = orgs.iter().map(|o| o.name.as_str()).collect();
        Err(Error::UnknownOrganization {
            org: org.to_owned(),
            known: if known.is_empty() {
                "you have none".to_owned()
            } else {
                known.join(", ")
            },
        })
    }

    pub async fn token_status(&self, org: &str) -> Result<TokenStatusView> {
        let org = check_org_name(org)?;
        let key = self.parts.vault.api_key().await?;
        let current = self.parts.api.current_repo_token(&key, org).await?;
        Ok(TokenStatusView {
            org: org.to_owned(),
            exists_on_service: current.is_some(),
            service_token_id: current.as_ref().map(|c| c.id.clone()),
            service_expires_at: current.map(|c| c.expires_at),
            local: self.view(org).await?,
        })
    }

    pub async fn list(&self) -> Result<Vec<TokenView>> {
        let snapshot = self.parts.vault.snapshot().await?;
        let now = self.parts.clock.now();
        Ok(snapshot
            .tokens
            .iter()
            .map(|(org, token)| {
                TokenView::new(org, token, snapshot.org(org), self.parts.vault.repo(), now)
            })
            .collect())
    }

    /// [`Tokens::list`] after reconciling each stored token with the service (bounded; a
    /// service that does not answer leaves the stored facts as they are).
    pub async fn list_reconciled(&self) -> Result<Vec<TokenView>> {
        let snapshot = self.parts.vault.snapshot().await?;
        if snapshot.api_key.is_some() {
            for org in snapshot.tokens.keys() {
                let lock = self.org_lock(org);
                let Ok(_one_at_a_time) = lock.try_lock() else {
                    continue; // a reissue is under way: its own answer updates the facts
                };
                match tokio::time::timeout(RECONCILE_TIMEOUT, self.reconcile(org)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::info!("cannot check the token of {org}: {e}"),
                    Err(_) => tracing::info!("the service did not answer about {org} in time"),
                }
            }
        }
        self.list().await
    }

    /// Turns the scheduled reissue of `org`'s token on or off.
    pub async fn set_auto_renew(&self, org: &str, on: bool) -> Result<TokenView> {
        let org = check_org_name(org)?;
        if !self.parts.vault.snapshot().await?.tokens.contains_key(org) {
            return Err(Error::NoToken {
                org: org.to_owned(),
            });
        }
        self.parts
            .vault
            .record(|d| d.orgs.entry(org.to_owned()).or_default().auto_renew_off = !on)
            .await?;
        self.view(org).await?.ok_or_else(|| Error::NoToken {
            org: org.to_owned(),
        })
    }

    async fn view(&self, org: &str) -> Result<Option<TokenView>> {
        let snapshot = self.parts.vault.snapshot().await?;
        let now = self.parts.clock.now();
        Ok(snapshot.tokens.get(org).map(|token| {
            TokenView::new(org, token, snapshot.org(org), self.parts.vault.repo(), now)
        }))
    }

    /// Removes the token of `org` (or every token); returns the removed and the remaining orgs.
    pub async fn uninstall(&self, org: Option<&str>) -> Result<(Vec<String>, Vec<String>)> {
        let targets: Vec<String> = match org {
            Some(org) => vec![check_org_name(org)?.to_owned()],
            None => self.stored_orgs().await?,
        };
        let mut removed = Vec::new();
        for org in &targets {
            let lock = self.org_lock(org);
            let _one_at_a_time = lock.lock().await;
            crate::fault::point("uninstall.before_remove");
            if self.parts.vault.remove_repo_token(org).await? {
                removed.push(org.clone());
            }
            self.parts.events.publish(
                EventKind::TokenUninstalled,
                org,
                "",
                format!("the token for {org} was removed"),
            );
        }
        if let (Some(org), true) = (org, removed.is_empty()) {
            return Err(Error::NoToken {
                org: org.to_owned(),
            });
        }
        Ok((removed, self.stored_orgs().await?))
    }

    /// The orgs that have a stored token.
    async fn stored_orgs(&self) -> Result<Vec<String>> {
        let snapshot = self.parts.vault.snapshot().await?;
        Ok(snapshot.tokens.keys().cloned().collect())
    }
}

/// An org slug as it may appear in a URL path.
pub(crate) fn check_org_name(org: &str) -> Result<&str> {
    let org = org.trim();
    let ok = !org.is_empty()
        && org.len() <= 100
        && org
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !org.starts_with('.');
    if ok {
        Ok(org)
    } else {
        Err(Error::InvalidOrgName {
            org: org.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_names_are_checked_before_they_reach_a_url() {
        assert!(check_org_name("acme").is_ok());
        assert!(check_org_name("acme-corp_2.x").is_ok());
        assert!(check_org_name("../etc").is_err());
        assert!(check_org_name("a/b").is_err());
        assert!(check_org_name("").is_err());
    }
}
