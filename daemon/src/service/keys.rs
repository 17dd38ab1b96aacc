//! `KeyService`: credentials for scripts in clear, and the minted short-lived API keys.

use std::sync::Arc;
use std::time::Duration;

use anacondad_proto::v1 as pb;
use anacondad_proto::v1::key_service_server::KeyService;
use tonic::{Code, Request, Response, Status};

use super::error::status;
use crate::daemon::Daemon;
use crate::error::Error;
use crate::minted::{MintError, MintedRecord};

#[derive(Debug)]
pub struct KeyApi {
    daemon: Arc<Daemon>,
}

impl KeyApi {
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }
}

impl From<MintError> for Status {
    fn from(e: MintError) -> Self {
        use pb::ErrorReason as R;
        match e {
            MintError::Daemon(e) => e.into(),
            MintError::Api(e) => Error::Api(e).into(),
            MintError::UnknownScope(_) | MintError::BadTtl => {
                status(Code::InvalidArgument, R::InvalidArgument, "", e.to_string())
            }
            MintError::UnknownKey { .. } => {
                status(Code::NotFound, R::InvalidArgument, "", e.to_string())
            }
            MintError::Records { .. } => status(Code::Internal, R::State, "", e.to_string()),
        }
    }
}

fn wire(record: MintedRecord) -> pb::MintedKey {
    pb::MintedKey {
        id: record.id,
        name: record.name,
        scopes: record.scopes,
        created_at: record.created_at,
        expires_at: record.expires_at,
        revocation_error: record.revocation_error.unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl KeyService for KeyApi {
    async fn reveal_credential(
        &self,
        request: Request<pb::RevealCredentialRequest>,
    ) -> Result<Response<pb::RevealCredentialResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?.clone();
        let req = request.into_inner();
        match req.kind() {
            pb::CredentialKind::ApiKey => {
                super::renew_lapsed_api_key(&site).await;
                let snapshot = site.vault.snapshot().await.map_err(Error::from)?;
                let key = snapshot.api_key.clone().ok_or_else(|| Error::NotLoggedIn {
                    domain: site.domain().to_owned(),
                })?;
                let expires_at = crate::api::jwt_expiry(&key).map_or(0, |t| t.as_second());
                Ok(Response::new(pb::RevealCredentialResponse {
                    value: key.expose().to_owned(),
                    kind: pb::CredentialKind::ApiKey.into(),
                    org: String::new(),
                    expires_at,
                }))
            }
            pb::CredentialKind::RepoToken => {
                let snapshot = site.vault.snapshot().await.map_err(Error::from)?;
                let token =
                    snapshot
                        .tokens
                        .get(&req.org)
                        .cloned()
                        .ok_or_else(|| Error::NoToken {
                            org: req.org.clone(),
                        })?;
                let expires_at = snapshot
                    .facts
                    .orgs
                    .get(&req.org)
                    .and_then(|o| o.expires_at)
                    .map_or(0, |t| t.as_second());
                Ok(Response::new(pb::RevealCredentialResponse {
                    value: token.expose().to_owned(),
                    kind: pb::CredentialKind::RepoToken.into(),
                    org: req.org,
                    expires_at,
                }))
            }
            pb::CredentialKind::Unspecified => Err(status(
                Code::InvalidArgument,
                pb::ErrorReason::InvalidArgument,
                "",
                "name the credential: the API key or an organization's token",
            )),
        }
    }

    async fn mint_api_key(
        &self,
        request: Request<pb::MintApiKeyRequest>,
    ) -> Result<Response<pb::MintApiKeyResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?.clone();
        let deadline = super::deadline(&self.daemon, &request);
        let req = request.into_inner();
        let ttl = (req.ttl_secs > 0).then(|| Duration::from_secs(req.ttl_secs));
        deadline
            .run(async {
                super::renew_lapsed_api_key(&site).await;
                let (key, record) = self
                    .daemon
                    .minted
                    .mint(&site, &req.scopes, ttl, &req.name)
                    .await?;
                Ok(Response::new(pb::MintApiKeyResponse {
                    api_key: key.expose().to_owned(),
                    key: Some(wire(record)),
                }))
            })
            .await
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?.clone();
        let deadline = super::deadline(&self.daemon, &request);
        let req = request.into_inner();
        let id = (!req.all).then_some(req.id.as_str());
        deadline
            .run(async {
                let mut revoked = self.daemon.minted.revoke(&site, id).await?;
                if req.all && req.account_key {
                    revoked.extend(self.daemon.minted.revoke_account_key(&site).await?);
                }
                Ok(Response::new(pb::RevokeApiKeyResponse { revoked }))
            })
            .await
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?.clone();
        let keys = self.daemon.minted.list(&site).await?;
        Ok(Response::new(pb::ListApiKeysResponse {
            keys: keys.into_iter().map(wire).collect(),
        }))
    }
}
