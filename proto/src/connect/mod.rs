//! The one way a client reaches the daemon: the platform's local endpoint (a Unix socket, a
//! Windows named pipe) whose server is checked to run as the caller's own user, with every
//! request stamped with the protocol version. The platform modules open and check one stream;
//! this module makes the channel over it and reopens (and rechecks) on reconnect.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Endpoint, Uri};

use crate::socket::SocketDirError;
use crate::{PROTOCOL_METADATA_KEY, PROTOCOL_VERSION, SITE_METADATA_KEY};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::connect_stamped;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{PipeStream, connect_stamped};

/// Connects to the daemon at `path` (checked to run as `uid`), naming no site: requests go to
/// the default site, or the one a request's URL is under.
pub async fn connect(path: &Path, uid: u32) -> Result<DaemonChannel, ConnectError> {
    connect_stamped(path, uid, ProtocolStamp::default()).await
}

/// A connection to the daemon; clone it freely, clones share the connection.
pub type DaemonChannel = InterceptedService<tonic::transport::Channel, ProtocolStamp>;

/// Adds [`PROTOCOL_VERSION`] to every request's metadata, and the site the caller names
/// ([`SITE_METADATA_KEY`]) when it names one.
#[derive(Debug, Clone, Default)]
pub struct ProtocolStamp {
    site: Option<tonic::metadata::AsciiMetadataValue>,
}

/// A site name that cannot travel in a request header.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a site name: use the name `anacondactl sites list` shows")]
pub struct InvalidSiteName(pub String);

impl ProtocolStamp {
    /// Every request names `site` (`anacondactl --at SITE`).
    pub fn at(site: &str) -> Result<Self, InvalidSiteName> {
        let value = site
            .trim()
            .parse::<tonic::metadata::AsciiMetadataValue>()
            .ok()
            .filter(|_| !site.trim().is_empty())
            .ok_or_else(|| InvalidSiteName(site.to_owned()))?;
        Ok(Self { site: Some(value) })
    }
}

impl tonic::service::Interceptor for ProtocolStamp {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut()
            .insert(PROTOCOL_METADATA_KEY, PROTOCOL_VERSION.into());
        if let Some(site) = &self.site {
            req.metadata_mut().insert(SITE_METADATA_KEY, site.clone());
        }
        Ok(req)
    }
}

/// Why no connection was made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Nothing listens there: no socket file, a stale one (connection refused), no such pipe.
    #[error("the daemon is not running at {path}")]
    NotRunning { path: PathBuf },
    /// The socket's directory is not safe (another user's, a symlink, too open), or the path
    /// is no pipe name.
    #[error(transparent)]
    UnsafeDirectory(#[from] SocketDirError),
    /// The process on the other end runs as another user (or hides who it runs as).
    #[error("{path} is served by {peer}, not by you ({user}); refusing to talk to it")]
    ForeignPeer {
        path: PathBuf,
        peer: String,
        user: String,
    },
    #[error("cannot connect to the daemon at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl ConnectError {
    /// True when starting a daemon would fix this.
    pub fn is_not_running(&self) -> bool {
        matches!(self, Self::NotRunning { .. })
    }
}

/// The channel over `first`, a stream already opened and checked, so the peer is checked and
/// errors keep their io kind; tonic's connector hands this very stream to the channel, and
/// `reopen` opens (and checks) another when the channel reconnects.
async fn channel_over<S, F, Fut>(
    path: &Path,
    first: S,
    stamp: ProtocolStamp,
    reopen: F,
) -> Result<DaemonChannel, ConnectError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<S, ConnectError>> + Send + 'static,
{
    let slot = std::sync::Mutex::new(Some(first));
    let channel = Endpoint::from_static("http://anacondad.invalid")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let open: Pin<Box<dyn Future<Output = Result<S, ConnectError>> + Send>> =
                match slot.lock().ok().and_then(|mut s| s.take()) {
                    Some(first) => Box::pin(async move { Ok(first) }),
                    None => Box::pin(reopen()),
                };
            async move {
                let stream = open.await.map_err(|e| io::Error::other(e.to_string()))?;
                Ok::<_, io::Error>(TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|e| ConnectError::Io {
            path: path.to_path_buf(),
            source: io::Error::other(e),
        })?;
    Ok(InterceptedService::new(channel, stamp))
}
