//! `CredentialService`: the hot path conda's plugin asks on every request.

use std::sync::Arc;

use anacondad_proto::v1::{
    CredentialKind as WireKind, GetCredentialRequest, GetCredentialResponse, ReportRejectedRequest,
    ReportRejectedResponse, credential_service_server::CredentialService,
};
use tonic::{Request, Response, Status};

use crate::context::DaemonContext;
use crate::manager::{Credential, CredentialKind};

#[derive(Debug)]
pub struct CredentialApi {
    ctx: Arc<DaemonContext>,
}

impl CredentialApi {
    pub fn new(ctx: Arc<DaemonContext>) -> Self {
        Self { ctx }
    }
}

fn response(answer: Result<Credential, String>) -> GetCredentialResponse {
    match answer {
        Ok(c) => GetCredentialResponse {
            found: true,
            header_value: c.header_value.expose().to_owned(),
            kind: match c.kind {
                CredentialKind::RepoToken => WireKind::RepoToken,
                CredentialKind::ApiKey => WireKind::ApiKey,
            }
            .into(),
            org: c.org.unwrap_or_default(),
            expires_at: c.expires_at.map_or(0, |t| t.as_second()),
            reason: String::new(),
            // Empty: no reuse beyond this URL until the daemon computes the prefix it covers.
            scope: String::new(),
        },
        Err(reason) => GetCredentialResponse {
            found: false,
            reason,
            ..Default::default()
        },
    }
}

#[tonic::async_trait]
impl CredentialService for CredentialApi {
    async fn get_credential(
        &self,
        request: Request<GetCredentialRequest>,
    ) -> Result<Response<GetCredentialResponse>, Status> {
        let url = request.into_inner().url;
        let answer = self.ctx.manager.credential_for(&url).await?;
        Ok(Response::new(response(answer)))
    }

    async fn report_rejected(
        &self,
        request: Request<ReportRejectedRequest>,
    ) -> Result<Response<ReportRejectedResponse>, Status> {
        let req = request.into_inner();
        let kind = match req.kind() {
            WireKind::ApiKey => CredentialKind::ApiKey,
            WireKind::RepoToken | WireKind::Unspecified => CredentialKind::RepoToken,
        };
        let answer = self
            .ctx
            .manager
            .report_rejected(
                &req.url,
                req.http_status,
                kind,
                Some(req.rejected_header_sha256.as_str()).filter(|f| !f.is_empty()),
            )
            .await?;
        Ok(Response::new(ReportRejectedResponse {
            credential: Some(response(answer)),
        }))
    }
}
