//! The daemon's socket: taking it (one daemon per socket, stale sockets replaced, private
//! directory, 0600 socket), refusing callers of other users, and serving the routes it is
//! handed on it until the shutdown signal.

pub mod accept;

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anacondad_proto::socket::{SocketDirError, lock_path, prepare_socket_dir, socket_dir};
use tokio::net::{UnixListener, UnixStream};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnixListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use super::LockRefused;

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(transparent)]
    Directory(#[from] SocketDirError),
    #[error(
        "another anacondad{} is already serving {path}; stop it with `anacondactl daemon stop` \
         or choose another socket with --socket",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    AlreadyRunning { path: PathBuf, pid: Option<u32> },
    #[error(
        "{path} exists and is not a socket; move it away or choose another socket with --socket"
    )]
    NotASocket { path: PathBuf },
    #[error("cannot listen on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// A listening socket this daemon owns. Dropping it removes the socket file (if it is still
/// ours) and releases the lock that keeps a second daemon away.
#[derive(Debug)]
pub struct BoundSocket {
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
    /// The socket file's identity, so we never remove a successor's socket.
    inode: Option<(u64, u64)>,
    /// The only user whose connections are served.
    uid: u32,
    /// The one-daemon lock; its file is removed on the way out, while still held.
    lock: Option<File>,
}

impl BoundSocket {
    /// Takes the socket at `path` for user `uid`: prepares its private directory, takes the
    /// lock next to it (a second daemon fails here), replaces a stale socket, binds, and sets
    /// the socket's mode to 0600.
    pub fn bind(path: &Path, uid: u32) -> Result<Self, BindError> {
        let dir = socket_dir(path)?;
        prepare_socket_dir(dir, uid)?;
        let io_err = |source| BindError::Io {
            path: path.to_path_buf(),
            source,
        };
        let lock = take_lock(&lock_path(path), path)?;
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                // We hold the lock, so no anacondad of ours serves it; something else might.
                match std::os::unix::net::UnixStream::connect(path) {
                    Ok(_) => {
                        return Err(BindError::AlreadyRunning {
                            path: path.to_path_buf(),
                            pid: None,
                        });
                    }
                    Err(_) => {
                        tracing::info!(socket = %path.display(), "replacing a stale socket");
                        fs::remove_file(path).map_err(io_err)?;
                    }
                }
            }
            Ok(_) => {
                return Err(BindError::NotASocket {
                    path: path.to_path_buf(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e)),
        }
        let listener = std::os::unix::net::UnixListener::bind(path).map_err(io_err)?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io_err)?;
        let inode = fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()));
        Ok(Self {
            listener,
            path: path.to_path_buf(),
            inode,
            uid,
            lock: Some(lock),
        })
    }

    /// Wraps a socket handed over by systemd (`LISTEN_FDS`); systemd owns its file. The lock
    /// is taken all the same, so `anacondactl daemon stop` can tell when this daemon has gone
    /// and a daemon started by hand on the same path is refused.
    pub fn from_activation(
        listener: std::os::unix::net::UnixListener,
        path: &Path,
        uid: u32,
    ) -> Result<Self, BindError> {
        let lock = take_lock(&lock_path(path), path)?;
        Ok(Self {
            listener,
            path: path.to_path_buf(),
            inode: None,
            uid,
            lock: Some(lock),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for BoundSocket {
    fn drop(&mut self) {
        // The lock file goes first, while we still hold it: a daemon that opened it a moment
        // before finds it gone once it has the lock, and takes a new one (`take_lock`).
        if let Some(lock) = &self.lock {
            let lock_file = lock_path(&self.path);
            if super::still_at(lock, &lock_file).unwrap_or(false) {
                let _already_gone_is_fine = fs::remove_file(&lock_file);
            }
        }
        let Some(ours) = self.inode else { return };
        let still_ours = fs::symlink_metadata(&self.path)
            .map(|m| (m.dev(), m.ino()) == ours)
            .unwrap_or(false);
        if still_ours {
            let _already_gone_is_fine = fs::remove_file(&self.path);
        }
    }
}

/// Takes the one-daemon lock for `socket`; see [`super::take_lock`].
fn take_lock(lock: &Path, socket: &Path) -> Result<File, BindError> {
    super::take_lock(lock).map_err(|refused| match refused {
        LockRefused::Held { pid } => BindError::AlreadyRunning {
            path: socket.to_path_buf(),
            pid,
        },
        LockRefused::Io { path, source } => BindError::Io { path, source },
    })
}

/// Accepted connections, less those whose peer runs as another user: they are closed at once
/// and logged, before they can send a single request.
fn owner_connections(
    listener: UnixListener,
    uid: u32,
) -> impl tokio_stream::Stream<Item = io::Result<UnixStream>> {
    UnixListenerStream::new(listener).filter_map(move |accepted| match accepted {
        Ok(stream) => match stream.peer_cred() {
            Ok(cred) if cred.uid() == uid => Some(Ok(stream)),
            Ok(cred) => {
                tracing::warn!(
                    peer_uid = cred.uid(),
                    peer_pid = ?cred.pid(),
                    "refused a connection from another user"
                );
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused a connection whose peer is unknown");
                None
            }
        },
        Err(e) => Some(Err(e)),
    })
}

/// Serves `routes` on the socket until `shutdown` is cancelled, then gives open calls
/// [`super::SHUTDOWN_GRACE`] to finish. `ready` runs once the socket accepts calls; each
/// connection is counted in `open` while it lasts (the idle exit reads it).
pub async fn serve(
    socket: BoundSocket,
    routes: Routes,
    shutdown: CancellationToken,
    open: std::sync::Arc<crate::idle::OpenConnections>,
    ready: impl FnOnce(),
) -> Result<(), BindError> {
    let uid = socket.uid;
    let path = socket.path.clone();
    socket
        .listener
        .set_nonblocking(true)
        .map_err(|source| BindError::Io {
            path: path.clone(),
            source,
        })?;
    let listener =
        UnixListener::from_std(
            socket
                .listener
                .try_clone()
                .map_err(|source| BindError::Io {
                    path: path.clone(),
                    source,
                })?,
        )
        .map_err(|source| BindError::Io {
            path: path.clone(),
            source,
        })?;
    super::serve_connections(
        accept::guard_under_file_limit(owner_connections(listener, uid)),
        routes,
        shutdown,
        open,
        path.display(),
        ready,
    )
    .await;
    drop(socket);
    Ok(())
}
