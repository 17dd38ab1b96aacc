//! `CondarcService`: plan, apply and check our settings in conda's configuration.

use std::sync::Arc;

use anacondad_proto::v1::{
    ApplyCondarcRequest, ApplyCondarcResponse, CheckCondarcRequest, CheckCondarcResponse,
    CondarcStatus, PlanCondarcRequest, PlanCondarcResponse, condarc_service_server::CondarcService,
};
use tonic::{Request, Response, Status};

use super::convert;
use super::error::status;
use crate::condarc::{CondarcEditor, CondarcError};
use crate::context::{CondarcTarget, DaemonContext};

#[derive(Debug)]
pub struct CondarcApi {
    ctx: Arc<DaemonContext>,
}

impl CondarcApi {
    pub fn new(ctx: Arc<DaemonContext>) -> Self {
        Self { ctx }
    }
}

/// Runs a file edit off the async runtime (it takes a lock and does blocking I/O).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CondarcError> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| status(tonic::Code::Internal, e.to_string()))?
        .map_err(Status::from)
}

/// Checks `target`, as `condarc check` and `daemon status` show it: its state, the first
/// finding as the detail, and every finding.
pub(super) async fn check(target: CondarcTarget) -> Result<(CondarcStatus, Vec<String>), Status> {
    let path = target.path.display().to_string();
    let report = blocking(move || CondarcEditor::new(&target.path).check(&target.settings)).await?;
    let status = CondarcStatus {
        state: convert::condarc_state(report.state).into(),
        path,
        detail: report.findings.first().cloned().unwrap_or_default(),
        orgs_without_token: Vec::new(),
    };
    Ok((status, report.findings))
}

impl CondarcApi {
    fn target(&self, wire: Option<&anacondad_proto::v1::CondarcTarget>) -> CondarcTarget {
        self.ctx.condarc_target(wire)
    }
}

#[tonic::async_trait]
impl CondarcService for CondarcApi {
    async fn plan_condarc(
        &self,
        request: Request<PlanCondarcRequest>,
    ) -> Result<Response<PlanCondarcResponse>, Status> {
        let target = self.target(request.into_inner().target.as_ref());
        let path = target.path.display().to_string();
        let plan =
            blocking(move || CondarcEditor::new(&target.path).plan(&target.settings)).await?;
        Ok(Response::new(PlanCondarcResponse {
            path,
            changes: plan.changed,
            diff: plan.diff,
            summary: plan.changes,
        }))
    }

    async fn apply_condarc(
        &self,
        request: Request<ApplyCondarcRequest>,
    ) -> Result<Response<ApplyCondarcResponse>, Status> {
        let target = self.target(request.into_inner().target.as_ref());
        let path = target.path.display().to_string();
        let ours = target.path == self.ctx.paths.condarc;
        let applied =
            blocking(move || CondarcEditor::new(&target.path).apply(&target.settings)).await?;
        if ours && let Ok(mut baseline) = self.ctx.condarc_baseline.lock() {
            *baseline = Some(crate::condarc::CondarcState::Configured);
        }
        if applied.changed {
            self.ctx.events.publish(
                anacondad_proto::v1::EventKind::CondarcChanged,
                "",
                &path,
                "anacondad configured conda",
            );
        }
        Ok(Response::new(ApplyCondarcResponse {
            path,
            changed: applied.changed,
            backup_path: if applied.backup_written {
                applied
                    .backup_path
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            },
            diff: applied.diff,
            summary: applied.changes,
        }))
    }

    async fn check_condarc(
        &self,
        request: Request<CheckCondarcRequest>,
    ) -> Result<Response<CheckCondarcResponse>, Status> {
        let target = self.target(request.into_inner().target.as_ref());
        let path = target.path.display().to_string();
        let report =
            blocking(move || CondarcEditor::new(&target.path).check(&target.settings)).await?;
        Ok(Response::new(CheckCondarcResponse {
            status: Some(CondarcStatus {
                state: convert::condarc_state(report.state).into(),
                path,
                detail: report.findings.first().cloned().unwrap_or_default(),
                orgs_without_token: Vec::new(),
            }),
            findings: report.findings,
        }))
    }
}
