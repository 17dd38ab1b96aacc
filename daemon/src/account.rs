//! [`Account`]: logging in (device and browser flows), storing an API key the user already
//! has, renewing the key with the refresh token, logout and whoami. Every way of getting a key
//! ends in one tail, [`Account::keep_api_key`].

use jiff::Timestamp;
use tokio::sync::mpsc;

use crate::api::{self, OidcTokens, jwt_expiry};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::site_context::SiteContext;
use anacondad_proto::v1::EventKind;

/// How the user proves who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// RFC 8628 device code: works on any machine, the browser may be elsewhere.
    Device,
    /// Authorization code with PKCE through a browser on this machine.
    Browser,
}

/// What the user must see while a login waits for them.
#[derive(Debug, Clone)]
pub enum LoginPrompt {
    Device {
        user_code: String,
        verification_uri: String,
        verification_uri_complete: Option<String>,
        expires_at: Timestamp,
    },
    Browser {
        authorization_url: String,
    },
}

/// The outcome of a completed login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub username: String,
    pub email: String,
    pub api_key_expires_at: Option<Timestamp>,
    pub already_logged_in: bool,
}

/// The login state, without secrets and without asking the service.
#[derive(Debug, Clone, Default)]
pub struct LoginView {
    pub logged_in: bool,
    pub login_required: bool,
    pub domain: String,
    pub username: String,
    pub api_key_expires_at: Option<Timestamp>,
    /// Where a read-only key comes from (the environment, a secret file, `.env`...), as
    /// `config show` names it; `None` for a key a login stored.
    pub api_key_origin: Option<String>,
    pub can_renew: bool,
}

/// An API key that lapses within this many days, with nothing that renews it by itself, is
/// "expiring": `status` says so and `doctor` warns.
pub const EXPIRING_WITHIN_DAYS: i64 = 14;

impl LoginView {
    /// Whether the key comes from outside (read-only: never renewed or removed here).
    pub fn api_key_from_environment(&self) -> bool {
        self.api_key_origin.is_some()
    }

    /// Whether the API key lapses within [`EXPIRING_WITHIN_DAYS`] of `now` (or has lapsed)
    /// and the daemon cannot renew it.
    pub fn expiring(&self, now: Timestamp) -> bool {
        !self.can_renew
            && self
                .api_key_expires_at
                .is_some_and(|at| at.as_second() - now.as_second() < EXPIRING_WITHIN_DAYS * 86_400)
    }
}

/// The account behind the stored API key.
#[derive(Debug, Clone, Default)]
pub struct WhoamiView {
    pub login: LoginView,
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Debug)]
pub struct Account {
    parts: SiteContext,
    /// One renewal of the API key at a time: the scheduler's, or a call's that found the
    /// key lapsed ([`Account::renew_if_lapsed`]); the second one finds the key renewed.
    renewing: tokio::sync::Mutex<()>,
}

impl Account {
    pub fn new(parts: SiteContext) -> Self {
        Self {
            parts,
            renewing: tokio::sync::Mutex::new(()),
        }
    }

    /// Renews the API key now when it has lapsed and a refresh token is held, so that the
    /// call about to use it (the first command after the daemon starts, say) is answered
    /// with a working key rather than "log in" while the scheduler is about to renew it.
    /// Nothing happens otherwise; a failed renewal leaves the call to fail as it would have.
    pub async fn renew_if_lapsed(&self) -> Result<()> {
        let renewable = |view: LoginView| {
            view.login_required && view.can_renew && !view.api_key_from_environment()
        };
        if !renewable(self.login_view().await) {
            return Ok(());
        }
        let _one_at_a_time = self.renewing.lock().await;
        // The scheduler (or another call) may have renewed it while this one waited.
        if !renewable(self.login_view().await) {
            return Ok(());
        }
        self.renew_api_key_now().await
    }

    /// The login state from what is stored.
    pub async fn login_view(&self) -> LoginView {
        let snapshot = match self.parts.vault.snapshot().await {
            Ok(snapshot) => snapshot,
            Err(_) => self.parts.vault.peek(),
        };
        let facts = &snapshot.facts;
        let expires_at = snapshot
            .api_key
            .as_ref()
            .and_then(|k| jwt_expiry(k).ok())
            .or(facts.api_key_expires_at);
        let lapsed = expires_at.is_some_and(|t| t <= self.parts.clock.now());
        LoginView {
            logged_in: snapshot.api_key.is_some() && !lapsed,
            login_required: lapsed,
            domain: self.parts.vault.domain().to_owned(),
            username: facts.username.clone().unwrap_or_default(),
            api_key_expires_at: expires_at,
            api_key_origin: self.parts.vault.api_key_origin().map(str::to_owned),
            can_renew: facts.refresh_token_held,
        }
    }

