//! `TokenService`: organisations and their repo tokens.

use std::sync::Arc;

use anacondad_proto::v1::{
    GetTokenStatusRequest, GetTokenStatusResponse, InstallTokenRequest, InstallTokenResponse,
    ListOrganizationsRequest, ListOrganizationsResponse, ListTokensRequest, ListTokensResponse,
    Organization, RefreshTokenRequest, RefreshTokenResponse, UninstallTokenRequest,
    UninstallTokenResponse, token_service_server::TokenService,
};
use tonic::{Request, Response, Status};

use super::convert;
use crate::context::DaemonContext;
use crate::secret::Secret;

#[derive(Debug)]
pub struct TokenApi {
    ctx: Arc<DaemonContext>,
}

impl TokenApi {
    pub fn new(ctx: Arc<DaemonContext>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl TokenService for TokenApi {
    async fn list_organizations(
        &self,
        _: Request<ListOrganizationsRequest>,
    ) -> Result<Response<ListOrganizationsResponse>, Status> {
        let orgs = self.ctx.manager.organizations().await?;
        Ok(Response::new(ListOrganizationsResponse {
            organizations: orgs
                .into_iter()
                .map(|o| Organization {
                    id: o.id,
                    name: o.name,
                    title: o.title,
                })
                .collect(),
        }))
    }

    async fn get_token_status(
        &self,
        request: Request<GetTokenStatusRequest>,
    ) -> Result<Response<GetTokenStatusResponse>, Status> {
        let view = self
            .ctx
            .manager
            .token_status(&request.into_inner().org)
            .await?;
        Ok(Response::new(GetTokenStatusResponse {
            org: view.org,
            exists_on_service: view.exists_on_service,
            service_token_id: view.service_token_id.unwrap_or_default(),
            service_expires_at: view.service_expires_at.map_or(0, |t| t.as_second()),
            stored_locally: view.local.is_some(),
            local: view.local.as_ref().map(convert::token),
        }))
    }

    async fn install_token(
        &self,
        request: Request<InstallTokenRequest>,
    ) -> Result<Response<InstallTokenResponse>, Status> {
        let req = request.into_inner();
        let given = (!req.token.is_empty()).then(|| Secret::new(req.token.clone()));
        let installed = self
            .ctx
            .manager
            .install_token(&req.org, req.confirm_reissue, given, req.skip_validation)
            .await?;
        if let Some(error) = &installed.validation.error {
            self.ctx
                .record_error(format!("validating the token of {}: {error}", req.org));
        }
        Ok(Response::new(InstallTokenResponse {
            token: Some(convert::token(&installed.token)),
            reissued: installed.reissued,
            validation: Some(convert::validation(&installed.validation)),
            storage: Some(convert::storage(&self.ctx.manager.storage_view_news())),
        }))
    }

    async fn list_tokens(
        &self,
        _: Request<ListTokensRequest>,
    ) -> Result<Response<ListTokensResponse>, Status> {
        let tokens = self.ctx.manager.list_tokens().await?;
        Ok(Response::new(ListTokensResponse {
            tokens: tokens.iter().map(convert::token).collect(),
            storage: Some(convert::storage(&self.ctx.manager.storage_view())),
        }))
    }

    async fn uninstall_token(
        &self,
        request: Request<UninstallTokenRequest>,
    ) -> Result<Response<UninstallTokenResponse>, Status> {
        let req = request.into_inner();
        if req.org.is_empty() && !req.all {
            return Err(super::error::status(
                tonic::Code::InvalidArgument,
                "name the organization (--org ORG) or remove every token (--all)",
            ));
        }
        let org = (!req.all).then_some(req.org.as_str());
        let (removed, remaining) = self.ctx.manager.uninstall(org).await?;
        let mut response = UninstallTokenResponse {
            removed_orgs: removed,
            remaining_orgs: remaining,
            ..Default::default()
        };
        if response.remaining_orgs.is_empty() && !req.keep_condarc {
            let target = self.ctx.condarc_target(req.condarc.as_ref());
            if target.path == self.ctx.paths.condarc
                && let Ok(mut baseline) = self.ctx.condarc_baseline.lock()
            {
                // Our own removal is no drift.
                *baseline = None;
            }
            let repo_url = self.ctx.manager.repo_url().to_string();
            let restore = req.restore_default_channels;
            let (path, changes) = tokio::task::spawn_blocking(move || {
                let editor = crate::condarc::CondarcEditor::new(&target.path);
                let mut changes = editor.remove_channel_settings(&repo_url)?.changes;
                if restore {
                    changes.extend(editor.restore_default_channels_from_backup()?.changes);
                }
                Ok::<_, crate::condarc::CondarcError>((target.path, changes))
            })
            .await
            .map_err(|e| super::error::status(tonic::Code::Internal, e.to_string()))??;
            response.condarc_changed = !changes.is_empty();
            response.condarc_path = path.display().to_string();
            response.condarc_changes = changes;
        }
        Ok(Response::new(response))
    }

    async fn refresh_token(
        &self,
        request: Request<RefreshTokenRequest>,
    ) -> Result<Response<RefreshTokenResponse>, Status> {
        let org = request.into_inner().org;
        let installed = self
            .ctx
            .manager
            .install_token(&org, true, None, false)
            .await?;
        Ok(Response::new(RefreshTokenResponse {
            token: Some(convert::token(&installed.token)),
            validation: Some(convert::validation(&installed.validation)),
            storage: Some(convert::storage(&self.ctx.manager.storage_view_news())),
        }))
    }
}
