//! [`Conda`]: conda's user configuration as the daemon keeps it. It owns which file `token
//! install` configures, the settings written there, the baseline that tells the user's edits
//! from ours, plan/apply/check/remove on that file, and (in [`watcher`]) the watch on every
//! user file conda reads. The text editing itself is the `condarc` editor's.

pub mod view;
pub mod watcher;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use crate::conda_rules::effective::CondaSource;
use crate::condarc_text::{
    Applied, CheckReport, CondarcEditor, CondarcSettings, CondarcState, PlannedEdit,
};
use crate::config::CondaUserConfig;
use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::repo_url::{Channel, RepoUrl};
use anacondad_proto::v1::EventKind;
pub use view::{CondaView, ViewInput};

/// A `.condarc` file and the settings to keep in it.
#[derive(Debug, Clone)]
pub struct CondarcTarget {
    pub path: PathBuf,
    pub settings: CondarcSettings,
    /// False when the caller named no handler: then the one the file's entry already names
    /// (ours or anaconda-auth's) is kept, so a user's choice is no drift.
    pub handler_given: bool,
    /// The environment conda runs with and the home, to find condas and conda's files.
    pub view: ViewInput,
    /// False for a site other than the default one: its plan adds no `defaults` to
    /// `channels` (the `defaults` multichannel is the default site's).
    pub adds_defaults: bool,
}

/// What a caller may change about a target; empty fields take the daemon's defaults.
#[derive(Debug, Clone, Default)]
pub struct TargetRequest {
    pub path: Option<PathBuf>,
    pub auth_handler: Option<String>,
    pub set_default_channels: Option<bool>,
    /// The `credential_type` to write into our entry; `None` leaves the entry's as it is.
    pub credential_type: Option<crate::credential_kind::CredentialKind>,
    /// The caller's environment for conda; `None`: the daemon's.
    pub environment: Option<BTreeMap<String, String>>,
}

/// A plan, and conda as it would be once the plan is applied.
#[derive(Debug, Clone)]
pub struct PlanView {
    pub plan: PlannedEdit,
    pub conda: CondaView,
    /// Why the plan could not be written now (read-only file or directory); `None` when it can.
    pub cannot_write: Option<String>,
}

/// A check, and conda as it is.
#[derive(Debug, Clone)]
pub struct CheckView {
    pub report: CheckReport,
    pub conda: CondaView,
}

/// The state of one `.condarc`, for `status` and `condarc check`.
#[derive(Debug, Clone)]
pub struct CondarcStatusView {
    pub state: CondarcState,
    pub path: PathBuf,
    /// Every finding; the first is the one-line detail.
    pub findings: Vec<String>,
    /// Orgs whose channels conda's configuration uses but that have no stored token.
    pub orgs_without_token: Vec<String>,
}

#[derive(Debug)]
pub struct Conda {
    /// conda's user file, `~/.condarc`: the one `token install` configures.
    primary: PathBuf,
    /// Every user file conda reads.
    user_config: CondaUserConfig,
    repo: RepoUrl,
    auth_handler: String,
    /// True for the default site: its plan writes `default_channels` (unless the caller says
    /// not to) and may add `defaults` to `channels`; another site's writes its entry only.
    default_site: bool,
    /// The daemon's own environment and home: conda's, unless a caller sends its own.
    view: ViewInput,
    events: EventBus,
    /// What the primary file was when we last looked or wrote it. Our own writes set it at
    /// once, so the watcher tells an edit of the user's from ours.
    baseline: Mutex<Option<CondarcState>>,
}

impl Conda {
    pub fn new(
        primary: PathBuf,
        user_config: CondaUserConfig,
        repo: RepoUrl,
        auth_handler: String,
        view: ViewInput,
        events: EventBus,
    ) -> Self {
        Self {
            primary,
            user_config,
            repo,
            auth_handler,
            default_site: true,
            view,
            events,
            baseline: Mutex::new(None),
        }
    }

    /// This conda configuration is a site's other than the default one (see `default_site`).
    pub fn for_another_site(mut self) -> Self {
        self.default_site = false;
        self
    }

    pub fn repo(&self) -> &RepoUrl {
        &self.repo
    }

    pub fn primary(&self) -> &PathBuf {
        &self.primary
    }

    pub fn user_config(&self) -> &CondaUserConfig {
        &self.user_config
    }

    /// The file and settings a request names, with the daemon's defaults for what it leaves
    /// empty: conda's user file, our handler name, default channels set.
    pub fn target(&self, request: &TargetRequest) -> CondarcTarget {
        let mut settings = CondarcSettings::new(self.repo.as_str());
        settings.auth_handler = request
            .auth_handler
            .clone()
            .unwrap_or_else(|| self.auth_handler.clone());
        settings.set_default_channels = request.set_default_channels.unwrap_or(self.default_site);
        settings.credential_type = request.credential_type;
        let mut view = self.view.clone();
        if let Some(env) = &request.environment {
            view.env = env.clone();
        }
        CondarcTarget {
            path: request.path.clone().unwrap_or_else(|| self.primary.clone()),
            settings,
            handler_given: request.auth_handler.is_some(),
            view,
            adds_defaults: self.default_site,
        }
    }

