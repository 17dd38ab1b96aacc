//! `CredentialService`: the hot path conda's plugin asks on every request.

use std::sync::Arc;

use anacondad_proto::v1::{
    GetCredentialRequest, GetCredentialResponse, ReportRejectedRequest, ReportRejectedResponse,
    credential_service_server::CredentialService,
};
use tonic::{Request, Response, Status};

use super::convert;
use crate::credentials::Answer;
use crate::daemon::Daemon;
use crate::sites::Site;

#[derive(Debug)]
pub struct CredentialApi {
    daemon: Arc<Daemon>,
}

impl CredentialApi {
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }
}

/// The site a request names (`anacondad-site`); `None`: the URL's site answers.
#[allow(clippy::result_large_err)]
fn named_site<'a, T>(
    daemon: &'a Daemon,
    request: &Request<T>,
) -> Result<Option<&'a Arc<Site>>, Status> {
    if request
        .metadata()
        .get(crate::config::sites::SITE_HEADER)
        .is_none()
    {
        return Ok(None);
    }
    super::site_of(daemon, request).map(Some)
}

#[tonic::async_trait]
impl CredentialService for CredentialApi {
    async fn get_credential(
        &self,
        request: Request<GetCredentialRequest>,
    ) -> Result<Response<GetCredentialResponse>, Status> {
        let named = named_site(&self.daemon, &request)?;
        let req = request.into_inner();
        let entry = convert::entry_settings(req.credential_type(), req.auth_domain);
        let answer =
            match self
                .daemon
                .sites
                .for_entry(entry.auth_domain.as_deref(), named, &req.url)
            {
                Ok(site) => site.credentials.answer(&req.url, &entry).await?,
                Err(none) => Answer::none(none),
            };
        Ok(Response::new(convert::credential(answer)))
    }

    async fn report_rejected(
        &self,
        request: Request<ReportRejectedRequest>,
    ) -> Result<Response<ReportRejectedResponse>, Status> {
        let named = named_site(&self.daemon, &request)?;
        let req = request.into_inner();
        let fingerprint = Some(req.rejected_header_sha256.as_str()).filter(|f| !f.is_empty());
        let entry = convert::entry_settings(req.credential_type(), req.auth_domain.clone());
        let site = match self
            .daemon
            .sites
            .for_entry(entry.auth_domain.as_deref(), named, &req.url)
        {
            Ok(site) => site,
            Err(none) => {
                return Ok(Response::new(ReportRejectedResponse {
                    credential: Some(convert::credential(Answer::none(none))),
                }));
            }
        };
        let answer = site
            .credentials
            .rejected(&req.url, &entry, req.http_status, fingerprint)
            .await?;
        if let Some(org) = answer.refused_token_of.clone() {
            // Whether it was reissued elsewhere or expired: recorded for `token list`, `status`
            // and watchers, without holding up the replayed request.
            let tokens = site.tokens.clone();
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
