//! The one TLS crypto provider of the process: rustls with `ring`, the library the rest of the
//! workspace already uses, so `aws-lc-rs` (a large C build) is never compiled.

/// Installs `ring` as rustls' process-wide provider, which reqwest's `rustls-no-provider`
/// feature requires before the first client is built. Idempotent: a provider installed
/// earlier (by this call or by an embedding program) is kept.
pub fn install_crypto_provider() {
    let _already_installed_is_fine = rustls::crypto::ring::default_provider().install_default();
}
