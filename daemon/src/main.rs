//! `anacondad`: reads the environment and configuration once, takes the socket, and serves
//! until SIGTERM, SIGINT or the `Shutdown` RPC.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anacondad::RunError;
use anacondad::clock::SystemClock;
use anacondad::config::origin::Source;
use anacondad::config::{DaemonConfig, EnvSnapshot, Layer, StartedBy};
use anacondad::transport::{BindError, BoundSocket};
use anacondad_proto::socket::{SocketEnv, current_uid};
use anyhow::Context as _;
use clap::Parser;
use tokio_util::sync::CancellationToken;

mod manpage;

/// Exit codes, also listed in `anacondad --help`.
const EXIT_FAILURE: u8 = 1;
const EXIT_ALREADY_RUNNING: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "anacondad",
    version = anacondad_proto::build_version(),
    about = "Per-user daemon that owns your Anaconda credentials",
    after_help = "Exit codes: 0 stopped cleanly; 1 failed (the message says why); 2 bad usage; \
                  3 another anacondad already serves the socket.\n\
                  Most users never start it by hand: `anacondactl` starts it when needed."
)]
struct Args {
    /// Stay attached to the terminal and log to stderr (the only mode; kept for service
    /// managers and scripts that pass it).
    #[arg(long)]
    foreground: bool,
    /// Socket to serve [default: $XDG_RUNTIME_DIR/anacondad/anacondad.sock].
    #[arg(long, env = "ANACONDAD_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Started by `anacondactl`: leave its session, and print `ready <pid> <socket>` on stdout
    /// once the socket accepts calls.
    #[arg(long, hide = true)]
    spawned: bool,
    /// Stop by itself once no client has been connected, and nothing has been under way, for
    /// `idle_exit_secs` (300 by default). `anacondactl` passes it when it starts the daemon
    /// for a command that has no terminal (a CI job, a container build) or under CI=true.
    #[arg(long)]
    exit_when_idle: bool,
    /// Write the manual page anacondad.1 into DIR and exit; packaging runs it on the built
    /// binary, so the page always matches this definition.
    #[arg(long, hide = true, value_name = "DIR")]
    write_manpage: Option<PathBuf>,
}

/// `anacondad.1` in `dir`, from the same definition as `--help`.
fn write_manpage(dir: &std::path::Path) -> anyhow::Result<()> {
    use clap::CommandFactory;
    let path = manpage::write(Args::command(), dir)
        .with_context(|| format!("cannot write anacondad.1 into {}", dir.display()))?;
    println!("{}", path.display());
    Ok(())
}

