//! What each command does: ask the daemon, print the answer.

mod account;
mod channels;
mod condarc;
mod config;
mod credential;
mod daemon;
mod doctor;
mod doctor_clients;
mod env;
mod exec;
mod export;
mod export_index;
pub mod keyring;
mod keys;
mod service;
mod site;
mod token;

use std::path::PathBuf;

use clap::CommandFactory;

pub use credential::parse_lookup;

use crate::cli::{Cli, Command, CondarcArgs};
use crate::connection::Target;
use crate::exit::CliError;
use crate::prompt::Prompter;

/// Output settings shared by every command.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    /// States (ok, warn, fail) are coloured: standard output is a terminal and `NO_COLOR`
    /// is not set.
    pub colour: bool,
}

impl Output {
    /// One of the [`crate::json`] types, the contract of `--json`.
    fn print_json<T: serde::Serialize>(&self, value: &T) {
        crate::json::print(value);
    }

    /// A line for people: stdout normally, stderr with --json (so stdout stays parseable).
    fn say(&self, line: impl AsRef<str>) {
        if self.json {
            crate::errln!("{}", line.as_ref());
        } else {
            crate::outln!("{}", line.as_ref());
        }
    }

    /// A warning, always on stderr.
    fn warn(&self, line: impl AsRef<str>) {
        crate::errln!("warning: {}", line.as_ref());
    }
}

pub async fn run(cli: Cli, mut target: Target) -> Result<(), CliError> {
    let out = Output {
        json: cli.json,
        colour: !cli.json
            && crate::render::colour_wanted(
                std::io::IsTerminal::is_terminal(&std::io::stdout()),
                std::env::var_os("NO_COLOR").as_deref(),
                std::env::var_os("TERM").as_deref(),
            ),
    };
    let prompter = Prompter::from_terminal();
    // Not on conda's path (`credential`), nor where the user deals with the daemon itself.
    let site_matters = matches!(
        &cli.command,
        Command::Login(_)
            | Command::Logout(_)
            | Command::ApiKey(_)
            | Command::Exec(_)
            | Command::Env(_)
            | Command::Whoami
            | Command::Token(_)
            | Command::Condarc(_)
            | Command::Channels(_)
            | Command::Daemon(crate::cli::DaemonCommand::Status)
    );
    if site_matters && let Some(site) = site::check(&target).await? {
        target.site = Some(site);
    }
    match cli.command {
        Command::Login(args) => account::login(args, &target, out, prompter).await,
        Command::Logout(args) => account::logout(args, &target, out).await,
        Command::ApiKey(args) => keys::api_key(args, &target, out).await,
        Command::Exec(args) => exec::run(args, &target, out).await,
        Command::Env(args) => env::run(args, &target, out).await,
        Command::Whoami => account::whoami(&target, out).await,
        Command::Token(cmd) => {
            token::run(cmd, &target.connect_or_start().await?, out, prompter).await
        }
        Command::Credential(cmd) => credential::run(cmd, &target, out).await,
        Command::Condarc(cmd) => condarc::run(cmd, &target, out).await,
        Command::Channels(cmd) => {
            channels::run(cmd, &target.connect_or_start().await?, out, prompter).await
        }
        Command::Export(args) => export::run(args, &target, out).await,
        Command::Keyring(cmd) => keyring::run(cmd, &target, out).await,
        Command::Daemon(cmd) => daemon::run(cmd, &target, out).await,
        Command::Config(cmd) => config::show(cmd, cli.at.as_deref(), &target, out).await,
        Command::Sites(cmd) => config::sites(cmd, &target, out).await,
        Command::Doctor(args) => doctor::run(args, &target, out, prompter).await,
        Command::Service(cmd) => service::run(cmd, &target, out).await,
        Command::Completions { shell } => {
            let mut command = completion_command();
            clap_complete::generate(shell, &mut command, "anacondactl", &mut std::io::stdout());
            Ok(())
        }
        Command::Manpages { dir } => write_manpages(&dir, &target.launcher.daemon_bin),
    }
}

/// The command line as completions should offer it: the generators list hidden subcommands
/// too, so the root is rebuilt from the visible ones (with the same global options).
fn completion_command() -> clap::Command {
    let full = Cli::command();
    clap::Command::new("anacondactl")
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
}

/// Writes `anacondactl.1` and a page per visible subcommand (`anacondactl-token-install.1`)
/// into `dir`, from the same definition as `--help`, and `anacondad.1` from the daemon binary
/// this CLI starts (`anacondad --write-manpage`), so `man anacondad` matches it too.
fn write_manpages(dir: &std::path::Path, daemon_bin: &std::path::Path) -> Result<(), CliError> {
    crate::manpages::write_cli_pages(Cli::command(), dir).map_err(|e| {
        CliError::failed(format!(
            "cannot write the manual pages into {}: {e}",
            dir.display()
        ))
    })?;
    let daemon = std::process::Command::new(daemon_bin)
        .arg("--write-manpage")
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            CliError::failed(format!(
                "cannot run {} to write anacondad.1: {e}",
                daemon_bin.display()
            ))
        })?;
    if !daemon.status.success() {
        return Err(CliError::failed(format!(
            "{} --write-manpage failed: {}",
            daemon_bin.display(),
            String::from_utf8_lossy(&daemon.stderr).trim()
        )));
    }
    println!("{}", dir.display());
    Ok(())
}

/// Longest secret read from standard input; API keys and tokens are far shorter.
const MAX_STDIN_SECRET_BYTES: u64 = 16 * 1024;

