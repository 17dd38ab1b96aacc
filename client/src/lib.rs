//! anacondactl: the thin command-line client of anacondad. It holds no secrets and talks to no
//! one but the daemon.

pub mod cli;
pub mod commands;
pub mod connection;
pub mod exit;
pub mod launch;
pub mod prompt;
pub mod render;
