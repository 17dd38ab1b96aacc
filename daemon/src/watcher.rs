//! [`CondarcWatcher`]: notices when conda's configuration changes under us. It watches the
//! parent directories of every user `.condarc` on conda's search path (editors replace files by
//! rename, which a watch on the file itself would miss), and on each change reports drift from
//! what we configured, a file that no longer parses, and org channels that have no token.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::condarc::{CondarcEditor, CondarcSettings, CondarcState};
use crate::config::CondaUserConfig;
use crate::context::CondarcBaseline;
use crate::events::EventBus;
use crate::manager::CredentialManager;
use anacondad_proto::v1::EventKind;

/// Changes closer together than this are handled as one (an editor's save is several events).
const SETTLE_MILLIS: u64 = 200;

/// Organisations whose channels `files` use under `repo_url` (`<repo>/<org>/<channel>`).
pub fn orgs_in_channels(files: &[PathBuf], repo_url: &str) -> BTreeSet<String> {
    let mut orgs = BTreeSet::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let Ok(value) = yaml_serde::from_str::<yaml_serde::Value>(&text) else {
            continue;
        };
        for key in ["channels", "default_channels"] {
            let Some(list) = value.get(key).and_then(|v| v.as_sequence()) else {
                continue;
            };
            for channel in list.iter().filter_map(|c| c.as_str()) {
                if let Some(rest) = channel.strip_prefix(repo_url)
                    && let Some(org) = rest.split('/').next()
                    && !org.is_empty()
                    && !["main", "r", "msys2"].contains(&org)
                {
                    orgs.insert(org.to_owned());
                }
            }
        }
    }
    orgs
}

fn is_change(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::ModifyKind;
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}

/// Watches the user's conda configuration until shutdown.
#[derive(Debug)]
pub struct CondarcWatcher {
    config: CondaUserConfig,
    primary: PathBuf,
    settings: CondarcSettings,
    manager: Arc<CredentialManager>,
    events: EventBus,
    baseline: CondarcBaseline,
    shutdown: CancellationToken,
}

impl CondarcWatcher {
    /// `primary` is the file `token install` configures; `config` all that conda reads.
    pub fn new(
        config: CondaUserConfig,
        primary: PathBuf,
        settings: CondarcSettings,
        manager: Arc<CredentialManager>,
        events: EventBus,
        baseline: CondarcBaseline,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            config,
            primary,
            settings,
            manager,
            events,
            baseline,
            shutdown,
        }
    }

    /// Records `now` as the baseline and returns the previous one.
    fn swap_baseline(&self, now: Option<CondarcState>) -> Option<CondarcState> {
        match self.baseline.lock() {
            Ok(mut slot) => std::mem::replace(&mut *slot, now),
            Err(_) => None,
        }
    }

    /// Runs until shutdown. A platform without file notifications logs why and returns.
    pub async fn run(self) {
        let (tx, mut rx) = mpsc::unbounded_channel::<()>();
        let config = self.config.clone();
        let mut watcher =
            match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                // Only changes count: our own reads of the file (access events, atime) must not
                // look like edits.
                if let Ok(event) = &event {
                    tracing::trace!(kind = ?event.kind, paths = ?event.paths, "file event");
                }
                if let Ok(event) = event
                    && is_change(&event.kind)
                    && event.paths.iter().any(|p| config.covers(p))
                {
                    let _closed_is_fine = tx.send(());
                }
            }) {
                Ok(watcher) => watcher,
                Err(e) => {
                    tracing::warn!("cannot watch conda's configuration: {e}");
                    return;
                }
            };
        for dir in self.config.watched_dirs().iter().filter(|d| d.is_dir()) {
            if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                tracing::warn!(dir = %dir.display(), "cannot watch: {e}");
            }
        }
        let first = self.check().await;
        self.swap_baseline(first.as_ref().map(|(s, _)| *s));
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                got = rx.recv() => if got.is_none() { return },
            }
            // Let the burst of one save settle, then look once.
            loop {
                tokio::select! {
                    () = self.shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(SETTLE_MILLIS)) => break,
                    got = rx.recv() => if got.is_none() { return },
                }
            }
            let now = self.check().await;
            let before = self.swap_baseline(now.as_ref().map(|(s, _)| *s));
            self.report(before, &now).await;
        }
    }

    async fn check(&self) -> Option<(CondarcState, Vec<String>)> {
        let editor = CondarcEditor::new(&self.primary);
        let settings = self.settings.clone();
        match tokio::task::spawn_blocking(move || editor.check(&settings)).await {
            Ok(Ok(report)) => Some((report.state, report.findings)),
            Ok(Err(e)) => Some((CondarcState::Malformed, vec![e.to_string()])),
            Err(_) => None,
        }
    }

    async fn report(&self, was: Option<CondarcState>, after: &Option<(CondarcState, Vec<String>)>) {
        let path = self.primary.display().to_string();
        self.events.publish(
            EventKind::CondarcChanged,
            "",
            &path,
            "conda's configuration changed",
        );
        if let Some((state, findings)) = after {
            let detail = findings.join("; ");
            match state {
                CondarcState::Malformed => self.events.publish(
                    EventKind::CondarcMalformed,
                    "",
                    &path,
                    format!("{path} no longer parses: {detail}"),
                ),
                CondarcState::Drifted | CondarcState::NotConfigured
                    if was == Some(CondarcState::Configured) =>
                {
                    self.events.publish(
                        EventKind::CondarcDrifted,
                        "",
                        &path,
                        format!(
                            "{path} no longer routes the repository through anacondad ({detail}); \
                             run `anacondactl condarc apply` to restore it"
                        ),
                    )
                }
                _ => {}
            }
        }
        for org in self.orgs_without_token().await {
            self.events.publish(
                EventKind::OrgWithoutToken,
                &org,
                &path,
                format!(
                    "conda is configured with channels of {org}, which has no token: run \
                     `anacondactl token install --org {org}`"
                ),
            );
        }
    }

    /// Orgs whose channels conda uses but that have no stored token.
    pub async fn orgs_without_token(&self) -> Vec<String> {
        orgs_without_token(&self.config, &self.manager).await
    }
}

/// Orgs whose channels conda's user configuration uses but for which `manager` holds no token.
pub async fn orgs_without_token(
    config: &CondaUserConfig,
    manager: &CredentialManager,
) -> Vec<String> {
    let config = config.clone();
    let repo = manager.repo_url().to_string();
    let used =
        tokio::task::spawn_blocking(move || orgs_in_channels(&config.existing_files(), &repo))
            .await
            .unwrap_or_default();
    let stored: BTreeSet<String> = manager
        .list_tokens()
        .await
        .map(|t| t.into_iter().map(|v| v.org).collect())
        .unwrap_or_default();
    used.difference(&stored).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_channels_are_found_and_default_channels_are_not_orgs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".condarc");
        std::fs::write(
            &file,
            "channels:\n  - https://repo.example/repo/globex/internal\n  - conda-forge\n\
             default_channels:\n  - https://repo.example/repo/main\n",
        )
        .unwrap();
        let orgs = orgs_in_channels(&[file], "https://repo.example/repo/");
        assert_eq!(orgs.into_iter().collect::<Vec<_>>(), ["globex"]);
    }
}
