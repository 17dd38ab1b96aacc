//! Reading every file the daemon reads (its configuration and anaconda-auth's, `.condarc`, the
//! state file, the keyring file, CA bundles, exports) only when it is a regular file of at
//! most [`MAX_FILE_BYTES`]: a FIFO, device, socket or directory at one of those paths is
//! refused at once with a clear error, because reading one would block a thread forever (or,
//! `/dev/zero`, fill the memory); a huge file is refused before it is read whole.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

/// A path that holds something other than a regular file. Callers put the path in front of
/// it ("cannot read <path>: ..."), so the message says only what it is and what to do.
#[derive(Debug, thiserror::Error)]
#[error(
    "it is {what}, not a regular file, so anacondad will not read it: remove it or move it aside (a regular file, or none, belongs there), then retry"
)]
pub struct NotRegularFile {
    /// "a FIFO (named pipe)", "a directory", ...
    pub what: &'static str,
}

/// The largest file the daemon reads: far above any configuration, keyring, state file or CA
/// bundle, far below what would cost the daemon its memory.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A file larger than [`MAX_FILE_BYTES`]; as [`NotRegularFile`], the caller names the path.
#[derive(Debug, thiserror::Error)]
#[error(
    "it is larger than {} MiB, more than any file anacondad reads: check that the path names the right file",
    MAX_FILE_BYTES / (1024 * 1024)
)]
pub struct TooLarge;

/// Whether `err` is a [`NotRegularFile`] refusal.
pub fn is_not_regular(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.is::<NotRegularFile>())
}

/// The whole content of the regular file at `path` (symlinks followed), `Ok(None)` when
/// nothing is there. Anything else at the path is an [`io::ErrorKind::InvalidInput`] error
/// carrying a [`NotRegularFile`]; the file is never opened in a way that can block.
pub fn read_regular_file(path: &Path) -> io::Result<Option<Vec<u8>>> {
    // The type is checked before opening: opening a FIFO for reading waits for a writer, and
    // opening a device can have effects of its own.
    match fs::metadata(path) {
        Ok(meta) => refuse_unless_regular(&meta)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    let file = match open_nonblocking(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // Checked again on the open handle: the path may have been replaced in between.
    let meta = file.metadata()?;
    refuse_unless_regular(&meta)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(io::Error::new(io::ErrorKind::InvalidData, TooLarge));
    }
    // The cap holds even for a file that grows while it is read.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io::Error::new(io::ErrorKind::InvalidData, TooLarge));
    }
    Ok(Some(bytes))
}

/// Like [`read_regular_file`], for text: invalid UTF-8 is an [`io::ErrorKind::InvalidData`]
/// error, as [`fs::read_to_string`] gives.
pub fn read_regular_text(path: &Path) -> io::Result<Option<String>> {
    match read_regular_file(path)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
    }
}

/// [`fs::read_to_string`] for regular files only: a missing file is a
/// [`io::ErrorKind::NotFound`] error, as there.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    read_regular_text(path)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
}

fn refuse_unless_regular(meta: &fs::Metadata) -> io::Result<()> {
    if meta.is_file() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        NotRegularFile {
            what: describe(meta.file_type()),
        },
    ))
}

#[cfg(unix)]
fn describe(kind: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn describe(kind: fs::FileType) -> &'static str {
    if kind.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<fs::File> {
    fs::File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"hello").unwrap();
        assert_eq!(read_regular_file(&path).unwrap().unwrap(), b"hello");
    }

    #[test]
    fn a_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            read_regular_file(&dir.path().join("nothing"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_directory_is_refused_with_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_regular_file(dir.path()).unwrap_err();
        assert!(is_not_regular(&err));
        assert!(err.to_string().contains("a directory"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_at_once_instead_of_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let err = read_regular_file(&path).unwrap_err();
        assert!(is_not_regular(&err));
        assert!(err.to_string().contains("FIFO"), "{err}");
    }

    #[test]
    fn a_file_over_the_cap_is_refused_before_it_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let file = fs::File::create(&path).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = read_regular_file(&path).unwrap_err();
        assert!(err.to_string().contains("larger than 4 MiB"), "{err}");
        file.set_len(MAX_FILE_BYTES).unwrap();
        assert_eq!(
            read_regular_file(&path).unwrap().unwrap().len() as u64,
            MAX_FILE_BYTES
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_device_that_never_ends_is_refused() {
        let err = read_regular_file(Path::new("/dev/zero")).unwrap_err();
        assert!(is_not_regular(&err));
        assert!(err.to_string().contains("character device"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_to_a_fifo_is_refused_too() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        assert!(is_not_regular(&read_regular_file(&link).unwrap_err()));
    }
}
