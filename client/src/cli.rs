//! The command line: every command, flag and its help.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::exit::EXIT_CODES_HELP;

#[derive(Debug, Parser)]
#[command(
    name = "anacondactl",
    version,
    about = "Get, keep and use your Anaconda credentials (talks to the anacondad daemon)",
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    /// The daemon's socket [default: $XDG_RUNTIME_DIR/anacondad/anacondad.sock].
    #[arg(long, global = true, env = "ANACONDAD_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start, stop and inspect the daemon.
    #[command(subcommand)]
    Daemon(DaemonCommand),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Show the daemon's status (starts it when it is not running).
    Status,
    /// Start the daemon in the background (nothing happens when it runs already).
    Start,
    /// Stop the daemon and wait until it has exited.
    Stop,
    /// Run the daemon in the foreground of this terminal, logging to stderr.
    Run,
}
