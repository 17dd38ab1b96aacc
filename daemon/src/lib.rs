//! anacondad: the per-user daemon that owns Anaconda credentials. It keeps tokens in the OS
//! keychain, renews them before they expire, keeps conda's configuration right, and answers
//! over a local gRPC socket. [`run`] is the whole daemon: the composition root that builds the
//! parts ([`Daemon::build`]) and hands the services' routes and the shutdown token to the
//! transport. `docs/architecture.md` maps the modules, in the order they import each other
//! (bottom first; `tests/import_order.rs` holds the code to it).

pub mod account;
pub mod activity;
pub mod api;
pub mod auth_storage;
pub mod boolean;
pub mod catalogue;
pub mod channels;
pub mod clock;
pub mod conda_rules;
pub mod conda_setup;
pub mod condarc_text;
pub mod config;
pub mod credential_kind;
pub mod credentials;
pub mod daemon;
pub mod diagnose;
pub mod error;
pub mod error_text;
pub mod events;
pub mod export;
pub mod fault;
pub mod fsutil;
pub mod idle;
pub mod keyring_bridge;
pub mod keyring_guard;
pub mod minted;
pub mod renewal;
pub mod repo_url;
pub mod secret;
pub mod service;
pub mod site_context;
pub mod sites;
pub mod state;
pub mod store;
pub mod tokens;
pub mod transport;
pub mod vault;
pub mod version_file;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use daemon::Daemon;

use crate::clock::Clock;
use crate::config::DaemonConfig;
use crate::daemon::DaemonError;
use crate::transport::{BindError, BoundSocket};

/// Why the daemon did not run: its parts could not be built, or its endpoint not served.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Build(#[from] DaemonError),
    #[error(transparent)]
    Bind(#[from] BindError),
}

/// The whole daemon as a function of its inputs: builds every part from `config` and `clock`,
/// starts the background work, and serves the services on `socket` until `shutdown` is
/// cancelled (SIGTERM, SIGINT or the `Shutdown` RPC); `ready` runs once the socket accepts
/// calls. A daemon whose settings say it exits when idle cancels `shutdown` itself after
/// `idle_exit_secs` with no connection open and nothing under way (`idle`). Returns once every task has ended, or [`daemon::CRITICAL_WORK_GRACE`] after the
/// server stopped.
pub async fn run(
    config: DaemonConfig,
    socket: BoundSocket,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
    ready: impl FnOnce(),
) -> Result<(), RunError> {
    let idle_exit = config.settings.idle_exit();
    let daemon = Daemon::build(config, clock, shutdown.clone())?;
    daemon.start_background();
    let connections = idle::OpenConnections::new();
    if let Some(delay) = idle_exit {
        let keeper = daemon.clone();
        daemon.tasks.spawn(idle::exit_when_idle(
            delay,
            Arc::clone(&connections),
            move || {
                let keeper = keeper.clone();
                async move { keeper.keeps_running(delay).await }
            },
            shutdown.clone(),
        ));
    }
    let routes = service::routes(daemon.clone());
    let served = transport::serve(socket, routes, shutdown, connections, ready).await;
    daemon.stop().await;
    Ok(served?)
}
