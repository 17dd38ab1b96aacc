//! The answers of `channels list|add|remove`, and the channel step of `token install`: an
//! organisation's channels and what conda searches afterwards.

use anacondad_proto::v1 as pb;
use serde::Serialize;

use super::text;

/// One organisation channel; `url` is what conda, pixi and environment files take.
#[derive(Debug, Serialize)]
pub struct Channel {
    pub org: String,
    pub name: String,
    /// `<repository>/<org>/<name>`, the web page's "copy channel path".
    pub url: String,
    /// `private` or `public`, as the service says.
    pub privacy: String,
    pub description: Option<String>,
    /// True when conda's effective `channels` already hold it, in any form.
    pub in_conda: bool,
    /// Shared with the user by an organisation they are not a member of.
    pub shared: bool,
    pub artifact_count: u64,
}

impl From<&pb::OrgChannel> for Channel {
    fn from(c: &pb::OrgChannel) -> Self {
        Self {
            org: c.org.clone(),
            name: c.name.clone(),
            url: c.url.clone(),
            privacy: c.privacy.clone(),
            description: text(&c.description),
            in_conda: c.in_conda,
            shared: c.shared,
            artifact_count: c.artifact_count,
        }
    }
}

/// `channels list`.
#[derive(Debug, Serialize)]
pub struct ChannelList {
    pub channels: Vec<Channel>,
    /// The organisations looked at, those without channels too.
    pub orgs: Vec<String>,
}

impl From<&pb::ListChannelsResponse> for ChannelList {
    fn from(r: &pb::ListChannelsResponse) -> Self {
        Self {
            channels: r.channels.iter().map(Channel::from).collect(),
            orgs: r.orgs.clone(),
        }
    }
}

/// `channels add|remove`, and the edit of `token install`'s channel step.
#[derive(Debug, Serialize)]
pub struct ChannelsEdited {
    /// The `.condarc` edited (or that would be).
    pub path: String,
    pub changed: bool,
    /// Where the previous contents were saved; null when nothing was written.
    pub backup_path: Option<String>,
    /// One line per change.
    pub changes: Vec<String>,
    /// The unified diff of the change; null when nothing changes.
    pub diff: Option<String>,
    /// conda's `channels` afterwards, in the order it searches them (`defaults` as written).
    pub conda_channels: Vec<String>,
    /// The org's channels the command named.
    pub selected: Vec<Channel>,
}

impl From<&pb::EditChannelsResponse> for ChannelsEdited {
    fn from(r: &pb::EditChannelsResponse) -> Self {
        Self {
            path: r.path.clone(),
            changed: r.changed,
            backup_path: text(&r.backup_path),
            changes: r.summary.clone(),
            diff: text(&r.diff),
            conda_channels: r.channels.clone(),
            selected: r.selected.iter().map(Channel::from).collect(),
        }
    }
}

/// The channel step of `token install` (its `channels` field).
#[derive(Debug, Default, Serialize)]
pub struct ChannelStep {
    /// How the channels were chosen: `all`, `names` (`--channels NAME,...`), `picked` (on
    /// the terminal), or `none` (`--channels none`, the answer "None", or no terminal).
    pub choice: String,
    /// The org's channels as the service lists them; `[]` when none were listed.
    pub offered: Vec<Channel>,
    /// The names added to conda's channels (already searched ones included); `[]` when none.
    pub added: Vec<String>,
    /// The edit of conda's file; null when no channel was added.
    pub edit: Option<ChannelsEdited>,
    /// Why the step did less than asked (the channels could not be listed, or not added),
    /// with the command that finishes it; null when it did what was asked.
    pub warning: Option<String>,
    /// conda's `channels` afterwards, in the order it searches them.
    pub conda_channels: Vec<String>,
    /// What `defaults` stands for: conda's effective `default_channels`.
    pub default_channels: Vec<String>,
}
