//! [`Tokens`]: organisations and their repo tokens. Which orgs may have one (checked here, for
//! every client), install (reissue, store at once, validate), renewal, uninstall, and the
//! descriptions `token list` shows.
//!
//! The order is the point: a reissue revokes the previous token everywhere, so the new one is
//! stored the moment it arrives, in a task the daemon's shutdown waits for and a caller that
//! hangs up cannot cancel.

mod reconcile;
mod view;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use tokio_util::task::TaskTracker;

pub use reconcile::Reconciled;
pub use view::{Installed, TokenHealth, TokenStatusView, TokenView, Validation};

use crate::api::{Organization, RepoTokenCheck};
use crate::error::{Error, Result};
use crate::renewal::{Renewal, RenewalPolicy};
use crate::secret::Secret;
use crate::site_parts::SiteParts;
use crate::state::OrgState;
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
    parts: SiteParts,
    policy: RenewalPolicy,
    /// Reissue-and-store runs here: shutdown waits for it, a caller's hang-up cannot cut it.
    critical: TaskTracker,
    /// One reissue per org at a time.
    org_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Scheduled reissues already announced to watchers, by org and time.
    announced: Mutex<BTreeSet<(String, Timestamp)>>,
}

impl Tokens {
    pub fn new(parts: SiteParts, policy: RenewalPolicy, critical: TaskTracker) -> Self {
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

    /// Installs a token for `org`. A reissue needs `org` to be eligible and, when the org has
    /// a token already, `confirmed` ([`Error::ConfirmationRequired`] otherwise: ask, then call
    /// again). A failure after the reissue keeps the new token stored.
    pub async fn install(
        &self,
        org: &str,
        source: TokenSource,
        skip_validation: bool,
    ) -> Result<Installed> {
        let org = check_org_name(org)?;
        let lock = self.org_lock(org);
        let _one_at_a_time = lock.lock().await;
        let (token, reissued) = match source {
            TokenSource::Given(token) => {
                let token = Secret::new(token.expose().trim());
                if token.is_empty() {
                    return Err(Error::EmptyToken);
                }
                // Checked as the service's answers are: it goes into headers and URLs.
                crate::api::check_credential(token.expose())
                    .map_err(|reason| Error::NotAToken { reason })?;
                self.parts.vault.put_repo_token(org, token.clone()).await?;
                // Nothing is known of a given token's expiry: no renewal is planned.
                let auto_renew_off = self.parts.vault.peek().org(org).auto_renew_off;
                self.parts
                    .vault
                    .record(|d| {
                        d.orgs.insert(
                            org.to_owned(),
                            OrgState {
                                auto_renew_off,
                                ..OrgState::default()
                            },
                        );
                    })
                    .await?;
                (token, false)
            }
            TokenSource::Reissue { confirmed } => {
                let key = self.parts.vault.api_key().await?;
                self.eligible(&key, org).await?;
                crate::activity::step_done(format!("checked that {org} may have a repo token"));
                let current = self.parts.api.current_repo_token(&key, org).await?;
                crate::activity::step_done(format!("asked the service for {org}'s current token"));
                if current.is_some() && !confirmed {
                    return Err(Error::ConfirmationRequired {
                        org: org.to_owned(),
                    });
                }
                self.parts
                    .vault
                    .check_writable(&format!("reissuing the token of {org}"))
                    .await?;
                (self.reissue_and_settle(org, key).await?, true)
            }
        };
        self.parts.events.publish(
            EventKind::TokenInstalled,
            org,
            "",
            format!("a token for {org} was stored"),
        );
        self.finish_install(org, &token, reissued, skip_validation)
            .await
    }

    /// Reissues `org`'s token now (`token refresh`, and the scheduler): no question asked,
    /// but only while the stored token is the service's current one (another machine's
    /// reissue is not reissued back) and the store will keep the new one.
    pub async fn refresh(&self, org: &str) -> Result<Installed> {
        let org = check_org_name(org)?;
        let lock = self.org_lock(org);
        let _one_at_a_time = lock.lock().await;
        let key = self.parts.vault.api_key().await?;
        self.check_still_current(org).await?;
        self.parts
            .vault
            .check_writable(&format!("reissuing the token of {org}"))
            .await?;
        let token = self.reissue_and_settle(org, key).await?;
        let installed = self.finish_install(org, &token, true, false).await?;
        let message = match &installed.validation.error {
            None => format!("the token of {org} was renewed"),
            Some(e) => format!("the token of {org} was renewed; validating it failed: {e}"),
        };
        self.parts
            .events
            .publish(EventKind::TokenRefreshed, org, "", message);
        Ok(installed)
    }

    /// The scheduler's renewal of `org`'s token, with the failure recorded and told.
    pub async fn renew(&self, org: &str) -> Result<()> {
        match self.refresh(org).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let message = format!("renewing the token of {org} failed: {e}");
                // No answer is not a refusal: the token is not marked rejected for it (the
                // scheduler tries again, and the event says what happened).
                if !e.is_no_answer() {
                    self.parts
                        .vault
                        .record_org_error(org, message.clone())
                        .await;
                }
                self.parts
                    .events
                    .publish(EventKind::TokenRefreshFailed, org, "", message);
                Err(e)
            }
        }
    }

    /// [`Tokens::reissue_and_store`]; when it fails with the reissue marked as started (its
    /// answer lost, or refused), the service is asked at once what became of the stored token,
    /// so that answers stop putting it after the API key as soon as it is known to work, or
    /// name the fix when it was revoked.
    async fn reissue_and_settle(&self, org: &str, key: Secret) -> Result<Secret> {
        let failed = match self.reissue_and_store(org, key).await {
            Ok(token) => return Ok(token),
            Err(e) => e,
        };
        if self
            .parts
            .vault
            .peek()
            .org(org)
            .reissue_started_at
            .is_some()
            && let Err(e) = self.reconcile(org).await
        {
            tracing::info!(
                "cannot ask the service about the token of {org} after a failed reissue: {e}"
            );
        }
        Err(failed)
    }

    /// The irreversible step and the one that must follow it, as one task that runs to its end.
    async fn reissue_and_store(&self, org: &str, key: Secret) -> Result<Secret> {
        let api = self.parts.api.clone();
        let vault = self.parts.vault.clone();
        let clock = self.parts.clock.clone();
        let policy = self.policy;
        let owned_org = org.to_owned();
        let activity = crate::activity::current();
        let task = self
            .critical
            .spawn(crate::activity::scope(activity, async move {
                let org = owned_org.as_str();
                let auto_renew_off = vault.peek().org(org).auto_renew_off;
                let started = clock.now();
                vault
                    .record(|d| {
                        d.orgs.entry(org.to_owned()).or_default().reissue_started_at =
                            Some(started);
                    })
                    .await?;
                crate::fault::point("reissue.before_call");
                crate::activity::irreversible(format!("The reissue of {org}'s token"));
                let issued = api.reissue_repo_token(&key, org).await?;
                crate::activity::step_done(format!("reissued {org}'s token"));
                crate::fault::point("reissue.after_call");
                // From here on the previous token no longer works anywhere.
                if let Err(source) = vault.put_repo_token(org, issued.token.clone()).await {
                    return Err(Error::NewTokenNotStored {
                        org: org.to_owned(),
                        source: Box::new(source),
                    });
                }
                crate::fault::point("reissue.after_store");
                let now = clock.now();
                let facts = OrgState {
                    issued_at: Some(now),
                    expires_at: Some(issued.expires_at),
                    next_refresh_at: Some(policy.renew_at(now, issued.expires_at)),
                    auto_renew_off,
                    ..OrgState::default()
                };
                vault
                    .record(|d| {
                        d.orgs.insert(org.to_owned(), facts);
                    })
                    .await?;
                crate::fault::point("reissue.after_facts");
                crate::activity::step_done(format!("stored the new token of {org}"));
                Ok(issued.token)
            }));
        task.await.map_err(|_| Error::TaskLost {
            what: "storing the new token",
        })?
    }

    /// After the token is stored (and watchers told): validate, learn the token's id.
    async fn finish_install(
        &self,
        org: &str,
        token: &Secret,
        reissued: bool,
        skip_validation: bool,
    ) -> Result<Installed> {
        let validation = if skip_validation {
            Validation::default()
        } else {
            self.validate(org, token).await
        };
        crate::fault::point("install.after_validation");
        // The reissue answer does not carry the new token's id; `token list` shows it.
        if reissued
            && let Ok(key) = self.parts.vault.api_key().await
            && let Ok(Some(current)) = self.parts.api.current_repo_token(&key, org).await
        {
            self.parts
                .vault
                .record_best_effort(|d| {
                    d.orgs.entry(org.to_owned()).or_default().token_id = Some(current.id);
                })
                .await;
        }
        crate::fault::point("install.after_token_id");
        let token = self.view(org).await?.ok_or_else(|| Error::NoToken {
            org: org.to_owned(),
        })?;
        Ok(Installed {
            token,
            reissued,
            validation,
        })
    }

    /// Asks the repository whether it accepts `token`, and records the answer.
    async fn validate(&self, org: &str, token: &Secret) -> Validation {
        let now = self.parts.clock.now();
        let validation = match self.parts.api.validate_repo_token(token).await {
            Ok(RepoTokenCheck::Accepted) => Validation {
                ok: true,
                validated_at: Some(now),
                error: None,
                refused: false,
            },
            Ok(RepoTokenCheck::Rejected { status }) => Validation {
                ok: false,
                validated_at: None,
                error: Some(format!(
                    "the repository {} refused the token (HTTP {status})",
                    self.parts.vault.repo()
                )),
                refused: true,
            },
            Err(e) => Validation {
                ok: false,
                validated_at: None,
                error: Some(format!("it could not be checked: {e}")),
                refused: false,
            },
        };
        if validation.ok {
            crate::activity::step_done("the repository accepts the token");
        }
        let outcome = validation.clone();
        // Only a verdict is recorded: a repository that did not answer refused nothing, and
        // the next `token list` asks again.
        if outcome.ok || outcome.refused {
            self.parts
                .vault
                .record_best_effort(|d| {
                    let o = d.orgs.entry(org.to_owned()).or_default();
                    if outcome.ok {
                        o.last_validated_at = outcome.validated_at;
                        o.last_error = None;
                    } else {
                        o.last_error = outcome.error;
                    }
                })
                .await;
        }
        validation
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
