//! The file side of the editor: symlinks, the advisory lock, backups and atomic writes.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::disk::{
    NEW_FILE_MODE, backup_is_replaceable, check_dir_writable, check_writable, io_error, lock_dir,
    parent_dir, read_optional, write_atomically,
};
use super::edit::{self, observe};
use super::{ANACONDAD_AUTH_HANDLER, CondarcError, CondarcSettings, PlannedEdit};

/// How many symlinks are followed before giving up (the kernel's own limit).
const MAX_SYMLINK_HOPS: usize = 40;

/// Edits one `.condarc` file (`~/.condarc` normally; tests point it at a temp dir).
#[derive(Debug, Clone)]
pub struct CondarcEditor {
    path: PathBuf,
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Whether the file was written.
    pub changed: bool,
    /// The `.bak` holding the file from before the change, when there is one (written now or
    /// kept from an earlier change); `None` when nothing changed or the file is new.
    pub backup_path: Option<PathBuf>,
    /// Whether this call wrote the `.bak`.
    pub backup_written: bool,
    /// One line per change, empty when nothing changed.
    pub changes: Vec<String>,
    /// Unified diff of the change, empty when nothing changed.
    pub diff: String,
}

impl Applied {
    /// One line for the CLI.
    pub fn summary(&self) -> String {
        super::summary(self.changed, &self.changes)
    }
}

/// How a `.condarc` relates to the settings we would write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CondarcState {
    /// Applying would change nothing.
    Configured,
    /// Nothing of ours is there (no entry for our pattern, default_channels not ours).
    NotConfigured,
    /// Some of ours is there but not all of it, or it was changed.
    Drifted,
    /// The file cannot be read as a `.condarc`; findings say where.
    Malformed,
}

/// The result of comparing a `.condarc` with the settings, for `condarc check` and `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub state: CondarcState,
    /// What differs from the wanted configuration, one line each; a `Configured` file can
    /// still carry a warning (a later entry that overrides ours).
    pub findings: Vec<String>,
    /// What is as the user chose it and stays so (their own `default_channels` built on
    /// ours): said, never a finding.
    pub notes: Vec<String>,
}

