//! Support shared by the store's integration tests.

use std::process::Command;
use std::sync::Once;

/// Waits (once per test process) until the Secret Service owns its bus name: the daemonised
/// gnome-keyring of with-keyring.sh may not yet, and a request sent before that would
/// D-Bus-activate a second, locked instance. `how_to_run` ends the failure message.
pub fn wait_for_secret_service(how_to_run: &str) {
    static READY: Once = Once::new();
    READY.call_once(|| {
        let status = Command::new("gdbus")
            .args([
                "wait",
                "--session",
                "--timeout",
                "20",
                "org.freedesktop.secrets",
            ])
            .status()
            .expect("gdbus (libglib2.0-bin) is needed to wait for the Secret Service");
        assert!(
            status.success(),
            "the Secret Service never appeared on the bus; {how_to_run}"
        );
    });
}