    /// The plan, with `defaults` added to `channels` when conda's effective configuration
    /// lacks it, and conda as it would be afterwards.
    pub async fn plan(&self, target: CondarcTarget) -> Result<PlanView> {
        blocking(move || {
            let settings = resolve_settings(&target)?;
            let editor = CondarcEditor::new(&target.path);
            let plan = editor.plan(&settings)?;
            let cannot_write = editor.check_can_write(&plan).err().map(|e| e.to_string());
            let conda =
                CondaView::compute(&target.view, &settings, &target.path, Some(&plan.updated));
            Ok(PlanView {
                plan,
                conda,
                cannot_write,
            })
        })
        .await
    }

    pub async fn apply(&self, target: CondarcTarget) -> Result<Applied> {
        let ours = target.path == self.primary;
        let path = target.path.display().to_string();
        crate::fault::point("condarc.before_apply");
        let applied = blocking(move || {
            let settings = resolve_settings(&target)?;
            CondarcEditor::new(&target.path).apply(&settings)
        })
        .await?;
        crate::fault::point("condarc.after_apply");
        if ours {
            self.set_baseline(Some(CondarcState::Configured));
        }
        if applied.changed {
            self.events.publish(
                EventKind::CondarcChanged,
                "",
                &path,
                "anacondad configured conda",
            );
        }
        Ok(applied)
    }

    /// The file compared with our settings, and conda as it is: a file can be as we would
    /// write it while conda still does not use it (no `defaults`, a shadowing entry, no conda
    /// that loads the handler); those come as findings after the file's own.
    pub async fn check(&self, target: CondarcTarget) -> Result<CheckView> {
        blocking(move || {
            let settings = resolve_settings(&target)?;
            let mut report = CondarcEditor::new(&target.path).check(&settings)?;
            let mut conda = CondaView::compute(&target.view, &settings, &target.path, None);
            if settings.entry_at_bottom {
                // `resolve_settings` found that the flag puts ours after the entries of
                // files conda reads before ours.
                for entry in conda.shadowing.iter_mut() {
                    entry.fixed_by_flag = anaconda_auths_elsewhere(entry, &target.path);
                }
            }
            // A file that does not parse says nothing of conda's channels: its parse error is
            // the one finding (not also "channels are []").
            if report.state != CondarcState::Malformed {
                report.findings.extend(if target.adds_defaults {
                    conda.findings()
                } else {
                    conda.entry_findings()
                });
            }
            Ok(CheckView { report, conda })
        })
        .await
    }

    /// Takes our `channel_settings` entry out of `target` and puts back the `default_channels`
    /// (and `channels`) from before anacondad while they are still ours; with `restore`, the
    /// backup's `default_channels` whatever it is now. Returns the changes made.
    pub async fn remove(&self, target: CondarcTarget, restore: bool) -> Result<Vec<String>> {
        if target.path == self.primary {
            // Our own removal is no drift.
            self.set_baseline(None);
        }
        let repo = self.repo.to_string();
        let ours = self.repo.default_channels();
        crate::fault::point("condarc.before_remove");
        blocking(move || {
            let editor = CondarcEditor::new(&target.path);
            // Read before the removal below backs up the configured file.
            let before = editor.backup_from_before_anacondad()?;
            let mut changes = editor.remove_channel_settings(&repo)?.changes;
            let restored = if restore {
                editor.restore_default_channels_from_backup()?
            } else {
                editor.restore_default_channels_if_ours(&ours, before.as_deref())?
            };
            changes.extend(restored.changes);
            Ok(changes)
        })
        .await
    }

    /// The primary file's state with our default settings, and the orgs without a token; a
    /// file that cannot be read or parsed is a state, not an error.
    pub async fn status(&self, stored_orgs: &BTreeSet<String>) -> CondarcStatusView {
        let target = self.target(&TargetRequest::default());
        let path = target.path.clone();
        let (state, findings) = match self.check(target).await {
            Ok(view) => (view.report.state, view.report.findings),
            Err(e) => (CondarcState::Malformed, vec![e.to_string()]),
        };
        CondarcStatusView {
            state,
            path,
            findings,
            orgs_without_token: self.orgs_without_token(stored_orgs).await,
        }
    }

    /// Orgs whose channels conda's user configuration uses but that are not in `stored`.
    pub async fn orgs_without_token(&self, stored: &BTreeSet<String>) -> Vec<String> {
        let files = self.user_config.clone();
        let repo = self.repo.clone();
        let used =
            tokio::task::spawn_blocking(move || orgs_in_channels(&files.existing_files(), &repo))
                .await
                .unwrap_or_default();
        used.difference(stored).cloned().collect()
    }

