//! Adding and removing an org's channels: the request resolved, the channels it names, the
//! edit planned or made, and the record of the ones we added.

use super::{EditRequest, Edited, OrgChannel, OrgChannels, org_channel_of};
use crate::conda_setup::{CondaView, CondarcTarget};
use crate::condarc_text::{Applied, CondarcEditor, PlannedEdit, channel_key};
use crate::error::{Error, Result};

impl OrgChannels {
    /// Plans (`write` false) or makes an add or a remove; an add is recorded as ours for its
    /// org, a remove takes what it removed off that record.
    pub async fn edit(
        &self,
        request: &EditRequest,
        target: &CondarcTarget,
        write: bool,
    ) -> Result<Edited> {
        let (org, names) = self.resolve(request).await?;
        let selected = self.selected(request, &org, names, target).await?;
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

    /// The org's channels a request names. An add takes them from the service's list. A
    /// remove needs no answer from the service: a channel that was removed there must still
    /// come out of conda's configuration. `--all` means every channel of the org that conda's
    /// file names.
    async fn selected(
        &self,
        request: &EditRequest,
        org: &str,
        names: Vec<String>,
        target: &CondarcTarget,
    ) -> Result<Vec<OrgChannel>> {
        if !request.remove {
            let listing = self.list(Some(org), target).await?;
            if request.all {
                return Ok(listing.channels);
            }
            return names
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
                .collect();
        }
        let names = if request.all {
            self.named_in_file(org, target).await?
        } else {
            names
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

    /// The names of the org's channels that conda's file holds.
    async fn named_in_file(&self, org: &str, target: &CondarcTarget) -> Result<Vec<String>> {
        let path = target.path.clone();
        let repo = self.repo().clone();
        let org = org.to_owned();
        let names = tokio::task::spawn_blocking(move || {
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
        })??;
        Ok(names)
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