    /// Runs one login to its end, sending what the user must see to `prompts`. Ends early,
    /// with [`Error::LoginAbandoned`], when the receiver of `prompts` goes away.
    pub async fn login(
        &self,
        method: LoginMethod,
        force: bool,
        browser_port: u16,
        prompts: &mpsc::Sender<LoginPrompt>,
    ) -> Result<LoginOutcome> {
        if !force && let Some(outcome) = self.already_logged_in().await? {
            return Ok(outcome);
        }
        // Before the user's effort: a key that cannot be kept is not worth minting.
        self.parts.vault.check_writable("logging in").await?;
        let show = |prompt| async move {
            prompts
                .send(prompt)
                .await
                .map_err(|_| Error::LoginAbandoned)
        };
        let tokens = match method {
            LoginMethod::Browser => {
                let login = self.parts.api.start_browser_flow(browser_port).await?;
                show(LoginPrompt::Browser {
                    authorization_url: login.authorization_url().to_string(),
                })
                .await?;
                unless_abandoned(prompts, self.parts.api.finish_browser_flow(login)).await??
            }
            LoginMethod::Device => {
                let device = self.parts.api.start_device_flow().await?;
                let lifetime =
                    jiff::SignedDuration::try_from(device.expires_in).unwrap_or_default();
                show(LoginPrompt::Device {
                    user_code: device.user_code.clone(),
                    verification_uri: device.verification_uri.clone(),
                    verification_uri_complete: device.verification_uri_complete.clone(),
                    expires_at: self
                        .parts
                        .clock
                        .now()
                        .saturating_add(lifetime)
                        .unwrap_or_default(),
                })
                .await?;
                unless_abandoned(prompts, self.parts.api.poll_device_flow(&device)).await??
            }
        };
        self.complete_login(tokens, EventKind::LoggedIn).await
    }

