//! The keychain backend against a real Secret Service. Run under a private, unlocked
//! gnome-keyring:
//!
//!     tests/scripts/with-keyring.sh cargo test -p anacondad --test store_keychain
//!
//! Without that session these tests fail (so CI cannot skip them by accident) unless
//! `ANACONDAD_SKIP_KEYCHAIN_TESTS=1` is set.
#![cfg(target_os = "linux")]

mod common;

use std::io::Write as _;
use std::os::unix::net::UnixListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anacondad::secret::Secret;
use anacondad::store::keychain::PYTHON_KEYRING_APPLICATION;
use anacondad::store::record::ANACONDA_SERVICE;
use anacondad::store::{
    BackendKind, KeychainBackend, SecretBackend, StorageMode, StoreError, StoreOptions, TokenStore,
};

const HOW_TO_RUN: &str = "these tests need a real Secret Service: run them as `tests/scripts/with-keyring.sh cargo test -p anacondad --test store_keychain` (or set ANACONDAD_SKIP_KEYCHAIN_TESTS=1 to skip them)";

/// Returns false when the tests are to be skipped on purpose; panics when the session is
/// missing. Also waits for the daemonised gnome-keyring to own its bus name: a request sent
/// before that would start a second, locked instance through D-Bus activation.
fn keychain_session() -> bool {
    if std::env::var_os("ANACONDAD_SKIP_KEYCHAIN_TESTS").is_some_and(|v| v == "1") {
        eprintln!("skipping: ANACONDAD_SKIP_KEYCHAIN_TESTS=1");
        return false;
    }
    assert!(
        std::env::var_os("ANACONDAD_IN_KEYRING_SESSION").is_some()
            && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "{HOW_TO_RUN}"
    );
    common::wait_for_secret_service(HOW_TO_RUN);
    true
}

fn keychain() -> KeychainBackend {
    KeychainBackend::connect().unwrap_or_else(|e| panic!("{e}; {HOW_TO_RUN}"))
}

/// The items matching (service, username), as `secret-tool search --all` lists them (it
/// prints attributes on stderr, the rest on stdout).
fn items(service: &str, username: &str) -> Vec<String> {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", service, "username", username])
        .output()
        .expect("secret-tool (libsecret-tools) is needed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut found: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with('[') {
            found.push(String::new());
        }
        if let Some(item) = found.last_mut() {
            item.push_str(line);
            item.push('\n');
        }
    }
    found
}

/// An item created by another tool, with Python's `application` attribute or without it.
///
/// gnome-keyring's "replace" matches any item whose attributes include the new ones, so an
/// item without `application` replaces ours, while one with it (Python's write) is created
/// next to an item that lacks it: that is how duplicates arise.
fn secret_tool_store(service: &str, username: &str, value: &str, application: Option<&str>) {
    let mut args = vec![
        "store",
        "--label=stray",
        "service",
        service,
        "username",
        username,
    ];
    if let Some(app) = application {
        args.extend(["application", app]);
    }
    let mut child = Command::new("secret-tool")
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn keychain_backend_round_trips_updates_and_deletes_an_entry() {
    if !keychain_session() {
        return;
    }
    let k = keychain();
    let user = "roundtrip.example:1";
    assert!(k.get(ANACONDA_SERVICE, user).unwrap().is_none());
    k.put(ANACONDA_SERVICE, user, &Secret::new("one")).unwrap();
    assert_eq!(
        k.get(ANACONDA_SERVICE, user).unwrap().unwrap().expose(),
        "one"
    );
    k.put(ANACONDA_SERVICE, user, &Secret::new("two")).unwrap();
    assert_eq!(
        k.get(ANACONDA_SERVICE, user).unwrap().unwrap().expose(),
        "two"
    );
    assert_eq!(items(ANACONDA_SERVICE, user).len(), 1);
    assert!(k.delete(ANACONDA_SERVICE, user).unwrap());
    assert!(k.get(ANACONDA_SERVICE, user).unwrap().is_none());
    assert!(!k.delete(ANACONDA_SERVICE, user).unwrap());
    assert!(items(ANACONDA_SERVICE, user).is_empty());
}

#[test]
fn items_we_write_carry_the_python_keyring_attribute_and_label() {
    if !keychain_session() {
        return;
    }
    let k = keychain();
    let user = "attrs.example:1";
    k.put(ANACONDA_SERVICE, user, &Secret::new("v")).unwrap();
    let found = items(ANACONDA_SERVICE, user);
    k.delete(ANACONDA_SERVICE, user).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains(&format!(
            "attribute.application = {PYTHON_KEYRING_APPLICATION}"
        )),
        "{}",
        found[0]
    );
    assert!(
        found[0].contains(&format!(
            "label = Password for '{user}' on '{ANACONDA_SERVICE}'"
        )),
        "{}",
        found[0]
    );
}

