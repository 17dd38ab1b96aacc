//! The API key an export writes: never the account's own key (which can reissue tokens and
//! mint keys, and sits in a plaintext file once exported) but a `repo:read` key minted for the
//! exports, kept as long as the account's key it was minted with.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use crate::secret::Secret;
use crate::vault::Snapshot;

/// Mints the read-only key exports carry (the daemon's minted keys, through the site).
pub trait ReadOnlyKeySource: Send + Sync + std::fmt::Debug {
    /// A `repo:read` key minted with `account_key`, lasting as long as it; `None` when the
    /// service would not mint one (the reason is logged).
    fn mint<'a>(&'a self, account_key: &'a Secret) -> BoxFuture<'a, Option<Secret>>;
}

/// The source, once set, and the key it last minted, by the account key's fingerprint.
#[derive(Debug, Default)]
pub struct ReadOnlyKey {
    source: std::sync::OnceLock<Arc<dyn ReadOnlyKeySource>>,
    /// (SHA-256 of the account key, the key minted with it).
    minted: Mutex<Option<(String, Secret)>>,
}

impl ReadOnlyKey {
    pub fn set_source(&self, source: Arc<dyn ReadOnlyKeySource>) {
        let _ = self.source.set(source);
    }

    /// `snapshot` with its API key replaced by the read-only one (minted once per account
    /// key), or removed when none can be minted: an export never holds the account's key.
    pub async fn in_place_of_account_key(&self, snapshot: &Snapshot) -> Snapshot {
        let mut exported = snapshot.clone();
        let Some(account_key) = snapshot.api_key.as_ref() else {
            return exported;
        };
        let fingerprint = crate::credentials::sha256_hex(account_key.expose());
        let known = self
            .minted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(f, _)| *f == fingerprint)
            .map(|(_, key)| key.clone());
        let minted = match known {
            Some(key) => Some(key),
            None => match self.source.get() {
                Some(source) => {
                    let minted = source.mint(account_key).await;
                    if let Some(key) = &minted {
                        *self.minted.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some((fingerprint, key.clone()));
                    }
                    minted
                }
                None => None,
            },
        };
        // Where the repository refused the account's key it refuses its read-only key too
        // (the same account's rights): the refusals carry over.
        if let Some(key) = &minted {
            let sha = crate::credentials::sha256_hex;
            let (account, read_only) = (
                sha(&format!("Bearer {}", account_key.expose())),
                sha(&format!("Bearer {}", key.expose())),
            );
            let carried: Vec<_> = snapshot
                .refused
                .iter()
                .filter(|((_, hash), _)| *hash == account)
                .map(|((scope, _), status)| ((scope.clone(), read_only.clone()), *status))
                .collect();
            exported.refused.extend(carried);
        }
        exported.api_key = minted;
        exported
    }
}
