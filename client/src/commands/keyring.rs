//! `anacondactl keyring get|set|delete SERVICE USERNAME`: what the Python keyring backend
//! shipped with the conda plugin asks. It never starts the daemon (a keyring look-up comes from
//! any program on the machine): a daemon that is not running is `daemon_unavailable`, and the
//! backend then asks the keyring it would otherwise have used. Each ends within its deadline.

use std::io::Read as _;
use std::time::Duration;

use anacondad_proto::v1::{
    DeleteKeyringEntryRequest, GetKeyringEntryRequest, SetKeyringEntryRequest,
};
use clap::{Args, Subcommand};

use super::Output;
use crate::cli::Deadline;
use crate::connection::Target;
use crate::exit::CliError;
use crate::json::keyring::{KeyringDeleted, KeyringEntry, KeyringSet};

#[derive(Debug, Subcommand)]
pub enum KeyringCommand {
    /// Print the password the daemon holds for SERVICE and USERNAME (`ours: false` when it is
    /// not the daemon's).
    Get(KeyringArgs),
    /// Hand the daemon a record written for SERVICE and USERNAME, read from standard input; it
    /// keeps what the service accepts.
    Set(KeyringArgs),
    /// anaconda-auth's logout of a domain the daemon serves: the daemon logs out of that site.
    Delete(KeyringArgs),
}

#[derive(Debug, Args)]
pub struct KeyringArgs {
    /// `Anaconda Cloud`, or an index URL.
    pub service: String,
    /// The domain for `Anaconda Cloud`; `__token__` (or nothing) for an index.
    #[arg(default_value = "")]
    pub username: String,
    #[command(flatten)]
    pub deadline: Deadline,
}

pub async fn run(cmd: KeyringCommand, target: &Target, out: Output) -> Result<(), CliError> {
    let deadline = match &cmd {
        KeyringCommand::Get(a) | KeyringCommand::Set(a) | KeyringCommand::Delete(a) => {
            Duration::from_millis(a.deadline.timeout_ms)
        }
    };
    // Read before the clock starts: the caller writes it at once.
    let password = match &cmd {
        KeyringCommand::Set(_) => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| {
                CliError::failed(format!("cannot read the record from standard input: {e}"))
            })?;
            text.trim().to_owned()
        }
        _ => String::new(),
    };
    tokio::time::timeout(deadline, ask(cmd, password, target, out))
        .await
        .map_err(|_| target.unresponsive(deadline))?
}

async fn ask(
    cmd: KeyringCommand,
    password: String,
    target: &Target,
    out: Output,
) -> Result<(), CliError> {
    let mut keyring = target.connect().await?.keyring();
    match cmd {
        KeyringCommand::Get(a) => {
            let answer = keyring
                .get_keyring_entry(GetKeyringEntryRequest {
                    service: a.service,
                    username: a.username,
                })
                .await?
                .into_inner();
            if out.json {
                out.print_json(&KeyringEntry::from(&answer));
            } else if answer.found {
                crate::outln!("{}", answer.password);
            } else {
                return Err(CliError::failed(if answer.ours {
                    "the daemon holds nothing for it now: run `anacondactl login`"
                } else {
                    "not the daemon's: it serves `Anaconda Cloud` for its sites' domains and the \
                     indexes under their repositories"
                }));
            }
        }
        KeyringCommand::Set(a) => {
            let answer = keyring
                .set_keyring_entry(SetKeyringEntryRequest {
                    service: a.service,
                    username: a.username,
                    password,
                })
                .await?
                .into_inner();
            if out.json {
                out.print_json(&KeyringSet {
                    ours: answer.ours,
                    adopted: answer.adopted,
                    refused: answer.refused,
                });
            } else {
                for line in &answer.adopted {
                    crate::outln!("adopted {line}");
                }
                for line in &answer.refused {
                    crate::outln!("not adopted: {line}");
                }
            }
        }
        KeyringCommand::Delete(a) => {
            let answer = keyring
                .delete_keyring_entry(DeleteKeyringEntryRequest {
                    service: a.service,
                    username: a.username,
                })
                .await?
                .into_inner();
            if out.json {
                out.print_json(&KeyringDeleted {
                    ours: answer.ours,
                    removed: answer.removed,
                });
            }
        }
    }
    Ok(())
}
