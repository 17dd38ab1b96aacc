//! [`Gate`]: at most one call in flight to a store backend that may hang, and the refusal of
//! later calls while one has outlived its timeout.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::options::{StoreError, finish, hint};

/// At most one call in flight to a backend that may hang (a keychain that never answers):
/// a second caller waits for the first without taking a thread, and once a call has outlived
/// its timeout every later caller is refused at once until that call returns. A blocking call
/// cannot be cancelled, so without this each call would strand one more thread (and, for a
/// connect, one more D-Bus connection).
#[derive(Debug)]
pub(super) struct Gate {
    permits: Arc<Semaphore>,
    stalled_since: Mutex<Option<Instant>>,
}

impl Gate {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(1)),
            stalled_since: Mutex::new(None),
        })
    }

    /// How long the call in flight has been waiting past its timeout, if one is.
    pub(super) fn stalled_for(&self) -> Option<Duration> {
        self.stalled_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|since| since.elapsed())
    }

    fn set_stalled(&self, stalled: bool) {
        let mut since = self.stalled_since.lock().unwrap_or_else(|p| p.into_inner());
        *since = match (stalled, *since) {
            (true, Some(already)) => Some(already),
            (true, None) => Some(Instant::now()),
            (false, _) => None,
        };
    }

    /// Runs `job` on a blocking thread once the gate is free, bounded by `timeout`.
    pub(super) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        operation: &'static str,
        backend: &'static str,
        timeout: Duration,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        let permit = self.enter(operation, backend, timeout).await?;
        let gate = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            let _permit: OwnedSemaphorePermit = permit;
            let value = job();
            // It answered, however late: the next caller may ask again.
            gate.set_stalled(false);
            value
        });
        let outcome = finish(operation, backend, timeout, task).await;
        if matches!(outcome, Err(StoreError::Timeout { .. })) {
            self.set_stalled(true);
        }
        outcome
    }

    async fn enter(
        &self,
        operation: &'static str,
        backend: &'static str,
        timeout: Duration,
    ) -> Result<OwnedSemaphorePermit, StoreError> {
        let refused = |after| StoreError::Timeout {
            backend,
            operation,
            after,
            earlier: true,
            hint: hint(backend),
        };
        if let Some(stalled) = self.stalled_for() {
            return Arc::clone(&self.permits)
                .try_acquire_owned()
                .map_err(|_| refused(stalled + timeout));
        }
        match tokio::time::timeout(timeout, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(StoreError::Task {
                operation,
                detail: closed.to_string(),
            }),
            Err(_) => Err(refused(timeout)),
        }
    }
}

/// The gate of this process's keychain connection: whoever opens a store, one connect at a
/// time (the manager retries opening on every call while the keychain does not answer).
pub(super) fn keychain_connect_gate() -> &'static Arc<Gate> {
    static GATE: OnceLock<Arc<Gate>> = OnceLock::new();
    GATE.get_or_init(Gate::new)
}
