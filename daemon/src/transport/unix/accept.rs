//! Keeping the socket usable when clients hold too many connections or file handles run out:
//! the soft `RLIMIT_NOFILE` raised to the hard limit at start, a cap on open connections,
//! a deadline for the first bytes of a connection and for silence after them, and a back-off
//! instead of a busy loop when `accept` fails for lack of file handles.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tokio_stream::Stream;

/// A connection must send its first bytes (the HTTP/2 preface) within this.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection with no bytes either way for this long is closed. The server pings every
/// [`crate::transport::KEEPALIVE_INTERVAL`], so a live client (a `Watch` stream with no
/// events) is never idle.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// File handles kept free of connections: the store, the state file, `.condarc` edits, the
/// watcher, the HTTP client and the runtime need some.
const RESERVED_FILE_HANDLES: u64 = 48;

/// Bounds of the connection cap, whatever the file-handle limit says.
const MIN_CONNECTIONS: u64 = 8;
const MAX_CONNECTIONS: u64 = 4096;

/// First and last pause of the accept loop when the process or the system is out of handles.
const BACKOFF_START: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Raises the soft limit of open files to the hard limit (1,024 is a common soft limit, far
/// below what a busy daemon may need) and returns the soft limit now in force.
#[cfg(unix)]
pub fn raise_open_file_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let before = limit.current;
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        match setrlimit(Resource::Nofile, limit) {
            Ok(()) => tracing::debug!(
                from = ?before,
                to = ?limit.maximum,
                "raised the open-file limit"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "could not raise the open-file limit");
                return before.unwrap_or(u64::MAX);
            }
        }
    }
    limit.current.unwrap_or(u64::MAX)
}

/// How many connections may be open at once under a soft limit of `open_files` handles.
pub fn connection_cap(open_files: u64) -> usize {
    let cap = open_files
        .saturating_sub(RESERVED_FILE_HANDLES)
        .clamp(MIN_CONNECTIONS, MAX_CONNECTIONS);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// Whether an accept error means "no file handle (or memory) left": retrying at once would
/// spin, as the pending connection keeps the listener readable.
fn out_of_handles(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(code) if code == libc_code::EMFILE
            || code == libc_code::ENFILE
            || code == libc_code::ENOBUFS
            || code == libc_code::ENOMEM
    )
}

/// The errno values of Linux and the BSDs, named here so no libc crate is needed.
mod libc_code {
    pub const ENOMEM: i32 = 12;
    pub const ENFILE: i32 = 23;
    pub const EMFILE: i32 = 24;
    #[cfg(target_os = "linux")]
    pub const ENOBUFS: i32 = 105;
    #[cfg(not(target_os = "linux"))]
    pub const ENOBUFS: i32 = 55;
}

/// Wraps the stream of accepted connections: over the cap a connection is closed at once
/// (the client gets an error rather than a hang), out of handles the loop pauses, and every
/// connection handed on carries its deadlines.
pub struct GuardedIncoming {
    inner: Pin<Box<dyn Stream<Item = io::Result<UnixStream>> + Send>>,
    permits: Arc<Semaphore>,
    cap: usize,
    backoff: Option<Pin<Box<Sleep>>>,
    next_backoff: Duration,
    last_warning: Option<Instant>,
}

impl std::fmt::Debug for GuardedIncoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedIncoming")
            .field("cap", &self.cap)
            .field("open", &(self.cap - self.permits.available_permits()))
            .finish()
    }
}

/// Guards `incoming` with the cap that the soft open-file limit in force allows.
pub fn guard_under_file_limit(
    incoming: impl Stream<Item = io::Result<UnixStream>> + Send + 'static,
) -> GuardedIncoming {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    guard(incoming, connection_cap(soft))
}

/// Guards `incoming` with a cap of `cap` open connections.
pub fn guard(
    incoming: impl Stream<Item = io::Result<UnixStream>> + Send + 'static,
    cap: usize,
) -> GuardedIncoming {
    GuardedIncoming {
        inner: Box::pin(incoming),
        permits: Arc::new(Semaphore::new(cap)),
        cap,
        backoff: None,
        next_backoff: BACKOFF_START,
        last_warning: None,
    }
}

