//! anaconda-emulator: a local stand-in of the hosted Anaconda service (login, API keys, account,
//! organisations, repo tokens and the package repository), with test controls under `/_emulator/`.
//!
//! It answers as the design note anaconda-service.md describes. Run it in-process with
//! [`start`], or as the `anaconda-emulator` binary (see `crate::spawn_emulator`).
//!
//! Endpoints (one loopback port): `/.well-known/openid-configuration`; OIDC under
//! `/api/auth/oauth2/` (`device/auth`, `auth`, `token`); `/api/auth/api-keys`,
//! `/api/iam/api-keys`, `/api/account`, `/api/auth/sessions/whoami` (`ana`'s),
//! `/api/organizations/my`,
//! `/api/organizations/<org>/ce/current-token`; organisation channels (`/api/auth/organizations/my`,
//! `/api/repo/account/channels`, `/api/repo/channels/<ns>/subchannels`: the `channels`
//! module); the repository under `/repo/` and
//! `/t/<token>/repo/`; the wheels index (PEP 503, basic auth `__token__:<API key>`) under
//! `/repo/anaconda-wheels/` and a Package Security Manager's PyPI channels under
//! `/api/repo/<channel>/` (the `wheels` module); test controls under `/_emulator/` (see the `control` module).

mod api;
mod api_keys;
mod channels;
mod control;
pub mod jwt;
mod oidc;
mod repo;
pub mod seed;
mod state;
mod tls;
mod wheels;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub use channels::MAX_PAGE as MAX_CHANNEL_PAGE;
pub use oidc::CLIENT_ID;
pub use repo::{ORG_ONLY_PACKAGE, PACKAGE_FILENAME, PACKAGES};
pub use seed::{Seed, SeedError};
pub use state::FaultAction;
pub use tls::TlsError;

/// Seconds in the default lifetime of repo tokens and API keys: about a year, as the service.
pub const DEFAULT_LIFETIME_SECS: u64 = 365 * 24 * 3600;

/// Whether a device code is approved as soon as it is issued or waits for a control call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceApproval {
    Auto,
    Manual,
}

/// Everything the emulator needs to start; the caller decides the listener.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Port on 127.0.0.1 for [`start`]; 0 picks a free one.
    pub port: u16,
    pub tls: bool,
    pub token_lifetime: Duration,
    pub api_key_lifetime: Duration,
    pub device_approval: DeviceApproval,
    /// The `interval` a device authorization answers with; 0 lets tests poll back to back.
    pub device_interval_secs: u64,
    pub device_expires_in_secs: u64,
    pub seed: Seed,
    /// Seconds added to the `Date` header of every answer: a service whose clock differs from
    /// this machine's (`doctor`'s clock check).
    pub date_offset_secs: i64,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            port: 0,
            tls: false,
            token_lifetime: Duration::from_secs(DEFAULT_LIFETIME_SECS),
            api_key_lifetime: Duration::from_secs(DEFAULT_LIFETIME_SECS),
            device_approval: DeviceApproval::Auto,
            device_interval_secs: 5,
            device_expires_in_secs: 600,
            seed: Seed::demo(),
            date_offset_secs: 0,
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("invalid seed: {0}")]
    Seed(#[from] SeedError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running emulator. Dropping it (or cancelling `shutdown`) stops it.
#[derive(Debug)]
pub struct EmulatorHandle {
    /// `http://127.0.0.1:<port>` or `https://...` with `tls`.
    pub base_url: String,
    /// The CA that signed the server certificate, when serving TLS.
    pub ca_pem: Option<String>,
    pub shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl EmulatorHandle {
    /// Stops the server and waits until it no longer accepts connections.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let _ = (&mut self.task).await;
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Masks a secret for logs: its first four characters, then `****`.
pub fn mask(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    if secret.chars().count() > 8 {
        format!("{head}****")
    } else {
        "****".into()
    }
}

/// The shared world, behind one lock: requests are tiny and never hold it across an await.
#[derive(Clone)]
pub(crate) struct Shared(Arc<Mutex<state::State>>);

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, state::State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Put into each request so the `drop` fault can close the connection it came on.
#[derive(Clone)]
pub(crate) struct ConnectionKiller(pub CancellationToken);

fn router(shared: Shared, date_offset_secs: i64) -> Router {
    use control::*;
    Router::new()
        .route("/.well-known/openid-configuration", get(oidc::discovery))
        .route(
            oidc::DEVICE_AUTHORIZATION_PATH,
            post(oidc::device_authorization),
        )
        .route(oidc::AUTHORIZATION_PATH, get(oidc::authorize))
        .route(oidc::TOKEN_PATH, post(oidc::token))
        .route(oidc::VERIFICATION_PATH, get(oidc::verification_page))
        .route("/app/local-login-success", get(oidc::login_result_page))
        .route("/app/local-login-error", get(oidc::login_result_page))
        .route(
            "/api/auth/api-keys",
            post(api_keys::create_api_key).get(api_keys::list_api_keys),
        )
        .route(
            "/api/auth/api-keys/{id}",
            axum::routing::delete(api_keys::delete_api_key),
        )
        .route("/api/iam/api-keys", post(api_keys::create_api_key))
        .route("/api/account", get(api::account))
        .route("/api/auth/sessions/whoami", get(api::whoami))
        .route("/api/organizations/my", get(api::my_organizations))
        .route(
            "/api/organizations/{org}/ce/current-token",
            get(api::get_current_token).put(api::put_current_token),
        )
        .route(
            "/api/auth/organizations/my",
            get(channels::my_organizations),
        )
        .route("/api/repo/account/channels", get(channels::account_channels))
        .route(
            "/api/repo/channels/{namespace}/subchannels",
            get(channels::namespace_channels),
        )
        .route("/repo/anaconda-wheels/{*rest}", get(wheels::serve))
        .route("/api/repo/{channel}/{*rest}", get(wheels::serve_psm))
        .route("/repo/{*rest}", get(repo::by_header))
        .route("/t/{token}/repo/{*rest}", get(repo::by_path_token))
        .route("/_emulator/faults", post(add_fault).delete(clear_faults))
        .route("/_emulator/counters", get(counters))
        .route("/_emulator/log", get(request_log))
        .route("/_emulator/reset", post(reset_counters))
        .route("/_emulator/device", get(list_device_codes))
        .route("/_emulator/device/approve", post(approve_device))
        .route("/_emulator/device/deny", post(deny_device))
        .route("/_emulator/device/expire", post(expire_device))
        .route("/_emulator/expire", post(expire_credential))
        .route(
            "/_emulator/orgs/{org}/token",
            get(org_token).post(issue_org_token),
        )
        .route("/_emulator/api-keys", post(mint_api_key))
        .route("/_emulator/channels", post(add_channel))
        .route(
            "/_emulator/channels/{org}/{name}",
            axum::routing::delete(remove_channel),
        )
        .route("/_emulator/channels/{org}/{name}/revoke", post(revoke_channel))
        .route("/_emulator/login", post(direct_login))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            faults_and_counters,
        ))
        .layer(axum::middleware::map_response(
            move |response: axum::response::Response| async move {
                dated(response, date_offset_secs)
            },
        ))
        .with_state(shared)
}

/// Sets `Date` to now plus `offset_secs` (hyper adds the true one when the answer has none).
fn dated(mut response: axum::response::Response, offset_secs: i64) -> axum::response::Response {
    if offset_secs != 0 {
        let when = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(offset_secs);
        let text = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&when)
            .unwrap_or_default();
        if let Ok(value) = axum::http::HeaderValue::from_str(&text) {
            response
                .headers_mut()
                .insert(axum::http::header::DATE, value);
        }
    }
    response
}

