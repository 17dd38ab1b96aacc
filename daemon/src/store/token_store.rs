//! [`TokenStore`]: the async facade the daemon uses. It picks the backend (`storage = auto |
//! system | file`), runs every backend call off the runtime with a timeout, keeps the record in
//! `anaconda-auth`'s format and honours `ANACONDA_AUTH_API_KEY`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::gate::{Gate, keychain_connect_gate};
use super::options::{
    REFRESH_TOKEN_SERVICE, StorageMode, StoreError, StoreOptions, finish, hint,
    refresh_token_username,
};

use super::legacy::load;
use super::record::{ANACONDA_SERVICE, MODERN_DOMAIN};
use super::{
    BackendError, BackendKind, Change, FileKeyring, KeychainBackend, RecordError, SecretBackend,
    TokenRecord,
};
use crate::secret::Secret;

/// The daemon's token store. Cheap to share behind an `Arc`; every method may be called
/// concurrently (writes are serialised, and at most one backend call is in flight).
pub struct TokenStore {
    backend: Arc<dyn SecretBackend>,
    /// Set when `auto` fell back to the file.
    fallback: Option<Fallback>,
    /// Whether an answer has carried the fallback warning as news (see
    /// [`TokenStore::take_warning_news`]).
    warning_reported: AtomicBool,
    env_api_key: Option<Secret>,
    timeout: Duration,
    writes: tokio::sync::Mutex<()>,
    gate: Arc<Gate>,
}

