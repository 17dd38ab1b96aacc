//! The Unix socket: its directory checked to be the caller's and private, its server checked
//! to run as the caller's uid.

use std::io;
use std::path::Path;

use tokio::net::UnixStream;

use super::{ConnectError, DaemonChannel, ProtocolStamp, channel_over};
use crate::socket::{check_socket_dir, socket_dir};

/// Connects to the daemon at `path`, after checking that its directory belongs to `uid` and is
/// private, and that the listening process runs as `uid`.
pub async fn connect_stamped(
    path: &Path,
    uid: u32,
    stamp: ProtocolStamp,
) -> Result<DaemonChannel, ConnectError> {
    let dir = socket_dir(path)?;
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ConnectError::NotRunning {
                path: path.to_path_buf(),
            });
        }
        _ => check_socket_dir(dir, uid)?,
    }
    let stream = open_checked(path, uid).await?;
    let reopen_path = path.to_path_buf();
    channel_over(path, stream, stamp, move || {
        let path = reopen_path.clone();
        async move { open_checked(&path, uid).await }
    })
    .await
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
            peer: format!("uid {}", peer.uid()),
            user: format!("uid {uid}"),
        });
    }
    Ok(stream)
}
