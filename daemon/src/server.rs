//! The daemon's socket: taking it (one daemon per socket, stale sockets replaced, private
//! directory, 0600 socket), refusing callers of other users, and serving the gRPC services on it
//! until the shutdown signal.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anacondad_proto::socket::{SocketDirError, lock_path, prepare_socket_dir, socket_dir};
use tokio::net::{UnixListener, UnixStream};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnixListenerStream;
use tokio_util::sync::CancellationToken;

use crate::daemon::Daemon;
use crate::service;

/// How long open calls (e.g. `Watch` streams) get to finish once shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

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
    _lock: Option<File>,
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
            _lock: Some(lock),
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
            _lock: Some(lock),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for BoundSocket {
    fn drop(&mut self) {
        let Some(ours) = self.inode else { return };
        let still_ours = fs::symlink_metadata(&self.path)
            .map(|m| (m.dev(), m.ino()) == ours)
            .unwrap_or(false);
        if still_ours {
            let _already_gone_is_fine = fs::remove_file(&self.path);
        }
    }
}

/// Takes the exclusive lock that makes this the only daemon on `socket`, and writes our pid
/// into it so a second daemon can say who holds it.
fn take_lock(lock: &Path, socket: &Path) -> Result<File, BindError> {
    let io_err = |source| BindError::Io {
        path: lock.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(lock)
        .map_err(io_err)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _unreadable_pid_is_fine = file.read_to_string(&mut text);
            return Err(BindError::AlreadyRunning {
                path: socket.to_path_buf(),
                pid: text.trim().parse().ok(),
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(io_err(e)),
    }
    file.set_len(0).map_err(io_err)?;
    file.rewind().map_err(io_err)?;
    writeln!(file, "{}", std::process::id()).map_err(io_err)?;
    Ok(file)
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

/// Serves every gRPC service on `socket` until `daemon.shutdown` is cancelled, then gives open
/// calls [`SHUTDOWN_GRACE`] to finish. `ready` runs once the socket accepts calls.
pub async fn serve(
    socket: BoundSocket,
    daemon: Arc<Daemon>,
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
    let shutdown: CancellationToken = daemon.shutdown.clone();
    let server = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(crate::accept::KEEPALIVE_INTERVAL))
        .layer(tonic::service::InterceptorLayer::new(
            service::check_protocol,
        ))
        .add_routes(service::routes(daemon))
        .serve_with_incoming_shutdown(
            crate::accept::guard_under_file_limit(owner_connections(listener, uid)),
            shutdown.clone().cancelled_owned(),
        );
    tracing::info!(socket = %path.display(), "listening");
    ready();
    tokio::select! {
        result = server => {
            if let Err(e) = result {
                tracing::error!(error = %e, "server stopped");
            }
        }
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => tracing::warn!("open calls did not finish in time; stopping anyway"),
    }
    drop(socket);
    Ok(())
}
