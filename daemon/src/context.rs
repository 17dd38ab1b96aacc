//! What every RPC handler shares: paths, settings, the event bus, the shutdown signal.

use std::sync::Mutex;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::config::{Paths, Settings};
use crate::events::EventBus;

/// The daemon's shared state, built once by `main` (or a test) and handed to the server.
#[derive(Debug)]
pub struct DaemonContext {
    pub paths: Paths,
    pub settings: Settings,
    pub events: EventBus,
    /// Cancelled by SIGTERM, SIGINT or the `Shutdown` RPC; everything stops on it.
    pub shutdown: CancellationToken,
    started: Instant,
    last_error: Mutex<Option<String>>,
}

impl DaemonContext {
    pub fn new(paths: Paths, settings: Settings, shutdown: CancellationToken) -> Self {
        Self {
            paths,
            settings,
            events: EventBus::new(),
            shutdown,
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
}
