//! `anacondad`: reads the environment and configuration once, takes the socket, and serves
//! until SIGTERM, SIGINT or the `Shutdown` RPC.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anacondad::api::{AnacondaClient, ApiConfig, ProxyConfig};
use anacondad::config::{EnvSnapshot, Paths, Settings};
use anacondad::context::DaemonContext;
use anacondad::events::EventBus;
use anacondad::manager::{CredentialManager, ManagerOptions};
use anacondad::scheduler::RefreshScheduler;
use anacondad::secret::Secret;
use anacondad::server::{self, BindError, BoundSocket};
use anacondad::store::StoreOptions;
use anacondad::watcher::CondarcWatcher;
use anacondad_proto::socket::{SocketEnv, current_uid};
use anyhow::Context as _;
use clap::Parser;
use tokio_util::sync::CancellationToken;

/// Exit codes, also listed in `anacondad --help`.
const EXIT_FAILURE: u8 = 1;
const EXIT_ALREADY_RUNNING: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "anacondad",
    version,
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
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging();
    if args.spawned {
        // Out of the launching terminal's session, so its hang-up or Ctrl-C does not reach us.
        if let Err(e) = rustix::process::setsid() {
            tracing::warn!(error = %e, "could not start a new session");
        }
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = match e.downcast_ref::<BindError>() {
                Some(BindError::AlreadyRunning { .. }) => EXIT_ALREADY_RUNNING,
                _ => EXIT_FAILURE,
            };
            eprintln!("anacondad: {e:#}");
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
    anacondad::accept::raise_open_file_limit();
    let env = EnvSnapshot::from_process();
    let socket_env = SocketEnv::from_process();
    let uid = current_uid();
    let mut activation = listenfd::ListenFd::from_env();
    let activated = activation
        .take_unix_listener(0)
        .context("reading the socket passed by systemd (LISTEN_FDS)")?;
    let socket_path = match (&activated, &args.socket) {
        (Some(listener), None) => listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(PathBuf::from))
            .unwrap_or_else(|| socket_env.default_socket_path()),
        _ => socket_env.resolve(args.socket.as_deref()),
    };
    let paths = Paths::resolve(&env, socket_path.clone())?;
    let settings = Settings::load(&paths.config_file, &env)?;
    let events = EventBus::new();
    let manager = Arc::new(build_manager(&env, &paths, &settings, events.clone())?);
    let socket = match activated {
        Some(listener) => BoundSocket::from_activation(listener, &socket_path)?,
        None => BoundSocket::bind(&socket_path, uid)?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        spawn_signal_handlers(shutdown.clone())?;
        let ctx = Arc::new(DaemonContext::new(
            paths,
            settings,
            manager.clone(),
            events,
            shutdown,
        ));
        // Open the store now, so `status` can say where secrets live, then keep credentials
        // fresh; a slow keychain probe must not delay readiness.
        let scheduler = RefreshScheduler::new(manager.clone(), ctx.shutdown.clone());
        let watcher = CondarcWatcher::new(
            ctx.paths.conda_user_config.clone(),
            ctx.paths.condarc.clone(),
            ctx.condarc_target(None).settings,
            manager.clone(),
            ctx.events.clone(),
            ctx.condarc_baseline.clone(),
            ctx.shutdown.clone(),
        );
        tokio::spawn(watcher.run());
        tokio::spawn(async move {
            if let Err(e) = manager.store().await {
                tracing::warn!("the credential store is not usable yet: {e}");
            }
            scheduler.run().await;
        });
        let notify_stdout = args.spawned;
        let ready = move || {
            if notify_stdout {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "ready {} {}",
                    std::process::id(),
                    socket_path.display()
                );
                let _ = out.flush();
            }
            if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
                tracing::warn!(error = %e, "could not notify systemd of readiness");
            }
        };
        server::run(socket, ctx, uid, ready).await?;
        tracing::info!("stopped");
        Ok::<_, anyhow::Error>(())
    });
    // A keychain call that hung (locked keychain) holds a blocking thread; do not wait for it.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// The API client and the credential manager, from the configuration and the existing
/// client's environment variables (`ANACONDA_AUTH_*`, `CONDA_TOKEN_REPO_URL`, which win).
fn build_manager(
    env: &EnvSnapshot,
    paths: &Paths,
    settings: &Settings,
    events: EventBus,
) -> anyhow::Result<CredentialManager> {
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    let mut api = ApiConfig::new(anacondad_proto::CRATE_VERSION, hostname);
    if let Some(domain) = &settings.domain {
        api.domain = domain.clone();
    }
    if let Some(repo_url) = &settings.repo_url {
        api.repo_url = repo_url.clone();
    }
    if let Some(verify) = settings.ssl_verify {
        api.ssl_verify = verify;
    }
    api.ca_bundle = settings.ca_bundle.clone();
    if let Some(proxy) = &settings.proxy {
        api.proxy = ProxyConfig::Url(Secret::new(proxy.clone()));
    }
    let env_map: HashMap<String, String> = env
        .map()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    api.apply_env(&env_map);
    let client = AnacondaClient::new(&api).context("configuring the Anaconda service client")?;
    let mut store = StoreOptions::new(settings.storage, &paths.anaconda_keyring);
    store.env_api_key = env.get("ANACONDA_AUTH_API_KEY").map(Secret::new);
    store.timeout = settings.keychain_timeout();
    let options = ManagerOptions {
        store,
        state_file: paths.state_file(),
        refresh_lead_fraction: settings.refresh_lead_fraction,
    };
    Ok(CredentialManager::new(client, options, events)?)
}

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
