//! The files a backend owns: what each should hold, whose the file there now is, and writing
//! or removing them, each step recorded in the [`Report`].

use std::path::PathBuf;

use super::MARKER;
use super::report::Report;
use crate::exit::CliError;
use crate::json::service::Installed;

/// Mode of a written unit or plist: the manager, not only the user, reads it.
const UNIT_FILE_MODE: u32 = 0o644;

/// A file a backend installs, with the contents it should have.
#[derive(Debug, Clone)]
pub(super) struct ManagedFile {
    pub(super) path: PathBuf,
    pub(super) contents: String,
}

impl ManagedFile {
    /// What is at the file's path now.
    pub(super) fn found(&self) -> Installed {
        match std::fs::read(&self.path) {
            Err(_) => Installed::Absent,
            Ok(bytes) if bytes == self.contents.as_bytes() => Installed::Installed,
            Ok(bytes) if String::from_utf8_lossy(&bytes).contains(MARKER) => Installed::Outdated,
            Ok(_) => Installed::Foreign,
        }
    }

    /// Whether the file there carries our marker.
    pub(super) fn is_ours(&self) -> bool {
        matches!(self.found(), Installed::Installed | Installed::Outdated)
    }
}

/// Writes the files that differ, after checking them all: a foreign file stops the install
/// before anything is written (unless `force`). True when any file changed.
pub(super) fn install_files(
    files: &[ManagedFile],
    force: bool,
    report: &mut Report,
) -> Result<bool, CliError> {
    refuse_foreign(files, force)?;
    write_files(files, report)
}

/// Checks every file before writing any: a foreign file stops the install (unless `force`).
fn refuse_foreign(files: &[ManagedFile], force: bool) -> Result<(), CliError> {
    let foreign: Vec<String> = files
        .iter()
        .filter(|f| f.found() == Installed::Foreign)
        .map(|f| f.path.display().to_string())
        .collect();
    if foreign.is_empty() || force {
        return Ok(());
    }
    let one = foreign.len() == 1;
    let them = if one { "it" } else { "them" };
    Err(CliError::failed(format!(
        "{} {} not written by anacondactl: left untouched. Move {them} away, or pass --force to \
         replace {them}",
        foreign.join(", "),
        if one { "was" } else { "were" },
    )))
}

/// Writes the files that differ (all of them in a dry run: prints them); true when any did.
fn write_files(files: &[ManagedFile], report: &mut Report) -> Result<bool, CliError> {
    let mut changed = false;
    for file in files {
        let found = file.found();
        if found == Installed::Installed {
            report.say(format!("unchanged: {}", file.path.display()));
            report.file(&file.path, "unchanged");
            continue;
        }
        changed = true;
        let action = if found == Installed::Absent {
            "created"
        } else {
            "replaced"
        };
        if report.dry_run {
            report.say(format!("would write {}:", file.path.display()));
            for line in file.contents.lines() {
                report.say(format!("    {line}"));
            }
            report.file(&file.path, &format!("would be {action}"));
            continue;
        }
        anacondad_proto::atomic::write_atomically(
            &file.path,
            file.contents.as_bytes(),
            UNIT_FILE_MODE,
        )
        .map_err(|e| {
            CliError::failed(format!(
                "cannot write {}: {e}; check that its directory is yours and writable",
                file.path.display()
            ))
        })?;
        report.say(format!("{action}: {}", file.path.display()));
        report.file(&file.path, action);
        report.changed = true;
    }
    Ok(changed)
}

/// Removes the files that carry our marker; says which others it left.
pub(super) fn remove_ours(files: &[ManagedFile], report: &mut Report) -> Result<(), CliError> {
    for file in files {
        match file.found() {
            Installed::Absent | Installed::Packaged => {}
            Installed::Foreign => {
                report.say(format!(
                    "left alone (not written by anacondactl): {}",
                    file.path.display()
                ));
                report.file(&file.path, "kept");
            }
            Installed::Installed | Installed::Outdated if report.dry_run => {
                report.say(format!("would remove {}", file.path.display()));
                report.file(&file.path, "would be removed");
            }
            Installed::Installed | Installed::Outdated => {
                std::fs::remove_file(&file.path).map_err(|e| {
                    CliError::failed(format!("cannot remove {}: {e}", file.path.display()))
                })?;
                report.say(format!("removed: {}", file.path.display()));
                report.file(&file.path, "removed");
                report.changed = true;
            }
        }
    }
    Ok(())
}
