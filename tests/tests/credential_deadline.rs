//! `anacondactl credential get` (the conda plugin's call) ends within its deadline whatever the
//! daemon does, and says which process to look at.

use std::time::{Duration, Instant};

use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::spawn_emulator;

#[test]
fn credential_get_on_a_stopped_daemon_ends_at_its_deadline_with_exit_8_and_names_the_pid() {
    let home = TestHome::new();
    let daemon = home.start_daemon();
    daemon.signal("STOP");
    let started = Instant::now();
    let out = home.run_ctl(&[
        "credential",
        "get",
        "https://repo.anaconda.cloud/repo/main/noarch/repodata.json",
        "--timeout-ms",
        "300",
    ]);
    let elapsed = started.elapsed();
    daemon.signal("CONT");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let pid = daemon.pid();
    assert!(
        stderr.contains("did not answer within 300 ms")
            && stderr.contains("it is stopped")
            && stderr.contains(&format!("kill -CONT {pid}")),
        "{stderr}"
    );
}

#[test]
fn the_deadline_can_be_set_in_the_environment_and_zero_is_refused() {
    let home = TestHome::new().with_env("ANACONDACTL_CREDENTIAL_TIMEOUT_MS", "200");
    let daemon = home.start_daemon();
    daemon.signal("STOP");
    let started = Instant::now();
    let out = home.run_ctl(&["credential", "get", "https://example.com/x"]);
    let elapsed = started.elapsed();
    daemon.signal("CONT");
    assert_eq!(out.status.code(), Some(8));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("within 200 ms"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");

    let out = home.run_ctl(&[
        "credential",
        "get",
        "https://example.com/x",
        "--timeout-ms",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn credential_get_json_carries_the_scope_the_answer_covers() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&[
        "--json",
        "credential",
        "get",
        &emu.url("/repo/main/noarch/repodata.json"),
    ]);
    let answer = json_output(&out);
    assert_eq!(answer["found"], true, "{answer}");
    assert_eq!(answer["kind"], "api_key", "{answer}");
    // The daemon does not fill it yet; the field is there for clients to read.
    assert!(answer["scope"].is_string(), "{answer}");
}
