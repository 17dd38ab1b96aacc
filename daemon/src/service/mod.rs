//! The gRPC services, and the rules every call passes through (protocol version check, message
//! size cap).

mod account;
mod channels;
mod condarc;
mod config;
mod convert;
mod credentials;
mod daemon;
pub mod error;
mod export;
mod keyring;
mod keys;
mod tokens;

use std::sync::Arc;

use anacondad_proto::v1::{
    account_service_server::AccountServiceServer, channel_service_server::ChannelServiceServer,
    condarc_service_server::CondarcServiceServer,
    credential_service_server::CredentialServiceServer, daemon_service_server::DaemonServiceServer,
    export_service_server::ExportServiceServer, keyring_service_server::KeyringServiceServer,
    token_service_server::TokenServiceServer,
};
use anacondad_proto::{MAX_MESSAGE_BYTES, PROTOCOL_METADATA_KEY, PROTOCOL_VERSION};
use tonic::service::Routes;
use tonic::{Request, Status};

use crate::daemon::Daemon;

/// Every service, each with the message cap; serve them behind [`check_protocol`].
pub fn routes(shared: Arc<Daemon>) -> Routes {
    let daemon = DaemonServiceServer::new(daemon::DaemonApi::new(shared.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let account = AccountServiceServer::new(account::AccountApi::new(shared.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let tokens = TokenServiceServer::new(tokens::TokenApi::new(shared.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let condarc = CondarcServiceServer::new(condarc::CondarcApi::new(shared.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let channels = ChannelServiceServer::new(channels::ChannelApi::new(shared.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let export = ExportServiceServer::new(export::ExportApi::new(shared.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let keys = anacondad_proto::v1::key_service_server::KeyServiceServer::new(keys::KeyApi::new(
        shared.clone(),
    ))
    .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let keyring = KeyringServiceServer::new(keyring::KeyringApi::new(shared.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let credentials = CredentialServiceServer::new(credentials::CredentialApi::new(shared))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let mut routes = Routes::default();
    routes = routes
        .add_service(daemon)
        .add_service(account)
        .add_service(tokens)
        .add_service(condarc)
        .add_service(channels)
        .add_service(credentials)
        .add_service(keys)
        .add_service(export)
        .add_service(keyring);
    routes
}

/// A user-facing call's time limit (`command_timeout_secs`) and its activity record, named by
/// the request's `anacondad-request-id` so the CLI can show its progress.
#[derive(Debug)]
pub struct Deadline<'a> {
    daemon: &'a Daemon,
    request_id: Option<String>,
    /// The site the request names (`anacondad-site`), for [`key_refused_where_it_comes_from`].
    site: Option<String>,
    limit: std::time::Duration,
}

/// The deadline of the call `request` starts.
pub fn deadline<'a, T>(daemon: &'a Daemon, request: &Request<T>) -> Deadline<'a> {
    Deadline {
        daemon,
        request_id: request
            .metadata()
            .get(anacondad_proto::REQUEST_ID_METADATA_KEY)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        site: site_header(request).map(str::to_owned),
        limit: daemon.config.settings.command_timeout(),
    }
}

impl Deadline<'_> {
    /// A limit shorter than the configured one (`doctor` keeps its own).
    pub fn at_most(mut self, limit: std::time::Duration) -> Self {
        self.limit = self.limit.min(limit);
        self
    }

    /// Runs `call` with its activity recorded; past the limit, answers `DEADLINE_EXCEEDED`
    /// saying what the call was waiting for. Work spawned to run to its end (a reissue and
    /// its store) goes on.
    pub async fn run<T>(
        self,
        call: impl std::future::Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let (activity, _registered) = self
            .daemon
            .activities
            .register(self.request_id.as_deref(), self.limit);
        let call = std::pin::pin!(crate::activity::scope(Some(activity.clone()), call));
        tokio::select! {
            answer = call => answer.map_err(|status| {
                key_refused_where_it_comes_from(self.daemon, self.site.as_deref(), status)
            }),
            () = tokio::time::sleep(self.limit) => {
                // Read while the call still lives: its wait is cleared when it is dropped.
                let message = activity.timed_out("command_timeout_secs");
                tracing::info!("{message}");
                Err(error::status(
                    tonic::Code::DeadlineExceeded,
                    anacondad_proto::v1::ErrorReason::Service,
                    "",
                    message,
                ))
            }
        }
    }
}

/// A call refused for a new login whose API key comes from the environment, a secret file,
/// `.env` or anaconda-auth's config: `anacondactl login` cannot replace such a key (the source
/// wins over what a login stores), so the message sends the user to the source instead.
fn key_refused_where_it_comes_from(daemon: &Daemon, site: Option<&str>, status: Status) -> Status {
    use anacondad_proto::v1::{ErrorDetail, ErrorReason};
    use prost::Message as _;
    let login_required = ErrorDetail::decode(status.details())
        .is_ok_and(|detail| detail.reason() == ErrorReason::LoginRequired);
    let origin = daemon
        .site_named(site)
        .ok()
        .and_then(|site| site.vault.api_key_origin().map(str::to_owned));
    match origin {
        Some(origin) if login_required => {
            let mut replaced = Status::with_details(
                status.code(),
                format!(
                    "the API key from {origin} is not accepted by the Anaconda service (expired, \
                     revoked or mistyped); put a valid key there, or remove it to use the key \
                     `anacondactl login` stores"
                ),
                status.details().to_vec().into(),
            );
            *replaced.metadata_mut() = status.metadata().clone();
            replaced
        }
        _ => status,
    }
}

/// Before a call that uses the site's API key: renews a lapsed key that can be renewed, so
/// the call is answered with the renewed key (a failed renewal is logged, and the call then
/// fails as it would have, asking for a login).
pub async fn renew_lapsed_api_key(site: &crate::sites::Site) {
    if let Err(e) = site.account.renew_if_lapsed().await {
        tracing::warn!(error = %e, "renewing the lapsed API key before answering failed");
    }
}

/// The site name a request's `anacondad-site` header carries (`anacondactl --at SITE`).
fn site_header<T>(request: &Request<T>) -> Option<&str> {
    request
        .metadata()
        .get(crate::config::sites::SITE_HEADER)
        .and_then(|v| v.to_str().ok())
}

/// The site a request names with the `anacondad-site` header (`anacondactl --at SITE`), else
/// the default one; an unknown name is refused with the names served.
#[allow(clippy::result_large_err)]
pub fn site_of<'a, T>(
    daemon: &'a Daemon,
    request: &Request<T>,
) -> Result<&'a Arc<crate::sites::Site>, Status> {
    daemon.site_named(site_header(request)).map_err(|e| {
        error::status(
            tonic::Code::NotFound,
            anacondad_proto::v1::ErrorReason::UnknownSite,
            "",
            e.to_string(),
        )
    })
}

/// Refuses a caller that speaks another protocol version, naming both. A caller that sends no
/// version (a generic gRPC tool) is served.
#[allow(clippy::result_large_err)]
pub fn check_protocol(req: Request<()>) -> Result<Request<()>, Status> {
    let Some(value) = req.metadata().get(PROTOCOL_METADATA_KEY) else {
        return Ok(req);
    };
    let theirs = value.to_str().ok().and_then(|v| v.parse::<u32>().ok());
    if theirs == Some(PROTOCOL_VERSION) {
        return Ok(req);
    }
    let theirs = value.to_str().unwrap_or("(unreadable)");
    Err(error::status(
        tonic::Code::FailedPrecondition,
        anacondad_proto::v1::ErrorReason::ProtocolMismatch,
        "",
        format!(
            "protocol mismatch: the client speaks anacondad protocol {theirs}, the running daemon \
         speaks protocol {PROTOCOL_VERSION}; restart the daemon with `anacondactl daemon stop` \
         (the next command starts the installed one), or upgrade the client"
        ),
    ))
}
