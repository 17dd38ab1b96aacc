//! `KeyringService`: the Python keyring backend's look-ups, writes and deletes, each answered
//! `ours = false` when the daemon does not own what is asked (`keyring_bridge::owner`).

use std::sync::Arc;

use anacondad_proto::v1 as pb;
use anacondad_proto::v1::keyring_service_server::KeyringService;
use tonic::{Request, Response, Status};

use crate::daemon::Daemon;
use crate::keyring_bridge::{self, Concern};

#[derive(Debug)]
pub struct KeyringApi {
    daemon: Arc<Daemon>,
}

impl KeyringApi {
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }
}

#[tonic::async_trait]
impl KeyringService for KeyringApi {
    async fn get_keyring_entry(
        &self,
        request: Request<pb::GetKeyringEntryRequest>,
    ) -> Result<Response<pb::GetKeyringEntryResponse>, Status> {
        let req = request.into_inner();
        let Some((site, concern)) =
            keyring_bridge::owner(&self.daemon.sites, &req.service, &req.username)
        else {
            return Ok(Response::new(pb::GetKeyringEntryResponse::default()));
        };
        let mut answer = pb::GetKeyringEntryResponse {
            ours: true,
            site: site.name().to_owned(),
            ..Default::default()
        };
        match concern {
            Concern::Record => {
                if let Some(record) = keyring_bridge::current_record(site).await? {
                    answer.found = true;
                    answer.username = site.domain().to_owned();
                    answer.password = record.encode().expose().to_owned();
                }
            }
            Concern::Index(form) => {
                let held = site
                    .vault
                    .snapshot()
                    .await
                    .map_err(crate::error::Error::from)?;
                if let Some(key) = held.api_key.as_ref() {
                    let (username, password) = keyring_bridge::index_credential(form, key);
                    answer.found = true;
                    answer.username = username;
                    answer.password = password;
                }
            }
        }
        Ok(Response::new(answer))
    }

    async fn set_keyring_entry(
        &self,
        request: Request<pb::SetKeyringEntryRequest>,
    ) -> Result<Response<pb::SetKeyringEntryResponse>, Status> {
        let deadline = super::deadline(&self.daemon, &request);
        let req = request.into_inner();
        let Some((site, Concern::Record)) =
            keyring_bridge::owner(&self.daemon.sites, &req.service, &req.username)
        else {
            return Ok(Response::new(pb::SetKeyringEntryResponse::default()));
        };
        let record = keyring_bridge::decode_record(&req.password, site.domain()).map_err(|e| {
            super::error::status(
                tonic::Code::InvalidArgument,
                pb::ErrorReason::InvalidArgument,
                "",
                format!(
                    "the record written for {} is not anaconda-auth's: {e}",
                    site.domain()
                ),
            )
        })?;
        deadline
            .run(async move {
                let adoption = keyring_bridge::adopt(site, &record).await?;
                Ok(Response::new(pb::SetKeyringEntryResponse {
                    ours: true,
                    adopted: adoption.adopted,
                    refused: adoption.refused,
                }))
            })
            .await
    }

    async fn delete_keyring_entry(
        &self,
        request: Request<pb::DeleteKeyringEntryRequest>,
    ) -> Result<Response<pb::DeleteKeyringEntryResponse>, Status> {
        let req = request.into_inner();
        let Some((site, Concern::Record)) =
            keyring_bridge::owner(&self.daemon.sites, &req.service, &req.username)
        else {
            return Ok(Response::new(pb::DeleteKeyringEntryResponse::default()));
        };
        let removed = site.account.logout().await?;
        Ok(Response::new(pb::DeleteKeyringEntryResponse {
            ours: true,
            removed,
        }))
    }
}
