//! The daemon's endpoint: the Unix socket (`unix.rs`, its accept guards in `unix/accept.rs`)
//! or the Windows named pipe (`windows.rs`), each taking its endpoint, the one-daemon lock
//! ([`take_lock`]) and refusing other users' callers; and what both share once a connection
//! from our own user is accepted ([`serve_connections`]): the protocol check, HTTP/2 keepalive,
//! and the shutdown with its grace period. The transport serves the routes it is handed and
//! stops on the shutdown token it is handed; it never sees the daemon's parts.

use std::fmt::Display;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_stream::{Stream, StreamExt as _};
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::server::Connected;

use crate::idle::{ConnectionMark, OpenConnections};
use crate::service;

#[cfg(unix)]
pub mod unix;
#[cfg(unix)]
pub use unix::{BindError, BoundSocket, accept, serve};
#[cfg(windows)]
pub mod windows;
#[cfg(windows)]
pub use windows::{ActivatedListener, BindError, BoundSocket, serve};

/// How long open calls (e.g. `Watch` streams) get to finish once shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// How often the server pings an HTTP/2 connection, so a live client (a `Watch` stream with no
/// events) is never taken for an idle one.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// Serves `routes` on `connections`, behind the protocol check, until `shutdown` is cancelled,
/// then gives open calls [`SHUTDOWN_GRACE`] to finish. `ready` runs once the endpoint accepts
/// calls; `endpoint` names it in the log. Each connection is counted in `open` while it lasts.
pub async fn serve_connections<S, IO, E>(
    connections: S,
    routes: Routes,
    shutdown: CancellationToken,
    open: Arc<OpenConnections>,
    endpoint: impl Display,
    ready: impl FnOnce(),
) where
    S: Stream<Item = Result<IO, E>> + Send + 'static,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IO::ConnectInfo: Clone + Send + Sync + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let server = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .layer(tonic::service::InterceptorLayer::new(
            service::check_protocol,
        ))
        .add_routes(routes)
        .serve_with_incoming_shutdown(
            connections.map(move |accepted| {
                accepted.map(|io| Counted {
                    io,
                    _mark: open.opened(),
                })
            }),
            shutdown.clone().cancelled_owned(),
        );
    tracing::info!(%endpoint, "listening");
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
}

/// A connection, counted among the open ones until it is dropped.
struct Counted<IO> {
    io: IO,
    _mark: ConnectionMark,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Counted<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Counted<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl<IO: Connected> Connected for Counted<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

/// Why the one-daemon lock was not taken.
#[derive(Debug)]
pub(crate) enum LockRefused {
    /// Another daemon holds it; its pid when the lock file could be read (Windows locks are
    /// mandatory, so there it usually cannot).
    Held {
        pid: Option<u32>,
    },
    Io {
        path: PathBuf,
        source: io::Error,
    },
}

/// Takes the exclusive lock at `lock` that makes this the only daemon on its endpoint, and
/// writes our pid into it so a second daemon can say who holds it. The lock file is private
/// (0600) on Unix; on Windows its directory is made when missing.
pub(crate) fn take_lock(lock: &Path) -> Result<File, LockRefused> {
    let io_err = |source| LockRefused::Io {
        path: lock.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    #[cfg(windows)]
    if let Some(dir) = lock.parent() {
        fs::create_dir_all(dir).map_err(io_err)?;
    }
    let mut file = loop {
        let mut file = options.open(lock).map_err(io_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _unreadable_pid_is_fine = file.read_to_string(&mut text);
                return Err(LockRefused::Held {
                    pid: text.trim().parse().ok(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err(e)),
        }
        if still_at(&file, lock).map_err(io_err)? {
            break file;
        }
        // The daemon before us removed the file as it left, after we had opened it: that
        // lock guards nothing any more, so take the file now at the path.
    };
    file.set_len(0).map_err(io_err)?;
    file.rewind().map_err(io_err)?;
    writeln!(file, "{}", std::process::id()).map_err(io_err)?;
    Ok(file)
}

/// Whether the locked `file` is still the one at `path` (a leaving daemon removes its lock
/// file while it still holds it; see `BoundSocket`'s drop).
#[cfg(unix)]
pub(crate) fn still_at(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = file.metadata()?;
    match fs::symlink_metadata(path) {
        Ok(now) => Ok(now.dev() == held.dev() && now.ino() == held.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Windows cannot remove a file another process has open, so the file at the path is always
/// the one locked.
#[cfg(windows)]
pub(crate) fn still_at(_file: &File, _path: &Path) -> io::Result<bool> {
    Ok(true)
}
