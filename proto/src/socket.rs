//! Where the daemon's socket lives and what makes its directory safe to trust. On Windows the
//! "socket" is a named pipe, `\\.\pipe\anacondad-<user SID>`, guarded by [`crate::pipe`].

#[cfg(unix)]
use std::fs;
use std::io;
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// File name of the socket inside its directory.
pub const SOCKET_FILE_NAME: &str = "anacondad.sock";

/// The pipe name's stem on Windows; the user's SID follows it.
#[cfg(windows)]
pub const PIPE_NAME_STEM: &str = "anacondad-";

/// The inputs of the socket-path rule, read once by a binary's `main`.
#[derive(Debug, Clone)]
pub struct SocketEnv {
    /// `$XDG_RUNTIME_DIR`, when set and non-empty.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `$TMPDIR`, when set and non-empty.
    pub tmpdir: Option<PathBuf>,
    /// The calling user (0 on Windows, which has no uids; see [`SocketEnv::user_sid`]).
    pub uid: u32,
    /// The calling user's SID: it names the user's pipe.
    #[cfg(windows)]
    pub user_sid: String,
}

impl SocketEnv {
    /// Reads the rule's inputs from this process. Call from `main` only.
    pub fn from_process() -> Self {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Self {
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
            tmpdir: var("TMPDIR"),
            uid: current_uid(),
            // Without a readable token (never seen) the user name still keeps users apart;
            // the pipe's DACL and both ends' checks then fail closed.
            #[cfg(windows)]
            user_sid: crate::pipe::current_user_sid().unwrap_or_else(|_| {
                std::env::var("USERNAME").unwrap_or_else(|_| "unknown-user".into())
            }),
        }
    }

    /// `$XDG_RUNTIME_DIR/anacondad/anacondad.sock`, else `$TMPDIR/anacondad-<uid>/anacondad.sock`
    /// (`/tmp` when `TMPDIR` is unset). On Windows: `\\.\pipe\anacondad-<user SID>`.
    #[cfg(windows)]
    pub fn default_socket_path(&self) -> PathBuf {
        PathBuf::from(format!(
            "{}{PIPE_NAME_STEM}{}",
            crate::pipe::PIPE_PREFIX,
            self.user_sid
        ))
    }

    /// `$XDG_RUNTIME_DIR/anacondad/anacondad.sock`, else `$TMPDIR/anacondad-<uid>/anacondad.sock`
    /// (`/tmp` when `TMPDIR` is unset).
    #[cfg(not(windows))]
    pub fn default_socket_path(&self) -> PathBuf {
        let dir = match &self.xdg_runtime_dir {
            Some(runtime) => runtime.join("anacondad"),
            None => self
                .tmpdir
                .clone()
                .unwrap_or_else(|| PathBuf::from("/tmp"))
                .join(format!("anacondad-{}", self.uid)),
        };
        dir.join(SOCKET_FILE_NAME)
    }

    /// The explicit path when one was given (`--socket`, `ANACONDAD_SOCKET`), else the default.
    pub fn resolve(&self, explicit: Option<&Path>) -> PathBuf {
        match explicit {
            Some(path) => path.to_path_buf(),
            None => self.default_socket_path(),
        }
    }
}

/// The real uid of this process.
#[cfg(unix)]
pub fn current_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// Windows has no uids: always 0. Users are told apart by SID there ([`crate::pipe`]), and
/// the connect helper and the daemon ignore this value.
#[cfg(windows)]
pub fn current_uid() -> u32 {
    0
}

/// Why a socket directory cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum SocketDirError {
    #[error("socket directory {path} is a symbolic link; remove it (`rm {path}`) and try again")]
    Symlink { path: PathBuf },
    #[error("socket path {path} has no parent directory")]
    NoParent { path: PathBuf },
    #[error("{path} is not a directory; remove it or choose another socket with --socket")]
    NotADirectory { path: PathBuf },
    #[error(
        "socket directory {path} belongs to uid {owner}, not to you (uid {uid}); \
         choose another socket with --socket or remove the directory"
    )]
    WrongOwner { path: PathBuf, owner: u32, uid: u32 },
    #[error(
        "socket directory {path} has mode {mode:04o}: other users could replace the socket; \
         run `chmod 700 {path}` or choose another socket with --socket"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("cannot use socket directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{path} is not a named pipe: on Windows the socket is a pipe path such as \\\\.\\pipe\\anacondad-NAME; \
         pass one with --socket or ANACONDAD_SOCKET, or unset them"
    )]
    NotAPipe { path: PathBuf },
}

/// Checks that `path` names a local named pipe (`\\.\pipe\NAME`, NAME non-empty).
#[cfg(windows)]
pub fn check_pipe_name(path: &Path) -> Result<(), SocketDirError> {
    let text = path.to_string_lossy();
    let prefix = crate::pipe::PIPE_PREFIX;
    let valid = text
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        && text
            .get(prefix.len()..)
            .is_some_and(|name| !name.is_empty() && !name.contains('\\'));
    if valid {
        Ok(())
    } else {
        Err(SocketDirError::NotAPipe {
            path: path.to_path_buf(),
        })
    }
}

