//! [`OrgChannels`]: an organisation's channels as the service lists them, and the ones conda
//! searches. It lists them (`anacondactl channels list`), adds them to and takes them out of
//! conda's `channels` through the `condarc` editor, remembers which it added for each org (so
//! `token uninstall --org` takes out those and only those), and checks that every org channel
//! conda is configured with can still be read with the credential conda would send.
//!
//! The URL conda uses for a channel is `<repository>/<org>/<channel>`, the form the web
//! page's "copy channel path" gives; the service does not document it for subchannels, so it
//! is an assumption (docs/channels.md).

use std::collections::BTreeSet;
use std::sync::Arc;

use url::Url;

use crate::api::{AnacondaClient, ChannelCredential, RepoChannel};
use crate::conda_setup::watcher::ChannelCheck;
use crate::conda_setup::{Conda, CondaView, CondarcTarget};
use crate::condarc_text::{Applied, ChannelPosition, CondarcEditor, PlannedEdit, channel_key};
use crate::error::{Error, Result};
use crate::repo_url::{Channel, RepoUrl};
use crate::vault::Vault;

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

/// A site's organisation channels: the service, the store and conda's configuration.
#[derive(Debug, Clone)]
pub struct OrgChannels {
    vault: Arc<Vault>,
    api: Arc<AnacondaClient>,
    conda: Arc<Conda>,
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

    /// Plans (`write` false) or makes an add or a remove; an add is recorded as ours for its
    /// org, a remove takes what it removed off that record.
    pub async fn edit(
        &self,
        request: &EditRequest,
        target: &CondarcTarget,
        write: bool,
    ) -> Result<Edited> {
        let (org, names) = self.resolve(request).await?;
        let selected: Vec<OrgChannel> = if request.remove {
            self.selected_for_remove(&org, &names, request.all, target)
                .await?
        } else {
            self.selected_for_add(&org, &names, request.all, target)
                .await?
        };
        let urls: Vec<String> = selected.iter().map(|c| c.url.clone()).collect();
        let editor = CondarcEditor::new(&target.path);
        let remove = request.remove;
        let position = request.position;
        let (applied, planned) = tokio::task::spawn_blocking(move || {
            if write {
                if remove {
                    editor.remove_channels(&urls, false)
                } else {
                    editor.add_channels(&urls, position)
                }
                .map(|applied| (applied, None))
            } else {
                let plan = if remove {
                    editor.plan_remove_channels(&urls, false)
                } else {
                    editor.plan_add_channels(&urls, position)
                }?;
                Ok(as_applied(plan))
            }
        })
        .await
        .map_err(|_| Error::TaskLost {
            what: "the .condarc edit",
        })??;
        if write && applied.changed {
            self.conda.note_our_edit(
                &target.path,
                "anacondactl channels changed conda's channels",
            );
            let added: Vec<String> = applied
                .changes
                .iter()
                .filter_map(|c| c.strip_prefix("channels: add "))
                .map(|c| c.split(" (").next().unwrap_or(c).to_owned())
                .collect();
            let removed: Vec<String> = selected.iter().map(|c| channel_key(&c.url)).collect();
            self.vault
                .record(|d| {
                    let ours = d.added_channels.entry(org.clone()).or_default();
                    if remove {
                        ours.retain(|u| !removed.contains(&channel_key(u)));
                    } else {
                        for url in added {
                            if !ours.contains(&url) {
                                ours.push(url);
                            }
                        }
                    }
                    if ours.is_empty() {
                        d.added_channels.remove(&org);
                    }
                })
                .await?;
        }
        let channels_after = after_view(target, planned).await;
        Ok(Edited {
            applied,
            channels_after,
            selected,
        })
    }

    /// The org and the channel names a request means.
    async fn resolve(&self, request: &EditRequest) -> Result<(String, Vec<String>)> {
        let mut org = request.org.trim().to_owned();
        let mut names = Vec::new();
        for name in &request.names {
            match name.split_once('/') {
                Some((ns, channel)) if org.is_empty() || org == ns => {
                    org = ns.to_owned();
                    names.push(channel.to_owned());
                }
                Some(_) => {
                    return Err(Error::ChannelOrgMismatch {
                        name: name.clone(),
                        org,
                    });
                }
                None => names.push(name.clone()),
            }
        }
        if org.is_empty() {
            let stored: Vec<String> = self
                .vault
                .snapshot()
                .await?
                .tokens
                .keys()
                .cloned()
                .collect();
            match stored.as_slice() {
                [only] => org = only.clone(),
                _ => return Err(Error::NoChannelOrg),
            }
        }
        crate::tokens::check_org_name(&org)?;
        if names.is_empty() && !request.all {
            return Err(Error::NoChannelNamed { org });
        }
        Ok((org, names))
    }

    async fn selected_for_add(
        &self,
        org: &str,
        names: &[String],
        all: bool,
        target: &CondarcTarget,
    ) -> Result<Vec<OrgChannel>> {
        let listing = self.list(Some(org), target).await?;
        if all {
            return Ok(listing.channels);
        }
        names
            .iter()
            .map(|name| {
                listing
                    .channels
                    .iter()
                    .find(|c| &c.name == name)
                    .cloned()
                    .ok_or_else(|| Error::UnknownChannel {
                        org: org.to_owned(),
                        name: name.clone(),
                        known: known_names(&listing.channels),
                    })
            })
            .collect()
    }

    /// A remove needs no answer from the service: a channel that was removed there must still
    /// come out of conda's configuration. `--all` means every channel of the org that conda's
    /// file names.
    async fn selected_for_remove(
        &self,
        org: &str,
        names: &[String],
        all: bool,
        target: &CondarcTarget,
    ) -> Result<Vec<OrgChannel>> {
        let names: Vec<String> = if all {
            let path = target.path.clone();
            let repo = self.repo().clone();
            let org = org.to_owned();
            tokio::task::spawn_blocking(move || {
                CondarcEditor::new(&path).channel_entries().map(|entries| {
                    entries
                        .iter()
                        .filter_map(|e| org_channel_of(&repo, e))
                        .filter(|(o, _)| *o == org)
                        .map(|(_, name)| name)
                        .collect()
                })
            })
            .await
            .map_err(|_| Error::TaskLost {
                what: "reading .condarc",
            })??
        } else {
            names.to_vec()
        };
        Ok(names
            .iter()
            .map(|name| OrgChannel {
                org: org.to_owned(),
                name: name.clone(),
                url: self.url_of(org, name),
                privacy: String::new(),
                description: String::new(),
                artifact_count: 0,
                in_conda: true,
                shared: false,
            })
            .collect())
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

fn known_names(channels: &[OrgChannel]) -> String {
    if channels.is_empty() {
        "it has none".to_owned()
    } else {
        let names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
        format!("its channels: {}", names.join(", "))
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

/// conda's effective `channels` as the file is now, or with `planned` as its text.
async fn after_view(target: &CondarcTarget, planned: Option<String>) -> Vec<String> {
    let target = target.clone();
    tokio::task::spawn_blocking(move || {
        CondaView::compute(
            &target.view,
            &target.settings,
            &target.path,
            planned.as_deref(),
        )
        .channels
    })
    .await
    .unwrap_or_default()
}

/// A plan in the shape of an apply, with the text it would write when it changes anything.
fn as_applied(plan: PlannedEdit) -> (Applied, Option<String>) {
    let planned = plan.changed.then_some(plan.updated);
    (
        Applied {
            changed: plan.changed,
            backup_path: None,
            backup_written: false,
            changes: plan.changes,
            diff: plan.diff,
        },
        planned,
    )
}
