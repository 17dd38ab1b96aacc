//! The one way a client reaches the daemon: a Unix socket whose server is checked to be the
//! caller's own user, with every request stamped with the protocol version.

use std::io;
use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::socket::{SocketDirError, check_socket_dir, socket_dir};
use crate::{PROTOCOL_METADATA_KEY, PROTOCOL_VERSION};

/// A connection to the daemon; clone it freely, clones share the connection.
pub type DaemonChannel = InterceptedService<Channel, ProtocolStamp>;

/// Adds [`PROTOCOL_VERSION`] to every request's metadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProtocolStamp;

impl tonic::service::Interceptor for ProtocolStamp {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut()
            .insert(PROTOCOL_METADATA_KEY, PROTOCOL_VERSION.into());
        Ok(req)
    }
}

/// Why no connection was made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Nothing listens there: no socket file, or a stale one (connection refused).
    #[error("the daemon is not running at {path}")]
    NotRunning { path: PathBuf },
    /// The directory is not safe (another user's, a symlink, too open).
    #[error(transparent)]
    UnsafeDirectory(#[from] SocketDirError),
    /// The process on the other end runs as another user.
    #[error(
        "the socket {path} is served by uid {peer}, not by you (uid {uid}); refusing to talk to it"
    )]
    ForeignPeer { path: PathBuf, peer: u32, uid: u32 },
    #[error("cannot connect to the daemon at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl ConnectError {
    /// True when starting a daemon would fix this.
    pub fn is_not_running(&self) -> bool {
        matches!(self, Self::NotRunning { .. })
    }
}

/// Connects to the daemon at `path`, after checking that its directory belongs to `uid` and is
/// private, and that the listening process runs as `uid`.
pub async fn connect(path: &Path, uid: u32) -> Result<DaemonChannel, ConnectError> {
    let dir = socket_dir(path)?;
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ConnectError::NotRunning {
                path: path.to_path_buf(),
            });
        }
        _ => check_socket_dir(dir, uid)?,
    }
    // Connect once ourselves, so the peer is checked and errors keep their io kind; tonic's
    // connector then hands this very stream to the channel.
    let stream = open_checked(path, uid).await?;
    let slot = std::sync::Mutex::new(Some(stream));
    let reconnect_path = path.to_path_buf();
    let channel = Endpoint::from_static("http://anacondad.invalid")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let first = slot.lock().ok().and_then(|mut s| s.take());
            let path = reconnect_path.clone();
            async move {
                let stream = match first {
                    Some(stream) => stream,
                    None => open_checked(&path, uid)
                        .await
                        .map_err(|e| io::Error::other(e.to_string()))?,
                };
                Ok::<_, io::Error>(TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|e| ConnectError::Io {
            path: path.to_path_buf(),
            source: io::Error::other(e),
        })?;
    Ok(InterceptedService::new(channel, ProtocolStamp))
}

async fn open_checked(path: &Path, uid: u32) -> Result<UnixStream, ConnectError> {
    let stream = UnixStream::connect(path).await.map_err(|source| {
        if matches!(
            source.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
        ) {
            ConnectError::NotRunning {
                path: path.to_path_buf(),
            }
        } else {
            ConnectError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let peer = stream.peer_cred().map_err(|source| ConnectError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if peer.uid() != uid {
        return Err(ConnectError::ForeignPeer {
            path: path.to_path_buf(),
            peer: peer.uid(),
            uid,
        });
    }
    Ok(stream)
}
