//! `CondarcService`: plan, apply and check our settings in conda's configuration.

use std::path::PathBuf;
use std::sync::Arc;

use anacondad_proto::v1::{
    ApplyCondarcRequest, ApplyCondarcResponse, CheckCondarcRequest, CheckCondarcResponse,
    CondaInstallation as WireInstallation, CondaView as WireView, CondarcTarget as WireTarget,
    EntryProblem, PlanCondarcRequest, PlanCondarcResponse, ShadowingEntry as WireShadowing,
    condarc_service_server::CondarcService,
};
use tonic::{Request, Response, Status};

use super::convert;
use crate::channels::UnreadableChannel;
use crate::conda_setup::view::found_by_label;
use crate::conda_setup::{
    Conda, CondaView, CondarcStatusView, CondarcTarget, PlanView, TargetRequest,
};
use crate::daemon::Daemon;
use crate::sites::{CondaCheck, Site};

#[derive(Debug)]
pub struct CondarcApi {
    daemon: Arc<Daemon>,
}

impl CondarcApi {
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }

    /// The named site's conda, and the target a request names with its path as shown.
    fn target<'a>(site: &'a Site, wire: Option<&WireTarget>) -> (&'a Conda, CondarcTarget, String) {
        let conda = site.conda.as_ref();
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
        credential_type: wire.and_then(|t| {
            convert::entry_settings(t.credential_type(), String::new()).credential_type
        }),
        environment: wire
            .map(|t| &t.conda_environment)
            .filter(|env| !env.is_empty())
            .map(|env| env.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
    }
}

/// conda as the daemon sees it, on the wire.
pub fn conda_view(view: &CondaView) -> WireView {
    WireView {
        installations: view
            .installations
            .iter()
            .map(|i| WireInstallation {
                prefix: i.prefix.display().to_string(),
                found_by: i.found_by.iter().map(found_by_label).collect(),
                python: i.python.display().to_string(),
                conda_version: i.conda_version.clone().unwrap_or_default(),
                has_anacondad_plugin: i.has_anacondad_plugin,
                has_anaconda_auth: i.anaconda_auth.is_some(),
                anaconda_auth_version: i.anaconda_auth.clone().unwrap_or_default(),
                plugin_install_command: i.plugin_install_command(),
            })
            .collect(),
        defaults_in_effect: view.defaults_in_effect,
        channels: view.channels.clone(),
        default_channels: view.default_channels.clone(),
        shadowing_entries: view
            .shadowing
            .iter()
            .map(|s| WireShadowing {
                url: s.url.clone(),
                channel: s.channel.clone(),
                auth: s.auth.clone().unwrap_or_default(),
                source: s.source.to_string(),
                ours: s.ours.clone(),
                ours_source: s
                    .ours_source
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            })
            .collect(),
        files: view.files.iter().map(|f| f.display().to_string()).collect(),
        auth_handler: view.auth_handler.clone(),
        handler_loadable: view.handler_loadable,
        findings: view.findings(),
        entry_problems: view
            .unknown_credential_types
            .iter()
            .map(|u| EntryProblem {
                channel: u.channel.clone(),
                source: u.source.to_string(),
                finding: u.finding(),
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl CondarcService for CondarcApi {
    async fn plan_condarc(
        &self,
        request: Request<PlanCondarcRequest>,
    ) -> Result<Response<PlanCondarcResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let (conda, target, path) = Self::target(site, request.into_inner().target.as_ref());
        let PlanView {
            plan,
            conda,
            cannot_write,
        } = conda.plan(target).await?;
        Ok(Response::new(PlanCondarcResponse {
            path,
            changes: plan.changed,
            diff: plan.diff,
            summary: plan.changes,
            conda: Some(conda_view(&conda)),
            cannot_write: cannot_write.unwrap_or_default(),
        }))
    }

    async fn apply_condarc(
        &self,
        request: Request<ApplyCondarcRequest>,
    ) -> Result<Response<ApplyCondarcResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let (conda, target, path) = Self::target(site, request.into_inner().target.as_ref());
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
        let site = super::site_of(&self.daemon, &request)?;
        let wanted = target_request(request.into_inner().target.as_ref());
        let CondaCheck {
            path,
            report,
            conda,
            unreadable,
        } = site.check_conda(&wanted, None).await?;
        let unreadable = unreadable.unwrap_or_default();
        let notes = report.notes;
        let view = CondarcStatusView {
            state: report.state,
            path,
            findings: report.findings,
            orgs_without_token: Vec::new(),
        };
        // In the view's findings too: they are what makes `condarc check` and `doctor` fail.
        let mut wire_view = conda_view(&conda);
        wire_view
            .findings
            .extend(unreadable.iter().map(UnreadableChannel::finding));
        Ok(Response::new(CheckCondarcResponse {
            status: Some(convert::condarc_status(&view)),
            findings: view.findings,
            notes,
            conda: Some(wire_view),
            unreadable_channels: unreadable
                .iter()
                .map(|c| anacondad_proto::v1::UnreadableChannel {
                    org: c.org.clone(),
                    name: c.name.clone(),
                    url: c.url.clone(),
                    status: u32::from(c.status),
                    finding: c.finding(),
                })
                .collect(),
        }))
    }
}
