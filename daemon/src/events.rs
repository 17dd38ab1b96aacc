//! The daemon's event bus: what `Watch` streams. Publishing never blocks; a watcher that falls
//! behind misses old events and is told how many.

use std::sync::Arc;

use anacondad_proto::v1::{EventKind, WatchResponse};
use tokio::sync::broadcast;

use crate::clock::Clock;

/// How many events a slow watcher may fall behind before it misses some.
const EVENT_BACKLOG: usize = 256;

#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<WatchResponse>,
    clock: Arc<dyn Clock>,
}

impl EventBus {
    /// Events are stamped with `clock`'s time.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            sender: broadcast::channel(EVENT_BACKLOG).0,
            clock,
        }
    }

    /// Sends an event to every current watcher (none is fine).
    pub fn publish(&self, kind: EventKind, org: &str, path: &str, message: impl Into<String>) {
        let event = WatchResponse {
            at: self.clock.now().as_second(),
            kind: kind.into(),
            org: org.to_owned(),
            path: path.to_owned(),
            message: message.into(),
        };
        tracing::info!(kind = ?kind, org, path, message = %event.message, "event");
        let _no_watchers_is_fine = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<WatchResponse> {
        self.sender.subscribe()
    }
}
