//! The idle exit of a daemon started for a job: [`OpenConnections`] counts the connections the
//! transport holds open, and [`exit_when_idle`] cancels the shutdown token once none has been
//! open, and nothing has kept the daemon busy, for the idle delay. The shutdown is the one every
//! other way out takes (SIGTERM, `Shutdown`), so the socket, its lock and the version file go
//! with it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often a daemon that found itself busy at the end of its idle delay looks again: a
/// reissue under way has no signal of its end that reaches here.
const BUSY_RECHECK: Duration = Duration::from_secs(5);

/// How many connections are open; every change is seen by [`exit_when_idle`].
#[derive(Debug)]
pub struct OpenConnections {
    count: watch::Sender<usize>,
}

impl Default for OpenConnections {
    fn default() -> Self {
        Self {
            count: watch::Sender::new(0),
        }
    }
}

impl OpenConnections {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Counts one more open connection until the mark is dropped.
    pub fn opened(self: &Arc<Self>) -> ConnectionMark {
        self.count.send_modify(|n| *n += 1);
        ConnectionMark(Arc::clone(self))
    }

    pub fn count(&self) -> usize {
        *self.count.borrow()
    }
}

/// One open connection, counted while it lives.
#[derive(Debug)]
pub struct ConnectionMark(Arc<OpenConnections>);

impl Drop for ConnectionMark {
    fn drop(&mut self) {
        self.0.count.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Cancels `shutdown` once no connection has been open for `delay` and `keeps_running`
/// answers `None` (else it says why the daemon stays, and it looks again a little later).
/// Returns when it cancelled, or when something else did.
pub async fn exit_when_idle<F, Fut>(
    delay: Duration,
    connections: Arc<OpenConnections>,
    keeps_running: F,
    shutdown: CancellationToken,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = Option<String>>,
{
    let mut count = connections.count.subscribe();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            none = count.wait_for(|n| *n == 0) => if none.is_err() { return },
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            // A connection opened (or one more closed): count the delay again from its end.
            _ = count.changed() => continue,
            () = tokio::time::sleep(delay) => {}
        }
        // Idle for the whole delay: stop, unless work under way keeps the daemon.
        let mut told = false;
        loop {
            if connections.count() > 0 {
                break;
            }
            let Some(why) = keeps_running().await else {
                tracing::info!(
                    idle_secs = delay.as_secs(),
                    "no connection and nothing under way for the idle delay; stopping"
                );
                shutdown.cancel();
                return;
            };
            if !told {
                tracing::info!("idle, but staying: {why}");
                told = true;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = count.changed() => break,
                () = tokio::time::sleep(BUSY_RECHECK.min(delay)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAY: Duration = Duration::from_secs(300);

    fn spawn_watch(
        connections: &Arc<OpenConnections>,
        busy: Arc<std::sync::Mutex<Option<String>>>,
    ) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(exit_when_idle(
            DELAY,
            Arc::clone(connections),
            move || {
                let busy = busy.lock().unwrap().clone();
                async move { busy }
            },
            shutdown.clone(),
        ));
        (shutdown, task)
    }

    #[tokio::test(start_paused = true)]
    async fn a_daemon_with_no_connection_stops_after_the_idle_delay_and_not_before() {
        let connections = OpenConnections::new();
        let (shutdown, _task) = spawn_watch(&connections, Default::default());
        tokio::time::sleep(DELAY - Duration::from_secs(1)).await;
        assert!(!shutdown.is_cancelled());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(shutdown.is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_connection_keeps_it_and_the_delay_counts_from_its_end() {
        let connections = OpenConnections::new();
        let (shutdown, _task) = spawn_watch(&connections, Default::default());
        let mark = connections.opened();
        tokio::time::sleep(DELAY * 3).await;
        assert!(!shutdown.is_cancelled(), "a connection is open");
        drop(mark);
        tokio::time::sleep(DELAY - Duration::from_secs(1)).await;
        assert!(!shutdown.is_cancelled(), "the delay counts from the close");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(shutdown.is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn work_under_way_keeps_it_until_it_ends() {
        let connections = OpenConnections::new();
        let busy = Arc::new(std::sync::Mutex::new(Some("a reissue".to_owned())));
        let (shutdown, _task) = spawn_watch(&connections, Arc::clone(&busy));
        tokio::time::sleep(DELAY * 2).await;
        assert!(!shutdown.is_cancelled());
        *busy.lock().unwrap() = None;
        tokio::time::sleep(BUSY_RECHECK + Duration::from_secs(1)).await;
        assert!(shutdown.is_cancelled());
    }
}
