//! [`CredentialManager`]: the daemon's one owner of credentials. It logs in, installs and
//! removes repo tokens in the order that never leaves the user without a working stored token,
//! keeps the non-secret facts in the state file, and answers "which credential for this URL?"
//! from memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::OnceCell;
use url::Url;

use crate::api::{AnacondaClient, ApiError, Organization, RepoTokenCheck, jwt_expiry};
use crate::events::EventBus;
use crate::secret::Secret;
use crate::state::{DaemonState, OrgState, StateFile};
use crate::store::{BackendKind, StoreError, StoreOptions, TokenStore};
use anacondad_proto::v1::EventKind;

/// Default channels that any repo token (or the API key) of the repository may read.
const DEFAULT_CHANNELS: &[&str] = &["main", "r", "msys2"];

/// Why a credential operation failed, in words the user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("not logged in to {domain}: run `anacondactl login`")]
    NotLoggedIn { domain: String },
    #[error(
        "the organization {org} already has a token; reissuing revokes it on every machine that \
         uses it: confirm with --yes (or answer the prompt)"
    )]
    ConfirmationRequired { org: String },
    #[error("{org} is not one of your organizations with a repository subscription ({known})")]
    UnknownOrganization { org: String, known: String },
    #[error(
        "no token is stored for the organization {org}: run `anacondactl token install --org {org}`"
    )]
    NoToken { org: String },
    #[error("{0}")]
    InvalidArgument(String),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the service issued a new token for {org} (the previous one is revoked), but it could not \
         be stored: {source}. The daemon holds it in memory and serves it until it stops; fix the \
         keychain, then run `anacondactl token install --org {org}` again"
    )]
    NewTokenNotStored {
        org: String,
        source: Box<StoreError>,
    },
    #[error("cannot write the state file: {0}")]
    State(String),
}

impl ManagerError {
    /// True when the user must log in (again) before this can work.
    pub fn is_login_required(&self) -> bool {
        match self {
            Self::NotLoggedIn { .. } => true,
            Self::Api(e) => e.is_login_required(),
            _ => false,
        }
    }
}

/// What `status` and the CLI say about where secrets live.
#[derive(Debug, Clone, Default)]
pub struct StorageView {
    pub backend: Option<BackendKind>,
    pub location: String,
    pub warning: String,
    pub configured: String,
    pub notices: Vec<String>,
    /// True for the first view since the daemon started that carries `warning`.
    pub warning_is_new: bool,
}

/// The login state, without secrets.
#[derive(Debug, Clone, Default)]
pub struct LoginView {
    pub logged_in: bool,
    pub login_required: bool,
    pub domain: String,
    pub username: String,
    pub api_key_expires_at: Option<Timestamp>,
    pub api_key_from_environment: bool,
    pub can_renew: bool,
}

/// How a stored token is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenHealth {
    Valid,
    RefreshDue,
    Expired,
    Rejected,
    Unknown,
}

/// A stored repo token, described without its secret.
#[derive(Debug, Clone)]
pub struct TokenView {
    pub org: String,
    pub channel_url: String,
    pub masked: String,
    pub token_id: Option<String>,
    pub issued_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub next_refresh_at: Option<Timestamp>,
    pub last_validated_at: Option<Timestamp>,
    pub health: TokenHealth,
    pub last_error: Option<String>,
}

/// The outcome of checking a token against the repository.
#[derive(Debug, Clone, Default)]
pub struct Validation {
    pub ok: bool,
    pub validated_at: Option<Timestamp>,
    pub error: Option<String>,
}

/// What `InstallToken` did.
#[derive(Debug, Clone)]
pub struct Installed {
    pub token: TokenView,
    pub reissued: bool,
    pub validation: Validation,
}

/// The service's and the store's view of one org's token.
#[derive(Debug, Clone)]
pub struct TokenStatusView {
    pub org: String,
    pub exists_on_service: bool,
    pub service_token_id: Option<String>,
    pub service_expires_at: Option<Timestamp>,
    pub local: Option<TokenView>,
}

/// A credential the scheduler keeps fresh.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Renewal {
    RepoToken(String),
    ApiKey,
}

/// Which credential answers a URL.
#[derive(Debug, Clone)]
pub enum CredentialKind {
    RepoToken,
    ApiKey,
}

#[derive(Debug, Clone)]
pub struct Credential {
    /// The full `Authorization` header value.
    pub header_value: Secret,
    pub kind: CredentialKind,
    pub org: Option<String>,
    pub expires_at: Option<Timestamp>,
}

