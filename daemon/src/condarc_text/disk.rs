//! The disk under the editor: reading, the directory lock, write checks and atomic writes.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::edit::has_handler_entry;
use super::{ANACONDAD_AUTH_HANDLER, CondarcError};
use crate::fsutil::read_regular_file;

/// Mode of a `.condarc` the editor creates: readable by all, like conda's own.
pub(super) const NEW_FILE_MODE: u32 = 0o644;

/// A `.bak` is replaced when there is none, or when it already holds an anacondad-configured
/// file; any other `.bak` is the user's configuration from before anacondad and is kept.
pub(super) fn backup_is_replaceable(bak: &Path) -> Result<bool, CondarcError> {
    match read_regular_file(bak) {
        Ok(Some(bytes)) => Ok(std::str::from_utf8(&bytes)
            .is_ok_and(|text| has_handler_entry(text, ANACONDAD_AUTH_HANDLER))),
        Ok(None) => Ok(true),
        Err(e) => Err(io_error(bak, "read", e)),
    }
}

pub(super) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

pub(super) fn io_error(path: &Path, action: &'static str, source: std::io::Error) -> CondarcError {
    CondarcError::Io {
        path: path.to_owned(),
        action,
        source,
    }
}

/// The file's text, `None` when it does not exist; a FIFO or other special file is refused
/// rather than read (reading one would block for ever).
pub(super) fn read_optional(path: &Path) -> Result<Option<String>, CondarcError> {
    match read_regular_file(path) {
        Ok(Some(bytes)) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| CondarcError::NotUtf8 {
                path: path.to_owned(),
            }),
        Ok(None) => Ok(None),
        Err(e) => Err(io_error(path, "read", e)),
    }
}

/// An exclusive advisory lock for edits in one directory. The directory is locked rather
/// than the file because the file is replaced by rename, which would leave a lock on the old
/// inode; it also covers a file that does not exist yet.
#[cfg(unix)]
pub(super) fn lock_dir(dir: &Path, shown: &Path) -> Result<File, CondarcError> {
    use fs4::fs_std::FileExt;
    let handle = File::open(dir).map_err(|e| io_error(shown, "open the directory of", e))?;
    FileExt::lock_exclusive(&handle).map_err(|e| io_error(shown, "lock the directory of", e))?;
    Ok(handle)
}

/// Windows cannot open a directory as a file; a lock file next to the target stands in.
#[cfg(not(unix))]
pub(super) fn lock_dir(dir: &Path, shown: &Path) -> Result<File, CondarcError> {
    use fs4::fs_std::FileExt;
    let handle = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".condarc.anacondad-lock"))
        .map_err(|e| io_error(shown, "create the lock file for", e))?;
    FileExt::lock_exclusive(&handle).map_err(|e| io_error(shown, "lock", e))?;
    Ok(handle)
}

/// Refuses a file marked read-only (even for root, who could write it anyway: the mark is the
/// user's wish) or one this user may not write; returns its mode to give the new file.
pub(super) fn check_writable(target: &Path, shown: &Path) -> Result<u32, CondarcError> {
    let meta = fs::metadata(target).map_err(|e| io_error(target, "inspect", e))?;
    if meta.permissions().readonly() {
        return Err(CondarcError::ReadOnly {
            path: shown.to_owned(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if rustix::fs::access(target, rustix::fs::Access::WRITE_OK).is_err() {
            return Err(CondarcError::ReadOnly {
                path: shown.to_owned(),
            });
        }
        Ok(meta.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    Ok(NEW_FILE_MODE)
}

/// Refuses a directory without write permission before anything is written (a backup
/// written into a directory that then refuses the file would be a half-done edit).
pub(super) fn check_dir_writable(dir: &Path, shown: &Path) -> Result<(), CondarcError> {
    let refused = || CondarcError::DirectoryNotWritable {
        path: shown.to_owned(),
        dir: dir.to_owned(),
    };
    let meta = fs::metadata(dir).map_err(|e| io_error(dir, "inspect", e))?;
    if meta.permissions().readonly() {
        return Err(refused());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o222 == 0
            || rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).is_err()
        {
            return Err(refused());
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temp file in the same directory: write, set the mode,
/// fsync, rename over, fsync the directory. A reader sees the old file or the new one.
pub(super) fn write_atomically(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    shown: &Path,
) -> Result<(), CondarcError> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "condarc".to_owned());
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| match e.kind() {
            ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
                CondarcError::DirectoryNotWritable {
                    path: shown.to_owned(),
                    dir: dir.clone(),
                }
            }
            _ => io_error(path, "create a temporary file next to", e),
        })?;
    temp.write_all(bytes)
        .map_err(|e| io_error(path, "write", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| io_error(path, "set the mode of", e))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    temp.as_file()
        .sync_all()
        .map_err(|e| io_error(path, "flush", e))?;
    temp.persist(path)
        .map_err(|e| io_error(path, "replace", e.error))?;
    sync_dir(&dir).map_err(|e| io_error(&dir, "flush the directory", e))?;
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
