//! `ExportService`: turns an export on or off; and the wire form of an export's status, which
//! `Status` and `ListTokens` carry too.

use std::sync::Arc;

use anacondad_proto::v1 as pb;
use anacondad_proto::v1::export_service_server::ExportService;
use tonic::{Request, Response, Status};

use crate::daemon::Daemon;
use crate::export::{ExportTarget, ExportView};

#[derive(Debug)]
pub struct ExportApi {
    daemon: Arc<Daemon>,
}

impl ExportApi {
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }
}

#[tonic::async_trait]
impl ExportService for ExportApi {
    async fn set_export(
        &self,
        request: Request<pb::SetExportRequest>,
    ) -> Result<Response<pb::SetExportResponse>, Status> {
        let req = request.into_inner();
        let target = match pb::ExportTarget::try_from(req.target) {
            Ok(pb::ExportTarget::Rattler) => ExportTarget::Rattler,
            Ok(pb::ExportTarget::Mamba) => ExportTarget::Mamba,
            Ok(pb::ExportTarget::Unspecified) | Err(_) => {
                return Err(super::error::status(
                    tonic::Code::InvalidArgument,
                    pb::ErrorReason::InvalidArgument,
                    "",
                    "name the tool to export for: pixi (rattler) or mamba".to_owned(),
                ));
            }
        };
        let view = self
            .daemon
            .exporter
            .set(target, req.enabled, req.dry_run)
            .await?;
        Ok(Response::new(pb::SetExportResponse {
            export: Some(export_status(&view)),
        }))
    }
}

pub fn export_status(view: &ExportView) -> pb::ExportStatus {
    let target = match view.target {
        ExportTarget::Rattler => pb::ExportTarget::Rattler,
        ExportTarget::Mamba => pb::ExportTarget::Mamba,
    };
    pb::ExportStatus {
        target: target.into(),
        enabled: view.enabled,
        location: view.location.clone(),
        entries: view
            .entries
            .iter()
            .map(|(key, kind, credential)| pb::ExportEntry {
                key: key.clone(),
                kind: kind.clone(),
                credential: credential.clone(),
            })
            .collect(),
        last_written_at: view.last_written_at.map_or(0, |t| t.as_second()),
        last_error: view.last_error.clone().unwrap_or_default(),
    }
}

/// The exports `status` and `token list` show: those on, or with entries left somewhere.
pub fn active_exports(daemon: &Daemon) -> Vec<pb::ExportStatus> {
    daemon
        .exporter
        .active_views()
        .iter()
        .map(export_status)
        .collect()
}
