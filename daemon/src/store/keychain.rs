//! The OS keychain through keyring-core, with the store chosen explicitly per platform (Secret
//! Service on Linux, Keychain on macOS, Credential Manager on Windows): never a default or a
//! mock store, so keyring-core's `NoDefaultStore` cannot occur.

use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::api::CredentialStore;
use keyring_core::{Entry, Error as KeyringError};
use zeroize::Zeroize as _;

use super::{BackendError, BackendKind, SecretBackend};
use crate::secret::Secret;

/// The attribute Python's `keyring` adds to its Secret Service items. Its writes replace the
/// item whose attributes equal `{service, username, application}`; an item of ours without it
/// would be duplicated by the next Python write.
pub const PYTHON_KEYRING_APPLICATION: &str = "Python keyring library";

/// Errors of the OS keychain. Messages say what to do next and never carry secrets.
#[derive(Debug, thiserror::Error)]
pub enum KeychainError {
    #[error(
        "no OS keychain is available ({detail}); on Linux start a Secret Service (for example gnome-keyring-daemon, or KeePassXC with its Secret Service integration) in your session, or set storage = \"file\""
    )]
    Unavailable { detail: String },
    #[error(
        "the OS keychain refused access while trying to {operation} {service}/{username} ({detail}); unlock the keychain (or accept its prompt) and retry"
    )]
    Locked {
        operation: &'static str,
        service: String,
        username: String,
        detail: String,
    },
    #[error("the OS keychain failed to {operation} {service}/{username}: {detail}")]
    Platform {
        operation: &'static str,
        service: String,
        username: String,
        detail: String,
    },
    #[error(
        "the keychain item {service}/{username} does not hold UTF-8 text; remove it (for example with `secret-tool clear service '{service}' username '{username}'`) and store it again"
    )]
    NotText { service: String, username: String },
}

/// The OS keychain backend.
pub struct KeychainBackend {
    store: Arc<CredentialStore>,
    /// Credential Manager targets as Python's `keyring` names them (anaconda-auth's record),
    /// else as keyring-core's Windows store names them (rattler's entries). Elsewhere an item
    /// is found by its attributes, the same for both.
    #[cfg_attr(not(windows), allow(dead_code))]
    python_targets: bool,
}

/// The Credential Manager target keyring-core's default Windows store
/// (windows-native-keyring-store's `Store::new()`: no prefix, divider `.`, no suffix) gives
/// (`service`, `username`): `username.service`. rattler reads its entries there
/// (`Entry::new("rattler", host)`).
#[cfg_attr(not(windows), allow(dead_code))]
pub fn native_windows_target(service: &str, username: &str) -> String {
    format!("{username}.{service}")
}

impl std::fmt::Debug for KeychainBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeychainBackend")
            .field("vendor", &self.store.vendor())
            .finish()
    }
}

impl KeychainBackend {
    /// Connects to this platform's keychain. Blocking: on Linux this opens a D-Bus session
    /// connection and a Secret Service session (call it from `spawn_blocking`).
    pub fn connect() -> Result<Self, KeychainError> {
        let store = platform_store().map_err(|e| KeychainError::Unavailable {
            detail: platform_detail(&e),
        })?;
        Ok(Self {
            store,
            python_targets: true,
        })
    }

    /// [`KeychainBackend::connect`] for entries another Rust program reads through
    /// keyring-core's default store (rattler): on Windows, their targets are that store's.
    pub fn connect_native() -> Result<Self, KeychainError> {
        Ok(Self {
            python_targets: false,
            ..Self::connect()?
        })
    }

    /// The keyring-core store's own description, for diagnostics.
    pub fn vendor(&self) -> String {
        self.store.vendor()
    }

    fn entry(&self, service: &str, username: &str) -> Result<Entry, KeychainError> {
        // Python's label, so the item looks the same in a keychain UI whoever created it
        // (the Secret Service takes it; macOS keeps its own).
        #[cfg(not(windows))]
        let (key, value) = ("label", format!("Password for '{username}' on '{service}'"));
        // Credential Manager: the target Python's keyring uses for this pair.
        #[cfg(windows)]
        let (key, value) = (
            "target",
            if self.python_targets {
                self.windows_target(service, username)?
            } else {
                native_windows_target(service, username)
            },
        );
        let modifiers: HashMap<&str, &str> = HashMap::from([(key, value.as_str())]);
        let modifiers = (cfg!(target_os = "linux") || cfg!(windows)).then_some(&modifiers);
        self.store
            .build(service, username, modifiers)
            .map_err(|e| map_error(e, "open", service, username))
    }

    /// The Credential Manager target Python's `keyring` (WinVaultKeyring) uses for
    /// (`service`, `username`): the target `service` when it is free or holds this username,
    /// else `username@service`, where Python keeps a second username of the same service.
    #[cfg(windows)]
    fn windows_target(&self, service: &str, username: &str) -> Result<String, KeychainError> {
        let compound = format!("{username}@{service}");
        let open = |target: &str| {
            let modifiers = HashMap::from([("target", target)]);
            self.store
                .build(service, username, Some(&modifiers))
                .map_err(|e| map_error(e, "open", service, username))
        };
        match open(service)?.get_attributes() {
            Ok(attrs) if attrs.get("username").map(String::as_str) == Some(username) => {
                Ok(service.to_owned())
            }
            Ok(_) => Ok(compound),
            Err(KeyringError::NoEntry) => match open(&compound)?.get_attributes() {
                Ok(_) => Ok(compound),
                Err(KeyringError::NoEntry) => Ok(service.to_owned()),
                Err(e) => Err(map_error(e, "open", service, username)),
            },
            Err(e) => Err(map_error(e, "open", service, username)),
        }
    }
}