    /// A stored API key the service accepts now, described; `None` when a login is needed.
    async fn already_logged_in(&self) -> Result<Option<LoginOutcome>> {
        let Some(key) = self.parts.vault.snapshot().await?.api_key.clone() else {
            return Ok(None);
        };
        match self.parts.api.account(&key).await {
            Ok(account) => {
                let username = self.remember_username(&account).await;
                Ok(Some(LoginOutcome {
                    username,
                    email: account.user.email.unwrap_or_default(),
                    api_key_expires_at: jwt_expiry(&key).ok(),
                    already_logged_in: true,
                }))
            }
            Err(e) if e.is_login_required() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Mints the API key with the one-time access token and keeps it with the refresh token;
    /// watchers are told `event` (a login, or a renewal).
    async fn complete_login(&self, tokens: OidcTokens, event: EventKind) -> Result<LoginOutcome> {
        // The store may have been locked while the user was in the browser.
        self.parts
            .vault
            .check_writable("creating an API key")
            .await?;
        crate::fault::point("login.before_mint");
        let minted = self.parts.api.create_api_key(&tokens.access_token).await?;
        crate::fault::point("login.after_mint");
        self.keep_api_key(
            minted.key,
            minted.expires_at,
            tokens.refresh_token,
            event,
            "logged in to",
        )
        .await
    }

    /// Stores an API key the user already has, once the service accepted it.
    pub async fn set_api_key(&self, key: Secret) -> Result<LoginOutcome> {
        let key = Secret::new(key.expose().trim());
        let expires_at = jwt_expiry(&key).map_err(|e| Error::NotAnApiKey {
            reason: e.to_string(),
        })?;
        self.keep_api_key(
            key,
            expires_at,
            None,
            EventKind::LoggedIn,
            "API key stored for",
        )
        .await
    }

    /// The one tail of every way to get a key: ask the service who it belongs to (a key it
    /// refuses is not kept), store it (with the refresh token that renews it, if any), record
    /// its facts, tell watchers `event`.
    async fn keep_api_key(
        &self,
        key: Secret,
        expires_at: Timestamp,
        refresh: Option<Secret>,
        event: EventKind,
        what: &str,
    ) -> Result<LoginOutcome> {
        let account = self.parts.api.account(&key).await?;
        self.parts.vault.put_api_key(key, refresh).await?;
        let now = self.parts.clock.now();
        self.parts
            .vault
            .record(|d| {
                d.api_key_expires_at = Some(expires_at);
                d.api_key_obtained_at = Some(now);
            })
            .await?;
        crate::fault::point("login.after_facts");
        let username = self.remember_username(&account).await;
        let domain = self.parts.vault.domain();
        let message = match event {
            EventKind::ApiKeyRenewed => format!("the API key for {domain} was renewed"),
            _ => format!("{what} {domain} as {username}"),
        };
        self.parts.events.publish(event, "", "", message);
        Ok(LoginOutcome {
            username,
            email: account.user.email.unwrap_or_default(),
            api_key_expires_at: Some(expires_at),
            already_logged_in: false,
        })
    }

    /// Renews the API key with the refresh token, without the user. A refused refresh token
    /// ends renewal: the user must log in again before the key lapses.
    pub async fn renew_api_key(&self) -> Result<()> {
        let _one_at_a_time = self.renewing.lock().await;
        self.renew_api_key_now().await
    }

    async fn renew_api_key_now(&self) -> Result<()> {
        let Some(refresh) = self.parts.vault.refresh_token().await? else {
            self.parts
                .vault
                .record_best_effort(|d| d.refresh_token_held = false)
                .await;
            return Ok(());
        };
        let tokens = match self.parts.api.refresh_tokens(&refresh).await {
            Ok(tokens) => tokens,
            Err(e) if e.is_login_required() => {
                self.parts.vault.forget_refresh_token().await?;
                self.parts.events.publish(
                    EventKind::LoginRequired,
                    "",
                    "",
                    format!(
                        "the API key for {} cannot be renewed any more: run `anacondactl login` \
                         before it expires",
                        self.parts.vault.domain()
                    ),
                );
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        crate::fault::point("renewal.after_refresh_call");
        // The service may retire the refresh token it was just shown: keep its successor
        // before anything else can fail, or renewal ends until the next login.
        if let Some(next) = &tokens.refresh_token {
            self.parts.vault.put_refresh_token(next.clone()).await?;
        }
        crate::fault::point("renewal.after_refresh_store");
        self.complete_login(tokens, EventKind::ApiKeyRenewed)
            .await?;
        Ok(())
    }

    /// Forgets the API key and the refresh token; repo tokens stay (conda keeps working).
    pub async fn logout(&self) -> Result<bool> {
        let removed = self.parts.vault.remove_api_key().await?;
        self.parts.events.publish(
            EventKind::LoggedOut,
            "",
            "",
            format!("logged out of {}", self.parts.vault.domain()),
        );
        Ok(removed)
    }

    pub async fn whoami(&self) -> Result<WhoamiView> {
        let key = self.parts.vault.api_key().await?;
        let account = self.parts.api.account(&key).await?;
        let username = self.remember_username(&account).await;
        let user = account.user;
        Ok(WhoamiView {
            login: self.login_view().await,
            user_id: user.id.unwrap_or_default(),
            username,
            email: user.email.unwrap_or_default(),
            first_name: user.first_name.unwrap_or_default(),
            last_name: user.last_name.unwrap_or_default(),
        })
    }

    /// Keeps who the API key belongs to, for `status` after a restart; returns the name.
    async fn remember_username(&self, account: &api::AccountInfo) -> String {
        let username = account.user.username.clone().unwrap_or_default();
        if self.parts.vault.peek().facts.username.as_deref() != Some(username.as_str()) {
            let name = username.clone();
            self.parts
                .vault
                .record_best_effort(|d| d.username = Some(name))
                .await;
        }
        username
    }
}

/// Waits for `flow` unless the receiver of `prompts` goes away first (then the flow is
/// dropped: its polling or loopback listener stops).
async fn unless_abandoned<T>(
    prompts: &mpsc::Sender<LoginPrompt>,
    flow: impl std::future::Future<Output = T>,
) -> Result<T> {
    tokio::select! {
        result = flow => Ok(result),
        () = prompts.closed() => Err(Error::LoginAbandoned),
    }
}

#[cfg(test)]
mod tests {
    use jiff::{SignedDuration, Timestamp};

    use super::LoginView;

    fn key_expiring_in(days: i64, can_renew: bool) -> (LoginView, Timestamp) {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let view = LoginView {
            logged_in: true,
            api_key_expires_at: Some(now + SignedDuration::from_hours(days * 24)),
            can_renew,
            ..LoginView::default()
        };
        (view, now)
    }

    #[test]
    fn a_key_that_lapses_within_two_weeks_and_is_not_renewed_is_expiring() {
        let (view, now) = key_expiring_in(13, false);
        assert!(view.expiring(now));
        let (lapsed, now) = key_expiring_in(-1, false);
        assert!(lapsed.expiring(now));
    }

    #[test]
    fn a_key_with_two_weeks_left_or_a_refresh_token_is_not_expiring() {
        let (view, now) = key_expiring_in(14, false);
        assert!(!view.expiring(now));
        let (renewed, now) = key_expiring_in(1, true);
        assert!(!renewed.expiring(now));
        assert!(!LoginView::default().expiring(now));
    }
}
