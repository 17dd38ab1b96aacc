//! The `anacondad.v1` contract shared by the daemon and its clients: the generated gRPC code, the
//! protocol version, where the socket lives, and the one way to connect to it.

#[allow(missing_docs, clippy::all, missing_debug_implementations)]
pub mod v1 {
    tonic::include_proto!("anacondad.v1");
}

pub mod atomic;
mod connect;
pub mod dirs;
pub mod index;
#[cfg(windows)]
pub mod pipe;
mod redact;
pub use redact::redact_url;
pub mod socket;

#[cfg(windows)]
pub use connect::PipeStream;
pub use connect::{
    ConnectError, DaemonChannel, InvalidSiteName, ProtocolStamp, connect, connect_stamped,
};

/// Bumped on every incompatible change of the wire contract. Clients send it in
/// [`PROTOCOL_METADATA_KEY`]; the daemon refuses a mismatch with a message naming both.
pub const PROTOCOL_VERSION: u32 = 1;

/// Request metadata carrying the caller's [`PROTOCOL_VERSION`].
pub const PROTOCOL_METADATA_KEY: &str = "anacondad-protocol";

/// The request metadata key naming the site a request is for (`anacondactl --at SITE`); the
/// daemon serves its default site, or a URL's own, when it is absent.
pub const SITE_METADATA_KEY: &str = "anacondad-site";

/// Request metadata naming one call of the CLI, so that `GetActivity` can tell what that call
/// has done and is waiting for (the CLI's progress line).
pub const REQUEST_ID_METADATA_KEY: &str = "anacondad-request-id";

/// Status metadata the daemon puts on every error it makes itself, so a client can tell a
/// daemon's answer (e.g. "the service is unreachable") from a broken connection to the daemon.
pub const ORIGIN_METADATA_KEY: &str = "anacondad-origin";

/// Largest message either side decodes. Every message of the contract is small; a cap far
/// below tonic's 4 MiB default bounds what a misbehaving peer can make us allocate.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// The version of this build ([workspace.package] of the root manifest).
pub const CRATE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A debug build's stand-in for [`CRATE_VERSION`]: the upgrade tests run one build as two
/// versions (a daemon of one, a CLI of the next) instead of compiling the workspace twice.
/// Release builds never read it.
pub const DEBUG_VERSION_ENV: &str = "ANACONDAD_DEBUG_VERSION";

/// The version this process says it is: `--version`, `Status`, the version file next to the
/// socket, and what the CLI compares with a running daemon's. [`CRATE_VERSION`], except in a
/// debug build started with [`DEBUG_VERSION_ENV`] set.
pub fn build_version() -> &'static str {
    #[cfg(debug_assertions)]
    {
        static VERSION: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
        VERSION.get_or_init(|| match std::env::var(DEBUG_VERSION_ENV) {
            Ok(v) if !v.is_empty() => Box::leak(v.into_boxed_str()),
            _ => CRATE_VERSION,
        })
    }
    #[cfg(not(debug_assertions))]
    CRATE_VERSION
}

/// The cause a daemon's error status carries, or `None` for a status the daemon did not make
/// (a broken connection) or that predates the detail.
pub fn error_detail(status: &tonic::Status) -> Option<v1::ErrorDetail> {
    use prost::Message as _;
    if status.details().is_empty() {
        return None;
    }
    v1::ErrorDetail::decode(status.details()).ok()
}
