//! `DaemonService`: status, events, `doctor`'s diagnosis and shutdown.

use std::sync::Arc;

use anacondad_proto::v1::{
    AddSiteRequest, AddSiteResponse, AlignAuthStorageRequest, AlignAuthStorageResponse,
    DiagnoseRequest, DiagnoseResponse, EventKind, GetActivityRequest, GetActivityResponse,
    ListSitesRequest, ListSitesResponse, RemoveSiteRequest, RemoveSiteResponse, ShowConfigRequest,
    ShowConfigResponse, ShutdownRequest, ShutdownResponse, SiteSummary, StatusRequest,
    StatusResponse, WatchRequest, WatchResponse, daemon_service_server::DaemonService,
};
use anacondad_proto::{CRATE_VERSION, PROTOCOL_VERSION};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::convert;
use crate::daemon::Daemon;
use crate::sites::SiteRuntime;

#[derive(Debug)]
pub struct DaemonApi {
    daemon: Arc<Daemon>,
}

impl DaemonApi {
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }
}

/// A site's storage, login and tokens. A store that cannot be read (a locked keychain) is said
/// as such, not as "not logged in, no tokens".
async fn site_status(
    daemon: &Daemon,
    site: &SiteRuntime,
) -> (
    Option<anacondad_proto::v1::StorageStatus>,
    anacondad_proto::v1::LoginStatus,
    Vec<crate::tokens::TokenView>,
) {
    let unreadable = site.vault.snapshot().await.err();
    let tokens = site.tokens.list().await.unwrap_or_default();
    let mut storage = convert::storage(&site.vault.storage_view());
    let mut login = convert::login(&site.account.login_view().await, daemon.clock.now());
    if let Some(e) = &unreadable {
        login.set_state(anacondad_proto::v1::LoginState::StoreUnreadable);
        if storage.warning.is_empty() {
            storage.warning = format!("the stored credentials cannot be read now: {e}");
        }
    }
    (Some(storage), login, tokens)
}

#[tonic::async_trait]
impl DaemonService for DaemonApi {
    async fn status(
        &self,
        request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let daemon = &self.daemon;
        let site = super::site_of(daemon, &request)?;
        let (mut storage, login, tokens) = site_status(daemon, site).await;
        let stored = tokens.iter().map(|t| t.org.clone()).collect();
        let mut sites = Vec::with_capacity(daemon.sites.len());
        for each in daemon.sites.iter() {
            let (_, login, tokens) = if std::ptr::eq(each.as_ref(), site.as_ref()) {
                (None, login.clone(), tokens.clone())
            } else {
                site_status(daemon, each).await
            };
            sites.push(SiteSummary {
                name: each.name().to_owned(),
                domain: each.domain().to_owned(),
                repo_url: each.vault.repo().to_string(),
                is_default: daemon.sites.is_default(each),
                login: Some(login),
                tokens: tokens.iter().map(convert::token).collect(),
            });
        }
        let storage = storage.take().unwrap_or_default();
        Ok(Response::new(StatusResponse {
            daemon_version: CRATE_VERSION.to_owned(),
            protocol_version: PROTOCOL_VERSION,
            pid: std::process::id(),
            uptime_seconds: daemon.uptime_seconds(),
            socket_path: daemon.config.paths.socket.display().to_string(),
            storage: Some(storage),
            login: Some(login),
            tokens: tokens.iter().map(convert::token).collect(),
            condarc: Some(convert::condarc_status(&site.conda.status(&stored).await)),
            last_error: daemon.last_error().unwrap_or_default(),
            repo_url: site.vault.repo().to_string(),
            exports: super::export::active_exports(daemon),
            notices: site.vault.notes(),
            site: site.name().to_owned(),
            sites,
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
        request: Request<DiagnoseRequest>,
    ) -> Result<Response<DiagnoseResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let deadline = super::deadline(&self.daemon, &request);
        deadline
            .run(async {
                let inputs =
                    crate::diagnose::Inputs::of(&self.daemon.config, self.daemon.clock.as_ref());
                let diagnosis = crate::diagnose::diagnose(&inputs, site).await;
                Ok(Response::new(convert::diagnosis(&diagnosis)))
            })
            .await
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
        super::config::add(&self.daemon.config, req.get_ref())
            .await
            .map(Response::new)
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
        let site = super::site_of(&self.daemon, &req)?;
        super::config::align(&self.daemon, site, req.get_ref())
            .await
            .map(Response::new)
    }

    async fn get_activity(
        &self,
        request: Request<GetActivityRequest>,
    ) -> Result<Response<GetActivityResponse>, Status> {
        let Some(seen) = self.daemon.activities.get(&request.get_ref().request_id) else {
            return Ok(Response::new(GetActivityResponse::default()));
        };
        let millis = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Ok(Response::new(GetActivityResponse {
            found: true,
            steps_done: seen.steps_done,
            waiting_for: seen.waiting_for.unwrap_or_default(),
            attempt: seen.attempt,
            max_attempts: seen.max_attempts,
            waiting_ms: millis(seen.waiting),
            elapsed_ms: millis(seen.elapsed),
            deadline_ms: millis(seen.deadline),
        }))
    }
}