/// The lock file of a pipe (`\\.\pipe\NAME`): `NAME.lock` in the user's temporary directory,
/// since the pipe namespace holds no files. Held by the daemon serving the pipe, so a second
/// daemon can say who serves it and a client can tell when the daemon has gone.
#[cfg(windows)]
pub fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    std::env::temp_dir().join(name)
}

/// The lock file next to `socket`: held by the daemon serving it, so a second daemon can tell
/// it is not alone and a client can tell when the daemon has gone.
#[cfg(not(windows))]
pub fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    socket.with_file_name(name)
}

/// The file, beside the lock, in which the daemon serving `socket` writes its version before
/// it serves: the CLI reads it (a file read, no call) to find a daemon older than the one
/// installed.
pub fn version_path(socket: &Path) -> PathBuf {
    lock_path(socket).with_extension("version")
}

/// The directory that holds `socket`.
#[cfg(unix)]
pub fn socket_dir(socket: &Path) -> Result<&Path, SocketDirError> {
    socket
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| SocketDirError::NoParent {
            path: socket.to_path_buf(),
        })
}

/// Checks that `dir` is a real directory (not a symlink), owned by `uid`, and closed to group
/// and others (no bits in 0o077), so nobody else can plant or replace a socket in it.
#[cfg(unix)]
pub fn check_socket_dir(dir: &Path, uid: u32) -> Result<(), SocketDirError> {
    let meta = fs::symlink_metadata(dir).map_err(|source| SocketDirError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if meta.file_type().is_symlink() {
        return Err(SocketDirError::Symlink {
            path: dir.to_path_buf(),
        });
    }
    if !meta.is_dir() {
        return Err(SocketDirError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    if meta.uid() != uid {
        return Err(SocketDirError::WrongOwner {
            path: dir.to_path_buf(),
            owner: meta.uid(),
            uid,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SocketDirError::TooOpen {
            path: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Creates `dir` with mode 0700 when it is missing (its parents with the default mode), then
/// checks it as [`check_socket_dir`] does. An existing directory is never loosened or
/// tightened: one that fails the check is refused.
#[cfg(unix)]
pub fn prepare_socket_dir(dir: &Path, uid: u32) -> Result<(), SocketDirError> {
    match fs::symlink_metadata(dir) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                fs::create_dir_all(parent).map_err(|source| SocketDirError::Io {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            match fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => {}
                // Another process created it between our look and our create: check theirs.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(source) => {
                    return Err(SocketDirError::Io {
                        path: dir.to_path_buf(),
                        source,
                    });
                }
            }
        }
        Err(source) => {
            return Err(SocketDirError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    }
    check_socket_dir(dir, uid)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn env(xdg: Option<&str>, tmp: Option<&str>) -> SocketEnv {
        SocketEnv {
            xdg_runtime_dir: xdg.map(PathBuf::from),
            tmpdir: tmp.map(PathBuf::from),
            uid: 1234,
        }
    }

    #[test]
    fn runtime_dir_wins_over_tmpdir() {
        assert_eq!(
            env(Some("/run/user/1234"), Some("/var/tmp")).default_socket_path(),
            PathBuf::from("/run/user/1234/anacondad/anacondad.sock")
        );
    }

    #[test]
    fn tmpdir_path_carries_the_uid() {
        assert_eq!(
            env(None, Some("/var/tmp")).default_socket_path(),
            PathBuf::from("/var/tmp/anacondad-1234/anacondad.sock")
        );
        assert_eq!(
            env(None, None).default_socket_path(),
            PathBuf::from("/tmp/anacondad-1234/anacondad.sock")
        );
    }

    #[test]
    fn explicit_path_overrides_the_rule() {
        let e = env(Some("/run/user/1234"), None);
        assert_eq!(
            e.resolve(Some(Path::new("/x/y.sock"))),
            PathBuf::from("/x/y.sock")
        );
    }

    #[test]
    fn prepared_directory_is_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/anacondad");
        prepare_socket_dir(&dir, current_uid()).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn open_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("open");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let err = prepare_socket_dir(&dir, current_uid()).unwrap_err();
        assert!(
            matches!(err, SocketDirError::TooOpen { mode: 0o777, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 700"));
    }

    #[test]
    fn symlinked_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fs::DirBuilder::new().mode(0o700).create(&real).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = prepare_socket_dir(&link, current_uid()).unwrap_err();
        assert!(matches!(err, SocketDirError::Symlink { .. }), "{err}");
    }

    #[test]
    fn directory_of_another_user_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let err = check_socket_dir(tmp.path(), current_uid() + 1).unwrap_err();
        assert!(matches!(err, SocketDirError::WrongOwner { .. }), "{err}");
    }
}