#[test]
fn with_two_matching_items_we_read_the_python_one_and_a_write_collapses_them() {
    if !keychain_session() {
        return;
    }
    let k = keychain();
    let user = "ambiguous.example:1";
    secret_tool_store(ANACONDA_SERVICE, user, "stray-value", None);
    secret_tool_store(
        ANACONDA_SERVICE,
        user,
        "python-value",
        Some(PYTHON_KEYRING_APPLICATION),
    );
    assert_eq!(items(ANACONDA_SERVICE, user).len(), 2);

    assert_eq!(
        k.get(ANACONDA_SERVICE, user).unwrap().unwrap().expose(),
        "python-value"
    );

    k.put(ANACONDA_SERVICE, user, &Secret::new("new-value"))
        .unwrap();
    let left = items(ANACONDA_SERVICE, user);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].contains("secret = new-value"), "{}", left[0]);
    assert!(left[0].contains(PYTHON_KEYRING_APPLICATION), "{}", left[0]);

    secret_tool_store(ANACONDA_SERVICE, user, "stray-again", Some("another tool"));
    assert_eq!(items(ANACONDA_SERVICE, user).len(), 2);
    assert!(k.delete(ANACONDA_SERVICE, user).unwrap());
    assert!(items(ANACONDA_SERVICE, user).is_empty());
}

#[test]
fn a_stray_item_alone_is_read_and_then_adopted_by_our_write() {
    if !keychain_session() {
        return;
    }
    let k = keychain();
    let user = "adopt.example:1";
    secret_tool_store(ANACONDA_SERVICE, user, "from-elsewhere", None);
    assert_eq!(
        k.get(ANACONDA_SERVICE, user).unwrap().unwrap().expose(),
        "from-elsewhere"
    );
    k.put(ANACONDA_SERVICE, user, &Secret::new("ours")).unwrap();
    let left = items(ANACONDA_SERVICE, user);
    k.delete(ANACONDA_SERVICE, user).unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].contains(PYTHON_KEYRING_APPLICATION), "{}", left[0]);
}

#[tokio::test]
async fn token_store_on_the_system_keychain_keeps_a_record_and_no_file() {
    if !keychain_session() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring");
    let store = TokenStore::open(StoreOptions::new(StorageMode::System, &path))
        .await
        .unwrap();
    assert_eq!(store.backend_kind(), BackendKind::System);
    let domain = "facade.example:1";
    store.set_api_key(domain, Secret::new("k")).await.unwrap();
    store
        .set_repo_token(domain, "acme", Secret::new("t"))
        .await
        .unwrap();
    store
        .set_refresh_token(domain, Secret::new("r"))
        .await
        .unwrap();
    assert_eq!(
        store
            .repo_token(domain, "acme")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "t"
    );
    assert_eq!(
        store.refresh_token(domain).await.unwrap().unwrap().expose(),
        "r"
    );
    assert!(store.remove_all(domain).await.unwrap());
    assert!(items(ANACONDA_SERVICE, domain).is_empty());
    assert!(store.refresh_token(domain).await.unwrap().is_none());
    assert!(!path.exists());
}

#[tokio::test]
async fn auto_uses_the_keychain_when_a_secret_service_runs() {
    if !keychain_session() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = TokenStore::open(StoreOptions::new(
        StorageMode::Auto,
        dir.path().join("keyring"),
    ))
    .await
    .unwrap();
    assert_eq!(store.backend_kind(), BackendKind::System);
    assert!(store.warning().is_none());
}

// Child-process halves of the tests below: zbus takes the bus address from the environment,
// so each scenario runs this test binary again with its own DBUS_SESSION_BUS_ADDRESS. They
// are ignored in a normal run and only meaningful when started by their parent test.

fn child_open(mode: StorageMode) {
    let dir = tempfile::tempdir().unwrap();
    let mut options = StoreOptions::new(mode, dir.path().join("keyring"));
    options.timeout = Duration::from_millis(1500);
    options.probe_timeout = Duration::from_millis(1500);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = Instant::now();
    let outcome = runtime.block_on(TokenStore::open(options));
    let elapsed = started.elapsed().as_millis();
    match outcome {
        Ok(store) => println!(
            "OUTCOME backend={} warning={:?} cause={:?} elapsed_ms={elapsed}",
            store.backend_kind().as_str(),
            store.warning(),
            store.fallback_cause()
        ),
        Err(e) => println!(
            "OUTCOME error timeout={} message={e} elapsed_ms={elapsed}",
            matches!(e, StoreError::Timeout { .. })
        ),
    }
    // A keychain call stuck on the bus cannot be joined: leave it behind, as the daemon must.
    runtime.shutdown_background();
}

