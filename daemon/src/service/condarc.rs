//! `CondarcService`: plan, apply and check our settings in conda's configuration.

use std::path::PathBuf;
use std::sync::Arc;

use anacondad_proto::v1::{
    ApplyCondarcRequest, ApplyCondarcResponse, CheckCondarcRequest, CheckCondarcResponse,
    CondarcTarget as WireTarget, PlanCondarcRequest, PlanCondarcResponse,
    condarc_service_server::CondarcService,
};
use tonic::{Request, Response, Status};

use super::convert;
use crate::conda::{Conda, CondarcStatusView, CondarcTarget, TargetRequest};
use crate::daemon::Daemon;

#[derive(Debug)]
pub struct CondarcApi {
    daemon: Arc<Daemon>,
}

impl CondarcApi {
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }

    /// The daemon's conda, and the target a request names with its path as shown.
    fn target(&self, wire: Option<&WireTarget>) -> (&Conda, CondarcTarget, String) {
        let conda = self.daemon.conda.as_ref();
        let target = conda.target(&target_request(wire));
        let shown = target.path.display().to_string();
        (conda, target, shown)
    }
}

/// What a wire target asks for; empty fields take the daemon's defaults.
pub fn target_request(wire: Option<&WireTarget>) -> TargetRequest {
    let nonempty = |s: &str| Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
    TargetRequest {
        path: wire.and_then(|t| nonempty(&t.path)).map(PathBuf::from),
        auth_handler: wire.and_then(|t| nonempty(&t.auth_handler)),
        set_default_channels: wire.and_then(|t| t.set_default_channels),
    }
}

#[tonic::async_trait]
impl CondarcService for CondarcApi {
    async fn plan_condarc(
        &self,
        request: Request<PlanCondarcRequest>,
    ) -> Result<Response<PlanCondarcResponse>, Status> {
        let (conda, target, path) = self.target(request.into_inner().target.as_ref());
        let plan = conda.plan(target).await?;
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
        let (conda, target, path) = self.target(request.into_inner().target.as_ref());
        let applied = conda.apply(target).await?;
        let backup_path = match (&applied.backup_path, applied.backup_written) {
            (Some(backup), true) => backup.display().to_string(),
            _ => String::new(),
        };
        Ok(Response::new(ApplyCondarcResponse {
            path,
            changed: applied.changed,
            backup_path,
            diff: applied.diff,
            summary: applied.changes,
        }))
    }

    async fn check_condarc(
        &self,
        request: Request<CheckCondarcRequest>,
    ) -> Result<Response<CheckCondarcResponse>, Status> {
        let (conda, target, _) = self.target(request.into_inner().target.as_ref());
        let path = target.path.clone();
        let report = conda.check(target).await?;
        let view = CondarcStatusView {
            state: report.state,
            path,
            findings: report.findings,
            orgs_without_token: Vec::new(),
        };
        Ok(Response::new(CheckCondarcResponse {
            status: Some(convert::condarc_status(&view)),
            findings: view.findings,
        }))
    }
}
