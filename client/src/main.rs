//! `anacondactl`: reads the environment once, then runs one command against the daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use anacondactl::cli::Cli;
use anacondactl::connection::Target;
use anacondactl::exit::{CliError, ExitKind};
use anacondactl::json::ErrorJson;
use anacondactl::launch::Launcher;
use anacondad_proto::socket::SocketEnv;
use clap::Parser;

fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match anacondactl::commands::parse_lookup(&args).map(Ok) {
        Some(fast) => fast,
        None => Cli::try_parse_from(&args),
    };
    let cli = match cli {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, &args),
    };
    let json = cli.json;
    let socket_env = SocketEnv::from_process();
    let target = Target {
        socket: socket_env.resolve(cli.socket.as_deref()),
        uid: socket_env.uid,
        site: cli.at.clone(),
        launcher: Launcher {
            daemon_bin: daemon_bin(),
            log_file: log_dir().join("anacondad.log"),
            exit_when_idle: anacondactl::launch::started_for_a_job(|name| std::env::var(name).ok()),
        },
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            anacondactl::errln!("anacondactl: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(anacondactl::commands::run(cli, target)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json && !anacondactl::json::answered() {
                anacondactl::json::print(&ErrorJson::from(&e));
            }
            anacondactl::errln!("anacondactl: {e}");
            ExitCode::from(e.code())
        }
    }
}

/// What clap found wrong with the command line (or the help it was asked for). Under
/// `--json` a usage error is also a JSON error on standard output, as every other failure is.
fn usage_error(e: &clap::Error, args: &[std::ffi::OsString]) -> ExitCode {
    use clap::error::ErrorKind;
    let asked_for_text = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !asked_for_text && args.iter().skip(1).any(|a| a == "--json") {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("bad usage");
        let error = CliError::new(ExitKind::Usage, first.trim_start_matches("error: "));
        anacondactl::json::print(&ErrorJson::from(&error));
    }
    e.exit()
}

/// Lets a closed pipe end the process quietly, as for any Unix filter (`anacondactl token
/// list | head -1`), where Rust would panic on the failed write to stdout. SIGPIPE itself stays
/// ignored: its default would also kill us on a write to a daemon connection that just closed.
fn exit_quietly_on_broken_pipe() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or_default();
        if message.contains("Broken pipe") || message.contains("BrokenPipe") {
            // 128 + SIGPIPE, what a shell reports for a process ended by a closed pipe.
            std::process::exit(141);
        }
        default_hook(info);
    }));
}

/// `ANACONDAD_BIN`, else `anacondad` next to this executable, else `anacondad` on PATH.
fn daemon_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("ANACONDAD_BIN").filter(|v| !v.is_empty()) {
        return PathBuf::from(bin);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()
                .map(|dir| dir.join(format!("anacondad{}", std::env::consts::EXE_SUFFIX)))
        })
        .filter(|bin| bin.is_file())
        .unwrap_or_else(|| PathBuf::from("anacondad"))
}

/// Where a daemon started by us logs: the platform's log directory
/// ([`anacondad_proto::dirs`]), else the temporary directory.
fn log_dir() -> PathBuf {
    anacondad_proto::dirs::UserDirs::from_process()
        .map(|d| d.log_dir)
        .unwrap_or_else(|| std::env::temp_dir().join("anacondad"))
}
