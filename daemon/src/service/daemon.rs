//! `DaemonService`: status, events, `doctor`'s diagnosis and shutdown.

use std::sync::Arc;

use anacondad_proto::v1::{
    AddSiteRequest, AddSiteResponse, AlignAuthStorageRequest, AlignAuthStorageResponse,
    DiagnoseRequest, DiagnoseResponse, EventKind, ListSitesRequest, ListSitesResponse,
    RemoveSiteRequest, RemoveSiteResponse, ShowConfigRequest, ShowConfigResponse, ShutdownRequest,
    ShutdownResponse, StatusRequest, StatusResponse, WatchRequest, WatchResponse,
    daemon_service_server::DaemonService,
};
use anacondad_proto::{CRATE_VERSION, PROTOCOL_VERSION};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::convert;
use crate::daemon::Daemon;

#[derive(Debug)]
pub struct DaemonApi {
    daemon: Arc<Daemon>,
}

impl DaemonApi {
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }
}

#[tonic::async_trait]
impl DaemonService for DaemonApi {
    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        let daemon = &self.daemon;
        // A store that cannot be read (a locked keychain) is said as such, not as "not
        // logged in, no tokens".
        let unreadable = daemon.vault.snapshot().await.err();
        let tokens = daemon.tokens.list().await.unwrap_or_default();
        let mut storage = convert::storage(&daemon.vault.storage_view());
        let mut login = convert::login(&daemon.account.login_view().await, daemon.clock.now());
        if let Some(e) = &unreadable {
            login.set_state(anacondad_proto::v1::LoginState::StoreUnreadable);
            if storage.warning.is_empty() {
                storage.warning = format!("the stored credentials cannot be read now: {e}");
            }
        }
        let stored = tokens.iter().map(|t| t.org.clone()).collect();
        Ok(Response::new(StatusResponse {
            daemon_version: CRATE_VERSION.to_owned(),
            protocol_version: PROTOCOL_VERSION,
            pid: std::process::id(),
            uptime_seconds: daemon.uptime_seconds(),
            socket_path: daemon.config.paths.socket.display().to_string(),
            storage: Some(storage),
            login: Some(login),
            tokens: tokens.iter().map(convert::token).collect(),
            condarc: Some(convert::condarc_status(&daemon.conda.status(&stored).await)),
            last_error: daemon.last_error().unwrap_or_default(),
            repo_url: daemon.vault.repo().to_string(),
            exports: super::export::active_exports(daemon),
            notices: daemon.vault.notes(),
        }))
    }

    async fn watch(
        &self,
        _: Request<WatchRequest>,
    ) -> Result<Response<BoxStream<WatchResponse>>, Status> {
        let clock = self.daemon.clock.clone();
        let events =
            BroadcastStream::new(self.daemon.events.subscribe()).map(move |item| match item {
                Ok(event) => Ok(event),
                Err(BroadcastStreamRecvError::Lagged(missed)) => Ok(WatchResponse {
                    at: clock.now().as_second(),
                    kind: EventKind::EventsDropped.into(),
                    message: format!(
                        "{missed} events were dropped because this watcher fell behind"
                    ),
                    ..Default::default()
                }),
            });
        let until_shutdown =
            futures::StreamExt::take_until(events, self.daemon.shutdown.clone().cancelled_owned());
        Ok(Response::new(Box::pin(until_shutdown)))
    }

    async fn diagnose(
        &self,
        _: Request<DiagnoseRequest>,
    ) -> Result<Response<DiagnoseResponse>, Status> {
        let diagnosis = crate::diagnose::diagnose(&self.daemon).await;
        Ok(Response::new(convert::diagnosis(&diagnosis)))
    }

    async fn shutdown(
        &self,
        _: Request<ShutdownRequest>,
    ) -> Result<Response<ShutdownResponse>, Status> {
        tracing::info!("shutdown requested over the socket");
        self.daemon
            .events
            .publish(EventKind::ShuttingDown, "", "", "the daemon is stopping");
        self.daemon.shutdown.cancel();
        Ok(Response::new(ShutdownResponse {}))
    }

    async fn show_config(
        &self,
        req: Request<ShowConfigRequest>,
    ) -> Result<Response<ShowConfigResponse>, Status> {
        super::config::show(&self.daemon.config, req.get_ref()).map(Response::new)
    }

    async fn list_sites(
        &self,
        _: Request<ListSitesRequest>,
    ) -> Result<Response<ListSitesResponse>, Status> {
        super::config::list(&self.daemon).await.map(Response::new)
    }

    async fn add_site(
        &self,
        req: Request<AddSiteRequest>,
    ) -> Result<Response<AddSiteResponse>, Status> {
        super::config::add(&self.daemon.config, req.get_ref()).map(Response::new)
    }

    async fn remove_site(
        &self,
        req: Request<RemoveSiteRequest>,
    ) -> Result<Response<RemoveSiteResponse>, Status> {
        super::config::remove(&self.daemon, req.get_ref())
            .await
            .map(Response::new)
    }

    async fn align_auth_storage(
        &self,
        req: Request<AlignAuthStorageRequest>,
    ) -> Result<Response<AlignAuthStorageResponse>, Status> {
        super::config::align(&self.daemon, req.get_ref())
            .await
            .map(Response::new)
    }
}