impl CondarcEditor {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CondarcEditor { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<file>.bak`, next to the path we were given (not next to a symlink's target).
    pub fn backup_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".bak");
        PathBuf::from(name)
    }

    /// The handler our entry in this file names, when it is one of the two conda handlers
    /// for the repository (`anacondad`, `anaconda-auth`); `None` when the file, the entry or
    /// a known handler is not there.
    pub fn known_handler_in_file(
        &self,
        settings: &CondarcSettings,
    ) -> Result<Option<String>, CondarcError> {
        let target = self.target()?;
        let Some(text) = read_optional(&target)? else {
            return Ok(None);
        };
        let pattern = settings.channel_pattern()?;
        let Ok(seen) = observe(&self.path, &text, &pattern) else {
            return Ok(None);
        };
        Ok(seen
            .entry_auths
            .iter()
            .rev()
            .flatten()
            .find(|a| matches!(a.as_str(), ANACONDAD_AUTH_HANDLER | "anaconda-auth"))
            .cloned())
    }

    /// What [`apply`](Self::apply) would do, without writing.
    pub fn plan(&self, settings: &CondarcSettings) -> Result<PlannedEdit, CondarcError> {
        let target = self.target()?;
        let original = read_optional(&target)?;
        edit::plan_for_path(&self.path, original.as_deref(), settings)
    }

    /// Why writing `plan` would be refused (a read-only file, a directory without write
    /// permission), found before anything is asked or reissued; `Ok` when it can be written
    /// or changes nothing.
    pub fn check_can_write(&self, plan: &PlannedEdit) -> Result<(), CondarcError> {
        if !plan.changed {
            return Ok(());
        }
        let target = self.target()?;
        if target.exists() {
            check_writable(&target, &self.path)?;
        }
        check_dir_writable(&parent_dir(&target), &self.path)
    }

    /// Writes the settings into the file (creating it if needed), after a backup.
    pub fn apply(&self, settings: &CondarcSettings) -> Result<Applied, CondarcError> {
        self.edit(true, |original| {
            edit::plan_for_path(&self.path, original, settings)
        })
    }

    /// Compares the file with the settings.
    pub fn check(&self, settings: &CondarcSettings) -> Result<CheckReport, CondarcError> {
        let target = self.target()?;
        let Some(original) = read_optional(&target)? else {
            return Ok(CheckReport {
                state: CondarcState::NotConfigured,
                findings: vec![format!("{} does not exist", self.path.display())],
                notes: Vec::new(),
            });
        };
        let plan = match edit::plan_for_path(&self.path, Some(&original), settings) {
            Ok(plan) => plan,
            Err(
                e @ (CondarcError::Malformed { .. }
                | CondarcError::WrongType { .. }
                | CondarcError::UnsafeEdit { .. }),
            ) => {
                return Ok(CheckReport {
                    state: CondarcState::Malformed,
                    findings: vec![e.to_string()],
                    notes: Vec::new(),
                });
            }
            Err(e) => return Err(e),
        };
        let pattern = settings.channel_pattern()?;
        let seen = observe(&self.path, &original, &pattern)?;
        // conda uses the last matching entry, so a later entry for part of the same host
        // takes those URLs away from our handler; applying cannot know the user's intent.
        let shadowing: Vec<String> = seen
            .later_same_origin
            .iter()
            .map(|channel| {
                format!("the later channel_settings entry for {channel} overrides {pattern} for the URLs it matches")
            })
            .collect();
        let wanted_defaults = settings.default_channels()?;
        let notes: Vec<String> = seen
            .default_channels
            .as_ref()
            .filter(|list| {
                settings.set_default_channels
                    && super::is_users_default_channels(list, &wanted_defaults)
            })
            .map(|list| {
                format!(
                    "default_channels is your choice ({}): it keeps anacondad's {}, so it is left \
                     as you set it",
                    list.join(", "),
                    wanted_defaults.join(", ")
                )
            })
            .into_iter()
            .collect();
        if !plan.changed {
            return Ok(CheckReport {
                state: CondarcState::Configured,
                findings: shadowing,
                notes,
            });
        }
        let mut findings = shadowing;
        let mut ours_present = false;
        if seen.entry_auths.is_empty() {
            findings.push(format!("channel_settings has no entry for {pattern}"));
        }
        for auth in &seen.entry_auths {
            ours_present = true;
            match auth {
                Some(a) if *a == settings.auth_handler => {}
                Some(a) => findings.push(format!(
                    "the channel_settings entry for {pattern} uses auth `{a}`, not `{}`",
                    settings.auth_handler
                )),
                None => findings.push(format!(
                    "the channel_settings entry for {pattern} has no auth (wanted `{}`)",
                    settings.auth_handler
                )),
            }
        }
        if let Some(wanted) = settings.credential_type.map(|t| t.as_str()) {
            for found in &seen.entry_credential_types {
                match found {
                    Some(t) if t == wanted => {}
                    Some(t) => findings.push(format!(
                        "the channel_settings entry for {pattern} has credential_type `{t}`, not `{wanted}`"
                    )),
                    None => findings.push(format!(
                        "the channel_settings entry for {pattern} has no credential_type (wanted `{wanted}`)"
                    )),
                }
            }
        }
        if settings.set_default_channels {
            match &seen.default_channels {
                Some(list)
                    if *list == wanted_defaults
                        || super::is_users_default_channels(list, &wanted_defaults) =>
                {
                    ours_present = true;
                }
                Some(list) => {
                    ours_present |= list.iter().any(|c| wanted_defaults.contains(c));
                    findings.push(format!(
                        "default_channels is {}, not {}",
                        list.join(", "),
                        wanted_defaults.join(", ")
                    ));
                }
                None => findings.push(format!(
                    "default_channels is not set (wanted {})",
                    wanted_defaults.join(", ")
                )),
            }
        }
        Ok(CheckReport {
            state: if ours_present {
                CondarcState::Drifted
            } else {
                CondarcState::NotConfigured
            },
            findings,
            notes,
        })
    }

    /// What [`add_channels`](Self::add_channels) would do, without writing.
    pub fn plan_add_channels(
        &self,
        urls: &[String],
        position: super::ChannelPosition,
    ) -> Result<PlannedEdit, CondarcError> {
        let original = read_optional(&self.target()?)?;
        edit::add_channels_plan(&self.path, original.as_deref(), urls, position)
    }

    /// Adds organisation channel URLs to `channels` (see `edit::org_channels`), after a backup.
    pub fn add_channels(
        &self,
        urls: &[String],
        position: super::ChannelPosition,
    ) -> Result<Applied, CondarcError> {
        self.edit(true, |original| {
            edit::add_channels_plan(&self.path, original, urls, position)
        })
    }

    /// What [`remove_channels`](Self::remove_channels) would do, without writing.
    pub fn plan_remove_channels(
        &self,
        urls: &[String],
        exact: bool,
    ) -> Result<PlannedEdit, CondarcError> {
        let original = read_optional(&self.target()?)?;
        edit::remove_channels_plan(&self.path, original.as_deref(), urls, exact)
    }

    /// Takes channel URLs out of `channels`, after a backup.
    pub fn remove_channels(&self, urls: &[String], exact: bool) -> Result<Applied, CondarcError> {
        self.edit(true, |original| {
            edit::remove_channels_plan(&self.path, original, urls, exact)
        })
    }

    /// The file's `channels` entries as written (none when the file does not exist).
    pub fn channel_entries(&self) -> Result<Vec<String>, CondarcError> {
        match read_optional(&self.target()?)? {
            Some(text) => edit::channel_entries(&self.path, &text),
            None => Ok(Vec::new()),
        }
    }

    /// Removes the `channel_settings` entries for the repository's `origin/*` pattern (token
    /// uninstall), whatever handler they name; other entries and keys stay. When no entry is
    /// left the `channel_settings` key goes too (an empty list means the same to conda), and
    /// its comments stay on lines of their own.
    pub fn remove_channel_settings(&self, repo_url: &str) -> Result<Applied, CondarcError> {
        self.edit(true, |original| {
            edit::remove_channel_settings_plan(&self.path, original, repo_url)
        })
    }

    /// Gives `default_channels` the value it had in `<file>.bak` (`--restore-condarc`); when the
    /// backup had none, the key is removed. The `.bak` itself is left as it is.
    pub fn restore_default_channels_from_backup(&self) -> Result<Applied, CondarcError> {
        let backup = self.backup_path();
        let saved = read_optional(&backup)?.ok_or_else(|| CondarcError::NoBackup {
            path: self.path.clone(),
            backup: backup.clone(),
        })?;
        self.edit(false, |original| {
            edit::restore_default_channels_plan(&self.path, original, &backup, &saved)
        })
    }

    /// The file as it was before anacondad first edited it: the backup when it holds the
    /// user's own configuration; `None` when there is no such backup (the file did not
    /// exist, or the backup is of a file anacondad had configured).
    pub fn backup_from_before_anacondad(&self) -> Result<Option<String>, CondarcError> {
        let backup = self.backup_path();
        if backup_is_replaceable(&backup)? {
            return Ok(None);
        }
        read_optional(&backup)
    }

    /// Once no token is left: when `default_channels` is still `ours` (anacondad's, for a
    /// repository conda can no longer authenticate to), gives it the value it had in
    /// `before` (the file before anacondad; `None`: there was none, so the key goes) and takes
    /// out the `defaults` anacondad added to `channels`. A `default_channels` the user changed
    /// stays, and the change list says how to restore it anyway.
    pub fn restore_default_channels_if_ours(
        &self,
        ours: &[String],
        before: Option<&str>,
    ) -> Result<Applied, CondarcError> {
        let backup = self.backup_path();
        let mut kept = None;
        let mut applied = self.edit(false, |original| {
            let now = edit::default_channels_of(&self.path, original.unwrap_or(""))?;
            match now {
                Some(list) if list == ours => edit::restore_default_channels_plan(
                    &self.path,
                    original,
                    &backup,
                    before.unwrap_or(""),
                ),
                Some(list) => {
                    kept = Some(list);
                    edit::restore_default_channels_plan(
                        &self.path,
                        original,
                        &backup,
                        original.unwrap_or(""),
                    )
                }
                None => edit::restore_default_channels_plan(
                    &self.path,
                    original,
                    &backup,
                    original.unwrap_or(""),
                ),
            }
        })?;
        if let Some(list) = kept {
            let restore = match before {
                Some(_) => format!(
                    "`--restore-condarc` puts back the one from before anacondad, from {}",
                    backup.display()
                ),
                // The `.bak` now holds the configured file, so there is nothing to restore.
                None => "there was none before anacondad; remove it for conda's own".to_owned(),
            };
            applied.changes.push(format!(
                "default_channels: kept ({}), since it is not the one anacondad wrote; {restore}",
                list.join(", ")
            ));
        }
        Ok(applied)
    }

    /// The real file behind `path`, following symlinks (also to a target not created yet), so
    /// that writing replaces the target and the link stays a link.
    fn target(&self) -> Result<PathBuf, CondarcError> {
        let mut current = self.path.clone();
        for _ in 0..MAX_SYMLINK_HOPS {
            match fs::symlink_metadata(&current) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let link = fs::read_link(&current)
                        .map_err(|e| io_error(&current, "read the symlink", e))?;
                    current = match current.parent() {
                        Some(dir) if link.is_relative() => dir.join(link),
                        _ => link,
                    };
                }
                Ok(_) => return Ok(current),
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(current),
                Err(e) => return Err(io_error(&current, "inspect", e)),
            }
        }
        Err(io_error(
            &self.path,
            "resolve",
            std::io::Error::other("too many levels of symbolic links"),
        ))
    }

    /// Plans and writes under the lock: re-reads the file once the lock is held so a
    /// concurrent editor's change is never overwritten with a stale plan.
    fn edit(
        &self,
        backup: bool,
        make_plan: impl FnOnce(Option<&str>) -> Result<PlannedEdit, CondarcError>,
    ) -> Result<Applied, CondarcError> {
        let target = self.target()?;
        let dir = parent_dir(&target);
        let _lock = lock_dir(&dir, &self.path)?;
        let original = read_optional(&target)?;
        let plan = make_plan(original.as_deref())?;
        if !plan.changed {
            return Ok(Applied {
                changed: false,
                backup_path: None,
                backup_written: false,
                changes: Vec::new(),
                diff: String::new(),
            });
        }
        let mode = match &original {
            Some(_) => {
                let mode = check_writable(&target, &self.path)?;
                Some(mode)
            }
            None => None,
        };
        check_dir_writable(&dir, &self.path)?;
        let mut backup_path = None;
        let mut backup_written = false;
        if let (true, Some(text)) = (backup, &original) {
            let bak = self.backup_path();
            if backup_is_replaceable(&bak)? {
                let bak_dir = parent_dir(&bak);
                check_dir_writable(&bak_dir, &self.path)?;
                write_atomically(
                    &bak,
                    text.as_bytes(),
                    mode.unwrap_or(NEW_FILE_MODE),
                    &self.path,
                )?;
                backup_written = true;
                crate::fault::point("condarc.after_backup");
            }
            backup_path = Some(bak);
        } else if !backup && self.backup_path().exists() {
            backup_path = Some(self.backup_path());
        }
        write_atomically(
            &target,
            plan.updated.as_bytes(),
            mode.unwrap_or(NEW_FILE_MODE),
            &self.path,
        )?;
        Ok(Applied {
            changed: true,
            backup_path,
            backup_written,
            changes: plan.changes,
            diff: plan.diff,
        })
    }
}