    /// Tells watchers that anacondad itself changed conda's `channels` in `path`.
    pub fn note_our_edit(&self, path: &std::path::Path, message: &str) {
        self.events.publish(
            EventKind::CondarcChanged,
            "",
            &path.display().to_string(),
            message,
        );
    }

    /// Records `now` as the baseline and returns the previous one.
    pub(crate) fn set_baseline(&self, now: Option<CondarcState>) -> Option<CondarcState> {
        let mut slot = self.baseline.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *slot, now)
    }
}

/// The settings to plan with: the handler the file already names when the caller named none,
/// and `defaults` added to `channels` when conda's effective configuration lacks it.
fn resolve_settings(
    target: &CondarcTarget,
) -> Result<CondarcSettings, crate::condarc_text::CondarcError> {
    let mut settings = target.settings.clone();
    let editor = CondarcEditor::new(&target.path);
    if !target.handler_given
        && let Some(kept) = editor.known_handler_in_file(&settings)?
    {
        settings.auth_handler = kept;
    }
    let now = CondaView::compute(&target.view, &settings, &target.path, None);
    if target.adds_defaults && !now.defaults_in_effect {
        // Only when adding it here puts it in effect (a higher file's `#!final` would not
        // let it), and the file's `channels` can be edited safely; otherwise the finding
        // says so.
        let mut with_defaults = settings.clone();
        with_defaults.add_defaults_to_channels = true;
        let helps = match editor.plan(&with_defaults) {
            Ok(plan) => {
                CondaView::compute(
                    &target.view,
                    &with_defaults,
                    &target.path,
                    Some(&plan.updated),
                )
                .defaults_in_effect
            }
            // `channels` is laid out in a way the editor does not change: the refusal names
            // the line to change, rather than a write that conda then does not use.
            Err(
                e @ crate::condarc_text::CondarcError::UnsafeEdit {
                    key: "channels", ..
                },
            ) => {
                return Err(e);
            }
            Err(_) => false,
        };
        settings.add_defaults_to_channels = helps;
    }
    settings.entry_at_bottom = flag_helps(target, &editor, &settings);
    Ok(settings)
}

/// Whether flagging our entry `#!bottom` makes conda use it for URLs that an entry of
/// anaconda-auth's handler in a file conda reads before ours takes now: anaconda-auth's conda
/// package ships one, `$CONDA_ROOT/condarc.d/anaconda-auth.yml`, and `token install` is how a
/// user says our handler is to serve the repository instead. Only then is the flag written
/// (an entry of another handler, e.g. an administrator's in `/etc/conda`, is reported, not
/// overridden); a flag already in the file stays either way.
fn flag_helps(target: &CondarcTarget, editor: &CondarcEditor, settings: &CondarcSettings) -> bool {
    let shadowed = |settings: &CondarcSettings| -> Option<usize> {
        let plan = editor.plan(settings).ok()?;
        let view = CondaView::compute(&target.view, settings, &target.path, Some(&plan.updated));
        Some(
            view.shadowing
                .iter()
                .filter(|s| anaconda_auths_elsewhere(s, &target.path))
                .count(),
        )
    };
    let Some(now) = shadowed(settings).filter(|n| *n > 0) else {
        return false;
    };
    let mut flagged = settings.clone();
    flagged.entry_at_bottom = true;
    shadowed(&flagged).is_some_and(|then| then < now)
}

/// An entry of anaconda-auth's handler, in a file other than `ours`, that takes our URLs.
fn anaconda_auths_elsewhere(entry: &view::Shadowing, ours: &std::path::Path) -> bool {
    entry.auth.as_deref() == Some(view::ANACONDA_AUTH_HANDLER)
        && entry.source != CondaSource::File(ours.to_path_buf())
}

/// Runs a file edit off the async runtime (it takes a lock and does blocking I/O).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::condarc_text::CondarcError> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| Error::TaskLost {
            what: "the .condarc edit",
        })?
        .map_err(Error::from)
}

/// Organisations whose channels `files` name under `repo` (`<repo>/<org>/<channel>`).
pub fn orgs_in_channels(files: &[PathBuf], repo: &RepoUrl) -> BTreeSet<String> {
    let mut orgs = BTreeSet::new();
    for file in files {
        let Ok(text) = crate::fsutil::read_to_string(file) else {
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
                if let Some(Channel::Org(org)) = repo.channel_of_str(channel) {
                    orgs.insert(org);
                }
            }
        }
    }
    orgs
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
        let repo = RepoUrl::new(url::Url::parse("https://repo.example/repo/").unwrap());
        let orgs = orgs_in_channels(&[file], &repo);
        assert_eq!(orgs.into_iter().collect::<Vec<_>>(), ["globex"]);
    }
}
