//! What the export tests share: the real py-rattler run against the emulator, and waiting for
//! a store the daemon writes after a change.

#![allow(dead_code)]

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use anacondad_tests::harness::TestHome;

/// How long a test waits for the daemon to rewrite an export after a change.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(20);

/// Fetches `channel`'s noarch repodata with py-rattler's `Client.authenticated_client()`,
/// which reads rattler's stores (`RATTLER_AUTH_FILE`, the `rattler` keychain entries,
/// `~/.rattler/credentials.json`, netrc) as pixi does, in `home`'s environment and a fresh
/// cache. `Ok(package names)`, or `Err(what rattler said)`. Without `keychain` rattler is
/// given no D-Bus session, so it reads only its files: the tests of one process share one
/// Secret Service, and rattler reads its keychain entries before its file.
pub fn rattler_fetch(
    venv: &Path,
    home: &TestHome,
    channel: &str,
    keychain: bool,
) -> Result<Vec<String>, String> {
    const SCRIPT: &str = r#"
import asyncio, os, sys, tempfile
from rattler import Channel, Platform, fetch_repo_data
from rattler.networking import Client, FetchRepoDataOptions

async def main(url):
    with tempfile.TemporaryDirectory() as cache:
        try:
            data = await fetch_repo_data(
                channels=[Channel(url)],
                platforms=[Platform("noarch")],
                cache_path=cache,
                callback=None,
                client=Client.authenticated_client(),
                fetch_options=FetchRepoDataOptions(zstd_enabled=False, bz2_enabled=False),
            )
        except Exception as e:
            print("FAILED", repr(e))
            return
        names = sorted(n for d in data for n in d.package_names())
        print("OK", " ".join(names))

asyncio.run(main(sys.argv[1]))
sys.stdout.flush()
# py-rattler 0.28 can abort in its runtime's teardown; the answer is out already.
os._exit(0)
"#;
    let mut command = std::process::Command::new(venv.join("bin/python"));
    command.env_clear().envs(home.env());
    if !keychain {
        command.env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/anacondad-test-bus",
        );
    }
    let out = command
        .args(["-c", SCRIPT, channel])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success(),
        "py-rattler: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    match stdout.strip_prefix("OK") {
        Some(names) => Ok(names.split_whitespace().map(str::to_owned).collect()),
        None => Err(stdout),
    }
}

/// Runs Python `code` in the venv with `home`'s environment; its stdout, trimmed.
pub fn python(venv: &Path, home: &TestHome, code: &str) -> String {
    let out = std::process::Command::new(venv.join("bin/python"))
        .env_clear()
        .envs(home.env())
        .args(["-c", code])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Polls `probe` until it answers `Some`, failing after [`EXPORT_TIMEOUT`]: the daemon
/// rewrites an export a moment after the change that calls for it.
pub fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            start.elapsed() < EXPORT_TIMEOUT,
            "waited {EXPORT_TIMEOUT:?} for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The JSON object in `path` (empty when there is no file).
pub fn read_json(path: &Path) -> serde_json::Map<String, serde_json::Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).expect("a JSON object"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Map::new(),
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The permission bits of `path`.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .expect("the file")
        .permissions()
        .mode()
        & 0o777
}

/// Asserts that `exported` is a read-only key of the account whose own key is `account_key`:
/// not that key, it reads the repository, and the service refuses it a token reissue.
pub fn assert_read_only_key(
    emu: &anacondad_tests::EmulatorProcess,
    exported: &str,
    account_key: &str,
) {
    assert_ne!(exported, account_key, "the account's own key was exported");
    anacondad_tests::install_crypto_provider();
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap();
    let read = http
        .get(emu.url("/repo/main/noarch/repodata.json"))
        .bearer_auth(exported)
        .send()
        .unwrap();
    assert_eq!(
        read.status().as_u16(),
        200,
        "the exported key reads the repository"
    );
    let reissue = http
        .put(emu.url("/api/organizations/acme/ce/current-token"))
        .bearer_auth(exported)
        .json(&serde_json::json!({"confirm": "yes"}))
        .send()
        .unwrap();
    assert_eq!(
        reissue.status().as_u16(),
        403,
        "the exported key reissues nothing"
    );
}