/// A secret (`what`: "the API key", "the token") read from standard input, trimmed; the read
/// buffer is wiped. Fails on empty or oversized input, saying how to pass it.
fn read_secret_from_stdin(what: &str, example: &str) -> Result<String, CliError> {
    use std::io::Read;
    use zeroize::Zeroize;
    let mut raw = String::new();
    let read = std::io::stdin()
        .take(MAX_STDIN_SECRET_BYTES + 1)
        .read_to_string(&mut raw);
    let result = match read {
        Err(e) => Err(CliError::failed(format!(
            "cannot read {what} from standard input: {e}"
        ))),
        Ok(n) if n as u64 > MAX_STDIN_SECRET_BYTES => Err(CliError::failed(format!(
            "standard input holds more than {MAX_STDIN_SECRET_BYTES} bytes, which is not {what}: \
             pipe in only {what}, e.g. `{example}`"
        ))),
        Ok(_) if raw.trim().is_empty() => Err(CliError::failed(format!(
            "no {what} on standard input: pipe it in, e.g. `{example}`"
        ))),
        Ok(_) => Ok(raw.trim().to_owned()),
    };
    raw.zeroize();
    result
}

/// The wire form of `--condarc` / `--auth-handler`; a relative path is taken from the CLI's
/// working directory (the daemon's is elsewhere).
fn condarc_target(args: &CondarcArgs) -> anacondad_proto::v1::CondarcTarget {
    let path = args
        .condarc
        .as_ref()
        .map(|p| {
            if p.is_absolute() {
                p.clone()
            } else {
                std::env::current_dir()
                    .map(|cwd| cwd.join(p))
                    .unwrap_or_else(|_| PathBuf::from(p))
            }
        })
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    anacondad_proto::v1::CondarcTarget {
        path,
        auth_handler: args.auth_handler.clone().unwrap_or_default(),
        set_default_channels: None,
        conda_environment: conda_environment(),
        credential_type: match args.credential_type {
            None => anacondad_proto::v1::CredentialKind::Unspecified,
            Some(crate::cli::CredentialType::RepoToken) => {
                anacondad_proto::v1::CredentialKind::RepoToken
            }
            Some(crate::cli::CredentialType::ApiKey) => anacondad_proto::v1::CredentialKind::ApiKey,
        }
        .into(),
    }
}

/// The variables that decide which condas a user runs and which files conda reads, for the
/// daemon to look with (it may have been started with another environment). Nothing that
/// names a secret is sent.
fn conda_environment() -> std::collections::HashMap<String, String> {
    const NAMED: &[&str] = &[
        "PATH",
        "CONDARC",
        "XDG_CONFIG_HOME",
        "LOCALAPPDATA",
        "APPDATA",
        "ProgramData",
        "USERPROFILE",
    ];
    let secret = |name: &str| {
        let upper = name.to_ascii_uppercase();
        ["TOKEN", "KEY", "PASSWORD", "SECRET", "AUTH"]
            .iter()
            .any(|w| upper.contains(w))
    };
    std::env::vars()
        .filter(|(k, _)| (NAMED.contains(&k.as_str()) || k.starts_with("CONDA_")) && !secret(k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_subcommand_gets_a_manual_page_and_the_hidden_one_none() {
        let dir = std::env::temp_dir().join(format!("anacondactl-man-{}", std::process::id()));
        crate::manpages::write_cli_pages(Cli::command(), &dir).unwrap();
        let mut command = Cli::command();
        command.build();
        let mut expected = vec!["anacondactl.1".to_owned()];
        // clap's own `help` subcommands have no pages (generate_to turns them off).
        let visible = |s: &&clap::Command| !s.is_hide_set() && s.get_name() != "help";
        for sub in command.get_subcommands().filter(visible) {
            expected.push(format!("anacondactl-{}.1", sub.get_name()));
            for leaf in sub.get_subcommands().filter(visible) {
                expected.push(format!(
                    "anacondactl-{}-{}.1",
                    sub.get_name(),
                    leaf.get_name()
                ));
            }
        }
        for page in &expected {
            let text =
                std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
            assert!(text.contains(".SH SYNOPSIS"), "{page}:\n{text}");
            assert!(text.contains(".SH \"EXIT STATUS\""), "{page}:\n{text}");
        }
        let main_page = std::fs::read_to_string(dir.join("anacondactl.1")).unwrap();
        for section in [
            ".SH EXAMPLES",
            ".SH FILES",
            ".SH ENVIRONMENT",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(main_page.contains(section), "{section}:\n{main_page}");
        }
        let install = std::fs::read_to_string(dir.join("anacondactl-token-install.1")).unwrap();
        assert!(install.contains(".SH EXAMPLES"), "{install}");
        assert!(expected.contains(&"anacondactl-service-install.1".to_owned()));
        assert!(!dir.join("anacondactl-manpages.1").exists());
        let written = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(written, expected.len(), "{expected:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn completions_offer_every_visible_command_and_no_hidden_one() {
        let mut script = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut completion_command(),
            "anacondactl",
            &mut script,
        );
        let script = String::from_utf8(script).unwrap();
        for visible in Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
        {
            assert!(
                script.contains(visible.get_name()),
                "{}",
                visible.get_name()
            );
        }
        for option in ["--socket", "--json", "--dry-run", "--force", "--version"] {
            assert!(script.contains(option), "{option}");
        }
        assert!(!script.contains("manpages"));
    }
}
