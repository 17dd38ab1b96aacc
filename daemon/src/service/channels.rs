//! `ChannelService`: organisation channels, listed and put into (or out of) conda's `channels`.

use std::sync::Arc;

use anacondad_proto::v1::{
    ChannelPlacement, EditChannelsRequest, EditChannelsResponse, ListChannelsRequest,
    ListChannelsResponse, OrgChannel as WireChannel, channel_service_server::ChannelService,
};
use tonic::{Request, Response, Status};

use super::condarc::target_request;
use crate::channels::{EditRequest, Edited, OrgChannel};
use crate::condarc::ChannelPosition;
use crate::daemon::Daemon;

#[derive(Debug)]
pub struct ChannelApi {
    daemon: Arc<Daemon>,
}

impl ChannelApi {
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }
}

fn wire_channel(c: &OrgChannel) -> WireChannel {
    WireChannel {
        org: c.org.clone(),
        name: c.name.clone(),
        url: c.url.clone(),
        privacy: c.privacy.clone(),
        description: c.description.clone(),
        in_conda: c.in_conda,
        shared: c.shared,
        artifact_count: c.artifact_count,
    }
}

fn edit_request(wire: &EditChannelsRequest) -> EditRequest {
    EditRequest {
        org: wire.org.clone(),
        names: wire.names.clone(),
        all: wire.all,
        remove: wire.remove,
        position: match wire.placement() {
            ChannelPlacement::Unspecified => ChannelPosition::BeforeDefaults,
            ChannelPlacement::Top => ChannelPosition::Top,
            ChannelPlacement::Bottom => ChannelPosition::Bottom,
        },
    }
}

fn edited(path: String, edited: Edited) -> EditChannelsResponse {
    let backup_path = match (&edited.applied.backup_path, edited.applied.backup_written) {
        (Some(backup), true) => backup.display().to_string(),
        _ => String::new(),
    };
    EditChannelsResponse {
        path,
        changed: edited.applied.changed,
        backup_path,
        diff: edited.applied.diff,
        summary: edited.applied.changes,
        channels: edited.channels_after,
        selected: edited.selected.iter().map(wire_channel).collect(),
    }
}

impl ChannelApi {
    async fn edit(
        &self,
        request: Request<EditChannelsRequest>,
        write: bool,
    ) -> Result<Response<EditChannelsResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let wire = request.into_inner();
        let target = site.conda.target(&target_request(wire.condarc.as_ref()));
        let path = target.path.display().to_string();
        let done = site
            .org_channels()
            .edit(&edit_request(&wire), &target, write)
            .await?;
        Ok(Response::new(edited(path, done)))
    }
}

#[tonic::async_trait]
impl ChannelService for ChannelApi {
    async fn list_channels(
        &self,
        request: Request<ListChannelsRequest>,
    ) -> Result<Response<ListChannelsResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let wire = request.into_inner();
        let target = site.conda.target(&target_request(wire.condarc.as_ref()));
        let org = Some(wire.org.trim()).filter(|o| !o.is_empty());
        let listing = site.org_channels().list(org, &target).await?;
        Ok(Response::new(ListChannelsResponse {
            channels: listing.channels.iter().map(wire_channel).collect(),
            orgs: listing.orgs,
        }))
    }

    async fn plan_channels(
        &self,
        request: Request<EditChannelsRequest>,
    ) -> Result<Response<EditChannelsResponse>, Status> {
        self.edit(request, false).await
    }

    async fn edit_channels(
        &self,
        request: Request<EditChannelsRequest>,
    ) -> Result<Response<EditChannelsResponse>, Status> {
        self.edit(request, true).await
    }
}