#[test]
#[ignore = "child half of the no-Secret-Service tests"]
fn child_open_system_store() {
    child_open(StorageMode::System);
}

#[test]
#[ignore = "child half of the no-Secret-Service tests"]
fn child_open_auto_store() {
    child_open(StorageMode::Auto);
}

fn run_child(test: &str, bus_address: &str) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.env("DBUS_SESSION_BUS_ADDRESS", bus_address);
    child_outcome(command, test)
}

fn child_outcome(mut command: Command, test: &str) -> String {
    let out = command
        .args([
            "--exact",
            test,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child {test} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.find("OUTCOME ").map(|i| l[i..].to_owned()))
        .unwrap_or_else(|| panic!("child {test} printed no outcome: {stdout}"))
}

fn elapsed_ms(outcome: &str) -> u64 {
    outcome
        .rsplit("elapsed_ms=")
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

// These need no Secret Service, only the ability to run: they are not gated.

#[test]
fn with_a_dead_bus_socket_system_storage_fails_fast_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}", dir.path().join("no-bus").display());
    let outcome = run_child("child_open_system_store", &address);
    assert!(outcome.contains("error timeout=false"), "{outcome}");
    assert!(outcome.contains("no OS keychain is available"), "{outcome}");
    assert!(outcome.contains("storage = \"file\""), "{outcome}");
    assert!(elapsed_ms(&outcome) < 1000, "{outcome}");
}

#[test]
fn with_a_dead_bus_socket_auto_storage_falls_back_to_the_file_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}", dir.path().join("no-bus").display());
    let outcome = run_child("child_open_auto_store", &address);
    assert!(outcome.contains("backend=file"), "{outcome}");
    assert!(outcome.contains("secrets are in the file"), "{outcome}");
    // The D-Bus error is the cause (for the log), not part of the warning.
    assert!(
        outcome.contains("cause=Some(\"no OS keychain is available"),
        "{outcome}"
    );
}

/// A bus that accepts connections and never says a word, as a wedged D-Bus or Secret
/// Service does: the store's timeout is all that stands between the daemon and a hang.
fn silent_bus(dir: &std::path::Path) -> String {
    let path = dir.join("silent-bus");
    let listener = UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    format!("unix:path={}", path.display())
}

#[test]
fn with_a_bus_that_never_answers_system_storage_times_out_naming_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_child("child_open_system_store", &silent_bus(dir.path()));
    assert!(outcome.contains("error timeout=true"), "{outcome}");
    assert!(outcome.contains("did not answer within 1.5s"), "{outcome}");
    assert!(outcome.contains("unlock prompt"), "{outcome}");
    assert!(outcome.contains("storage = \"file\""), "{outcome}");
    assert!(elapsed_ms(&outcome) < 5000, "{outcome}");
}

#[test]
fn with_a_bus_that_never_answers_auto_storage_falls_back_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_child("child_open_auto_store", &silent_bus(dir.path()));
    assert!(outcome.contains("backend=file"), "{outcome}");
    assert!(outcome.contains("did not answer within"), "{outcome}");
}

/// A session bus of its own with nothing on it and nothing it could activate: D-Bus answers,
/// the Secret Service does not exist.
#[test]
fn on_a_bus_without_a_secret_service_system_storage_fails_fast_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("empty-session.conf");
    std::fs::write(
        &config,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            dir.path().display()
        ),
    )
    .unwrap();
    let mut command = Command::new("dbus-run-session");
    command
        .arg(format!("--config-file={}", config.display()))
        .arg("--")
        .arg(std::env::current_exe().unwrap())
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    let outcome = child_outcome(command, "child_open_system_store");
    assert!(outcome.contains("error timeout=false"), "{outcome}");
    assert!(outcome.contains("no OS keychain is available"), "{outcome}");
    assert!(
        outcome.contains("org.freedesktop.secrets") || outcome.contains("ServiceUnknown"),
        "{outcome}"
    );
    assert!(outcome.contains("gnome-keyring-daemon"), "{outcome}");
    assert!(elapsed_ms(&outcome) < 1000, "{outcome}");
}
