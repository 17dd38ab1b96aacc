//! The one way a client reaches the daemon on Windows: the user's named pipe, whose server
//! process is checked to run as the caller's own user (SID), with every request stamped with
//! the protocol version. Same contract as the Unix socket's `connect`.

use std::io;
use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use interprocess::os::windows::named_pipe::pipe_mode;
use interprocess::os::windows::named_pipe::tokio::DuplexPipeStream;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::pipe::{current_user_sid, process_user_sid};
use crate::socket::{SocketDirError, check_pipe_name};
use crate::{PROTOCOL_METADATA_KEY, PROTOCOL_VERSION};

/// A connection to the daemon; clone it freely, clones share the connection.
pub type DaemonChannel = InterceptedService<Channel, ProtocolStamp>;

/// One end of the daemon's pipe, carrying bytes both ways.
pub type PipeStream = DuplexPipeStream<pipe_mode::Bytes>;

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
    /// Nothing serves the pipe.
    #[error("the daemon is not running at {path}")]
    NotRunning { path: PathBuf },
    /// The path is no pipe name (the Unix rule's unsafe directory has no Windows counterpart).
    #[error(transparent)]
    UnsafeDirectory(#[from] SocketDirError),
    /// The process serving the pipe runs as another user (or hides who it runs as).
    #[error("the pipe {path} is served by {peer}, not by you ({user}); refusing to talk to it")]
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

/// Connects to the daemon's pipe at `path` after checking that the process serving it runs
/// as this process's user. `_uid` exists for the Unix signature; Windows compares SIDs.
pub async fn connect(path: &Path, _uid: u32) -> Result<DaemonChannel, ConnectError> {
    check_pipe_name(path)?;
    let user = current_user_sid().map_err(|source| ConnectError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let stream = open_checked(path, &user).await?;
    let slot = std::sync::Mutex::new(Some(stream));
    let reconnect_path = path.to_path_buf();
    let channel = Endpoint::from_static("http://anacondad.invalid")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let first = slot.lock().ok().and_then(|mut s| s.take());
            let path = reconnect_path.clone();
            let user = user.clone();
            async move {
                let stream = match first {
                    Some(stream) => stream,
                    None => open_checked(&path, &user)
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

async fn open_checked(path: &Path, user: &str) -> Result<PipeStream, ConnectError> {
    let stream = PipeStream::connect_by_path(path).await.map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
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
    let foreign = |peer: String| ConnectError::ForeignPeer {
        path: path.to_path_buf(),
        peer,
        user: user.to_owned(),
    };
    let pid = stream
        .server_process_id()
        .map_err(|e| foreign(format!("a process that cannot be identified ({e})")))?;
    let peer = process_user_sid(pid)
        .map_err(|e| foreign(format!("pid {pid}, whose user cannot be read ({e})")))?;
    if peer != user {
        return Err(foreign(format!("{peer} (pid {pid})")));
    }
    Ok(stream)
}
