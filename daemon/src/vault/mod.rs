//! [`Vault`]: one site's secrets and the non-secret facts about them. It owns the token store
//! (opened on first use), the state file, and the in-memory copy of both that every answer
//! reads. Readers take an immutable [`Snapshot`], swapped whole after each change; the lock
//! that a state-file write holds is never one a reader waits on.

mod storage;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use jiff::Timestamp;
use tokio::sync::{Notify, OnceCell};

pub use storage::StorageView;

use crate::error::{Error, Result};
use crate::repo_url::RepoUrl;
use crate::secret::Secret;
use crate::state::{DaemonState, DomainState, OrgState, StateError, StateFile};
use crate::store::{StoreError, StoreOptions, TokenStore};

/// Which Anaconda site a vault holds: the domain its store record is keyed by and the
/// repository its tokens open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteIdentity {
    /// The store's key for the site: `host[:port]` of the domain, as anaconda-auth writes it.
    pub domain: String,
    pub repo: RepoUrl,
}

/// What the vault held at one moment. Cheap to clone (an `Arc`); never changes once built.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub api_key: Option<Secret>,
    /// Repo tokens by organisation.
    pub tokens: BTreeMap<String, Secret>,
    /// The state file's facts about this site.
    pub facts: DomainState,
    /// `(channel, hex SHA-256 of the Authorization value)` pairs the repository refused since
    /// the daemon started, with the HTTP status it answered: answers in that channel skip them
    /// until a new credential replaces them.
    pub refused: BTreeMap<(String, String), u32>,
}

impl Snapshot {
    /// The facts about `org`'s token (empty when none are known).
    pub fn org(&self, org: &str) -> OrgState {
        self.facts.orgs.get(org).cloned().unwrap_or_default()
    }
}

/// What every site's vault shares: the one state file (keyed by domain) with the one lock
/// its writes take, and the one token store (its records are keyed by domain too).
#[derive(Debug)]
pub struct Shared {
    store_options: StoreOptions,
    store: OnceCell<Arc<TokenStore>>,
    state_file: StateFile,
    /// The whole state file (every site), changed and written under this lock only.
    writer: tokio::sync::Mutex<DaemonState>,
    /// Why the state file was set aside at load, if it was.
    load_warning: Option<String>,
}

impl Shared {
    /// Reads the state file now (a corrupt one is set aside with a warning in the log); the
    /// store is opened on first use.
    pub fn open(
        store_options: StoreOptions,
        state_file: PathBuf,
        now: Timestamp,
    ) -> Result<Arc<Self>, StateError> {
        let state_file = StateFile::new(state_file);
        let loaded = state_file.load(now)?;
        if let Some(warning) = &loaded.warning {
            tracing::warn!("{warning}");
        }
        Ok(Arc::new(Self {
            store_options,
            store: OnceCell::new(),
            state_file,
            writer: tokio::sync::Mutex::new(loaded.state),
            load_warning: loaded.warning,
        }))
    }
}

#[derive(Debug)]
pub struct Vault {
    site: SiteIdentity,
    shared: Arc<Shared>,
    /// What readers see.
    current: RwLock<Arc<Snapshot>>,
    /// Set once the store's secrets are in `current`.
    secrets_loaded: OnceCell<()>,
    /// How many of the store's notices answers have already carried.
    notices_reported: Mutex<usize>,
    /// Woken whenever a renewal deadline may have moved.
    deadlines_changed: Arc<Notify>,
    /// Counts the changes of the secrets or the refusals (not of the facts): the one place
    /// that tells the exports to write again, whichever flow made the change.
    credentials_changed: tokio::sync::watch::Sender<u64>,
    /// What the daemon did by itself that `status` tells the user (a state file set aside,
    /// renewal times rebuilt from the service).
    notes: Mutex<Vec<String>>,
}

impl Vault {
    /// One site's vault with a state file and a store of its own (tests, one-site daemons).
    pub fn open(
        site: SiteIdentity,
        store_options: StoreOptions,
        state_file: PathBuf,
        now: Timestamp,
    ) -> Result<Self, StateError> {
        Ok(Self::within(
            site,
            Shared::open(store_options, state_file, now)?,
            true,
        ))
    }

    /// `site`'s vault over what the sites share; `tells_load_warning`: this vault's `status`
    /// says the state file was set aside (one site's, not each site's).
    pub fn within(site: SiteIdentity, shared: Arc<Shared>, tells_load_warning: bool) -> Self {
        let facts = {
            // Nothing else holds the lock while the daemon is built.
            let state = shared
                .writer
                .try_lock()
                .map(|s| s.domains.get(&site.domain).cloned());
            state.ok().flatten().unwrap_or_default()
        };
        let notes = shared
            .load_warning
            .iter()
            .filter(|_| tells_load_warning)
            .cloned()
            .collect();
        Self {
            site,
            shared,
            current: RwLock::new(Arc::new(Snapshot {
                facts,
                ..Snapshot::default()
            })),
            secrets_loaded: OnceCell::new(),
            notices_reported: Mutex::new(0),
            deadlines_changed: Arc::new(Notify::new()),
            credentials_changed: tokio::sync::watch::Sender::new(0),
            notes: Mutex::new(notes),
        }
    }

