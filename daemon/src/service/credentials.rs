//! `CredentialService`: the hot path conda's plugin asks on every request.

use std::sync::Arc;

use anacondad_proto::v1::{
    GetCredentialRequest, GetCredentialResponse, ReportRejectedRequest, ReportRejectedResponse,
    credential_service_server::CredentialService,
};
use tonic::{Request, Response, Status};

use super::convert;
use crate::daemon::Daemon;

#[derive(Debug)]
pub struct CredentialApi {
    daemon: Arc<Daemon>,
}

impl CredentialApi {
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }
}

#[tonic::async_trait]
impl CredentialService for CredentialApi {
    async fn get_credential(
        &self,
        request: Request<GetCredentialRequest>,
    ) -> Result<Response<GetCredentialResponse>, Status> {
        let req = request.into_inner();
        let entry = convert::entry_settings(req.credential_type(), req.auth_domain);
        let answer = self.daemon.credentials.answer(&req.url, &entry).await?;
        Ok(Response::new(convert::credential(answer)))
    }

    async fn report_rejected(
        &self,
        request: Request<ReportRejectedRequest>,
    ) -> Result<Response<ReportRejectedResponse>, Status> {
        let req = request.into_inner();
        let fingerprint = Some(req.rejected_header_sha256.as_str()).filter(|f| !f.is_empty());
        let entry = convert::entry_settings(req.credential_type(), req.auth_domain.clone());
        let answer = self
            .daemon
            .credentials
            .rejected(&req.url, &entry, req.http_status, fingerprint)
            .await?;
        if let Some(org) = answer.refused_token_of.clone() {
            // Whether it was reissued elsewhere or expired: recorded for `token list`, `status`
            // and watchers, without holding up the replayed request.
            let tokens = self.daemon.tokens.clone();
            self.daemon.tasks.spawn(async move {
                if let Err(e) = tokens.reconcile(&org).await {
                    tracing::info!("cannot ask the service about the refused token of {org}: {e}");
                }
            });
        }
        Ok(Response::new(ReportRejectedResponse {
            credential: Some(convert::credential(answer)),
        }))
    }
}
