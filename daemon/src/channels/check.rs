//! The org channels in conda's configuration that the credential conda would send cannot
//! read: `condarc check`, doctor, and the watcher through its `ChannelCheck` trait.

use std::collections::BTreeSet;

use url::Url;

use super::{OrgChannels, org_channel_of};
use crate::api::ChannelCredential;
use crate::conda_setup::watcher::ChannelCheck;
use crate::conda_setup::{CondaView, CondarcTarget};

/// An org channel in conda's configuration that the credential conda would send cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableChannel {
    pub org: String,
    pub name: String,
    pub url: String,
    /// The repository's answer: 401, 403 or 404.
    pub status: u16,
}

impl UnreadableChannel {
    /// One line that says what is wrong and what to run.
    pub fn finding(&self) -> String {
        let Self {
            org,
            name,
            url,
            status,
        } = self;
        let remove = format!("`anacondactl channels remove --org {org} {name}`");
        match status {
            404 => format!(
                "org channel {url}: the repository has no such channel (HTTP 404): it was \
                 removed or renamed; see `anacondactl channels list --org {org}`, and take it \
                 out of conda's channels with {remove}"
            ),
            401 => format!(
                "org channel {url}: the repository refused the credential for {org} (HTTP 401): \
                 run `anacondactl token install --org {org}`, or take the channel out with {remove}"
            ),
            _ => format!(
                "org channel {url}: the token of {org} cannot read it (HTTP {status}): access to \
                 it was revoked or never given; ask an owner of {org} for access, or take it out \
                 of conda's channels with {remove}"
            ),
        }
    }
}

impl ChannelCheck for OrgChannels {
    fn unreadable_findings<'a>(
        &'a self,
        target: &'a CondarcTarget,
    ) -> futures::future::BoxFuture<'a, Vec<(String, String)>> {
        Box::pin(async move {
            self.unreadable(target)
                .await
                .into_iter()
                .map(|lost| {
                    let finding = lost.finding();
                    (lost.org, finding)
                })
                .collect()
        })
    }
}

impl OrgChannels {
    /// Every org channel of this repository in conda's effective `channels` that the
    /// credential conda would send cannot read. A channel whose org has no credential here is
    /// left to the "org without a token" finding; a network failure is logged, not reported
    /// as a lost channel.
    pub async fn unreadable(&self, target: &CondarcTarget) -> Vec<UnreadableChannel> {
        let view_target = target.clone();
        let channels = tokio::task::spawn_blocking(move || {
            CondaView::compute(
                &view_target.view,
                &view_target.settings,
                &view_target.path,
                None,
            )
            .channels
        })
        .await
        .unwrap_or_default();
        let Ok(snapshot) = self.vault.snapshot().await else {
            return Vec::new();
        };
        let mut seen = BTreeSet::new();
        let mut found = Vec::new();
        for entry in channels {
            let Some((org, name)) = org_channel_of(self.repo(), &entry) else {
                continue;
            };
            if !seen.insert((org.clone(), name.clone())) {
                continue;
            }
            let credential = match (snapshot.tokens.get(&org), &snapshot.api_key) {
                (Some(token), _) => ChannelCredential::RepoToken(token),
                (None, Some(key)) => ChannelCredential::ApiKey(key),
                (None, None) => continue,
            };
            let url = self.url_of(&org, &name);
            let Ok(parsed) = Url::parse(&url) else {
                continue;
            };
            match self.api.channel_status(&parsed, credential).await {
                Ok(status @ (401 | 403 | 404)) => found.push(UnreadableChannel {
                    org,
                    name,
                    url,
                    status,
                }),
                Ok(_) => {}
                Err(e) => tracing::warn!("cannot check the channel {url}: {e}"),
            }
        }
        found
    }
}