/// Serves `app` on `listener` until `shutdown` is cancelled, with TLS when an acceptor is given.
/// The caller binds, so a test or `main` chooses the address. Each connection gets a child of
/// `shutdown`, which the `drop` fault cancels to close that connection unanswered.
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
) {
    loop {
        let (stream, _) = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            },
        };
        let connection = shutdown.child_token();
        let killer = ConnectionKiller(connection.clone());
        let service = app
            .clone()
            .map_request(move |mut request: http::Request<_>| {
                request.extensions_mut().insert(killer.clone());
                request
            });
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = TowerToHyperService::new(service);
            let builder = auto::Builder::new(TokioExecutor::new());
            match tls {
                Some(acceptor) => {
                    let stream = tokio::select! {
                        () = connection.cancelled() => return,
                        s = acceptor.accept(stream) => match s {
                            Ok(s) => s,
                            Err(e) => {
                                tracing::debug!("TLS handshake failed: {e}");
                                return;
                            }
                        },
                    };
                    tokio::select! {
                        () = connection.cancelled() => {}
                        _ = builder.serve_connection_with_upgrades(TokioIo::new(stream), service) => {}
                    }
                }
                None => {
                    tokio::select! {
                        () = connection.cancelled() => {}
                        _ = builder.serve_connection_with_upgrades(TokioIo::new(stream), service) => {}
                    }
                }
            }
        });
    }
}

/// Binds `127.0.0.1:<config.port>` and serves the emulator in the background.
pub async fn start(config: EmulatorConfig) -> Result<EmulatorHandle, EmulatorError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], config.port));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| EmulatorError::Bind { addr, source })?;
    start_on(listener, config)
}

/// Serves the emulator on an already bound listener in the background.
pub fn start_on(
    listener: TcpListener,
    config: EmulatorConfig,
) -> Result<EmulatorHandle, EmulatorError> {
    config.seed.validate()?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            source,
        })?;
    let (acceptor, ca_pem) = if config.tls {
        let setup = tls::make_tls()?;
        (
            Some(tokio_rustls::TlsAcceptor::from(setup.config)),
            Some(setup.ca_pem),
        )
    } else {
        (None, None)
    };
    let scheme = if config.tls { "https" } else { "http" };
    let base_url = format!("{scheme}://127.0.0.1:{}", addr.port());
    let shared = Shared(Arc::new(Mutex::new(state::State::new(
        &config,
        base_url.clone(),
    ))));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(
        listener,
        router(shared, config.date_offset_secs),
        acceptor,
        shutdown.clone(),
    ));
    Ok(EmulatorHandle {
        base_url,
        ca_pem,
        shutdown,
        task,
    })
}
