//! Support for the end-to-end tests: temporary homes, the real binaries, and the emulator of
//! the Anaconda service.

// The harness runs the real binaries on Unix sockets; on Windows the wine smoke test
// (tests/scripts/windows-smoke.sh) drives them instead.
#[cfg(unix)]
pub mod ana;
#[cfg(unix)]
pub mod conda;
pub mod emulator;
#[cfg(unix)]
pub mod harness;
#[cfg(unix)]
pub mod in_process;
mod process;

pub use process::{EMULATOR_BIN_ENV, EmulatorProcess, emulator_binary, spawn_emulator};

/// Installs `ring` as rustls' process-wide crypto provider. The workspace builds reqwest with
/// `rustls-no-provider` (one crypto library, no aws-lc), so a test process must call this
/// before it builds its first HTTP client; calling it again is harmless.
pub fn install_crypto_provider() {
    let _already_installed_is_fine = rustls::crypto::ring::default_provider().install_default();
}
