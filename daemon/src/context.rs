//! What every RPC handler shares: paths, settings, the credential manager, the event bus, the
//! shutdown signal.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::condarc::CondarcSettings;
use crate::config::{Paths, Settings};
use crate::events::EventBus;
use crate::manager::CredentialManager;

/// A `.condarc` file and the settings to keep in it.
#[derive(Debug, Clone)]
pub struct CondarcTarget {
    pub path: PathBuf,
    pub settings: CondarcSettings,
}

/// The daemon's shared state, built once by `main` (or a test) and handed to the server.
#[derive(Debug)]
pub struct DaemonContext {
    pub paths: Paths,
    pub settings: Settings,
    pub manager: Arc<CredentialManager>,
    pub events: EventBus,
    /// Cancelled by SIGTERM, SIGINT or the `Shutdown` RPC; everything stops on it.
    pub shutdown: CancellationToken,
    /// What conda's user file was when we last looked or wrote it; our own writes set it at
    /// once, so the watcher tells an edit of the user's from ours.
    pub condarc_baseline: CondarcBaseline,
    started: Instant,
    last_error: Mutex<Option<String>>,
}

/// The last known state of conda's user file, shared by the writers and the watcher.
pub type CondarcBaseline = Arc<Mutex<Option<crate::condarc::CondarcState>>>;

impl DaemonContext {
    pub fn new(
        paths: Paths,
        settings: Settings,
        manager: Arc<CredentialManager>,
        events: EventBus,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            paths,
            settings,
            manager,
            events,
            shutdown,
            condarc_baseline: Arc::default(),
            started: Instant::now(),
            last_error: Mutex::new(None),
        }
    }

    pub fn uptime_seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Remembers a failure the user may need to act on; `Status` shows the latest.
    pub fn record_error(&self, message: impl Into<String>) {
        if let Ok(mut slot) = self.last_error.lock() {
            *slot = Some(message.into());
        }
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|slot| slot.clone())
    }

    /// The file and settings a request names, with the daemon's defaults for what it leaves
    /// empty: conda's user file, our handler name, default channels set.
    pub fn condarc_target(
        &self,
        wire: Option<&anacondad_proto::v1::CondarcTarget>,
    ) -> CondarcTarget {
        let path = wire
            .map(|t| t.path.trim())
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| self.paths.condarc.clone());
        let mut settings = CondarcSettings::new(self.manager.repo_url().to_string());
        settings.auth_handler = wire
            .map(|t| t.auth_handler.trim())
            .filter(|h| !h.is_empty())
            .unwrap_or(&self.settings.auth_handler)
            .to_owned();
        settings.set_default_channels = wire.and_then(|t| t.set_default_channels).unwrap_or(true);
        CondarcTarget { path, settings }
    }
}
