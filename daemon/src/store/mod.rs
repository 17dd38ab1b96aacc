//! Where secrets live: a small synchronous storage trait with one implementation per backend
//! (OS keychain, the `anaconda-auth` keyring file, memory for tests), the record format shared
//! with `anaconda-auth`, and [`TokenStore`], the async facade the daemon uses.

pub(crate) mod atomic;
pub mod file;
mod gate;
pub mod keychain;
mod legacy;
pub mod memory;
mod options;
pub mod record;
mod token_store;

use crate::secret::Secret;

pub use file::{FileKeyring, FileKeyringError};
pub use keychain::{KeychainBackend, KeychainError};
pub use memory::MemoryBackend;
pub use options::{
    DEFAULT_OPERATION_TIMEOUT, DEFAULT_PROBE_TIMEOUT, REFRESH_TOKEN_SERVICE, StorageMode,
    StoreError, StoreOptions, UnknownStorageMode,
};
pub use record::{RecordError, RepoToken, TokenRecord};
pub use token_store::TokenStore;

/// Which backend holds the secrets; shown by `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// The OS keychain (Secret Service, macOS Keychain, Windows Credential Manager).
    System,
    /// The `anaconda-auth` keyring file (`~/.anaconda/keyring`).
    File,
    /// Process memory: tests only.
    Memory,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::File => "file",
            Self::Memory => "memory",
        }
    }
}

/// What a [`SecretBackend::modify`] callback wants done with the entry.
#[derive(Debug)]
pub enum Change {
    Keep,
    Put(Secret),
    Delete,
}

/// A failure of one backend. Each backend has its own error type; this wraps them so the
/// facade can hold any backend behind one trait object.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    #[error(transparent)]
    File(#[from] FileKeyringError),
}

/// Synchronous storage of one secret per (service, username). Calls may block (a locked
/// keychain waits for its unlock prompt): async code goes through [`TokenStore`].
pub trait SecretBackend: std::fmt::Debug + Send + Sync + 'static {
    fn kind(&self) -> BackendKind;

    /// The entry's value; "no such entry" is `Ok(None)`.
    fn get(&self, service: &str, username: &str) -> Result<Option<Secret>, BackendError>;

    /// Creates or replaces the entry.
    fn put(&self, service: &str, username: &str, value: &Secret) -> Result<(), BackendError>;

    /// Removes the entry; `Ok(false)` when there was none.
    fn delete(&self, service: &str, username: &str) -> Result<bool, BackendError>;

    /// Read-modify-write of one entry. Backends that can hold a lock across both steps (the
    /// file) override this so that another process cannot slip a write in between.
    fn modify(
        &self,
        service: &str,
        username: &str,
        change: &mut dyn FnMut(Option<Secret>) -> Change,
    ) -> Result<(), BackendError> {
        match change(self.get(service, username)?) {
            Change::Keep => Ok(()),
            Change::Put(value) => self.put(service, username, &value),
            Change::Delete => self.delete(service, username).map(|_| ()),
        }
    }

    /// Things the user should know about how the backend found its storage (for example that
    /// it tightened a file's permissions), for `status`.
    fn notices(&self) -> Vec<String> {
        Vec::new()
    }
}