/// Where this process's log goes, for messages that send the user there: the file standard
/// error is (a start by `anacondactl`, or the user's redirect), else the journal under
/// systemd; `None` when it cannot be told.
fn log_location(env: &EnvSnapshot) -> Option<String> {
    #[cfg(target_os = "linux")]
    if let Ok(path) = std::fs::read_link("/proc/self/fd/2")
        && path.is_absolute()
        && path.is_file()
    {
        return Some(path.display().to_string());
    }
    env.get("JOURNAL_STREAM")
        .map(|_| "the journal (`journalctl --user -u anacondad`)".to_owned())
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(dir) = &args.write_manpage {
        return match write_manpage(dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("anacondad: {}", anacondad::error::one_line(e.chain()));
                ExitCode::from(EXIT_FAILURE)
            }
        };
    }
    init_logging();
    #[cfg(unix)]
    if args.spawned {
        // Out of the launching terminal's session, so its hang-up or Ctrl-C does not reach us.
        // (On Windows the CLI starts us detached, with no console, instead.)
        if let Err(e) = rustix::process::setsid() {
            tracing::warn!(error = %e, "could not start a new session");
        }
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let already_running = matches!(
                e.downcast_ref::<BindError>(),
                Some(BindError::AlreadyRunning { .. })
            ) || matches!(
                e.downcast_ref::<RunError>(),
                Some(RunError::Bind(BindError::AlreadyRunning { .. }))
            );
            let code = if already_running {
                EXIT_ALREADY_RUNNING
            } else {
                EXIT_FAILURE
            };
            eprintln!("anacondad: {}", anacondad::error::one_line(e.chain()));
            ExitCode::from(code)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

fn run(args: Args) -> anyhow::Result<()> {
    #[cfg(unix)]
    anacondad::transport::accept::raise_open_file_limit();
    let env = EnvSnapshot::from_process();
    let socket_env = SocketEnv::from_process();
    let uid = current_uid();
    let activated = activated_listener()?;
    let socket_path = match (&activated, &args.socket) {
        (Some(listener), None) => {
            activated_path(listener).unwrap_or_else(|| socket_env.default_socket_path())
        }
        _ => socket_env.resolve(args.socket.as_deref()),
    };
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    // The flags are the top layer of the configuration. clap reads `--socket` and
    // ANACONDAD_SOCKET into one value; `config show` tells them apart.
    let mut flags = Layer::default();
    let socket_flag = std::env::args_os()
        .any(|a| a == "--socket" || a.to_string_lossy().starts_with("--socket="));
    if socket_flag {
        flags.locations.socket = Some(Source::Flag("--socket".into()).says(socket_path.clone()));
    }
    if args.exit_when_idle {
        flags.settings.exit_when_idle = Some(Source::Flag("--exit-when-idle".into()).says(true));
    }
    let mut config =
        DaemonConfig::resolve_with_flags(&env, socket_path.clone(), &hostname, &flags)?;
    if args.spawned {
        config.exit_when_idle_with_memory_storage();
    }
    config.started_by = if activated.is_some() {
        StartedBy::SocketActivation
    } else if args.spawned {
        StartedBy::OnDemand
    } else if env.get("INVOCATION_ID").is_some() {
        StartedBy::SystemdService
    } else {
        StartedBy::Foreground
    };
    config.store.log = log_location(&env);
    let socket = match activated {
        Some(listener) => BoundSocket::from_activation(listener, &socket_path, uid)?,
        None => BoundSocket::bind(&socket_path, uid)?,
    };
    // Before the first call is served: the CLI compares it with the installed version.
    let _version_file = anacondad::version_file::VersionFile::write(&socket_path)?;
    // One worker: a lookup is ~80k instructions, so one core serves tens of thousands a
    // second, and the clients asking (conda processes) need the other cores; a second worker
    // only adds wake-ups between the two (a quarter fewer `epoll_wait`s and half the `futex`
    // calls per lookup with one) and a thread's memory. Store and file work that blocks runs
    // on the blocking pool, not on the worker.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let notify_stdout = args.spawned;
    let warnings = config.warnings.clone();
    let ready = move || {
        if notify_stdout {
            let mut out = std::io::stdout().lock();
            // Before `ready`, one line each: the command that started us shows them.
            for warning in &warnings {
                let _ = writeln!(out, "warning {}", warning.replace(['\n', '\r'], " "));
            }
            let _ = writeln!(
                out,
                "ready {} {}",
                std::process::id(),
                socket_path.display()
            );
            let _ = out.flush();
        }
        #[cfg(target_os = "linux")]
        if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
            tracing::warn!(error = %e, "could not notify systemd of readiness");
        }
    };
    let result = runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        spawn_signal_handlers(shutdown.clone())?;
        anacondad::run(config, socket, Arc::new(SystemClock), shutdown, ready).await?;
        tracing::info!("stopped");
        Ok::<_, anyhow::Error>(())
    });
    // Every task that must finish has (`anacondad::run` waits for them); a keychain call that hung
    // (locked keychain) may still hold a blocking thread: do not wait for it.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// A listening socket handed over by a service manager.
#[cfg(unix)]
type ActivatedListener = std::os::unix::net::UnixListener;
#[cfg(windows)]
use anacondad::transport::ActivatedListener;

/// The socket systemd passed (`LISTEN_FDS`), if any; socket activation exists on Linux only.
#[cfg(target_os = "linux")]
fn activated_listener() -> anyhow::Result<Option<ActivatedListener>> {
    listenfd::ListenFd::from_env()
        .take_unix_listener(0)
        .context("reading the socket passed by systemd (LISTEN_FDS)")
}

#[cfg(not(target_os = "linux"))]
fn activated_listener() -> anyhow::Result<Option<ActivatedListener>> {
    Ok(None)
}

#[cfg(unix)]
fn activated_path(listener: &ActivatedListener) -> Option<PathBuf> {
    listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(PathBuf::from))
}

#[cfg(windows)]
fn activated_path(listener: &ActivatedListener) -> Option<PathBuf> {
    match *listener {}
}

#[cfg(unix)]
fn spawn_signal_handlers(shutdown: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received; stopping"),
            _ = int.recv() => tracing::info!("SIGINT received; stopping"),
        }
        shutdown.cancel();
    });
    Ok(())
}

#[cfg(windows)]
fn spawn_signal_handlers(shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut ctrl_c = tokio::signal::windows::ctrl_c().context("installing the Ctrl-C handler")?;
    let mut close = tokio::signal::windows::ctrl_close().context("installing the close handler")?;
    let mut logoff =
        tokio::signal::windows::ctrl_logoff().context("installing the log-off handler")?;
    let mut stop =
        tokio::signal::windows::ctrl_shutdown().context("installing the shutdown handler")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = ctrl_c.recv() => tracing::info!("Ctrl-C received; stopping"),
            _ = close.recv() => tracing::info!("console closed; stopping"),
            _ = logoff.recv() => tracing::info!("user logging off; stopping"),
            _ = stop.recv() => tracing::info!("system shutting down; stopping"),
        }
        shutdown.cancel();
    });
    Ok(())
}
