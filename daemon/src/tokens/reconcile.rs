//! Reconciling a stored token with the service's current one (`GET .../current-token`): the
//! one check behind four things. At start, facts the state file lost (token id, expiry, the
//! renewal deadline) are rebuilt from it; `token list` shows a token the service replaced as
//! replaced, not valid; after the repository refused a token, the daemon learns whether it was
//! reissued elsewhere or expired and serves the API key first from then on; and before a
//! scheduled reissue, a token another machine reissued is not reissued back.

use crate::api::RepoTokenCheck;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::state::OrgState;
use anacondad_proto::v1::EventKind;

use super::Tokens;

/// What reconciling one org's token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// No token of the org is stored here.
    NotStored,
    /// The stored token is the service's current one; its facts are up to date.
    Current,
    /// The stored token is the current one, and facts the state file had lost were rebuilt.
    Rebuilt,
    /// The stored token is not (or no longer) the one that works: why, and what to run;
    /// `elsewhere` is the service's current token id when another one was issued.
    Replaced {
        message: String,
        elsewhere: Option<String>,
    },
}

impl Tokens {
    /// Compares `org`'s stored token with the service's current one and records the outcome
    /// (see [`Reconciled`]). A token whose id is not known here (the state file was lost, or
    /// the token was given) is asked of the repository once: accepted, it is the current one.
    pub async fn reconcile(&self, org: &str) -> Result<Reconciled> {
        let key = self.parts.vault.api_key().await?;
        let snapshot = self.parts.vault.snapshot().await?;
        let Some(token) = snapshot.tokens.get(org).cloned() else {
            return Ok(Reconciled::NotStored);
        };
        let facts = snapshot.org(org);
        let current = self.parts.api.current_repo_token(&key, org).await?;
        let now = self.parts.clock.now();
        let Some(current) = current else {
            return self
                .mark_replaced(
                    org,
                    format!(
                        "the service holds no token for {org} any more (it was revoked): run \
                         `anacondactl token install --org {org}` for a new one; the API key \
                         serves {org} meanwhile"
                    ),
                    None,
                )
                .await;
        };
        // Another id than the one recorded, or none: the repository tells whether the stored
        // token is the current one (a crash between storing a new token and recording its
        // facts leaves the old id in the state file).
        let same_id = facts.token_id.as_deref() == Some(current.id.as_str());
        let ours = same_id || self.repository_accepts(&token).await?;
        if !ours && let Some(started) = facts.reissue_started_at {
            // The new token is this machine's own, from a reissue whose answer was lost: no
            // other machine holds it, so reissuing again revokes nobody's.
            return self
                .mark_replaced(
                    org,
                    format!(
                        "the reissue of {org}'s token started here at {started} did not finish \
                         (its answer was lost), so the token stored here is revoked: run \
                         `anacondactl token refresh --org {org}` for a new one; the API key \
                         serves {org} meanwhile"
                    ),
                    None,
                )
                .await;
        }
        if !ours {
            return self
                .mark_replaced(
                    org,
                    replaced_elsewhere_message(org, &current.id),
                    Some(current.id.clone()),
                )
                .await;
        }
        if current.expires_at <= now {
            return self
                .mark_replaced(
                    org,
                    format!(
                        "the token of {org} expired at {}: run `anacondactl token refresh --org {org}` \
                         for a new one; the API key serves {org} meanwhile",
                        current.expires_at
                    ),
                    None,
                )
                .await;
        }
        let rebuilt = !same_id || facts.next_refresh_at.is_none();
        let policy = self.policy;
        let next_refresh_at = match facts.next_refresh_at {
            Some(at) if same_id => at,
            // When it was issued is lost with the state file (or was never recorded for this
            // token): plan from now, which renews no later than the lifetime it has left allows.
            _ => policy.renew_at(
                facts.issued_at.filter(|_| same_id).unwrap_or(now),
                current.expires_at,
            ),
        };
        let changed = OrgState {
            token_id: Some(current.id.clone()),
            expires_at: Some(current.expires_at),
            next_refresh_at: Some(next_refresh_at),
            replaced: None,
            reissue_started_at: None,
            // The service says this token is the current one: whatever was recorded against it
            // (a refusal, a failed check, from before a restart too) no longer stands.
            last_error: None,
            ..facts.clone()
        };
        if changed != facts {
            self.parts
                .vault
                .record(|d| {
                    d.orgs.insert(org.to_owned(), changed);
                })
                .await?;
        }
        Ok(if rebuilt {
            Reconciled::Rebuilt
        } else {
            Reconciled::Current
        })
    }