impl fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenStore")
            .field("backend", &self.backend)
            .field("fallback", &self.fallback)
            .field("env_api_key", &self.env_api_key.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Why `auto` uses the file: the short warning for people and the full cause for the log.
#[derive(Debug)]
struct Fallback {
    warning: String,
    cause: String,
}

/// The fallback warning: where the secrets are, what the keychain did (`what`, e.g. "is not
/// available"), where the cause is logged, and the two ways out with the file each one is
/// done in (and memory, for a job whose key comes from outside). Secrets are not moved
/// between stores, so going back to the keychain means logging in again.
fn fallback_warning(options: &StoreOptions, what: &str) -> String {
    let log = options
        .log
        .as_deref()
        .unwrap_or("the daemon's standard error");
    let config = if options.config_file.as_os_str().is_empty() {
        "anacondad's config.toml".to_owned()
    } else {
        options.config_file.display().to_string()
    };
    // A key handed in by the environment, a secret file or `.env` is how CI jobs and
    // containers run: they hear of the store that writes nothing.
    let job = if options.env_api_key.is_some() {
        "; in a CI job or a container, ANACONDAD_STORAGE=memory keeps them off the disk"
    } else {
        ""
    };
    format!(
        "secrets are in the file {}: the OS keychain {what} (the cause is in {log}). To keep \
         the file and silence this, set storage = \"file\" in {config}; for the keychain, \
         start or unlock one, then `anacondactl daemon stop` and log in again{job}",
        options.keyring_path.display()
    )
}

type Connect = Box<dyn FnOnce() -> Result<Arc<dyn SecretBackend>, BackendError> + Send>;

impl TokenStore {
    /// Opens the store `options.mode` asks for, connecting to this platform's keychain.
    pub async fn open(options: StoreOptions) -> Result<Self, StoreError> {
        Self::open_gated(
            options,
            Box::new(|| Ok(Arc::new(KeychainBackend::connect()?) as Arc<dyn SecretBackend>)),
            Arc::clone(keychain_connect_gate()),
        )
        .await
    }

    /// As [`TokenStore::open`], with the keychain connection supplied by the caller (tests
    /// pass a hanging or failing one to exercise the fallback).
    pub async fn open_with_keychain<F>(
        options: StoreOptions,
        connect: F,
    ) -> Result<Self, StoreError>
    where
        F: FnOnce() -> Result<Arc<dyn SecretBackend>, BackendError> + Send + 'static,
    {
        Self::open_gated(options, Box::new(connect), Gate::new()).await
    }

    async fn open_gated(
        options: StoreOptions,
        connect: Connect,
        connect_gate: Arc<Gate>,
    ) -> Result<Self, StoreError> {
        let (backend, fallback) = match options.mode {
            StorageMode::File => (open_file(&options).await?, None),
            StorageMode::Memory => {
                let memory: Arc<dyn SecretBackend> = Arc::new(super::MemoryBackend::new());
                (memory, None)
            }
            StorageMode::System => {
                let backend = connect_gate
                    .run(
                        "connect to the keychain",
                        "system",
                        options.timeout,
                        connect,
                    )
                    .await?
                    .map_err(StoreError::backend("connect to the keychain"))?;
                (backend, None)
            }
            StorageMode::Auto => {
                // The probe reads the default record: that is what would hang on a locked
                // collection, while a search for a name that matches nothing would not.
                // A locked collection may still answer a read of a missing record, so the
                // probe also writes (and removes) an entry: a keychain that cannot keep a
                // login is not chosen.
                let probe = move || {
                    let backend = connect()?;
                    backend.get(ANACONDA_SERVICE, MODERN_DOMAIN)?;
                    let user = "write-check:storage-probe";
                    backend.put(REFRESH_TOKEN_SERVICE, user, &Secret::new("write check"))?;
                    backend.delete(REFRESH_TOKEN_SERVICE, user)?;
                    Ok::<_, BackendError>(backend)
                };
                let probed = match connect_gate
                    .run("probe the keychain", "system", options.probe_timeout, probe)
                    .await
                {
                    Ok(Ok(backend)) => Ok(backend),
                    Ok(Err(e)) => Err(("is not available".to_owned(), e.to_string())),
                    Err(_timeout) => {
                        let secs = options.probe_timeout.as_secs_f32();
                        Err((
                            format!("did not answer within {secs}s (locked?)"),
                            format!("it did not answer within {secs}s, it may be locked"),
                        ))
                    }
                };
                match probed {
                    Ok(backend) => (backend, None),
                    Err((what, cause)) => {
                        let file = open_file(&options).await?;
                        // The cause (a zbus error, a platform hint) goes to the log only: the
                        // warning is repeated by the CLI and must stay short.
                        tracing::warn!(
                            cause = %cause,
                            "the OS keychain is not usable; secrets go to {}",
                            options.keyring_path.display()
                        );
                        let warning = fallback_warning(&options, &what);
                        (file, Some(Fallback { warning, cause }))
                    }
                }
            }
        };
        Ok(Self {
            backend,
            fallback,
            warning_reported: AtomicBool::new(false),
            env_api_key: options.env_api_key,
            timeout: options.timeout,
            writes: tokio::sync::Mutex::new(()),
            gate: Gate::new(),
        })
    }

    /// A store over a given backend, with no fallback warning (tests and tools).
    pub fn with_backend(
        backend: Arc<dyn SecretBackend>,
        env_api_key: Option<Secret>,
        timeout: Duration,
    ) -> Self {
        Self {
            backend,
            fallback: None,
            warning_reported: AtomicBool::new(false),
            env_api_key,
            timeout,
            writes: tokio::sync::Mutex::new(()),
            gate: Gate::new(),
        }
    }

    /// Which backend holds the secrets.
    pub fn backend_kind(&self) -> BackendKind {
        self.backend.kind()
    }

    /// Set when `auto` fell back to the file (what happened and what to do, short enough for
    /// a terminal), or while the backend does not answer (calls then fail at once and the
    /// daemon answers from memory). `status` always shows it; other commands once (see
    /// [`TokenStore::take_warning_news`]).
    pub fn warning(&self) -> Option<String> {
        let stalled = self.not_answering_for().map(|for_| {
            format!(
                "the {} store has not answered for {}s, so the daemon answers from what it holds in memory and changes cannot be stored; {}",
                self.backend.kind().as_str(),
                (for_ + self.timeout).as_secs(),
                hint(self.backend.kind().as_str())
            )
        });
        match (self.fallback.as_ref().map(|f| &f.warning), stalled) {
            (Some(fallback), Some(stalled)) => Some(format!("{fallback}; {stalled}")),
            (Some(fallback), None) => Some(fallback.clone()),
            (None, stalled) => stalled,
        }
    }

    /// Why the keychain was not usable, in full (a D-Bus error, a platform hint): for the log
    /// and diagnostics, not for every command's output.
    pub fn fallback_cause(&self) -> Option<&str> {
        self.fallback.as_ref().map(|f| f.cause.as_str())
    }

    /// True exactly once per opened store, for the first answer that carries the warning: the
    /// CLI prints it then, and not with every later command of the same daemon.
    pub fn take_warning_news(&self) -> bool {
        self.fallback.is_some() && !self.warning_reported.swap(true, Ordering::SeqCst)
    }

    /// How long a backend call has been waiting past its timeout; `None` while it answers.
    pub fn not_answering_for(&self) -> Option<Duration> {
        self.gate.stalled_for()
    }

    /// What the backend did to its storage on opening (e.g. tightened a 0644 keyring file).
    pub fn notices(&self) -> Vec<String> {
        self.backend.notices()
    }

    /// True when the API key comes from `ANACONDA_AUTH_API_KEY` (read-only).
    pub fn api_key_from_environment(&self) -> bool {
        self.env_api_key.is_some()
    }

    /// The stored record of `domain` as it is (no environment override), migrating a legacy
    /// record to `anaconda.com` as `anaconda-auth` does.
    pub async fn record(&self, domain: &str) -> Result<Option<TokenRecord>, StoreError> {
        let domain = domain.to_owned();
        // Reading may migrate, which writes.
        let _writes = self.writes.lock().await;
        self.run("read the stored credentials", move |b| load(b, &domain))
            .await
    }

    /// The API key: `ANACONDA_AUTH_API_KEY` when set, else the stored one.
    pub async fn api_key(&self, domain: &str) -> Result<Option<Secret>, StoreError> {
        if let Some(key) = &self.env_api_key {
            return Ok(Some(key.clone()));
        }
        Ok(self.record(domain).await?.and_then(|r| r.api_key))
    }

    pub async fn set_api_key(&self, domain: &str, key: Secret) -> Result<(), StoreError> {
        if self.env_api_key.is_some() {
            return Err(StoreError::ApiKeyFromEnvironment);
        }
        self.update(domain, "store the API key", move |r| {
            r.api_key = Some(key.clone());
            true
        })
        .await
        .map(|_| ())
    }

    /// Returns whether a key was stored.
    pub async fn remove_api_key(&self, domain: &str) -> Result<bool, StoreError> {
        if self.env_api_key.is_some() {
            return Err(StoreError::ApiKeyFromEnvironment);
        }
        self.update(domain, "remove the API key", |r| r.api_key.take().is_some())
            .await
    }

    pub async fn repo_token(&self, domain: &str, org: &str) -> Result<Option<Secret>, StoreError> {
        Ok(self
            .record(domain)
            .await?
            .and_then(|r| r.repo_token(org).cloned()))
    }

    /// Stores (replaces) the repo token of `org`. Works with `ANACONDA_AUTH_API_KEY` set.
    pub async fn set_repo_token(
        &self,
        domain: &str,
        org: &str,
        token: Secret,
    ) -> Result<(), StoreError> {
        let org = org.to_owned();
        self.update(domain, "store a repo token", move |r| {
            r.set_repo_token(&org, token.clone());
            true
        })
        .await
        .map(|_| ())
    }

    /// Returns whether `org` had a token.
    pub async fn remove_repo_token(&self, domain: &str, org: &str) -> Result<bool, StoreError> {
        let org = org.to_owned();
        self.update(domain, "remove a repo token", move |r| {
            r.remove_repo_token(&org)
        })
        .await
    }

    /// Organisations with a stored repo token, in stored order.
    pub async fn orgs(&self, domain: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .record(domain)
            .await?
            .map(|r| r.orgs())
            .unwrap_or_default())
    }

    pub async fn refresh_token(&self, domain: &str) -> Result<Option<Secret>, StoreError> {
        let user = refresh_token_username(domain);
        self.run("read the refresh token", move |b| {
            b.get(REFRESH_TOKEN_SERVICE, &user)
                .map_err(StoreError::backend("read the refresh token"))
        })
        .await
    }

    pub async fn set_refresh_token(&self, domain: &str, token: Secret) -> Result<(), StoreError> {
        let user = refresh_token_username(domain);
        let _writes = self.writes.lock().await;
        self.run("store the refresh token", move |b| {
            b.put(REFRESH_TOKEN_SERVICE, &user, &token)
                .map_err(StoreError::backend("store the refresh token"))
        })
        .await
    }

    /// Returns whether one was stored.
    pub async fn remove_refresh_token(&self, domain: &str) -> Result<bool, StoreError> {
        let user = refresh_token_username(domain);
        let _writes = self.writes.lock().await;
        self.run("remove the refresh token", move |b| {
            b.delete(REFRESH_TOKEN_SERVICE, &user)
                .map_err(StoreError::backend("remove the refresh token"))
        })
        .await
    }

    /// Checks that the store takes a write now (the file is writable, the keychain unlocked),
    /// by writing and removing a probe entry next to the refresh token: for a caller about to
    /// do something irreversible whose result must be stored (a reissue, a new API key).
    pub async fn check_writable(&self, domain: &str) -> Result<(), StoreError> {
        let user = format!("write-check:{domain}");
        let _writes = self.writes.lock().await;
        self.run("check that the store takes a write", move |b| {
            let probe = Secret::new("write check");
            b.put(REFRESH_TOKEN_SERVICE, &user, &probe)
                .and_then(|()| b.delete(REFRESH_TOKEN_SERVICE, &user))
                .map(|_| ())
                .map_err(StoreError::backend("check that the store takes a write"))
        })
        .await
    }

    /// Logout: removes the whole record of `domain` (as `TokenInfo.delete`) and our refresh
    /// token. Returns whether anything was stored.
    pub async fn remove_all(&self, domain: &str) -> Result<bool, StoreError> {
        let domain = domain.to_owned();
        let user = refresh_token_username(&domain);
        let _writes = self.writes.lock().await;
        self.run("remove the stored credentials", move |b| {
            let op = "remove the stored credentials";
            let record = b
                .delete(ANACONDA_SERVICE, &domain)
                .map_err(StoreError::backend(op))?;
            let refresh = b
                .delete(REFRESH_TOKEN_SERVICE, &user)
                .map_err(StoreError::backend(op))?;
            Ok(record || refresh)
        })
        .await
    }

    /// Read-modify-write of the record of `domain`; `edit` returns whether it changed
    /// anything. A record left empty is deleted, as after `anaconda logout`.
    async fn update<F>(
        &self,
        domain: &str,
        operation: &'static str,
        mut edit: F,
    ) -> Result<bool, StoreError>
    where
        F: FnMut(&mut TokenRecord) -> bool + Send + 'static,
    {
        let domain = domain.to_owned();
        let _writes = self.writes.lock().await;
        self.run(operation, move |b| {
            // First let a legacy record migrate, so the edit applies to it.
            load(b, &domain)?;
            let mut failure: Option<RecordError> = None;
            let mut changed = false;
            b.modify(ANACONDA_SERVICE, &domain, &mut |old| {
                let mut record = match old {
                    None => TokenRecord::new(domain.clone()),
                    Some(value) => match TokenRecord::decode(&value, &domain) {
                        Ok(r) => r,
                        Err(e) => {
                            failure = Some(e);
                            return Change::Keep;
                        }
                    },
                };
                changed = edit(&mut record);
                if !changed {
                    Change::Keep
                } else if record.is_empty() {
                    Change::Delete
                } else {
                    Change::Put(record.encode())
                }
            })
            .map_err(StoreError::backend(operation))?;
            match failure {
                Some(source) => Err(StoreError::Record { domain, source }),
                None => Ok(changed),
            }
        })
        .await
    }

    /// Runs one blocking backend job off the runtime, bounded by the timeout.
    async fn run<T, F>(&self, operation: &'static str, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SecretBackend) -> Result<T, StoreError> + Send + 'static,
    {
        let backend = Arc::clone(&self.backend);
        self.gate
            .run(
                operation,
                self.backend.kind().as_str(),
                self.timeout,
                move || job(&*backend),
            )
            .await?
    }
}

async fn open_file(options: &StoreOptions) -> Result<Arc<dyn SecretBackend>, StoreError> {
    let path = options.keyring_path.clone();
    let task = tokio::task::spawn_blocking(move || FileKeyring::open(path));
    let file = finish("open the keyring file", "file", options.timeout, task)
        .await?
        .map_err(|e| StoreError::Backend {
            operation: "open the keyring file",
            source: e.into(),
        })?;
    Ok(Arc::new(file))
}
