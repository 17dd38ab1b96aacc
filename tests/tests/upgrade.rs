//! An upgrade while the daemon runs: the daemon of build A serves with a token installed and
//! its renewal scheduled; build B's CLI (the same debug binaries told they are another version
//! by `ANACONDAD_DEBUG_VERSION`, which only debug builds read) issues commands. The first one
//! that finds the old daemon idle replaces it with the installed one; tokens, settings and the
//! renewal schedule are what they were. A daemon in the middle of a reissue is left alone, and
//! the command goes on with it.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anacondad_proto::DEBUG_VERSION_ENV;
use anacondad_tests::harness::{TestHome, json_output, process_alive, wait_until_dead};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use serde_json::{Value, json};

/// Build B's version: newer than the workspace's.
const NEWER: &str = "99.0.0";

/// Build B's `anacondactl`.
fn newer_ctl(home: &TestHome) -> Command {
    let mut cmd = home.ctl();
    cmd.env(DEBUG_VERSION_ENV, NEWER);
    cmd
}

fn run(mut cmd: Command, args: &[&str]) -> Output {
    cmd.args(args).output().expect("anacondactl runs")
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A logged-in home with acme's token installed, served by build A's daemon.
fn installed() -> (EmulatorProcess, TestHome) {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&["token", "install", "--org", "acme", "--yes"]);
    assert!(out.status.success(), "token install: {}", said(&out));
    (emu, home)
}

/// `--json daemon status` of whichever daemon serves the home, asked with `cmd`.
fn status(cmd: Command) -> Value {
    json_output(&run(cmd, &["--json", "daemon", "status"]))
}

/// acme's token as `token list` shows it (masked), with its expiry and next renewal.
fn acme_token(cmd: Command) -> Value {
    let list = json_output(&run(cmd, &["--json", "token", "list"]));
    let token = list["tokens"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["org"] == "acme"))
        .unwrap_or_else(|| panic!("no acme token in {list}"))
        .clone();
    json!({
        "token": token["token"],
        "token_id": token["token_id"],
        "expires_at": token["expires_at"],
        "next_refresh_at": token["next_refresh_at"],
        "auto_renew": token["auto_renew"],
    })
}

#[test]
fn a_newer_cli_replaces_an_idle_older_daemon_and_tokens_and_the_renewal_schedule_are_kept() {
    let (emu, home) = installed();
    let old_pid = home.daemon_pid().expect("build A's daemon runs");
    let before = acme_token(home.ctl());
    assert!(before["next_refresh_at"].is_string(), "{before}");
    let workspace_version = status(home.ctl())["daemon_version"].clone();
    assert_ne!(workspace_version, NEWER);
    let header = run(home.ctl(), &["credential", "get", &emu.url("/repo/main/")]);
    assert!(header.status.success(), "{}", said(&header));

    // Build B's first command: it finds build A's daemon idle and replaces it.
    let after = acme_token(newer_ctl(&home));
    wait_until_dead(old_pid, Duration::from_secs(10));
    let new_pid = home.daemon_pid().expect("a daemon serves again");
    assert_ne!(new_pid, old_pid);
    assert!(process_alive(new_pid));
    assert_eq!(after, before, "the token and its renewal schedule changed");
    assert_eq!(status(newer_ctl(&home))["daemon_version"], NEWER);
    let again = run(
        newer_ctl(&home),
        &["credential", "get", &emu.url("/repo/main/")],
    );
    assert_eq!(
        said(&again),
        said(&header),
        "another credential after the upgrade"
    );

    // Build A's CLI against build B's daemon (one ahead, same protocol): it works and keeps it.
    assert_eq!(acme_token(home.ctl()), before);
    assert_eq!(home.daemon_pid(), Some(new_pid));
}

#[test]
fn a_daemon_in_the_middle_of_a_reissue_is_kept_and_replaced_by_a_later_command() {
    let (emu, home) = installed();
    let old_pid = home.daemon_pid().expect("build A's daemon runs");
    let path = "/api/organizations/acme/ce/current-token";
    emu.post(
        "/_emulator/faults",
        json!({"path_prefix": path, "method": "PUT", "kind": "hang", "millis": 3000}),
    );
    emu.post("/_emulator/reset", json!({}));
    let mut refresh: Child = home
        .ctl()
        .args(["token", "refresh", "--org", "acme", "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("anacondactl runs");
    wait_for_reissue_call(&emu, path);

    let during = run(newer_ctl(&home), &["--json", "token", "list"]);
    assert!(during.status.success(), "{}", said(&during));
    assert_eq!(
        home.daemon_pid(),
        Some(old_pid),
        "the daemon was stopped mid-reissue"
    );
    assert!(process_alive(old_pid));

    let refreshed = refresh.wait().expect("token refresh ends");
    assert!(refreshed.success(), "token refresh failed");
    let reissued = acme_token(home.ctl());
    let after = acme_token(newer_ctl(&home));
    wait_until_dead(old_pid, Duration::from_secs(10));
    assert_ne!(home.daemon_pid(), Some(old_pid));
    assert_eq!(after, reissued, "the reissued token was not kept");
}

/// Waits (bounded) until the emulator has received the reissue's `PUT`, which it holds.
fn wait_for_reissue_call(emu: &EmulatorProcess, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = emu.get("/_emulator/log");
        let seen = log["entries"].as_array().is_some_and(|entries| {
            entries
                .iter()
                .any(|e| e["method"] == "PUT" && e["path"].as_str() == Some(path))
        });
        if seen {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no reissue call reached the emulator: {log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