    /// Whether the repository accepts `token` now (its id unknown here, this is how to tell
    /// whether it is the service's current one).
    async fn repository_accepts(&self, token: &Secret) -> Result<bool> {
        Ok(matches!(
            self.parts.api.validate_repo_token(token).await?,
            RepoTokenCheck::Accepted
        ))
    }

    /// Records that `org`'s stored token is replaced, and tells watchers the first time.
    async fn mark_replaced(
        &self,
        org: &str,
        message: String,
        elsewhere: Option<String>,
    ) -> Result<Reconciled> {
        let before = self.parts.vault.peek().org(org).replaced;
        if before.as_deref() != Some(message.as_str()) {
            let recorded = message.clone();
            self.parts
                .vault
                .record(|d| {
                    let o = d.orgs.entry(org.to_owned()).or_default();
                    o.replaced = Some(recorded.clone());
                    o.last_error = Some(recorded);
                })
                .await?;
            self.parts
                .events
                .publish(EventKind::TokenReplaced, org, "", message.clone());
        }
        Ok(Reconciled::Replaced { message, elsewhere })
    }

    /// At start: rebuilds what the state file lost for every stored token (and the API key's
    /// expiry and renewal), and says so in `status`. A token the service replaced meanwhile is
    /// marked as such. Failures are logged; the scheduler's next look tries nothing new.
    pub async fn rebuild_lost_facts(&self) {
        let snapshot = match self.parts.vault.snapshot().await {
            Ok(snapshot) => snapshot,
            Err(e) => {
                tracing::warn!("cannot read the stored credentials to check their facts: {e}");
                return;
            }
        };
        if snapshot.api_key.is_none() {
            return;
        }
        self.rebuild_api_key_facts().await;
        let mut rebuilt = Vec::new();
        for org in snapshot.tokens.keys() {
            let facts = snapshot.org(org);
            // A reissue that started and did not finish: the stored token may be the revoked
            // one, and answers put it after the API key until this check is done.
            if facts.token_id.is_some()
                && facts.next_refresh_at.is_some()
                && facts.reissue_started_at.is_none()
            {
                continue;
            }
            match self.reconcile(org).await {
                Ok(Reconciled::Rebuilt) => rebuilt.push(org.clone()),
                Ok(Reconciled::Replaced { message, .. }) => self.parts.vault.note(message),
                Ok(Reconciled::Current | Reconciled::NotStored) => {}
                Err(e) => tracing::warn!("cannot check the token of {org} with the service: {e}"),
            }
        }
        if !rebuilt.is_empty() {
            self.parts.vault.note(format!(
                "the expiry and renewal times of the token(s) of {} were missing from the state \
                 file and were rebuilt from the service",
                rebuilt.join(", ")
            ));
        }
    }

    /// The API key's expiry from its own `exp`, and whether a refresh token renews it.
    async fn rebuild_api_key_facts(&self) {
        let vault = &self.parts.vault;
        let facts = vault.peek().facts.clone();
        let Ok(key) = vault.api_key().await else {
            return;
        };
        let expires_at = crate::api::jwt_expiry(&key).ok();
        let refresh_held =
            !vault.api_key_from_environment() && matches!(vault.refresh_token().await, Ok(Some(_)));
        if facts.api_key_expires_at.is_some() && facts.refresh_token_held == refresh_held {
            return;
        }
        if expires_at.is_none() && !refresh_held {
            return;
        }
        vault
            .record_best_effort(|d| {
                d.api_key_expires_at = d.api_key_expires_at.or(expires_at);
                d.refresh_token_held = refresh_held;
            })
            .await;
        vault.note(
            "the API key's expiry and renewal were missing from the state file and were rebuilt \
             from the key itself"
                .to_owned(),
        );
    }

    /// Before a scheduled (or asked-for) reissue: the stored token must still be the service's
    /// current one. When another machine reissued it, it is not reissued back.
    pub(super) async fn check_still_current(&self, org: &str) -> Result<()> {
        match self.reconcile(org).await? {
            Reconciled::Replaced {
                elsewhere: Some(current_id),
                ..
            } => Err(Error::ReissuedElsewhere {
                org: org.to_owned(),
                current_id,
            }),
            // Expired, or none on the service: a reissue is what fixes it, and revokes nothing.
            Reconciled::Replaced {
                elsewhere: None, ..
            }
            | Reconciled::NotStored
            | Reconciled::Current
            | Reconciled::Rebuilt => Ok(()),
        }
    }
}

fn replaced_elsewhere_message(org: &str, current_id: &str) -> String {
    format!(
        "the token of {org} was reissued elsewhere (the service's current token is {current_id}, \
         not the one stored here); the API key serves {org} meanwhile. Store the other machine's \
         token with `anacondactl token install --org {org} TOKEN`, or reissue here with \
         `anacondactl token install --org {org} --yes` (which revokes the other one)"
    )
}
