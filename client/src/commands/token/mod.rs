//! `anacondactl token install|list|uninstall|refresh`: Anaconda's one-command token workflow.

mod conda;
mod install;
mod manage;
mod questions;
mod tracked;

use super::Output;
use crate::cli::TokenCommand;
use crate::connection::DaemonClient;
use crate::exit::CliError;
use crate::prompt::Prompter;

pub async fn run(
    cmd: TokenCommand,
    client: &DaemonClient,
    out: Output,
    prompter: Prompter,
) -> Result<(), CliError> {
    match cmd {
        TokenCommand::Install(args) => install::install(client, args, out, prompter).await,
        TokenCommand::List => manage::list(client, out).await,
        TokenCommand::Show(args) => super::keys::token_show(&args.org, client, out).await,
        TokenCommand::AutoRenew { org, state } => {
            manage::auto_renew(client, &org, &state, out).await
        }
        TokenCommand::Uninstall(args) => manage::uninstall(client, args, out).await,
        TokenCommand::Refresh { org, yes } => {
            manage::refresh(client, &org, yes, out, prompter).await
        }
    }
}
