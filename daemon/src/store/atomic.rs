//! Crash-safe replacement of a small file: temporary file next to the target, fsync, rename,
//! fsync of the directory. Shared by the file keyring and the state file.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// Follows symlinks (relative ones from their own directory) to the file a write must
/// replace, so that a symlinked keyring stays a symlink. The target need not exist yet.
pub(crate) fn resolve_symlinks(path: &Path) -> io::Result<PathBuf> {
    // Bound the walk as the kernel does (ELOOP after 40 links).
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "too many levels of symbolic links at {}",
        path.display()
    )))
}

/// Where a write can be made to stop, to show what a crash there leaves behind.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CrashPoint {
    /// After the temporary file is written and synced, before the rename.
    BeforeRename,
}

#[cfg(test)]
thread_local! {
    pub(crate) static CRASH_AT: std::cell::Cell<Option<CrashPoint>> = const { std::cell::Cell::new(None) };
}

/// Replaces `target` (already resolved: not a symlink) with `bytes`, mode 0600 on Unix.
/// Readers see either the old or the new content, never a mix, even across a crash.
pub(crate) fn write_atomically(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".anacondad-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    #[cfg(test)]
    if CRASH_AT.with(|c| c.get()) == Some(CrashPoint::BeforeRename) {
        // Leak the temporary file as a killed process would.
        let _ = tmp.keep();
        return Err(io::Error::other("simulated crash before rename"));
    }
    tmp.persist(target).map_err(|e| e.error)?;
    sync_dir(dir)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows offers no directory handle to flush; the rename is durable once it returns.
    Ok(())
}
