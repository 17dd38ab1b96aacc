//! `TokenService`: organisations and their repo tokens.

use std::sync::Arc;

use anacondad_proto::v1::{
    GetTokenStatusRequest, GetTokenStatusResponse, InstallTokenRequest, InstallTokenResponse,
    ListOrganizationsRequest, ListOrganizationsResponse, ListTokensRequest, ListTokensResponse,
    Organization, RefreshTokenRequest, RefreshTokenResponse, SetAutoRenewRequest,
    SetAutoRenewResponse, UninstallTokenRequest, UninstallTokenResponse,
    token_service_server::TokenService,
};
use tonic::{Request, Response, Status};

use super::condarc::target_request;
use super::convert;
use crate::daemon::Daemon;
use crate::error::Error;
use crate::secret::Secret;
use crate::tokens::TokenSource;

#[derive(Debug)]
pub struct TokenApi {
    daemon: Arc<Daemon>,
}

impl TokenApi {
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }
}

#[tonic::async_trait]
impl TokenService for TokenApi {
    async fn list_organizations(
        &self,
        request: Request<ListOrganizationsRequest>,
    ) -> Result<Response<ListOrganizationsResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let deadline = super::deadline(&self.daemon, &request);
        deadline
            .run(async move {
                super::renew_lapsed_api_key(site).await;
                let orgs = site.tokens.organizations().await?;
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
            })
            .await
    }

    async fn get_token_status(
        &self,
        request: Request<GetTokenStatusRequest>,
    ) -> Result<Response<GetTokenStatusResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let deadline = super::deadline(&self.daemon, &request);
        deadline
            .run(async move {
                super::renew_lapsed_api_key(site).await;
                let view = site.tokens.token_status(&request.into_inner().org).await?;
                Ok(Response::new(GetTokenStatusResponse {
                    org: view.org,
                    exists_on_service: view.exists_on_service,
                    service_token_id: view.service_token_id.unwrap_or_default(),
                    service_expires_at: view.service_expires_at.map_or(0, |t| t.as_second()),
                    stored_locally: view.local.is_some(),
                    local: view.local.as_ref().map(convert::token),
                }))
            })
            .await
    }

    async fn install_token(
        &self,
        request: Request<InstallTokenRequest>,
    ) -> Result<Response<InstallTokenResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let deadline = super::deadline(&self.daemon, &request);
        deadline
            .run(async move {
                super::renew_lapsed_api_key(site).await;
                let req = request.into_inner();
                let source = if req.token.is_empty() {
                    TokenSource::Reissue {
                        confirmed: req.confirm_reissue,
                    }
                } else {
                    TokenSource::Given(Secret::new(req.token.clone()))
                };
                let installed = site
                    .tokens
                    .install(&req.org, source, req.skip_validation)
                    .await?;
                if let Some(error) = installed
                    .validation
                    .error
                    .as_ref()
                    .filter(|_| installed.validation.refused)
                {
                    self.daemon
                        .record_error(format!("validating the token of {}: {error}", req.org));
                }
                Ok(Response::new(InstallTokenResponse {
                    token: Some(convert::token(&installed.token)),
                    reissued: installed.reissued,
                    validation: Some(convert::validation(&installed.validation)),
                    storage: Some(convert::storage(&site.vault.storage_view_news())),
                }))
            })
            .await
    }

    async fn list_tokens(
        &self,
        request: Request<ListTokensRequest>,
    ) -> Result<Response<ListTokensResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let deadline = super::deadline(&self.daemon, &request);
        deadline
            .run(async move {
                super::renew_lapsed_api_key(site).await;
                let tokens = site.tokens.list_reconciled().await?;
                Ok(Response::new(ListTokensResponse {
                    tokens: tokens.iter().map(convert::token).collect(),
                    storage: Some(convert::storage(&site.vault.storage_view())),
                    exports: super::export::active_exports(&self.daemon),
                }))
            })
            .await
    }

    async fn uninstall_token(
        &self,
        request: Request<UninstallTokenRequest>,
    ) -> Result<Response<UninstallTokenResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let req = request.into_inner();
        if req.org.is_empty() && !req.all {
            return Err(Error::NoUninstallTarget.into());
        }
        let org = (!req.all).then_some(req.org.as_str());
        let condarc = (!req.keep_condarc).then(|| target_request(req.condarc.as_ref()));
        let done = site
            .uninstall(org, condarc.as_ref(), req.restore_default_channels)
            .await?;
        let mut response = UninstallTokenResponse {
            removed_orgs: done.removed,
            remaining_orgs: done.remaining,
            ..Default::default()
        };
        if let Some((path, changes)) = done.condarc {
            response.condarc_path = path.display().to_string();
            response.condarc_changed = !changes.is_empty();
            response.condarc_changes = changes;
        }
        Ok(Response::new(response))
    }

    async fn refresh_token(
        &self,
        request: Request<RefreshTokenRequest>,
    ) -> Result<Response<RefreshTokenResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let deadline = super::deadline(&self.daemon, &request);
        deadline
            .run(async move {
                super::renew_lapsed_api_key(site).await;
                let org = request.into_inner().org;
                let installed = site.tokens.refresh(&org).await?;
                Ok(Response::new(RefreshTokenResponse {
                    token: Some(convert::token(&installed.token)),
                    validation: Some(convert::validation(&installed.validation)),
                    storage: Some(convert::storage(&site.vault.storage_view_news())),
                }))
            })
            .await
    }

    async fn set_auto_renew(
        &self,
        request: Request<SetAutoRenewRequest>,
    ) -> Result<Response<SetAutoRenewResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let req = request.into_inner();
        let token = site.tokens.set_auto_renew(&req.org, req.on).await?;
        Ok(Response::new(SetAutoRenewResponse {
            token: Some(convert::token(&token)),
        }))
    }
}
