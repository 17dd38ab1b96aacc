//! A Secret Service that never answers costs the daemon one D-Bus connection and one thread,
//! however many calls come in, and `status` still answers within one keychain timeout.

use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anacondad_tests::harness::TestHome;

/// A bus that accepts connections, counts them and never says a word.
fn silent_bus(dir: &std::path::Path) -> (String, Arc<AtomicUsize>) {
    let path = dir.join("silent-bus");
    let listener = UnixListener::bind(&path).unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(conn);
        }
    });
    (format!("unix:path={}", path.display()), accepted)
}

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .count()
}

#[test]
fn a_silent_secret_service_costs_one_connection_and_no_thread_per_call() {
    let dir = tempfile::tempdir().unwrap();
    let (bus, accepted) = silent_bus(dir.path());
    let home = TestHome::new()
        .with_env("DBUS_SESSION_BUS_ADDRESS", bus)
        .with_env("ANACONDAD_STORAGE", "system")
        .with_env("ANACONDAD_KEYCHAIN_TIMEOUT_SECS", "1");
    let daemon = home.start_daemon();
    // Let the start-up open reach its timeout, so the count starts from a settled daemon.
    std::thread::sleep(Duration::from_millis(1500));
    let before = threads(daemon.pid());

    let calls: Vec<_> = (0..40)
        .map(|_| {
            home.ctl()
                .args([
                    "credential",
                    "get",
                    "https://repo.anaconda.cloud/repo/main/x.json",
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for call in calls {
        let out = call.wait_with_output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("did not answer"), "{err}");
    }
    let started = Instant::now();
    let status = home.run_ctl(&["daemon", "status"]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "status took {:?}: {}",
        started.elapsed(),
        String::from_utf8_lossy(&status.stderr)
    );

    let grown = threads(daemon.pid()).saturating_sub(before);
    assert!(grown <= 2, "{grown} more daemon threads after 41 calls");
    let connections = accepted.load(Ordering::SeqCst);
    assert!(connections <= 2, "{connections} D-Bus connections");
}
