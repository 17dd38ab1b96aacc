//! anacondad: the per-user daemon that owns Anaconda credentials. It keeps tokens in the OS
//! keychain, renews them before they expire, keeps conda's configuration right, and answers
//! over a local gRPC socket.

pub mod condarc;
pub mod secret;