impl Credential {
    /// `Authorization: token <repo token>` for `org`.
    fn repo_token(org: &str, token: &Secret) -> Self {
        Self {
            header_value: Secret::new(format!("token {}", token.expose())),
            kind: CredentialKind::RepoToken,
            org: Some(org.to_owned()),
            expires_at: None,
        }
    }

    /// `Authorization: Bearer <api key>`.
    fn api_key(key: &Secret) -> Self {
        Self {
            header_value: Secret::new(format!("Bearer {}", key.expose())),
            kind: CredentialKind::ApiKey,
            org: None,
            expires_at: None,
        }
    }
}

/// The outcome of a completed login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub username: String,
    pub email: String,
    pub api_key_expires_at: Option<Timestamp>,
    pub already_logged_in: bool,
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

/// The secrets the hot path answers from, loaded once from the store and written through.
#[derive(Debug, Default)]
struct CredentialCache {
    api_key: Option<Secret>,
    tokens: BTreeMap<String, Secret>,
}

/// Everything the manager needs, chosen by `main` (or a test).
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    pub store: StoreOptions,
    pub state_file: std::path::PathBuf,
    /// Renew a token this share of its lifetime before expiry (clamped to 1..30 days, and at
    /// most half the lifetime).
    pub refresh_lead_fraction: f64,
}

/// The one owner of credentials for one domain.
#[derive(Debug)]
pub struct CredentialManager {
    api: AnacondaClient,
    /// The store's key for this domain: `host[:port]`.
    domain: String,
    repo_url: Url,
    store_options: StoreOptions,
    store: OnceCell<Arc<TokenStore>>,
    state_file: StateFile,
    state: Mutex<DaemonState>,
    cache: OnceCell<RwLock<CredentialCache>>,
    events: EventBus,
    /// One reissue per org at a time.
    org_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    refresh_lead_fraction: f64,
    /// How many of the store's notices answers have already carried.
    notices_reported: Mutex<usize>,
    /// Woken whenever a renewal deadline may have moved (a token installed or removed).
    deadlines_changed: Arc<tokio::sync::Notify>,
}