impl GuardedIncoming {
    /// At most one warning a minute: a flood must not become a flood of log lines.
    fn warn(&mut self, message: impl FnOnce()) {
        let now = Instant::now();
        if self
            .last_warning
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(60))
        {
            self.last_warning = Some(now);
            message();
        }
    }
}

impl Stream for GuardedIncoming {
    type Item = io::Result<GuardedConnection>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(pause) = self.backoff.as_mut() {
                ready!(pause.as_mut().poll(cx));
                self.backoff = None;
            }
            match ready!(self.inner.as_mut().poll_next(cx)) {
                None => return Poll::Ready(None),
                Some(Ok(stream)) => {
                    self.next_backoff = BACKOFF_START;
                    match Arc::clone(&self.permits).try_acquire_owned() {
                        Ok(permit) => {
                            return Poll::Ready(Some(Ok(GuardedConnection::new(stream, permit))));
                        }
                        Err(_) => {
                            let cap = self.cap;
                            self.warn(|| {
                                tracing::warn!(
                                    cap,
                                    "too many open connections; closing new ones until some end"
                                )
                            });
                            drop(stream);
                        }
                    }
                }
                Some(Err(e)) if out_of_handles(&e) => {
                    let pause = self.next_backoff;
                    self.warn(|| {
                        tracing::warn!(
                            error = %e,
                            "out of file handles; pausing new connections"
                        )
                    });
                    self.backoff = Some(Box::pin(tokio::time::sleep(pause)));
                    self.next_backoff = (pause * 2).min(BACKOFF_MAX);
                }
                // A peer that went away before we took it (ECONNABORTED and the like).
                Some(Err(e)) => tracing::debug!(error = %e, "accept failed"),
            }
        }
    }
}

/// An accepted connection with its place under the cap and its deadlines.
#[derive(Debug)]
pub struct GuardedConnection {
    stream: UnixStream,
    _permit: OwnedSemaphorePermit,
    deadline: Pin<Box<Sleep>>,
    greeted: bool,
}

impl GuardedConnection {
    fn new(stream: UnixStream, permit: OwnedSemaphorePermit) -> Self {
        Self {
            stream,
            _permit: permit,
            deadline: Box::pin(tokio::time::sleep(HANDSHAKE_TIMEOUT)),
            greeted: false,
        }
    }

    fn touch(&mut self) {
        self.deadline
            .as_mut()
            .reset(tokio::time::Instant::now() + IDLE_TIMEOUT);
    }

    /// Called when the wrapped stream is not ready: an error once the deadline has passed,
    /// which makes the server close the connection.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        self.deadline.as_mut().poll(cx).is_ready().then(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                if self.greeted {
                    "the connection was idle too long"
                } else {
                    "the connection sent nothing within the handshake timeout"
                },
            )
        })
    }
}

impl AsyncRead for GuardedConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.greeted = true;
                    this.touch();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.expired(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for GuardedConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.stream).poll_write(cx, data));
        // Only a greeted connection is kept alive by what we send: a peer that never spoke
        // must not be kept by our own handshake frames.
        if this.greeted && written.as_ref().is_ok_and(|n| *n > 0) {
            this.touch();
        }
        Poll::Ready(written)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.stream).poll_write_vectored(cx, bufs));
        if this.greeted && written.as_ref().is_ok_and(|n| *n > 0) {
            this.touch();
        }
        Poll::Ready(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for GuardedConnection {
    type ConnectInfo = tonic::transport::server::UdsConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        tonic::transport::server::Connected::connect_info(&self.stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_the_daemon_own_files_within_bounds() {
        assert_eq!(connection_cap(64), 16);
        assert_eq!(connection_cap(1024), 976);
        assert_eq!(connection_cap(10), MIN_CONNECTIONS as usize);
        assert_eq!(connection_cap(1 << 20), MAX_CONNECTIONS as usize);
    }

    #[test]
    fn running_out_of_handles_is_told_apart_from_other_accept_errors() {
        assert!(out_of_handles(&io::Error::from_raw_os_error(24)));
        assert!(out_of_handles(&io::Error::from_raw_os_error(23)));
        assert!(!out_of_handles(&io::Error::from_raw_os_error(103)));
        assert!(!out_of_handles(&io::Error::other("x")));
    }
}
