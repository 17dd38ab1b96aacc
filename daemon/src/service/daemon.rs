//! `DaemonService`: status, events and shutdown.

use std::sync::Arc;

use anacondad_proto::v1::{
    EventKind, ShutdownRequest, ShutdownResponse, StatusRequest, StatusResponse, WatchRequest,
    WatchResponse, daemon_service_server::DaemonService,
};
use anacondad_proto::{CRATE_VERSION, PROTOCOL_VERSION};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::convert;
use crate::context::DaemonContext;

/// The state of conda's user file, as `status` shows it; a file that cannot be read or
/// parsed is reported, not an error of `status`.
async fn condarc_status(ctx: &DaemonContext) -> anacondad_proto::v1::CondarcStatus {
    let target = ctx.condarc_target(None);
    let path = target.path.display().to_string();
    let orgs_without_token =
        crate::watcher::orgs_without_token(&ctx.paths.conda_user_config, &ctx.manager).await;
    match super::condarc::check(target).await {
        Ok((status, _)) => anacondad_proto::v1::CondarcStatus {
            orgs_without_token,
            ..status
        },
        Err(e) => anacondad_proto::v1::CondarcStatus {
            state: anacondad_proto::v1::CondarcState::Malformed.into(),
            path,
            detail: e.message().to_owned(),
            orgs_without_token,
        },
    }
}

#[derive(Debug)]
pub struct DaemonApi {
    ctx: Arc<DaemonContext>,
}

impl DaemonApi {
    pub fn new(ctx: Arc<DaemonContext>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl DaemonService for DaemonApi {
    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        let ctx = &self.ctx;
        Ok(Response::new(StatusResponse {
            daemon_version: CRATE_VERSION.to_owned(),
            protocol_version: PROTOCOL_VERSION,
            pid: std::process::id(),
            uptime_seconds: ctx.uptime_seconds(),
            socket_path: ctx.paths.socket.display().to_string(),
            storage: Some(convert::storage(&ctx.manager.storage_view())),
            login: Some(convert::login(&ctx.manager.login_view().await)),
            tokens: ctx
                .manager
                .list_tokens()
                .await
                .map(|t| t.iter().map(convert::token).collect())
                .unwrap_or_default(),
            condarc: Some(condarc_status(ctx).await),
            last_error: ctx.last_error().unwrap_or_default(),
            repo_url: ctx.manager.repo_url().to_string(),
        }))
    }

    async fn watch(
        &self,
        _: Request<WatchRequest>,
    ) -> Result<Response<BoxStream<WatchResponse>>, Status> {
        let events = BroadcastStream::new(self.ctx.events.subscribe()).map(|item| match item {
            Ok(event) => Ok(event),
            Err(BroadcastStreamRecvError::Lagged(missed)) => Ok(WatchResponse {
                at: jiff::Timestamp::now().as_second(),
                kind: EventKind::EventsDropped.into(),
                message: format!("{missed} events were dropped because this watcher fell behind"),
                ..Default::default()
            }),
        });
        let until_shutdown =
            futures::StreamExt::take_until(events, self.ctx.shutdown.clone().cancelled_owned());
        Ok(Response::new(Box::pin(until_shutdown)))
    }

    async fn shutdown(
        &self,
        _: Request<ShutdownRequest>,
    ) -> Result<Response<ShutdownResponse>, Status> {
        tracing::info!("shutdown requested over the socket");
        self.ctx
            .events
            .publish(EventKind::ShuttingDown, "", "", "the daemon is stopping");
        self.ctx.shutdown.cancel();
        Ok(Response::new(ShutdownResponse {}))
    }
}