impl CredentialManager {
    /// Builds the manager; the state file is read now (a corrupt one is set aside with a
    /// warning), the store is opened on first use.
    pub fn new(
        api: AnacondaClient,
        options: ManagerOptions,
        events: EventBus,
    ) -> Result<Self, ManagerError> {
        let state_file = StateFile::new(&options.state_file);
        let loaded = state_file
            .load(Timestamp::now())
            .map_err(|e| ManagerError::State(e.to_string()))?;
        if let Some(warning) = &loaded.warning {
            tracing::warn!("{warning}");
        }
        Ok(Self {
            domain: api.keyring_username().to_owned(),
            repo_url: api.repo_url().clone(),
            api,
            store_options: options.store,
            store: OnceCell::new(),
            state_file,
            state: Mutex::new(loaded.state),
            cache: OnceCell::new(),
            events,
            org_locks: Mutex::new(HashMap::new()),
            refresh_lead_fraction: options.refresh_lead_fraction,
            notices_reported: Mutex::new(0),
            deadlines_changed: Arc::new(tokio::sync::Notify::new()),
        })
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn repo_url(&self) -> &Url {
        &self.repo_url
    }

    /// Opens the store on first use (probing the keychain for `auto`).
    pub async fn store(&self) -> Result<Arc<TokenStore>, ManagerError> {
        let store = self
            .store
            .get_or_try_init(|| async {
                let store = TokenStore::open(self.store_options.clone()).await?;
                tracing::info!(
                    backend = store.backend_kind().as_str(),
                    "credential store opened"
                );
                if let Some(warning) = store.warning() {
                    tracing::warn!("{warning}");
                }
                for notice in store.notices() {
                    tracing::info!("{notice}");
                }
                Ok::<_, StoreError>(Arc::new(store))
            })
            .await?;
        Ok(store.clone())
    }

    async fn cache(&self) -> Result<&RwLock<CredentialCache>, ManagerError> {
        self.cache
            .get_or_try_init(|| async {
                let loaded = self.load_cache().await?;
                Ok::<_, ManagerError>(RwLock::new(loaded))
            })
            .await
    }

    async fn load_cache(&self) -> Result<CredentialCache, ManagerError> {
        let store = self.store().await?;
        let api_key = store.api_key(&self.domain).await?;
        let mut tokens = BTreeMap::new();
        if let Some(record) = store.record(&self.domain).await? {
            for token in &record.repo_tokens {
                if let Some(org) = &token.org_name {
                    tokens.insert(org.clone(), token.token.clone());
                }
            }
        }
        Ok(CredentialCache { api_key, tokens })
    }

    /// Re-reads the store (another tool may have changed it).
    async fn reload_cache(&self) -> Result<(), ManagerError> {
        let fresh = self.load_cache().await?;
        let cache = self.cache().await?;
        if let Ok(mut slot) = cache.write() {
            *slot = fresh;
        }
        Ok(())
    }

    async fn with_cache<T>(
        &self,
        f: impl FnOnce(&mut CredentialCache) -> T,
    ) -> Result<T, ManagerError> {
        let cache = self.cache().await?;
        let mut guard = cache
            .write()
            .map_err(|_| ManagerError::State("the credential cache is poisoned".to_owned()))?;
        Ok(f(&mut guard))
    }

    fn update_state(&self, f: impl FnOnce(&mut DaemonState)) -> Result<(), ManagerError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| ManagerError::State("the state lock is poisoned".to_owned()))?;
        f(&mut state);
        self.state_file
            .save(&state)
            .map_err(|e| ManagerError::State(e.to_string()))
    }

    fn org_state(&self, org: &str) -> OrgState {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.domains.get(&self.domain)?.orgs.get(org).cloned())
            .unwrap_or_default()
    }

    fn org_lock(&self, org: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.org_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(org.to_owned()).or_default().clone()
    }

    async fn api_key(&self) -> Result<Secret, ManagerError> {
        self.with_cache(|c| c.api_key.clone())
            .await?
            .ok_or_else(|| ManagerError::NotLoggedIn {
                domain: self.domain.clone(),
            })
    }

    // ----- storage and login state -------------------------------------------------------

    /// Where secrets live, or what is configured while the store is not open yet.
    pub fn storage_view(&self) -> StorageView {
        let configured = self.store_options.mode.as_str().to_owned();
        match self.store.get() {
            Some(store) => {
                let kind = store.backend_kind();
                let location = match kind {
                    BackendKind::File => self.store_options.keyring_path.display().to_string(),
                    BackendKind::System => "OS keychain".to_owned(),
                    BackendKind::Memory => "memory".to_owned(),
                };
                StorageView {
                    backend: Some(kind),
                    location,
                    warning: store.warning().unwrap_or_default().to_owned(),
                    configured,
                    notices: store.notices(),
                    warning_is_new: store.take_warning_news(),
                }
            }
            None => StorageView {
                configured,
                ..StorageView::default()
            },
        }
    }

    /// [`Self::storage_view`] with only the notices no answer has carried yet: for the answers
    /// of commands that store a secret, so each notice reaches the user once.
    pub fn storage_view_news(&self) -> StorageView {
        let mut view = self.storage_view();
        if let Ok(mut reported) = self.notices_reported.lock() {
            let all = std::mem::take(&mut view.notices);
            view.notices = all.iter().skip(*reported).cloned().collect();
            *reported = all.len();
        }
        view
    }

    /// The login state from what is stored; no network.
    pub async fn login_view(&self) -> LoginView {
        let api_key = self.with_cache(|c| c.api_key.clone()).await.ok().flatten();
        let domain_state = self
            .state
            .lock()
            .ok()
            .and_then(|s| s.domains.get(&self.domain).cloned())
            .unwrap_or_default();
        let expires_at = api_key
            .as_ref()
            .and_then(|k| jwt_expiry(k).ok())
            .or(domain_state.api_key_expires_at);
        let lapsed = expires_at.is_some_and(|t| t <= Timestamp::now());
        LoginView {
            logged_in: api_key.is_some() && !lapsed,
            login_required: lapsed,
            domain: self.domain.clone(),
            username: domain_state.username.clone().unwrap_or_default(),
            api_key_expires_at: expires_at,
            api_key_from_environment: self
                .store
                .get()
                .is_some_and(|s| s.api_key_from_environment()),
            can_renew: domain_state.refresh_token_held,
        }
    }

    // ----- login ---------------------------------------------------------------------------

    /// True when a stored API key is accepted by the service now.
    pub async fn already_logged_in(&self) -> Result<Option<LoginOutcome>, ManagerError> {
        let Some(key) = self.with_cache(|c| c.api_key.clone()).await? else {
            return Ok(None);
        };
        match self.api.account(&key).await {
            Ok(account) => {
                let username = account.user.username.clone().unwrap_or_default();
                self.remember_username(&username);
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

    pub fn api(&self) -> &AnacondaClient {
        &self.api
    }

    /// Finishes a login: mints the API key with the one-time access token, stores it (and the
    /// refresh token, which lets the daemon renew the key without the user), then reads who
    /// the user is.
    pub async fn complete_login(
        &self,
        tokens: crate::api::OidcTokens,
    ) -> Result<LoginOutcome, ManagerError> {
        let api_key = self.api.create_api_key(&tokens.access_token).await?;
        let store = self.store().await?;
        store.set_api_key(&self.domain, api_key.key.clone()).await?;
        let refresh_held = match &tokens.refresh_token {
            Some(refresh) => {
                store
                    .set_refresh_token(&self.domain, refresh.clone())
                    .await?;
                true
            }
            None => false,
        };
        self.with_cache(|c| c.api_key = Some(api_key.key.clone()))
            .await?;
        self.update_state(|s| {
            let d = s.domain_mut(&self.domain);
            d.api_key_expires_at = Some(api_key.expires_at);
            d.api_key_obtained_at = Some(Timestamp::now());
            d.refresh_token_held = refresh_held;
        })?;
        self.deadlines_changed.notify_one();
        let account = self.api.account(&api_key.key).await?;
        let username = account.user.username.clone().unwrap_or_default();
        self.remember_username(&username);
        self.events.publish(
            EventKind::LoggedIn,
            "",
            "",
            format!("logged in to {} as {username}", self.domain),
        );
        Ok(LoginOutcome {
            username,
            email: account.user.email.unwrap_or_default(),
            api_key_expires_at: Some(api_key.expires_at),
            already_logged_in: false,
        })
    }

    /// Stores an API key the user already has, after the service accepted it.
    pub async fn set_api_key(&self, key: Secret) -> Result<LoginOutcome, ManagerError> {
        let key = Secret::new(key.expose().trim());
        let expires_at = jwt_expiry(&key).map_err(|e| {
            ManagerError::InvalidArgument(format!(
                "this is not an Anaconda API key ({e}); copy the whole key and try again"
            ))
        })?;
        let account = self.api.account(&key).await?;
        let store = self.store().await?;
        store.set_api_key(&self.domain, key.clone()).await?;
        self.with_cache(|c| c.api_key = Some(key)).await?;
        self.update_state(|s| {
            let d = s.domain_mut(&self.domain);
            d.api_key_expires_at = Some(expires_at);
            d.api_key_obtained_at = Some(Timestamp::now());
            d.refresh_token_held = false;
        })?;
        self.deadlines_changed.notify_one();
        let username = account.user.username.clone().unwrap_or_default();
        self.remember_username(&username);
        self.events.publish(
            EventKind::LoggedIn,
            "",
            "",
            format!("API key stored for {} ({username})", self.domain),
        );
        Ok(LoginOutcome {
            username,
            email: account.user.email.unwrap_or_default(),
            api_key_expires_at: Some(expires_at),
            already_logged_in: false,
        })
    }

    /// Forgets the API key and the refresh token; repo tokens stay (conda keeps working).
    pub async fn logout(&self) -> Result<bool, ManagerError> {
        let store = self.store().await?;
        let removed = store.remove_api_key(&self.domain).await?;
        store.remove_refresh_token(&self.domain).await?;
        self.with_cache(|c| c.api_key = None).await?;
        self.update_state(|s| {
            let d = s.domain_mut(&self.domain);
            d.api_key_expires_at = None;
            d.refresh_token_held = false;
        })?;
        let _best_effort = self.update_state(|s| s.domain_mut(&self.domain).username = None);
        self.events.publish(
            EventKind::LoggedOut,
            "",
            "",
            format!("logged out of {}", self.domain),
        );
        Ok(removed)
    }

    /// Keeps who the API key belongs to, for `status` after a restart.
    fn remember_username(&self, username: &str) {
        let known = self
            .state
            .lock()
            .ok()
            .and_then(|s| s.domains.get(&self.domain)?.username.clone());
        if known.as_deref() != Some(username) {
            let _best_effort = self.update_state(|s| {
                s.domain_mut(&self.domain).username = Some(username.to_owned());
            });
        }
    }

    pub async fn whoami(&self) -> Result<WhoamiView, ManagerError> {
        let key = self.api_key().await?;
        let account = self.api.account(&key).await?;
        let user = account.user;
        let username = user.username.unwrap_or_default();
        self.remember_username(&username);
        Ok(WhoamiView {
            login: self.login_view().await,
            user_id: user.id.unwrap_or_default(),
            username,
            email: user.email.unwrap_or_default(),
            first_name: user.first_name.unwrap_or_default(),
            last_name: user.last_name.unwrap_or_default(),
        })
    }

    // ----- repo tokens -------------------------------------------------------------------

    pub async fn organizations(&self) -> Result<Vec<Organization>, ManagerError> {
        let key = self.api_key().await?;
        Ok(self.api.eligible_organizations(&key).await?)
    }

    pub async fn token_status(&self, org: &str) -> Result<TokenStatusView, ManagerError> {
        let org = check_org_name(org)?;
        let key = self.api_key().await?;
        let current = self.api.current_repo_token(&key, org).await?;
        let local = self.token_view(org).await?;
        Ok(TokenStatusView {
            org: org.to_owned(),
            exists_on_service: current.is_some(),
            service_token_id: current.as_ref().map(|c| c.id.clone()),
            service_expires_at: current.map(|c| c.expires_at),
            local,
        })
    }

    /// Installs a token for `org`: a given one as it is, or a new one from the service. The
    /// order is the point: reissue, store at once, then validate; a failure after the reissue
    /// keeps the new token stored.
    pub async fn install_token(
        &self,
        org: &str,
        confirm_reissue: bool,
        given: Option<Secret>,
        skip_validation: bool,
    ) -> Result<Installed, ManagerError> {
        let org = check_org_name(org)?;
        let lock = self.org_lock(org);
        let _one_at_a_time = lock.lock().await;
        let (token, reissued, facts) = match given {
            Some(token) => {
                let token = Secret::new(token.expose().trim());
                if token.is_empty() {
                    return Err(ManagerError::InvalidArgument(
                        "the token is empty".to_owned(),
                    ));
                }
                (token, false, None)
            }
            None => {
                let key = self.api_key().await?;
                let current = self.api.current_repo_token(&key, org).await?;
                if current.is_some() && !confirm_reissue {
                    return Err(ManagerError::ConfirmationRequired {
                        org: org.to_owned(),
                    });
                }
                let issued = self.api.reissue_repo_token(&key, org).await?;
                (issued.token, true, Some(issued.expires_at))
            }
        };
        // Store first: from here on the previous token no longer works anywhere.
        self.with_cache(|c| {
            c.tokens.insert(org.to_owned(), token.clone());
        })
        .await?;
        let store = self.store().await?;
        if let Err(source) = store.set_repo_token(&self.domain, org, token.clone()).await {
            if reissued {
                return Err(ManagerError::NewTokenNotStored {
                    org: org.to_owned(),
                    source: Box::new(source),
                });
            }
            return Err(source.into());
        }
        let now = Timestamp::now();
        let expires_at = facts;
        let next_refresh = expires_at.map(|exp| self.refresh_at(now, exp));
        self.update_state(|s| {
            let o = s.org_mut(&self.domain, org);
            *o = OrgState {
                token_id: None,
                issued_at: reissued.then_some(now),
                expires_at,
                last_validated_at: None,
                last_error: None,
                next_refresh_at: next_refresh,
            };
        })?;
        self.events.publish(
            EventKind::TokenInstalled,
            org,
            "",
            format!("a token for {org} was stored"),
        );
        self.deadlines_changed.notify_one();
        let validation = if skip_validation {
            Validation::default()
        } else {
            self.validate(org, &token).await
        };
        // Learn the new token's id (for `token list`); the reissue answer does not carry it.
        if reissued
            && let Ok(key) = self.api_key().await
            && let Ok(Some(current)) = self.api.current_repo_token(&key, org).await
        {
            let _best_effort = self.update_state(|s| {
                s.org_mut(&self.domain, org).token_id = Some(current.id);
            });
        }
        let token = self
            .token_view(org)
            .await?
            .ok_or_else(|| ManagerError::NoToken {
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
        let result = self.api.validate_repo_token(token).await;
        let now = Timestamp::now();
        let validation = match result {
            Ok(RepoTokenCheck::Accepted) => Validation {
                ok: true,
                validated_at: Some(now),
                error: None,
            },
            Ok(RepoTokenCheck::Rejected { status }) => Validation {
                ok: false,
                validated_at: None,
                error: Some(format!(
                    "the repository {} refused the token (HTTP {status})",
                    self.repo_url
                )),
            },
            Err(e) => Validation {
                ok: false,
                validated_at: None,
                error: Some(e.to_string()),
            },
        };
        let _best_effort = self.update_state(|s| {
            let o = s.org_mut(&self.domain, org);
            if validation.ok {
                o.last_validated_at = Some(now);
                o.last_error = None;
            } else {
                o.last_error = validation.error.clone();
            }
        });
        validation
    }

    /// When to reissue a token issued at `now` that expires at `expires_at`.
    fn refresh_at(&self, now: Timestamp, expires_at: Timestamp) -> Timestamp {
        let lifetime = expires_at
            .as_second()
            .saturating_sub(now.as_second())
            .max(0) as f64;
        let lead = refresh_lead_secs(lifetime, self.refresh_lead_fraction);
        Timestamp::from_second(expires_at.as_second() - lead as i64).unwrap_or(expires_at)
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenView>, ManagerError> {
        let orgs: Vec<String> = self
            .with_cache(|c| c.tokens.keys().cloned().collect())
            .await?;
        let mut views = Vec::with_capacity(orgs.len());
        for org in orgs {
            if let Some(view) = self.token_view(&org).await? {
                views.push(view);
            }
        }
        Ok(views)
    }

    async fn token_view(&self, org: &str) -> Result<Option<TokenView>, ManagerError> {
        let Some(token) = self.with_cache(|c| c.tokens.get(org).cloned()).await? else {
            return Ok(None);
        };
        let st = self.org_state(org);
        let now = Timestamp::now();
        let health = if st.expires_at.is_some_and(|e| e <= now) {
            TokenHealth::Expired
        } else if st.last_error.is_some() {
            TokenHealth::Rejected
        } else if st.next_refresh_at.is_some_and(|r| r <= now) {
            TokenHealth::RefreshDue
        } else if st.expires_at.is_some() || st.last_validated_at.is_some() {
            TokenHealth::Valid
        } else {
            TokenHealth::Unknown
        };
        Ok(Some(TokenView {
            org: org.to_owned(),
            channel_url: format!("{}{org}/", self.repo_url),
            masked: token.masked(),
            token_id: st.token_id,
            issued_at: st.issued_at,
            expires_at: st.expires_at,
            next_refresh_at: st.next_refresh_at,
            last_validated_at: st.last_validated_at,
            health,
            last_error: st.last_error,
        }))
    }

    /// Removes the token of `org` (or every token); returns the removed and the remaining orgs.
    pub async fn uninstall(
        &self,
        org: Option<&str>,
    ) -> Result<(Vec<String>, Vec<String>), ManagerError> {
        let store = self.store().await?;
        let targets: Vec<String> = match org {
            Some(org) => vec![check_org_name(org)?.to_owned()],
            None => store.orgs(&self.domain).await?,
        };
        let mut removed = Vec::new();
        for org in &targets {
            let lock = self.org_lock(org);
            let _one_at_a_time = lock.lock().await;
            if store.remove_repo_token(&self.domain, org).await? {
                removed.push(org.clone());
            }
            self.with_cache(|c| {
                c.tokens.remove(org);
            })
            .await?;
            self.update_state(|s| {
                s.domain_mut(&self.domain).orgs.remove(org);
            })?;
            self.events.publish(
                EventKind::TokenUninstalled,
                org,
                "",
                format!("the token for {org} was removed"),
            );
        }
        if let (Some(org), true) = (org, removed.is_empty()) {
            return Err(ManagerError::NoToken {
                org: org.to_owned(),
            });
        }
        let remaining = store.orgs(&self.domain).await?;
        self.deadlines_changed.notify_one();
        Ok((removed, remaining))
    }

    // ----- renewal -----------------------------------------------------------------------

    /// Notified whenever a renewal deadline may have moved.
    pub fn deadlines_changed(&self) -> Arc<tokio::sync::Notify> {
        self.deadlines_changed.clone()
    }

    /// What should be renewed, and when: every stored org token with its planned reissue time,
    /// and the API key's renewal time when a refresh token lets us renew it.
    pub async fn renewal_deadlines(&self) -> Result<Vec<(Renewal, Timestamp)>, ManagerError> {
        let orgs: Vec<String> = self
            .with_cache(|c| c.tokens.keys().cloned().collect())
            .await?;
        let mut deadlines = Vec::new();
        for org in orgs {
            if let Some(at) = self.org_state(&org).next_refresh_at {
                deadlines.push((Renewal::RepoToken(org), at));
            }
        }
        let domain = self
            .state
            .lock()
            .ok()
            .and_then(|s| s.domains.get(&self.domain).cloned())
            .unwrap_or_default();
        if domain.refresh_token_held
            && !self
                .store
                .get()
                .is_some_and(|s| s.api_key_from_environment())
            && let Some(expires_at) = domain.api_key_expires_at
        {
            const YEAR_SECS: i64 = 365 * 86_400;
            let lifetime = domain
                .api_key_obtained_at
                .map_or(YEAR_SECS, |t| expires_at.as_second() - t.as_second())
                .max(0) as f64;
            let lead = refresh_lead_secs(lifetime, self.refresh_lead_fraction) as i64;
            let at = Timestamp::from_second(expires_at.as_second() - lead).unwrap_or(expires_at);
            deadlines.push((Renewal::ApiKey, at));
        }
        Ok(deadlines)
    }

    /// Carries out one renewal.
    pub async fn renew(&self, renewal: &Renewal) -> Result<(), ManagerError> {
        match renewal {
            Renewal::RepoToken(org) => self.renew_repo_token(org).await,
            Renewal::ApiKey => self.renew_api_key().await,
        }
    }

    async fn renew_repo_token(&self, org: &str) -> Result<(), ManagerError> {
        match self.install_token(org, true, None, false).await {
            Ok(installed) => {
                let message = match &installed.validation.error {
                    None => format!("the token of {org} was renewed"),
                    Some(e) => format!("the token of {org} was renewed; validating it failed: {e}"),
                };
                self.events
                    .publish(EventKind::TokenRefreshed, org, "", message);
                Ok(())
            }
            Err(e) => {
                let message = format!("renewing the token of {org} failed: {e}");
                let _best_effort = self.update_state(|s| {
                    s.org_mut(&self.domain, org).last_error = Some(message.clone());
                });
                self.events
                    .publish(EventKind::TokenRefreshFailed, org, "", message);
                Err(e)
            }
        }
    }

    /// Renews the API key with the refresh token, without the user. A refused refresh token
    /// ends renewal: the user must log in again before the key lapses.
    async fn renew_api_key(&self) -> Result<(), ManagerError> {
        let store = self.store().await?;
        let Some(refresh) = store.refresh_token(&self.domain).await? else {
            let _best_effort =
                self.update_state(|s| s.domain_mut(&self.domain).refresh_token_held = false);
            return Ok(());
        };
        let tokens = match self.api.refresh_tokens(&refresh).await {
            Ok(tokens) => tokens,
            Err(e) if e.is_login_required() => {
                store.remove_refresh_token(&self.domain).await?;
                let _best_effort =
                    self.update_state(|s| s.domain_mut(&self.domain).refresh_token_held = false);
                self.events.publish(
                    EventKind::LoginRequired,
                    "",
                    "",
                    format!(
                        "the API key for {} cannot be renewed any more: run `anacondactl login`                          before it expires",
                        self.domain
                    ),
                );
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        self.complete_login(tokens).await?;
        self.events.publish(
            EventKind::ApiKeyRenewed,
            "",
            "",
            format!("the API key for {} was renewed", self.domain),
        );
        Ok(())
    }

    // ----- credentials (the hot path) ------------------------------------------------------

    /// The credential conda should send for `url`, or why there is none.
    pub async fn credential_for(
        &self,
        url: &str,
    ) -> Result<Result<Credential, String>, ManagerError> {
        let Some(segment) = self.channel_segment(url) else {
            return Ok(Err(format!(
                "{url} is not under the repository {}; anacondad has no credential for it",
                self.repo_url
            )));
        };
        let cache = self.cache().await?;
        let chosen = {
            let c = cache
                .read()
                .map_err(|_| ManagerError::State("the credential cache is poisoned".to_owned()))?;
            let org_token = segment
                .as_deref()
                .and_then(|org| c.tokens.get_key_value(org))
                .or_else(|| {
                    // Default channels (and unknown paths) take any stored repo token.
                    let default_channel = segment
                        .as_deref()
                        .is_none_or(|s| DEFAULT_CHANNELS.contains(&s));
                    if default_channel {
                        c.tokens.iter().next()
                    } else {
                        None
                    }
                });
            match (org_token, &c.api_key) {
                (Some((org, token)), _) => Some(Credential::repo_token(org, token)),
                (None, Some(key)) => Some(Credential::api_key(key)),
                (None, None) => None,
            }
        };
        Ok(match chosen {
            Some(credential) => {
                // Read after the cache lock is released: one lock at a time.
                let expires_at = credential
                    .org
                    .as_deref()
                    .and_then(|o| self.org_state(o).expires_at);
                Ok(Credential {
                    expires_at,
                    ..credential
                })
            }
            None => Err(match segment {
                Some(org) if !DEFAULT_CHANNELS.contains(&org.as_str()) => format!(
                    "no token for the organization {org}: run `anacondactl token install --org {org}`"
                ),
                _ => "no Anaconda credential is stored: run `anacondactl login`, then \
                      `anacondactl token install`"
                    .to_owned(),
            }),
        })
    }

    /// The repository answered 401/403 with a credential we gave. `rejected_sha256` (hex
    /// SHA-256 of the refused header value) tells which one: when the store (re-read, since
    /// another tool may have installed a newer token) holds a different one, that is the
    /// answer; otherwise the refusal is recorded and the other kind of credential offered.
    pub async fn report_rejected(
        &self,
        url: &str,
        status: u32,
        kind: CredentialKind,
        rejected_sha256: Option<&str>,
    ) -> Result<Result<Credential, String>, ManagerError> {
        self.reload_cache().await?;
        let current = self.credential_for(url).await?;
        let current_was_refused = match (&current, rejected_sha256) {
            (Ok(c), Some(fingerprint)) => {
                sha256_hex(c.header_value.expose()).eq_ignore_ascii_case(fingerprint.trim())
            }
            // Without a fingerprint the refused one can only be taken to be the current one.
            (Ok(_), None) => true,
            (Err(_), _) => false,
        };
        if !current_was_refused {
            return Ok(current);
        }
        let before = current.ok();
        if let Some(org) = before.as_ref().and_then(|c| c.org.clone())
            && matches!(kind, CredentialKind::RepoToken)
        {
            let message = format!("the repository answered HTTP {status} for the token of {org}");
            let _best_effort = self.update_state(|s| {
                s.org_mut(&self.domain, &org).last_error = Some(message.clone());
            });
            self.events
                .publish(EventKind::TokenRefreshFailed, &org, "", message);
        }
        // Same credential again: offer the other kind, when there is one.
        let other = self
            .with_cache(|c| match kind {
                CredentialKind::RepoToken => c.api_key.as_ref().map(Credential::api_key),
                CredentialKind::ApiKey => c
                    .tokens
                    .iter()
                    .next()
                    .map(|(org, token)| Credential::repo_token(org, token)),
            })
            .await?;
        Ok(other.ok_or_else(|| match (kind, before.and_then(|c| c.org)) {
            (CredentialKind::RepoToken, Some(org)) => format!(
                "the repository rejected the token of {org} (HTTP {status}): run \
                 `anacondactl token install --org {org}`"
            ),
            _ => format!(
                "the repository rejected the credential (HTTP {status}): run `anacondactl login` \
                 or `anacondactl token install`"
            ),
        }))
    }

    /// For a URL under the repository: `Some(first path segment after it)` (`None` inside for
    /// the repository root). `None` for any other URL. `/t/<token>/` URLs are not ours to
    /// answer: they carry their credential.
    fn channel_segment(&self, url: &str) -> Option<Option<String>> {
        let url = Url::parse(url).ok()?;
        if url.origin() != self.repo_url.origin() {
            return None;
        }
        let rest = url.path().strip_prefix(self.repo_url.path())?;
        Some(
            rest.split('/')
                .next()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        )
    }

    /// How long a keychain call may take, for callers that wait on the store.
    pub fn store_timeout(&self) -> Duration {
        self.store_options.timeout
    }
}

/// Lower-case hex SHA-256 of `text`: how a client names a credential without sending it back.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Seconds before expiry to reissue: `fraction` of the lifetime clamped to 1..30 days, never
/// more than half the lifetime.
pub fn refresh_lead_secs(lifetime_secs: f64, fraction: f64) -> f64 {
    const DAY: f64 = 86_400.0;
    (lifetime_secs * fraction)
        .clamp(DAY, 30.0 * DAY)
        .min(lifetime_secs / 2.0)
}

/// An org slug as it may appear in a URL path.
fn check_org_name(org: &str) -> Result<&str, ManagerError> {
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
        Err(ManagerError::InvalidArgument(format!(
            "{org:?} is not an organization name (letters, digits, '-', '_' and '.')"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: f64 = 86_400.0;

    #[test]
    fn the_lead_is_a_tenth_of_a_year_clamped_to_thirty_days() {
        assert_eq!(refresh_lead_secs(365.0 * DAY, 0.1), 30.0 * DAY);
    }

    #[test]
    fn the_lead_is_at_least_a_day_for_a_month_long_token() {
        assert_eq!(refresh_lead_secs(30.0 * DAY, 0.01), DAY);
    }

    #[test]
    fn the_lead_never_exceeds_half_the_lifetime() {
        assert_eq!(refresh_lead_secs(60.0, 0.1), 30.0);
        assert_eq!(refresh_lead_secs(DAY, 0.1), DAY / 2.0);
    }

    #[test]
    fn org_names_are_checked_before_they_reach_a_url() {
        assert!(check_org_name("acme").is_ok());
        assert!(check_org_name("acme-corp_2.x").is_ok());
        assert!(check_org_name("../etc").is_err());
        assert!(check_org_name("a/b").is_err());
        assert!(check_org_name("").is_err());
    }
}
