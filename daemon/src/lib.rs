//! anacondad: the per-user daemon that owns Anaconda credentials. It keeps tokens in the OS
//! keychain, renews them before they expire, keeps conda's configuration right, and answers
//! over a local gRPC socket.

#[cfg(unix)]
pub mod accept;
pub mod api;
pub mod condarc;
pub mod config;
pub mod context;
pub mod events;
pub mod fsutil;
pub mod manager;
pub mod scheduler;
pub mod secret;
#[cfg(unix)]
pub mod server;
pub mod service;
pub mod state;
pub mod store;
pub mod watcher;
