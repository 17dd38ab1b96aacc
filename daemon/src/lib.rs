//! anacondad: the per-user daemon that owns Anaconda credentials. It keeps tokens in the OS
//! keychain, renews them before they expire, keeps conda's configuration right, and answers
//! over a local gRPC socket. [`Daemon::run`] is the whole daemon; `docs/architecture.md` maps
//! the modules.

#[cfg(unix)]
pub mod accept;
pub mod account;
pub mod activity;
pub mod api;
pub mod channels;
pub mod clock;
pub mod conda;
pub mod conda_config;
pub mod condarc;
pub mod config;
pub mod credentials;
pub mod daemon;
pub mod diagnose;
pub mod error;
pub mod events;
pub mod export;
pub mod fault;
pub mod fsutil;
pub mod keyring_bridge;
pub mod keyring_guard;
pub mod renewal;
pub mod repo_url;
pub mod secret;
#[cfg(unix)]
pub mod server;
#[cfg(windows)]
#[path = "transport/windows.rs"]
pub mod server;
pub mod service;
pub mod sites;
pub mod state;
pub mod store;
pub mod tokens;
pub mod transport;
pub mod vault;

pub use daemon::Daemon;