    /// Adds a line to what `status` tells the user.
    pub fn note(&self, line: String) {
        tracing::info!("{line}");
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }

    /// What `status` tells the user the daemon did by itself, oldest first.
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn site(&self) -> &SiteIdentity {
        &self.site
    }

    pub fn domain(&self) -> &str {
        &self.site.domain
    }

    pub fn repo(&self) -> &RepoUrl {
        &self.site.repo
    }

    /// Notified whenever a renewal deadline may have moved (a credential stored or removed).
    pub fn deadlines_changed(&self) -> Arc<Notify> {
        self.deadlines_changed.clone()
    }

    /// Sees every change of the secrets or the refusals held in memory (install, renewal,
    /// refusal, uninstall, logout, a reload that found another tool's write).
    pub fn credentials_changed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.credentials_changed.subscribe()
    }

    /// Opens the store on first use (probing the keychain for `auto`).
    pub async fn store(&self) -> Result<Arc<TokenStore>, StoreError> {
        let store = self
            .shared
            .store
            .get_or_try_init(|| async {
                let store = TokenStore::open(self.shared.store_options.clone()).await?;
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

    /// The store if it is open already; never waits on a keychain.
    pub fn store_if_open(&self) -> Option<&Arc<TokenStore>> {
        self.shared.store.get()
    }

    /// What the vault holds now, the store's secrets loaded on first use.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, StoreError> {
        self.secrets_loaded
            .get_or_try_init(|| async {
                let (api_key, tokens) = self.read_secrets().await?;
                self.swap(|s| {
                    s.api_key = api_key;
                    s.tokens = tokens;
                });
                Ok::<_, StoreError>(())
            })
            .await?;
        Ok(self.peek())
    }

    /// What the vault holds now, without loading anything: the facts are always there, the
    /// secrets once [`Vault::snapshot`] has loaded them.
    pub fn peek(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-reads the store's secrets (another tool may have changed them); the exports are woken
    /// only when they did change.
    pub async fn reload(&self) -> Result<Arc<Snapshot>, StoreError> {
        self.snapshot().await?;
        let (api_key, tokens) = self.read_secrets().await?;
        let _writes_in_order = self.shared.writer.lock().await;
        let current = self.peek();
        if current.api_key == api_key && current.tokens == tokens {
            // Nothing changed: the exports, which wait on the change counter, have nothing to do.
            return Ok(current);
        }
        self.swap(|s| {
            s.api_key = api_key;
            s.tokens = tokens;
        });
        Ok(self.peek())
    }

    async fn read_secrets(&self) -> Result<(Option<Secret>, BTreeMap<String, Secret>), StoreError> {
        let store = self.store().await?;
        let api_key = store.api_key(self.domain()).await?;
        let mut tokens = BTreeMap::new();
        if let Some(record) = store.record(self.domain()).await? {
            for token in record.repo_tokens {
                if let Some(org) = token.org_name {
                    tokens.insert(org, token.token);
                }
            }
        }
        Ok((api_key, tokens))
    }

    /// Replaces the snapshot by a changed copy. Callers hold `writer` (or are the one-time
    /// load), so changes never interleave.
    fn swap(&self, change: impl FnOnce(&mut Snapshot)) {
        self.swap_facts(change);
        self.credentials_changed
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    /// [`Vault::swap`] for a change of the facts only, which no export depends on.
    fn swap_facts(&self, change: impl FnOnce(&mut Snapshot)) {
        let mut slot = self.current.write().unwrap_or_else(|p| p.into_inner());
        let mut next = Snapshot::clone(&slot);
        change(&mut next);
        *slot = Arc::new(next);
    }

    /// Changes what is held in memory only (no store, no state file).
    pub async fn remember(&self, change: impl FnOnce(&mut Snapshot)) {
        let _writes_in_order = self.shared.writer.lock().await;
        self.swap(change);
    }

    /// Changes this site's facts and writes the state file before readers see them.
    pub async fn record(&self, change: impl FnOnce(&mut DomainState)) -> Result<(), StateError> {
        let mut state = self.shared.writer.lock().await;
        change(state.domain_mut(&self.site.domain));
        let to_save = state.clone();
        let file = self.shared.state_file.clone();
        tokio::task::spawn_blocking(move || file.save(&to_save))
            .await
            .map_err(|e| StateError::Write {
                path: self.shared.state_file.path().to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })??;
        let facts = state.domain_mut(&self.site.domain).clone();
        self.swap_facts(|s| s.facts = facts);
        // Facts hold the renewal deadlines: the scheduler looks again.
        self.deadlines_changed.notify_one();
        Ok(())
    }

    /// [`Vault::record`] for a fact whose loss costs nothing but a line in `status`: a failed
    /// write is logged, not returned.
    pub async fn record_best_effort(&self, change: impl FnOnce(&mut DomainState)) {
        if let Err(e) = self.record(change).await {
            tracing::warn!("{e}");
        }
    }

    /// Records the last failure concerning `org`'s token, as `status` and `token list` show it.
    pub async fn record_org_error(&self, org: &str, message: String) {
        self.record_best_effort(|d| {
            d.orgs.entry(org.to_owned()).or_default().last_error = Some(message);
        })
        .await;
    }

    /// Stores `org`'s token. It is served from memory from the first moment, so a token the
    /// service just issued is used even when the store then fails.
    pub async fn put_repo_token(&self, org: &str, token: Secret) -> Result<(), StoreError> {
        self.snapshot().await?;
        self.remember(|s| {
            s.tokens.insert(org.to_owned(), token.clone());
        })
        .await;
        self.store()
            .await?
            .set_repo_token(self.domain(), org, token)
            .await?;
        self.deadlines_changed.notify_one();
        Ok(())
    }

    /// Checks that both the store and the state file take a write now, before a call whose
    /// answer must be kept (a reissue revokes the previous token; a login mints a key).
    /// `action` names the call in the error ("reissuing the token of acme").
    pub async fn check_writable(&self, action: &str) -> Result<()> {
        let refused = |cause: String| Error::StoreNotWritable {
            action: action.to_owned(),
            cause,
        };
        let store = self.store().await.map_err(|e| refused(e.to_string()))?;
        store
            .check_writable(self.domain())
            .await
            .map_err(|e| refused(e.to_string()))?;
        // Rewriting the facts unchanged is the state file's probe.
        self.record(|_| {})
            .await
            .map_err(|e| refused(e.to_string()))?;
        Ok(())
    }

    /// Removes `org`'s token and its facts; true when the store held one.
    pub async fn remove_repo_token(&self, org: &str) -> Result<bool> {
        let removed = self
            .store()
            .await?
            .remove_repo_token(self.domain(), org)
            .await?;
        crate::fault::point("uninstall.after_store_remove");
        self.remember(|s| {
            s.tokens.remove(org);
        })
        .await;
        self.record(|d| {
            d.orgs.remove(org);
        })
        .await?;
        crate::fault::point("uninstall.after_facts");
        self.deadlines_changed.notify_one();
        Ok(removed)
    }

    /// Stores a new API key, and the refresh token that renews it when there is one (without
    /// one, renewal is off until the next login).
    pub async fn put_api_key(&self, key: Secret, refresh: Option<Secret>) -> Result<()> {
        let store = self.store().await?;
        self.snapshot().await?;
        store.set_api_key(self.domain(), key.clone()).await?;
        crate::fault::point("login.after_store_key");
        let refresh_held = match refresh {
            Some(refresh) => {
                store.set_refresh_token(self.domain(), refresh).await?;
                crate::fault::point("login.after_store_refresh");
                true
            }
            None => false,
        };
        self.remember(|s| s.api_key = Some(key)).await;
        self.record(|d| d.refresh_token_held = refresh_held).await?;
        crate::fault::point("login.after_refresh_fact");
        self.deadlines_changed.notify_one();
        Ok(())
    }

    /// Forgets the API key and the refresh token; true when a key was stored.
    pub async fn remove_api_key(&self) -> Result<bool> {
        let store = self.store().await?;
        let removed = store.remove_api_key(self.domain()).await?;
        store.remove_refresh_token(self.domain()).await?;
        self.remember(|s| s.api_key = None).await;
        self.record(|d| {
            d.api_key_expires_at = None;
            d.refresh_token_held = false;
            d.username = None;
        })
        .await?;
        self.deadlines_changed.notify_one();
        Ok(removed)
    }

    pub async fn refresh_token(&self) -> Result<Option<Secret>, StoreError> {
        self.store().await?.refresh_token(self.domain()).await
    }

    /// Replaces the refresh token alone (a renewal keeps the service's next one at once).
    pub async fn put_refresh_token(&self, refresh: Secret) -> Result<(), StoreError> {
        self.store()
            .await?
            .set_refresh_token(self.domain(), refresh)
            .await
    }

    /// Drops a refresh token the service refused: renewal of the API key ends.
    pub async fn forget_refresh_token(&self) -> Result<()> {
        self.store()
            .await?
            .remove_refresh_token(self.domain())
            .await?;
        self.record(|d| d.refresh_token_held = false).await?;
        Ok(())
    }

    /// The API key, or why there is none.
    pub async fn api_key(&self) -> Result<Secret> {
        self.snapshot()
            .await?
            .api_key
            .clone()
            .ok_or_else(|| Error::NotLoggedIn {
                domain: self.domain().to_owned(),
            })
    }

    /// Whether the API key comes from `ANACONDA_AUTH_API_KEY` (read-only, never renewed).
    pub fn api_key_from_environment(&self) -> bool {
        self.shared.store_options.env_api_key.is_some()
    }

    /// Where a read-only API key comes from, as `config show` names it (`environment
    /// (ANACONDA_AUTH_API_KEY)`, `.env (/path)`...); `None` for a key a login stored.
    pub fn api_key_origin(&self) -> Option<&str> {
        let options = &self.shared.store_options;
        options
            .env_api_key
            .as_ref()
            .map(|_| options.env_api_key_origin.as_str())
    }
}
