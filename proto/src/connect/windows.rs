//! The Windows named pipe: its name checked, its server process checked to run as the
//! caller's own user (SID). Same contract as the Unix socket's `connect`.

use std::io;
use std::path::Path;

use interprocess::os::windows::named_pipe::pipe_mode;
use interprocess::os::windows::named_pipe::tokio::DuplexPipeStream;

use super::{ConnectError, DaemonChannel, ProtocolStamp, channel_over};
use crate::pipe::{current_user_sid, process_user_sid};
use crate::socket::check_pipe_name;

/// One end of the daemon's pipe, carrying bytes both ways.
pub type PipeStream = DuplexPipeStream<pipe_mode::Bytes>;

/// Connects to the daemon's pipe at `path` after checking that the process serving it runs
/// as this process's user. `_uid` exists for the Unix signature; Windows compares SIDs.
pub async fn connect_stamped(
    path: &Path,
    _uid: u32,
    stamp: ProtocolStamp,
) -> Result<DaemonChannel, ConnectError> {
    check_pipe_name(path)?;
    let user = current_user_sid().map_err(|source| ConnectError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let stream = open_checked(path, &user).await?;
    let reopen_path = path.to_path_buf();
    channel_over(path, stream, stamp, move || {
        let path = reopen_path.clone();
        let user = user.clone();
        async move { open_checked(&path, &user).await }
    })
    .await
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