/// The stored value's bytes. On Windows through the password call: Credential Manager items
/// hold UTF-16 text, which is what Python's `keyring` writes and reads there; elsewhere the
/// raw bytes, which are the UTF-8 text Python stores.
fn read_value(entry: &Entry) -> keyring_core::Result<Vec<u8>> {
    if cfg!(windows) {
        entry.get_password().map(String::into_bytes)
    } else {
        entry.get_secret()
    }
}

/// Stores `value` in the platform's text encoding (see [`read_value`]).
fn write_value(entry: &Entry, value: &Secret) -> keyring_core::Result<()> {
    if cfg!(windows) {
        entry.set_password(value.expose())
    } else {
        entry.set_secret(value.expose().as_bytes())
    }
}

#[cfg(target_os = "linux")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(zbus_secret_service_keyring_store::Store::new()?)
}

#[cfg(target_os = "macos")]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}

#[cfg(windows)]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new()?)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(KeyringError::NotSupportedByStore(
        "this platform has no supported keychain".into(),
    ))
}

/// Text of an underlying platform error, without any data it might carry.
fn platform_detail(err: &KeyringError) -> String {
    match err {
        KeyringError::PlatformFailure(e) | KeyringError::NoStorageAccess(e) => e.to_string(),
        KeyringError::BadEncoding(_) => "the stored value is not UTF-8".into(),
        KeyringError::BadDataFormat(_, e) => format!("the stored value is malformed: {e}"),
        other => other.to_string(),
    }
}

fn map_error(
    err: KeyringError,
    operation: &'static str,
    service: &str,
    username: &str,
) -> KeychainError {
    let detail = platform_detail(&err);
    match err {
        KeyringError::NoStorageAccess(_) => KeychainError::Locked {
            operation,
            service: service.to_owned(),
            username: username.to_owned(),
            detail,
        },
        KeyringError::BadEncoding(mut bytes) => {
            bytes.zeroize();
            KeychainError::NotText {
                service: service.to_owned(),
                username: username.to_owned(),
            }
        }
        _ => KeychainError::Platform {
            operation,
            service: service.to_owned(),
            username: username.to_owned(),
            detail,
        },
    }
}

/// Of several items matching one (service, username), the one to read and keep: the item
/// Python's `keyring` writes to (it carries its `application` attribute, and Python updates it
/// in place, so it holds the latest value Python wrote), else the first the keychain lists,
/// which is also the one Python reads.
fn preferred_index(entries: &[Entry]) -> usize {
    entries
        .iter()
        .position(|e| {
            e.get_attributes().is_ok_and(|attrs| {
                attrs.get("application").map(String::as_str) == Some(PYTHON_KEYRING_APPLICATION)
            })
        })
        .unwrap_or(0)
}

fn secret_from_bytes(
    bytes: Vec<u8>,
    service: &str,
    username: &str,
) -> Result<Secret, KeychainError> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Secret::new(text)),
        Err(e) => {
            e.into_bytes().zeroize();
            Err(KeychainError::NotText {
                service: service.to_owned(),
                username: username.to_owned(),
            })
        }
    }
}

impl SecretBackend for KeychainBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::System
    }

    fn get(&self, service: &str, username: &str) -> Result<Option<Secret>, BackendError> {
        let entry = self.entry(service, username)?;
        let bytes = match read_value(&entry) {
            Ok(bytes) => bytes,
            Err(KeyringError::NoEntry) => return Ok(None),
            Err(KeyringError::Ambiguous(entries)) => {
                let chosen = &entries[preferred_index(&entries)];
                match read_value(chosen) {
                    Ok(bytes) => bytes,
                    // Deleted by someone else between the search and the read.
                    Err(KeyringError::NoEntry) => return Ok(None),
                    Err(e) => return Err(map_error(e, "read", service, username).into()),
                }
            }
            Err(e) => return Err(map_error(e, "read", service, username).into()),
        };
        Ok(Some(secret_from_bytes(bytes, service, username)?))
    }

    fn put(&self, service: &str, username: &str, value: &Secret) -> Result<(), BackendError> {
        let entry = self.entry(service, username)?;
        let write_err = |e| -> BackendError { map_error(e, "write", service, username).into() };
        match write_value(&entry, value) {
            Ok(()) => {}
            Err(KeyringError::Ambiguous(entries)) => {
                // Collapse duplicates into the item Python would update, so both tools agree
                // on one item from now on.
                let keep = preferred_index(&entries);
                write_value(&entries[keep], value).map_err(write_err)?;
                for (i, other) in entries.iter().enumerate() {
                    if i != keep {
                        match other.delete_credential() {
                            Ok(()) | Err(KeyringError::NoEntry) => {}
                            Err(e) => return Err(write_err(e)),
                        }
                    }
                }
            }
            Err(e) => return Err(write_err(e)),
        }
        if cfg!(target_os = "linux") {
            let attrs = HashMap::from([("application", PYTHON_KEYRING_APPLICATION)]);
            entry.update_attributes(&attrs).map_err(write_err)?;
        }
        Ok(())
    }

    fn delete(&self, service: &str, username: &str) -> Result<bool, BackendError> {
        let entry = self.entry(service, username)?;
        let delete_err = |e| -> BackendError { map_error(e, "delete", service, username).into() };
        match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            Err(KeyringError::Ambiguous(entries)) => {
                for e in &entries {
                    match e.delete_credential() {
                        Ok(()) | Err(KeyringError::NoEntry) => {}
                        Err(e) => return Err(delete_err(e)),
                    }
                }
                Ok(true)
            }
            Err(e) => Err(delete_err(e)),
        }
    }
}
