//! A keychain locked after login: nothing is reissued that could not be stored, `status` says
//! the store cannot be read instead of "not logged in / tokens: none", and `storage = auto`
//! does not choose a locked keychain. Each test runs its own D-Bus session and gnome-keyring
//! (locking is per collection, and a headless session cannot unlock it again), with the real
//! daemon and CLI binaries against the emulator.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::spawn_emulator;

/// A private session bus with an unlocked gnome-keyring on it; both stopped on drop.
struct PrivateKeyring {
    address: String,
    bus: Child,
    keyring: Child,
    _data: tempfile::TempDir,
}

impl PrivateKeyring {
    fn start() -> Self {
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon runs");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut address)
            .expect("the bus address");
        let address = address.trim().to_owned();
        let data = tempfile::tempdir().unwrap();
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("XDG_DATA_HOME", data.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon runs");
        keyring
            .stdin
            .take()
            .unwrap()
            .write_all(b"locked-keychain-test")
            .unwrap();
        let waited = Command::new("gdbus")
            .args([
                "wait",
                "--session",
                "--timeout",
                "10",
                "org.freedesktop.secrets",
            ])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .status()
            .expect("gdbus runs");
        assert!(waited.success(), "the Secret Service is on the bus");
        Self {
            address,
            bus,
            keyring,
            _data: data,
        }
    }

    /// `org.freedesktop.Secret.Service.Lock` of the default collection.
    fn lock(&self) {
        let out = Command::new("gdbus")
            .args([
                "call",
                "--session",
                "--dest",
                "org.freedesktop.secrets",
                "--object-path",
                "/org/freedesktop/secrets",
                "--method",
                "org.freedesktop.Secret.Service.Lock",
                "['/org/freedesktop/secrets/collection/login']",
            ])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .expect("gdbus runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn home(&self, emu: &anacondad_tests::EmulatorProcess, storage: &str) -> TestHome {
        TestHome::against(emu)
            .with_env("ANACONDAD_STORAGE", storage)
            .with_env("DBUS_SESSION_BUS_ADDRESS", &self.address)
    }
}

impl Drop for PrivateKeyring {
    fn drop(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.keyring.wait();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: &std::process::Output) {
    assert!(out.status.success(), "{}", text(out));
}

fn keyring_file_exists(home: &TestHome) -> bool {
    Path::new(&home.path().join(".anaconda/keyring")).exists()
}

#[test]
fn a_keychain_locked_after_login_stops_the_reissue_and_status_says_why() {
    let keychain = PrivateKeyring::start();
    let emu = spawn_emulator(&[]);
    let home = keychain.home(&emu, "system");
    let mut daemon = home.start_daemon();
    home.login_with_api_key(&emu.mint_api_key());
    ok(&home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]));
    assert!(!keyring_file_exists(&home), "secrets are in the keychain");
    let first = emu.org_token("acme").unwrap();

    keychain.lock();
    let refresh = home.run_ctl(&["token", "refresh", "--org", "acme", "--yes"]);
    assert!(!refresh.status.success(), "{}", text(&refresh));
    assert!(
        text(&refresh).contains("was not attempted"),
        "{}",
        text(&refresh)
    );
    assert_eq!(
        emu.org_token("acme").unwrap(),
        first,
        "the working token was not revoked"
    );

    // A daemon started while the keychain is locked cannot read it, and says so.
    ok(&home.run_ctl(&["daemon", "stop"]));
    daemon.wait_exit(std::time::Duration::from_secs(20));
    let _daemon = home.start_daemon();
    let status = home.run_ctl(&["daemon", "status"]);
    let shown = text(&status);
    assert!(!shown.contains("not logged in"), "{shown}");
    assert!(!shown.contains("tokens:  none"), "{shown}");
    assert!(shown.contains("cannot be read"), "{shown}");
    let json = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(json["login"]["state"], "store_unreadable", "{json}");
}

#[test]
fn storage_auto_does_not_choose_a_locked_keychain() {
    let keychain = PrivateKeyring::start();
    keychain.lock();
    let emu = spawn_emulator(&[]);
    let home = keychain.home(&emu, "auto");
    let _daemon = home.start_daemon();
    home.login_with_api_key(&emu.mint_api_key());
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["storage"]["backend"], "file", "{status}");
    assert!(
        !status["storage"]["warning"].as_str().unwrap().is_empty(),
        "{status}"
    );
    assert!(keyring_file_exists(&home));
    assert_eq!(status["login"]["state"], "logged_in", "{status}");
}
