//! A whole daemon in this test process, on a temp socket, with a clock the test controls: the
//! real server, services and scheduler, the real CLI binary as client, real HTTP to the
//! emulator; only time is the test's.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anacondad::clock::Clock;
use anacondad::config::{DaemonConfig, EnvSnapshot};
use anacondad::transport::{BindError, BoundSocket};
use tokio_util::sync::CancellationToken;

use crate::harness::TestHome;

/// How long the daemon may take to serve, or to stop once asked.
const IN_PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// A daemon running on its own thread and runtime; stopped (and waited for) on drop.
#[derive(Debug)]
pub struct InProcessDaemon {
    shutdown: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

impl InProcessDaemon {
    /// Serves `home`'s socket with `home`'s environment and `clock`; returns once it is ready.
    pub fn start(home: &TestHome, clock: Arc<dyn Clock>) -> Self {
        Self::start_with(home, clock, |_| {})
    }

    /// [`InProcessDaemon::start`] with the resolved configuration changed by `configure` first
    /// (more sites, say).
    pub fn start_with(
        home: &TestHome,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut DaemonConfig),
    ) -> Self {
        let env: EnvSnapshot = home
            .env()
            .into_iter()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let socket_path = home.socket();
        let mut config = DaemonConfig::resolve(&env, socket_path.clone(), "in-process-test")
            .expect("the test home's configuration");
        configure(&mut config);
        let socket = bind_when_released(&socket_path);
        let shutdown = CancellationToken::new();
        let (ready_tx, ready_rx) = mpsc::channel();
        let stop = shutdown.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("a runtime");
            let ready = move || {
                let _test_gone_is_fine = ready_tx.send(());
            };
            runtime
                .block_on(anacondad::run(config, socket, clock, stop, ready))
                .expect("the daemon ran");
        });
        ready_rx
            .recv_timeout(IN_PROCESS_TIMEOUT)
            .expect("the in-process daemon became ready");
        Self {
            shutdown,
            thread: Some(thread),
        }
    }

    /// What SIGTERM does to the real binary: cancel the shutdown signal. Returns once
    /// [`anacondad::run`] has returned.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.shutdown.cancel();
        if let Some(thread) = self.thread.take() {
            let (done_tx, done_rx) = mpsc::channel();
            std::thread::spawn(move || {
                let _ = done_tx.send(thread.join());
            });
            match done_rx.recv_timeout(IN_PROCESS_TIMEOUT) {
                Ok(joined) => joined.expect("the daemon thread did not panic"),
                Err(_) => panic!("the in-process daemon did not stop in time"),
            }
        }
    }
}

/// Binds `socket`, waiting while the lock is held by this very process: a daemon stopped a
/// moment ago has released it, but a child another test thread is forking holds a copy of
/// the lock's descriptor until it execs. Nothing can be awaited for that; it lasts
/// microseconds, longer only when the machine is loaded.
fn bind_when_released(socket: &std::path::Path) -> BoundSocket {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match BoundSocket::bind(socket, rustix::process::getuid().as_raw()) {
            Err(BindError::AlreadyRunning { pid: Some(pid), .. })
                if pid == std::process::id() && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            bound => return bound.expect("the test socket"),
        }
    }
}

impl Drop for InProcessDaemon {
    fn drop(&mut self) {
        if self.thread.is_some() && !std::thread::panicking() {
            self.stop_and_join();
        } else {
            self.shutdown.cancel();
        }
    }
}
