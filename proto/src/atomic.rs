//! Crash-safe replacement of a small file, for every crate that writes one: a temporary file
//! next to the target, its mode set, fsync, rename over the target, fsync of the directory. A
//! reader sees the old file or the new one, never a mix, even across a crash.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

/// Replaces `target` with `bytes`, with `mode` on Unix (ignored elsewhere), creating its
/// directory when missing. `target` itself is replaced: a symlink there is replaced by the file.
pub fn write_atomically(target: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    sync_dir(dir)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_replaced_whole_with_its_mode_and_no_temporary_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/unit.service");
        write_atomically(&target, b"old\n", 0o644).unwrap();
        write_atomically(&target, b"new\n", 0o644).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644);
        }
        let left: Vec<_> = fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}
