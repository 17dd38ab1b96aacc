//! Exports: copies of the daemon's current credential in the stores of other conda-world tools,
//! which keep their own and would otherwise hold a token copied by hand until its next renewal.
//! `rattler` (pixi, rattler-build) and `mamba` (mamba, micromamba); each is off until the
//! configuration (`export = [...]`) or `anacondactl export` turns it on.
//!
//! [`Exporter::run`] waits on the vault's change counter, the one place every flow passes
//! through (install, renewal, a refusal, uninstall, logout), and rewrites each export that is
//! on. What it wrote is recorded (key and fingerprint) in the state file, so that an entry the
//! daemon no longer holds a credential for, or every entry of an export turned off, is removed,
//! and only while it still holds what was written.

mod plan;
mod read_only_key;
mod stores;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

pub use plan::{Entry, EntryKind, plan};
pub use read_only_key::{ReadOnlyKey, ReadOnlyKeySource};
pub use stores::{Changes, ExportError, ForeignStore, RATTLER_KEYRING_SERVICE};

use crate::clock::Clock;
use crate::state::ExportState;
use crate::store::BackendKind;
use crate::vault::Vault;

/// A tool whose credential store the daemon can keep current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExportTarget {
    /// rattler's keychain entries (service `rattler`) when the daemon's own secrets are in the
    /// keychain, else its credentials file: the place a user of either kind already has.
    Rattler,
    /// mamba's `~/.mamba/auth/authentication.json`.
    Mamba,
}

impl ExportTarget {
    pub const ALL: [Self; 2] = [Self::Rattler, Self::Mamba];

    /// The name in the configuration and the state file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rattler => "rattler",
            Self::Mamba => "mamba",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an export target: use rattler (pixi) or mamba (micromamba)")]
pub struct UnknownExportTarget(String);

impl std::str::FromStr for ExportTarget {
    type Err = UnknownExportTarget;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rattler" | "pixi" => Ok(Self::Rattler),
            "mamba" | "micromamba" => Ok(Self::Mamba),
            _ => Err(UnknownExportTarget(s.to_owned())),
        }
    }
}

/// One export as `status`, `token list` and `anacondactl export` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportView {
    pub target: ExportTarget,
    pub enabled: bool,
    pub location: String,
    /// (key, kind, which credential).
    pub entries: Vec<(String, String, String)>,
    pub last_written_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// Keeps the exports current.
#[derive(Debug)]
pub struct Exporter {
    vault: Arc<Vault>,
    /// Turned on by the configuration (the state file's choice, once made, wins).
    configured: Vec<ExportTarget>,
    rattler_file: PathBuf,
    mamba_file: PathBuf,
    clock: Arc<dyn Clock>,
    /// Bound on one store's writes (a keychain that waits for an unlock prompt).
    timeout: Duration,
    /// One sync at a time, so that two never interleave their read-modify-writes.
    running: tokio::sync::Mutex<()>,
    /// The read-only key written in place of the account's key.
    pub read_only_key: ReadOnlyKey,
}

impl Exporter {
    pub fn new(
        vault: Arc<Vault>,
        configured: Vec<ExportTarget>,
        rattler_file: PathBuf,
        mamba_file: PathBuf,
        clock: Arc<dyn Clock>,
        timeout: Duration,
    ) -> Self {
        Self {
            vault,
            configured,
            rattler_file,
            mamba_file,
            clock,
            timeout,
            running: tokio::sync::Mutex::new(()),
            read_only_key: ReadOnlyKey::default(),
        }
    }

    /// What an export may hold of `snapshot`: the read-only key in place of the account's.
    async fn exported(&self, snapshot: &crate::vault::Snapshot) -> crate::vault::Snapshot {
        self.read_only_key.in_place_of_account_key(snapshot).await
    }

