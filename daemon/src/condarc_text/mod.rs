//! The `.condarc` editor: wires conda to anacondad by writing a `channel_settings` entry and
//! `default_channels` for the Anaconda repository, while keeping every comment, flag, blank
//! line, quoting style and unrelated key of the user's file.
//!
//! How it edits: a line-level editor changes only the lines of the two top-level keys it owns
//! (in place where it can: the matching entry's `auth`, the list items' values), then re-parses
//! the result and accepts it only if (a) it parses, (b) every other top-level key has the same
//! value as before, (c) our two keys have exactly the intended values, and (d) every comment of
//! the original is still there. Anything else is refused and the file is left untouched.
//! The editor is line-level on purpose: it touches only the lines it must, so keeping the rest
//! of the file is by construction rather than by a tree's printer, and the check above catches
//! any layout it misjudges (it then refuses instead of guessing).
//!
//! Backups: before changing a file, the editor copies it to `<file>.bak` (as the seed workflow
//! does) unless a `.bak` already exists that was not written from an anacondad-configured file;
//! such a `.bak` holds the user's configuration from before anacondad and is what
//! [`CondarcEditor::restore_default_channels_from_backup`] restores from, so it is kept.
//! Nothing is backed up or written when the file would not change.

mod disk;
mod edit;
mod file;
mod text;

use std::path::PathBuf;

pub use edit::{
    ChannelPosition, add_channels_plan, channel_key, plan, plan_for_path,
    remove_channel_settings_plan, remove_channels_plan, restore_default_channels_plan,
};
pub use file::{Applied, CheckReport, CondarcEditor, CondarcState};

/// The handler name our conda plugin registers; an entry with it marks a file anacondad wrote.
pub const ANACONDAD_AUTH_HANDLER: &str = "anacondad";

pub use crate::repo_url::DEFAULT_CHANNEL_NAMES;

/// Whether `list`, a `default_channels` other than `ours`, is the user's own built on ours:
/// it still holds every one of ours (in any order, trailing `/` aside) and adds channels of
/// its own (`ana feature enable main-x` puts main-x first). anacondad takes such a list as
/// the user's choice: the editor keeps it, the check and the watcher see no drift in it.
pub fn is_users_default_channels(list: &[String], ours: &[String]) -> bool {
    let bare = |c: &str| c.trim().trim_end_matches('/').to_owned();
    let held: Vec<String> = list.iter().map(|c| bare(c)).collect();
    list != ours && ours.iter().all(|c| held.contains(&bare(c)))
}

/// What the editor writes into `.condarc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondarcSettings {
    /// The repository's base URL, e.g. `https://repo.anaconda.cloud/repo/`: its origin gives the
    /// `channel_settings` pattern, and `main`, `r`, `msys2` under it give `default_channels`.
    pub repo_url: String,
    /// The conda auth handler named in the entry: `anacondad`, or `anaconda-auth` for users who
    /// keep the existing plugin.
    pub auth_handler: String,
    /// Whether `default_channels` is set as well (the seed sets it).
    pub set_default_channels: bool,
    /// Whether `defaults` is added to `channels`: set when conda's effective `channels` lacks
    /// it, since then `default_channels` is never searched.
    pub add_defaults_to_channels: bool,
    /// The `credential_type` our entry gets; `None` leaves the entry's as it is.
    pub credential_type: Option<crate::credential_kind::CredentialKind>,
}

impl CondarcSettings {
    /// Settings with our handler and `default_channels`, as `token install` writes them.
    pub fn new(repo_url: impl Into<String>) -> Self {
        CondarcSettings {
            repo_url: repo_url.into(),
            auth_handler: ANACONDAD_AUTH_HANDLER.to_owned(),
            set_default_channels: true,
            add_defaults_to_channels: false,
            credential_type: None,
        }
    }

    /// The `channel_settings` pattern: the repository's origin plus `/*`.
    pub fn channel_pattern(&self) -> Result<String, CondarcError> {
        channel_pattern(&self.repo_url)
    }

    /// `main`, `r` and `msys2` under the repository URL.
    pub fn default_channels(&self) -> Result<Vec<String>, CondarcError> {
        Ok(crate::repo_url::RepoUrl::new(parse_repo_url(&self.repo_url)?).default_channels())
    }
}

/// `scheme://host[:port]/*` for a repository URL (or a bare origin).
pub fn channel_pattern(repo_url: &str) -> Result<String, CondarcError> {
    let url = parse_repo_url(repo_url)?;
    Ok(format!("{}/*", url.origin().ascii_serialization()))
}

fn parse_repo_url(repo_url: &str) -> Result<url::Url, CondarcError> {
    let invalid = |reason: &str| CondarcError::InvalidRepoUrl {
        url: repo_url.to_owned(),
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(repo_url.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid("the scheme must be https or http"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not carry credentials"));
    }
    Ok(url)
}

/// The outcome of planning an edit, before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEdit {
    /// The whole file as it would be written.
    pub updated: String,
    /// One human-readable line per change; empty when nothing changes.
    pub changes: Vec<String>,
    /// A unified diff from the current file to `updated`; empty when nothing changes.
    pub diff: String,
    /// Whether `updated` differs from the current file.
    pub changed: bool,
}

impl PlannedEdit {
    /// One line for the CLI: the changes, or that the file is already as it should be.
    pub fn summary(&self) -> String {
        summary(self.changed, &self.changes)
    }
}

/// The changes joined for one line, or that there was nothing to change.
fn summary(changed: bool, changes: &[String]) -> String {
    if changed {
        changes.join("; ")
    } else {
        "already configured: nothing to change".to_owned()
    }
}

/// Why the editor refused; every message names the file and says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum CondarcError {
    #[error(
        "{} is not valid YAML at line {line}, column {column} ({problem}): fix the YAML at line {line}, column {column} of {}, then run `anacondactl condarc apply`",
        .path.display(), .path.display()
    )]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        problem: String,
    },
    #[error(
        "`{key}` at line {line}, column {column} of {} is {found}, but conda expects {expected}: fix it at line {line}, column {column} of {}, then run `anacondactl condarc apply`",
        .path.display(), .path.display()
    )]
    WrongType {
        path: PathBuf,
        key: String,
        line: usize,
        column: usize,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{} is not UTF-8 text: save it as UTF-8, then run `anacondactl condarc apply`", .path.display())]
    NotUtf8 { path: PathBuf },
    #[error(
        "invalid repository URL {url:?}: {reason}; give the repository's base URL, such as https://repo.anaconda.cloud/repo/"
    )]
    InvalidRepoUrl { url: String, reason: String },
    #[error(
        "{} is read-only, so it was left unchanged: make it writable (`chmod u+w {}`) and run `anacondactl condarc apply`, or make the change by hand",
        .path.display(), .path.display()
    )]
    ReadOnly { path: PathBuf },
    #[error(
        "cannot write in {}, the directory of {}, so nothing was changed: make the directory writable and run `anacondactl condarc apply`, or make the change by hand",
        .dir.display(), .path.display()
    )]
    DirectoryNotWritable { path: PathBuf, dir: PathBuf },
    #[error(
        "cannot change `{key}` in {} without disturbing the rest of the file ({reason}), so nothing was changed: edit `{key}` in {} by hand (see `anacondactl condarc show`)",
        .path.display(), .path.display()
    )]
    UnsafeEdit {
        path: PathBuf,
        key: &'static str,
        reason: String,
    },
    #[error(
        "there is no backup {} to restore default_channels from: set default_channels in {} by hand",
        .backup.display(), .path.display()
    )]
    NoBackup { path: PathBuf, backup: PathBuf },
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
}
