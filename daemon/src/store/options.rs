//! What the token store is opened with ([`StoreOptions`], [`StorageMode`]) and how it fails
//! ([`StoreError`]), with the bounded wait every backend call goes through.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::{BackendError, RecordError};
use crate::secret::Secret;

/// How long one backend call may take before the caller gets an error. A locked keychain
/// waits for its unlock prompt indefinitely; the daemon must keep answering.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// How long `storage = "auto"` waits for the keychain at start before using the file.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Keyring service of the secrets only anacondad keeps (the OIDC refresh token), username
/// `refresh-token:<domain>`. Not a field of the `Anaconda Cloud` record: `anaconda-auth`
/// parses that record into a pydantic model that drops unknown fields, so its next write
/// would lose the refresh token.
pub const REFRESH_TOKEN_SERVICE: &str = "anacondad";

pub(super) fn refresh_token_username(domain: &str) -> String {
    format!("refresh-token:{domain}")
}

/// The `storage` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageMode {
    /// The keychain when it answers at start, else the file (with a warning).
    #[default]
    Auto,
    /// The keychain only; an error rather than a fallback.
    System,
    /// The keyring file only.
    File,
    /// This process's memory only: nothing secret is written to disk, and everything stored
    /// is gone when the daemon stops (CI jobs, containers).
    Memory,
}

impl StorageMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::System => "system",
            Self::File => "file",
            Self::Memory => "memory",
        }
    }
}

impl fmt::Display for StorageMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `storage` value.
#[derive(Debug, thiserror::Error)]
#[error("unknown storage {0:?}: expected \"auto\", \"system\", \"file\" or \"memory\"")]
pub struct UnknownStorageMode(pub String);

impl FromStr for StorageMode {
    type Err = UnknownStorageMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "system" => Ok(Self::System),
            "file" => Ok(Self::File),
            "memory" => Ok(Self::Memory),
            _ => Err(UnknownStorageMode(s.to_owned())),
        }
    }
}

/// Everything [`TokenStore::open`] needs, resolved by `main`.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub mode: StorageMode,
    /// The keyring file (`ANACONDA_AUTH_KEYRING_PATH`, else `~/.anaconda/keyring`).
    pub keyring_path: PathBuf,
    /// `ANACONDA_AUTH_API_KEY`: when set, the API key reads return it and cannot be changed.
    pub env_api_key: Option<Secret>,
    /// Where `env_api_key` comes from, as `config show` names it.
    pub env_api_key_origin: String,
    /// Limit of each backend call.
    pub timeout: Duration,
    /// Limit of the start-up keychain probe of `storage = "auto"`.
    pub probe_timeout: Duration,
    /// anacondad's config.toml, where `storage` is set (named by the fallback warning).
    pub config_file: PathBuf,
    /// Where the daemon's log goes (a file, the journal), when known: the fallback warning
    /// sends the user there for the cause.
    pub log: Option<String>,
}

impl StoreOptions {
    pub fn new(mode: StorageMode, keyring_path: impl Into<PathBuf>) -> Self {
        Self {
            mode,
            keyring_path: keyring_path.into(),
            env_api_key: None,
            env_api_key_origin: String::new(),
            timeout: DEFAULT_OPERATION_TIMEOUT,
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
            config_file: PathBuf::new(),
            log: None,
        }
    }
}

/// Errors of the token store. None carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the {backend} store did not answer {} while trying to {operation}; {hint}", waited(*after, *earlier))]
    Timeout {
        backend: &'static str,
        operation: &'static str,
        after: Duration,
        /// Not asked at all: an earlier call is still waiting for its answer.
        earlier: bool,
        hint: &'static str,
    },
    #[error("{source}")]
    Backend {
        operation: &'static str,
        #[source]
        source: BackendError,
    },
    #[error(
        "the stored credentials of {domain} cannot be read ({source}); remove them (`anacondactl logout`) and log in again"
    )]
    Record {
        domain: String,
        #[source]
        source: RecordError,
    },
    #[error(
        "the API key comes from the ANACONDA_AUTH_API_KEY environment variable and is read-only; unset it to store or remove an API key"
    )]
    ApiKeyFromEnvironment,
    #[error("the storage task failed while trying to {operation}: {detail}")]
    Task {
        operation: &'static str,
        detail: String,
    },
}

fn waited(after: Duration, earlier: bool) -> String {
    if earlier {
        format!(
            "an earlier call (still waiting after {}s), so it was not asked again",
            after.as_secs()
        )
    } else {
        format!("within {}s", after.as_secs_f32())
    }
}

impl StoreError {
    pub(super) fn backend(operation: &'static str) -> impl FnOnce(BackendError) -> Self {
        move |source| Self::Backend { operation, source }
    }
}

const KEYCHAIN_TIMEOUT_HINT: &str = "the keychain is probably locked and waiting for an unlock prompt: unlock it and retry; if no Secret Service is running, start one (for example gnome-keyring-daemon) or set storage = \"file\"";
const FILE_TIMEOUT_HINT: &str =
    "another process probably holds the keyring file's lock; find it, or retry later";

/// Waits for a blocking task up to `after`. On timeout the task is left to finish on its own
/// (a blocking call cannot be cancelled) and the caller gets an error that names the likely
/// cause.
pub(super) async fn finish<T>(
    operation: &'static str,
    backend: &'static str,
    after: Duration,
    task: tokio::task::JoinHandle<T>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(after, task).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(join)) => Err(StoreError::Task {
            operation,
            detail: join.to_string(),
        }),
        Err(_) => Err(StoreError::Timeout {
            backend,
            operation,
            after,
            earlier: false,
            hint: hint(backend),
        }),
    }
}

pub(super) fn hint(backend: &str) -> &'static str {
    if backend == "file" {
        FILE_TIMEOUT_HINT
    } else {
        KEYCHAIN_TIMEOUT_HINT
    }
}
