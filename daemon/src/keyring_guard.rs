//! [`KeyringFileGuard`]: the shared file record `~/.anaconda/keyring` (anaconda-auth's default
//! store, the only one `ana` has) is rewritten by other clients: `ana login` writes the domain's
//! record with `repo_tokens: []`, an older anaconda-auth writes back what it read before a
//! renewal. On every change the guard compares each served domain's record with what the daemon
//! holds: what is new there and valid is adopted (`keyring_bridge::adopt`: a new API key the
//! service accepts, a repo token the repository serves); when the file is the daemon's own store,
//! what the daemon holds and the file lost or had replaced by something invalid is written back;
//! each change is told as a `KEYRING_FILE_REWRITTEN` event. A token is never dropped: the
//! daemon's in-memory copy outlives any rewrite of the file.

use std::path::PathBuf;
use std::sync::Arc;

use anacondad_proto::v1::EventKind;
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::conda_setup::watcher::settle;
use crate::events::EventBus;
use crate::keyring_bridge;
use crate::sites::Site;
use crate::store::BackendKind;
use crate::store::record::{ANACONDA_SERVICE, TokenRecord};

/// Watches the keyring file until shutdown.
#[derive(Debug)]
pub struct KeyringFileGuard {
    path: PathBuf,
    sites: Vec<Arc<Site>>,
    events: EventBus,
    shutdown: CancellationToken,
}

/// What one look at the file did for one site.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Guarded {
    pub adopted: Vec<String>,
    pub refused: Vec<String>,
    pub restored: Vec<String>,
}

impl KeyringFileGuard {
    pub fn new(
        path: PathBuf,
        sites: Vec<Arc<Site>>,
        events: EventBus,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            path,
            sites,
            events,
            shutdown,
        }
    }

    /// Runs until shutdown. A platform without file notifications logs why and returns.
    pub async fn run(self) {
        let Some(dir) = self.path.parent().map(PathBuf::from) else {
            return;
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<()>();
        let file = self.path.clone();
        let mut watcher =
            match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event
                    && !matches!(event.kind, notify::EventKind::Access(_))
                    && event.paths.iter().any(|p| p == &file)
                {
                    let _closed_is_fine = tx.send(());
                }
            }) {
                Ok(watcher) => watcher,
                Err(e) => {
                    tracing::warn!("cannot watch {}: {e}", self.path.display());
                    return;
                }
            };
        // The directory, not the file: a client may replace it by rename, or create it.
        if std::fs::create_dir_all(&dir).is_err()
            || watcher.watch(&dir, RecursiveMode::NonRecursive).is_err()
        {
            tracing::warn!("cannot watch {}", dir.display());
            return;
        }
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                got = rx.recv() => if got.is_none() { return },
            }
            if !settle(&self.shutdown, &mut rx).await {
                return;
            }
            for site in &self.sites {
                match self.guard(site).await {
                    Ok(done) => self.tell(site, &done),
                    Err(e) => tracing::warn!(
                        domain = site.domain(),
                        "checking {} after it changed failed: {e}",
                        self.path.display()
                    ),
                }
            }
        }
    }

    /// Reads the file's record of `site`'s domain, adopts what is new and valid, and, when
    /// the file is the daemon's store, writes back what the daemon holds that it lost.
    pub async fn guard(&self, site: &Site) -> crate::error::Result<Guarded> {
        let Some(found) = self.read_record(site.domain())? else {
            return self.restore(site, None).await;
        };
        let adoption = keyring_bridge::adopt(site, &found).await?;
        let mut done = self.restore(site, Some(&found)).await?;
        done.adopted = adoption.adopted;
        done.refused = adoption.refused;
        Ok(done)
    }

    /// When the daemon's store is this file: puts back each credential the daemon holds that
    /// `found` (the file's record now) lacks or holds differently.
    async fn restore(
        &self,
        site: &Site,
        found: Option<&TokenRecord>,
    ) -> crate::error::Result<Guarded> {
        let mut done = Guarded::default();
        let store = site.vault.store().await?;
        if store.backend_kind() != BackendKind::File || store.api_key_from_environment() {
            return Ok(done);
        }
        let held = site.vault.snapshot().await?;
        let domain = site.domain();
        if let Some(key) = &held.api_key
            && found.and_then(|r| r.api_key.as_ref()) != Some(key)
        {
            store.set_api_key(domain, key.clone()).await?;
            done.restored.push("the API key".to_owned());
        }
        for (org, token) in &held.tokens {
            if found.and_then(|r| r.repo_token(org)) != Some(token) {
                store.set_repo_token(domain, org, token.clone()).await?;
                done.restored.push(format!("the repo token of {org}"));
            }
        }
        Ok(done)
    }

    /// The record of `domain` in the file now; `None` when the file or the record is absent or
    /// cannot be read as one (the daemon then writes its own back, when the file is its store).
    fn read_record(&self, domain: &str) -> crate::error::Result<Option<TokenRecord>> {
        let Ok(Some(text)) = crate::fsutil::read_regular_text(&self.path) else {
            return Ok(None);
        };
        let value = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                v.get(ANACONDA_SERVICE)?
                    .get(domain)?
                    .as_str()
                    .map(str::to_owned)
            });
        Ok(value.and_then(|v| keyring_bridge::decode_record(&v, domain).ok()))
    }

    fn tell(&self, site: &Site, done: &Guarded) {
        if done.adopted.is_empty() && done.refused.is_empty() && done.restored.is_empty() {
            return;
        }
        let mut said = Vec::new();
        if !done.adopted.is_empty() {
            said.push(format!("adopted {}", done.adopted.join(", ")));
        }
        if !done.refused.is_empty() {
            said.push(format!("did not adopt {}", done.refused.join("; ")));
        }
        if !done.restored.is_empty() {
            said.push(format!("restored {}", done.restored.join(", ")));
        }
        self.events.publish(
            EventKind::KeyringFileRewritten,
            "",
            "",
            format!(
                "another client rewrote the record of {} in {}: {}",
                site.domain(),
                self.path.display(),
                said.join("; ")
            ),
        );
    }
}
