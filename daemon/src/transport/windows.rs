//! The daemon's named pipe on Windows, with the API of the Unix socket server: taking the pipe
//! (one daemon per pipe through a lock file, the pipe created as the first instance of its
//! name so nobody else's pipe is joined, a DACL for the user's SID alone, remote clients
//! refused), refusing callers that run as other users, and serving the same gRPC services on
//! it until the shutdown signal.
//!
//! Named pipes leave nothing behind when their daemon dies: the next daemon finds the lock
//! released by the OS and no pipe of that name, so there is no stale pipe to replace.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use anacondad_proto::PipeStream;
use anacondad_proto::pipe::{current_user_sid, owner_only_sddl, process_user_sid};
use anacondad_proto::socket::{SocketDirError, check_pipe_name, lock_path};
use interprocess::TryClone as _;
use interprocess::os::windows::named_pipe::tokio::PipeListener;
use interprocess::os::windows::named_pipe::{PipeListenerOptions, pipe_mode};
use interprocess::os::windows::security_descriptor::SecurityDescriptor;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use widestring::U16CString;

use super::LockRefused;

/// How long to wait before accepting again after the pipe failed to accept, so a persistent
/// failure does not spin.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Win32 `ERROR_ACCESS_DENIED`: what creating the first instance of an existing pipe name
/// fails with.
const ERROR_ACCESS_DENIED: i32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(transparent)]
    Directory(#[from] SocketDirError),
    #[error(
        "another anacondad{} is already serving {path}; stop it with `anacondactl daemon stop` \
         or choose another pipe with --socket",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    AlreadyRunning { path: PathBuf, pid: Option<u32> },
    #[error(
        "the pipe {path} already exists and is not served by an anacondad of yours; \
         find the process holding it, or choose another pipe with --socket"
    )]
    NameTaken { path: PathBuf },
    #[error("cannot listen on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Windows has no socket activation; this type has no values.
#[derive(Debug)]
pub enum ActivatedListener {}

/// The pipe this daemon is entitled to serve: the lock is held, and the pipe is created with
/// its owner-only security descriptor when [`run`] starts (pipes need the async runtime).
/// Dropping it releases the lock; the pipe goes with its last handle.
#[derive(Debug)]
pub struct BoundSocket {
    path: PathBuf,
    user_sid: String,
    security: SecurityDescriptor,
    _lock: File,
}

impl BoundSocket {
    /// Takes the pipe at `path` for this process's user: checks the name, takes the lock (a
    /// second daemon fails here) and prepares the security descriptor. `_uid` exists for the
    /// Unix signature; Windows compares SIDs.
    pub fn bind(path: &Path, _uid: u32) -> Result<Self, BindError> {
        check_pipe_name(path)?;
        let io_err = |source| BindError::Io {
            path: path.to_path_buf(),
            source,
        };
        let lock = take_lock(&lock_path(path), path)?;
        let user_sid = current_user_sid().map_err(io_err)?;
        let sddl = U16CString::from_str(owner_only_sddl(&user_sid))
            .map_err(|e| io_err(io::Error::other(e)))?;
        let security = SecurityDescriptor::deserialize(&sddl).map_err(io_err)?;
        Ok(Self {
            path: path.to_path_buf(),
            user_sid,
            security,
            _lock: lock,
        })
    }

    /// Windows has no socket activation: there is never a listener to wrap.
    pub fn from_activation(
        listener: ActivatedListener,
        _path: &Path,
        _uid: u32,
    ) -> Result<Self, BindError> {
        match listener {}
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the pipe: first instance of its name, owner-only DACL, local clients only.
    fn listen(&self) -> Result<PipeListener<pipe_mode::Bytes, pipe_mode::Bytes>, BindError> {
        let security = self.security.try_clone().map_err(|source| BindError::Io {
            path: self.path.clone(),
            source,
        })?;
        PipeListenerOptions::new()
            .path(self.path.as_path())
            .accept_remote(false)
            .security_descriptor(Some(security))
            .create_tokio_duplex::<pipe_mode::Bytes>()
            .map_err(|source| {
                if source.raw_os_error() == Some(ERROR_ACCESS_DENIED) {
                    BindError::NameTaken {
                        path: self.path.clone(),
                    }
                } else {
                    BindError::Io {
                        path: self.path.clone(),
                        source,
                    }
                }
            })
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

/// What tonic records about a pipe connection: the client's process id.
#[derive(Debug, Clone, Copy)]
pub struct PipeConnectInfo {
    pub client_pid: u32,
}

/// An accepted pipe connection whose client runs as our user; tonic serves it as it serves a
/// Unix stream.
#[derive(Debug)]
pub struct PipeConnection {
    stream: PipeStream,
    client_pid: u32,
}

impl tonic::transport::server::Connected for PipeConnection {
    type ConnectInfo = PipeConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        PipeConnectInfo {
            client_pid: self.client_pid,
        }
    }
}

impl AsyncRead for PipeConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for PipeConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Accepted connections, less those whose client runs as another user (or cannot be told):
/// they are closed at once and logged, before they can send a single request. The DACL
/// already keeps other users out; this is the same check the Unix socket makes on uids.
fn owner_connections(
    listener: PipeListener<pipe_mode::Bytes, pipe_mode::Bytes>,
    user_sid: String,
) -> impl tokio_stream::Stream<Item = io::Result<PipeConnection>> {
    let accepted = futures::stream::unfold(listener, |listener| async move {
        let result = listener.accept().await;
        if result.is_err() {
            tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
        }
        Some((result, listener))
    });
    accepted.filter_map(move |accepted| match accepted {
        Ok(stream) => {
            let pid = match stream.client_process_id() {
                Ok(pid) => pid,
                Err(e) => {
                    tracing::warn!(error = %e, "refused a connection whose client is unknown");
                    return None;
                }
            };
            match process_user_sid(pid) {
                Ok(sid) if sid == user_sid => Some(Ok(PipeConnection {
                    stream,
                    client_pid: pid,
                })),
                Ok(sid) => {
                    tracing::warn!(
                        peer_sid = %sid,
                        peer_pid = pid,
                        "refused a connection from another user"
                    );
                    None
                }
                Err(e) => {
                    tracing::warn!(
                        peer_pid = pid,
                        error = %e,
                        "refused a connection whose user cannot be read"
                    );
                    None
                }
            }
        }
        Err(e) => Some(Err(e)),
    })
}

/// Serves `routes` on the pipe until `shutdown` is cancelled, then gives open calls
/// [`super::SHUTDOWN_GRACE`] to finish. `ready` runs once the pipe accepts calls.
pub async fn serve(
    socket: BoundSocket,
    routes: Routes,
    shutdown: CancellationToken,
    open: std::sync::Arc<crate::idle::OpenConnections>,
    ready: impl FnOnce(),
) -> Result<(), BindError> {
    let listener = socket.listen()?;
    super::serve_connections(
        owner_connections(listener, socket.user_sid.clone()),
        routes,
        shutdown,
        open,
        socket.path.display(),
        ready,
    )
    .await;
    drop(socket);
    Ok(())
}
