//! [`OrgChannels`]: an organisation's channels as the service lists them, and the ones conda
//! searches. It lists them (`anacondactl channels list`), adds them to and takes them out of
//! conda's `channels` through the `condarc` editor, remembers which it added for each org (so
//! `token uninstall --org` takes out those and only those), and checks that every org channel
//! conda is configured with can still be read with the credential conda would send.
//!
//! The URL conda uses for a channel is `<repository>/<org>/<channel>`, the form the web
//! page's "copy channel path" gives; the service does not document it for subchannels, so it
//! is an assumption (docs/channels.md).

mod check;
mod edit;

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::api::{AnacondaClient, RepoChannel};
use crate::conda_setup::{Conda, CondaView, CondarcTarget};
use crate::condarc_text::{Applied, ChannelPosition, CondarcEditor, channel_key};
use crate::error::{Error, Result};
use crate::repo_url::{Channel, RepoUrl};
use crate::vault::Vault;

pub use check::UnreadableChannel;

/// One organisation channel, as listed and as conda would use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgChannel {
    pub org: String,
    pub name: String,
    /// What conda uses: `<repository>/<org>/<name>`.
    pub url: String,
    pub privacy: String,
    pub description: String,
    pub artifact_count: u64,
    /// Whether conda's effective `channels` hold it, in any form.
    pub in_conda: bool,
    /// Shared with the user by an organisation they are not a member of.
    pub shared: bool,
}

/// What `channels list` shows: the channels, and the orgs looked at (an org with no channel
/// is there too, so "none" can be said of it).
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub channels: Vec<OrgChannel>,
    pub orgs: Vec<String>,
}

/// An add or a remove, as asked.
#[derive(Debug, Clone, Default)]
pub struct EditRequest {
    /// Empty: taken from `ORG/CHANNEL` names, or the one org with a stored token.
    pub org: String,
    pub names: Vec<String>,
    pub all: bool,
    pub remove: bool,
    pub position: ChannelPosition,
}

/// The outcome of a plan or an apply.
#[derive(Debug, Clone)]
pub struct Edited {
    pub applied: Applied,
    /// conda's effective `channels` afterwards (for a plan: as they would be).
    pub channels_after: Vec<String>,
    /// The org's channels the request named.
    pub selected: Vec<OrgChannel>,
}

/// A site's organisation channels: the service, the store and conda's configuration.
#[derive(Debug, Clone)]
pub struct OrgChannels {
    vault: Arc<Vault>,
    api: Arc<AnacondaClient>,
    conda: Arc<Conda>,
}

impl OrgChannels {
    pub fn new(vault: Arc<Vault>, api: Arc<AnacondaClient>, conda: Arc<Conda>) -> Self {
        Self { vault, api, conda }
    }

    fn repo(&self) -> &RepoUrl {
        self.conda.repo()
    }

    fn url_of(&self, org: &str, name: &str) -> String {
        format!("{}{org}/{name}", self.repo().as_str())
    }

    /// The channels of `org` (every org the user reads, shared ones included, when `None`),
    /// each marked with whether conda searches it.
    pub async fn list(&self, org: Option<&str>, target: &CondarcTarget) -> Result<Listing> {
        let key = self.vault.api_key().await?;
        let (mine, items) = match org {
            Some(org) => {
                let org = crate::tokens::check_org_name(org)?;
                let (mine, items) = tokio::try_join!(
                    self.api.user_organizations(&key),
                    self.api.namespace_channels(&key, org)
                )?;
                (mine, items)
            }
            None => tokio::try_join!(
                self.api.user_organizations(&key),
                self.api.account_channels(&key)
            )?,
        };
        let conda_has = effective_keys(target).await;
        let channels: Vec<OrgChannel> = items
            .iter()
            .filter_map(|item| {
                let (ns, name) = match (item.namespace_and_name(), org) {
                    (Some(pair), _) => pair,
                    // `subchannels` items may leave `parent` out: the namespace asked for.
                    (None, Some(org)) => (org, item.name.as_str()),
                    (None, None) => return None,
                };
                Some(self.channel(ns, name, item, &mine, &conda_has))
            })
            .collect();
        let mut orgs: Vec<String> = match org {
            Some(org) => vec![org.trim().to_owned()],
            None => mine.clone(),
        };
        for c in &channels {
            if !orgs.contains(&c.org) {
                orgs.push(c.org.clone());
            }
        }
        Ok(Listing { channels, orgs })
    }

    fn channel(
        &self,
        org: &str,
        name: &str,
        item: &RepoChannel,
        mine: &[String],
        conda_has: &BTreeSet<String>,
    ) -> OrgChannel {
        let url = self.url_of(org, name);
        OrgChannel {
            in_conda: conda_has.contains(&channel_key(&url)),
            org: org.to_owned(),
            name: name.to_owned(),
            url,
            privacy: item.privacy.clone(),
            description: item.description.clone(),
            artifact_count: item.artifact_count,
            shared: !mine.iter().any(|m| m == org),
        }
    }

    /// Takes out of `target` the channels recorded as added for `org` (written exactly as we
    /// wrote them; an entry the user wrote is theirs) and forgets the record.
    pub async fn remove_ours(&self, org: &str, target: &CondarcTarget) -> Result<Vec<String>> {
        let ours = self
            .vault
            .snapshot()
            .await?
            .facts
            .added_channels
            .get(org)
            .cloned()
            .unwrap_or_default();
        if ours.is_empty() {
            return Ok(Vec::new());
        }
        let editor = CondarcEditor::new(&target.path);
        let applied = tokio::task::spawn_blocking(move || editor.remove_channels(&ours, true))
            .await
            .map_err(|_| Error::TaskLost {
                what: "the .condarc edit",
            })??;
        if applied.changed {
            self.conda.note_our_edit(
                &target.path,
                "anacondactl token uninstall took out org channels",
            );
        }
        let org = org.to_owned();
        self.vault
            .record(|d| {
                d.added_channels.remove(&org);
            })
            .await?;
        Ok(applied.changes)
    }
}

/// `(org, channel)` of a `channels` entry under the repository, in any form (`/t/<token>/`,
/// trailing `/`); `None` for anything else.
pub fn org_channel_of(repo: &RepoUrl, entry: &str) -> Option<(String, String)> {
    let key = channel_key(entry);
    let base = channel_key(repo.as_str());
    let rest = key.strip_prefix(&base)?.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let (org, name) = (parts.next()?, parts.next()?);
    if org.is_empty() || name.is_empty() || parts.next().is_some() {
        return None;
    }
    match repo.channel_of_str(&format!("{}{org}/{name}", repo.as_str())) {
        Some(Channel::Org(o)) if o == org => Some((org.to_owned(), name.to_owned())),
        _ => None,
    }
}

/// conda's effective `channels`, each in the compared form.
async fn effective_keys(target: &CondarcTarget) -> BTreeSet<String> {
    let target = target.clone();
    tokio::task::spawn_blocking(move || {
        CondaView::compute(&target.view, &target.settings, &target.path, None)
            .channels
            .iter()
            .map(|c| channel_key(c))
            .collect()
    })
    .await
    .unwrap_or_default()
}
