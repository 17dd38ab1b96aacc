//! Installing, refreshing and renewing a repo token: the reissue stored at once in a task that
//! runs to its end, then validated.

use super::{Installed, TokenSource, Tokens, Validation, check_org_name};
use crate::api::RepoTokenCheck;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::state::OrgState;
use anacondad_proto::v1::EventKind;

impl Tokens {
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
}