    /// Writes every export that is on, then again after each change of the vault's
    /// credentials, until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut changes = self.vault.credentials_changed();
        loop {
            changes.borrow_and_update();
            self.sync_all().await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Brings every export in line with what the vault holds; failures are recorded for
    /// `status` and logged.
    pub async fn sync_all(&self) {
        for target in ExportTarget::ALL {
            if let Err(e) = self.sync(target).await {
                tracing::warn!(target = target.as_str(), "export: {e}");
            }
        }
    }

    /// Turns `target` on or off and writes (or removes) its entries now; with `dry_run`,
    /// only says what turning it on or off would leave in the store.
    pub async fn set(
        &self,
        target: ExportTarget,
        enabled: bool,
        dry_run: bool,
    ) -> crate::error::Result<ExportView> {
        if dry_run {
            let snapshot = self.exported(&*self.vault.snapshot().await?).await;
            let mut view = self.view_of(target, &self.state_of(target));
            view.enabled = enabled;
            view.location = self.store_for(target).location();
            view.entries = if enabled {
                described(&plan(target, &snapshot, self.vault.repo()))
            } else {
                Vec::new()
            };
            return Ok(view);
        }
        self.vault
            .record(|d| {
                d.exports
                    .entry(target.as_str().to_owned())
                    .or_default()
                    .enabled = Some(enabled);
            })
            .await?;
        if let Err(e) = self.sync(target).await {
            tracing::warn!(target = target.as_str(), "export: {e}");
        }
        Ok(self.view(target))
    }

    /// Every export, as last written.
    pub fn views(&self) -> Vec<ExportView> {
        ExportTarget::ALL.iter().map(|t| self.view(*t)).collect()
    }

    /// Every export that is on or still has entries somewhere.
    pub fn active_views(&self) -> Vec<ExportView> {
        self.views()
            .into_iter()
            .filter(|v| v.enabled || !v.entries.is_empty() || v.last_error.is_some())
            .collect()
    }

    fn view(&self, target: ExportTarget) -> ExportView {
        self.view_of(target, &self.state_of(target))
    }

    fn view_of(&self, target: ExportTarget, state: &ExportState) -> ExportView {
        ExportView {
            target,
            enabled: self.enabled(target, state),
            location: if state.location.is_empty() {
                self.store_for(target).location()
            } else {
                state.location.clone()
            },
            entries: state
                .described
                .iter()
                .map(|(key, (kind, credential))| (key.clone(), kind.clone(), credential.clone()))
                .collect(),
            last_written_at: state.last_written_at,
            last_error: state.last_error.clone(),
        }
    }

    fn state_of(&self, target: ExportTarget) -> ExportState {
        self.vault
            .peek()
            .facts
            .exports
            .get(target.as_str())
            .cloned()
            .unwrap_or_default()
    }

    fn enabled(&self, target: ExportTarget, state: &ExportState) -> bool {
        state
            .enabled
            .unwrap_or_else(|| self.configured.contains(&target))
    }

    /// Where `target`'s entries go now: rattler's keychain entries when the daemon's secrets
    /// are in the keychain, else the files.
    fn store_for(&self, target: ExportTarget) -> ForeignStore {
        match target {
            ExportTarget::Rattler => match self.vault.store_if_open().map(|s| s.backend_kind()) {
                Some(BackendKind::System) => ForeignStore::RattlerKeychain,
                _ => ForeignStore::rattler_file(&self.rattler_file),
            },
            ExportTarget::Mamba => ForeignStore::mamba_file(&self.mamba_file),
        }
    }

    /// Writes what `target` should hold and removes what it no longer should.
    async fn sync(&self, target: ExportTarget) -> Result<(), SyncError> {
        let _one_at_a_time = self.running.lock().await;
        let state = self.state_of(target);
        let enabled = self.enabled(target, &state);
        if !enabled && state.entries.is_empty() {
            // Checked before the secrets are read: an export that is off costs nothing.
            return Ok(());
        }
        let snapshot = self.exported(&*self.vault.snapshot().await?).await;
        let store = self.store_for(target);
        let desired = if enabled {
            plan(target, &snapshot, self.vault.repo())
        } else {
            Vec::new()
        };
        let changes = Changes {
            writes: desired
                .iter()
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect(),
            removals: state
                .entries
                .iter()
                .filter(|(key, _)| !desired.iter().any(|e| &e.key == *key))
                .map(|(key, fp)| (key.clone(), fp.clone()))
                .collect(),
        };
        let job_store = store.clone();
        let applied = tokio::time::timeout(
            self.timeout,
            tokio::task::spawn_blocking(move || job_store.apply(&changes)),
        )
        .await
        .map_err(|_| ExportError::TimedOut(self.timeout))
        .and_then(|joined| joined.unwrap_or_else(|e| Err(ExportError::Keychain(e.to_string()))));
        let now = self.clock.now();
        let name = target.as_str().to_owned();
        match applied {
            Ok(changed) => {
                let entries: BTreeMap<String, String> = desired
                    .iter()
                    .map(|e| (e.key.clone(), e.fingerprint()))
                    .collect();
                let described: BTreeMap<String, (String, String)> = desired
                    .iter()
                    .map(|e| {
                        (
                            e.key.clone(),
                            (e.kind.as_str().to_owned(), e.credential.clone()),
                        )
                    })
                    .collect();
                let location = store.location();
                let unchanged = !changed
                    && state.entries == entries
                    && state.described == described
                    && state.location == location
                    && state.last_error.is_none();
                if unchanged {
                    return Ok(());
                }
                self.vault
                    .record(|d| {
                        let slot = d.exports.entry(name).or_default();
                        slot.entries = entries;
                        slot.described = described;
                        slot.location = location;
                        slot.last_error = None;
                        if changed {
                            slot.last_written_at = Some(now);
                        }
                    })
                    .await?;
                if changed {
                    tracing::info!(target = target.as_str(), "export written");
                }
                Ok(())
            }
            Err(e) => {
                let message = e.to_string();
                self.vault
                    .record_best_effort(|d| {
                        d.exports.entry(name).or_default().last_error = Some(message);
                    })
                    .await;
                Err(SyncError::Export(e))
            }
        }
    }
}

/// Why one export could not be brought in line.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Export(#[from] ExportError),
}

fn described(entries: &[Entry]) -> Vec<(String, String, String)> {
    entries
        .iter()
        .map(|e| {
            (
                e.key.clone(),
                e.kind.as_str().to_owned(),
                e.credential.clone(),
            )
        })
        .collect()
}
