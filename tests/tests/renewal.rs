//! The daemon renews credentials by itself: repo tokens before they expire (reissue, store,
//! validate), the API key through the refresh token. The whole daemon runs in this process on a
//! temp socket with a clock the test moves, so a renewal a year ahead comes at once; the CLI,
//! the socket and the emulator are real. Shutdown during a renewal waits until the new token is
//! stored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anacondad::clock::ManualClock;
use anacondad_proto::v1::EventKind;
use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::in_process::InProcessDaemon;
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use jiff::Timestamp;

const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A logged-in home with a token for acme, served by an in-process daemon on `clock`.
fn installed(emu: &EmulatorProcess, clock: &Arc<ManualClock>) -> (TestHome, InProcessDaemon) {
    let home = TestHome::against(emu);
    let daemon = InProcessDaemon::start(&home, clock.clone());
    home.login_with_api_key(&emu.mint_api_key());
    ok(&home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]));
    (home, daemon)
}

fn next_renewal(home: &TestHome) -> Timestamp {
    let listed = json_output(&home.run_ctl(&["--json", "token", "list"]));
    listed["tokens"][0]["next_refresh_at"]
        .as_str()
        .expect("a planned renewal")
        .parse()
        .expect("a time")
}

fn served_header(home: &TestHome, emu: &EmulatorProcess) -> String {
    let url = emu.url("/repo/main/noarch/repodata.json");
    json_output(&home.run_ctl(&["--json", "credential", "get", &url]))["header_value"]
        .as_str()
        .expect("a credential")
        .to_owned()
}

fn repository_status(emu: &EmulatorProcess, header: &str) -> u16 {
    reqwest::blocking::Client::new()
        .get(emu.url("/repo/main/noarch/repodata.json"))
        .header("Authorization", header)
        .send()
        .expect("the emulator answers")
        .status()
        .as_u16()
}

#[test]
fn a_repo_token_is_reissued_when_its_renewal_comes_and_the_new_one_is_served() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, _daemon) = installed(&emu, &clock);
    let first = emu.org_token("acme").unwrap();
    let next = next_renewal(&home);
    let expires: Timestamp = json_output(&home.run_ctl(&["--json", "token", "list"]))["tokens"][0]
        ["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // A year-long token is renewed 30 days (the clamped lead) before it expires.
    assert_eq!(expires.duration_since(next).as_secs(), 30 * 86_400);
    let mut events = home.subscribe_events();

    clock.set(next - jiff::SignedDuration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(emu.org_token("acme").unwrap(), first, "not renewed early");

    clock.set(next + jiff::SignedDuration::from_secs(1));
    let event = events.wait_for(EventKind::TokenRefreshed, EVENT_TIMEOUT);
    assert_eq!(event.org, "acme");
    let second = emu.org_token("acme").unwrap();
    assert_ne!(first, second, "the service issued a new token");
    let header = served_header(&home, &emu);
    assert_eq!(header, format!("token {second}"));
    assert_eq!(repository_status(&emu, &header), 200);
    assert!(
        next_renewal(&home) > next,
        "the next renewal is planned anew"
    );
}

#[test]
fn the_api_key_is_renewed_with_the_refresh_token() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let home = TestHome::against(&emu).with_env("ANACONDAD_BROWSER_LOGIN_PORT", "0");
    let _daemon = InProcessDaemon::start(&home, clock.clone());
    home.login_through_browser(&[]);
    let mut events = home.subscribe_events();
    let before = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(before["login"]["can_renew"], true);
    let old_key = served_header(&home, &emu);
    assert!(
        old_key.starts_with("Bearer "),
        "no token: the API key answers"
    );
    let expires: Timestamp = before["login"]["api_key_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    clock.set(expires - jiff::SignedDuration::from_hours(24 * 29));
    events.wait_for(EventKind::ApiKeyRenewed, EVENT_TIMEOUT);
    let after = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(after["login"]["can_renew"], true, "{after}");
    let new_key = served_header(&home, &emu);
    assert_ne!(new_key, old_key, "a new API key is served");
    assert_eq!(repository_status(&emu, &new_key), 200);
    let who = json_output(&home.run_ctl(&["--json", "whoami"]));
    assert_eq!(who["username"], "demo");
}

#[test]
fn shutdown_during_a_renewal_waits_until_the_new_token_is_stored() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, daemon) = installed(&emu, &clock);
    let first = emu.org_token("acme").unwrap();
    // The service takes its time answering the reissue.
    emu.post(
        "/_emulator/faults",
        serde_json::json!({
            "path_prefix": "/api/organizations/acme/ce/current-token",
            "method": "PUT",
            "kind": "hang",
            "millis": 400,
        }),
    );
    clock.set(next_renewal(&home) + jiff::SignedDuration::from_secs(1));
    emu.wait_for_faulted_request("PUT", "/acme/ce/current-token", EVENT_TIMEOUT);

    let stopping = Instant::now();
    daemon.stop();
    assert!(
        stopping.elapsed() >= Duration::from_millis(200),
        "the daemon waited for the reissue ({:?})",
        stopping.elapsed()
    );
    let second = emu.org_token("acme").unwrap();
    assert_ne!(first, second, "the reissue went through");

    // A new daemon serves what the stopped one stored: the token the service issued last.
    let _again = InProcessDaemon::start(&home, clock.clone());
    let header = served_header(&home, &emu);
    assert_eq!(header, format!("token {second}"));
    assert_eq!(repository_status(&emu, &header), 200);
    let listed = json_output(&home.run_ctl(&["--json", "token", "list"]));
    assert!(listed["tokens"][0]["expires_at"].is_string(), "{listed}");
}

#[test]
fn an_api_key_renewal_is_watched_as_a_renewal_and_not_as_a_login() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let home = TestHome::against(&emu).with_env("ANACONDAD_BROWSER_LOGIN_PORT", "0");
    let _daemon = InProcessDaemon::start(&home, clock.clone());
    home.login_through_browser(&[]);
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    let expires: Timestamp = status["login"]["api_key_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut events = home.subscribe_events();

    clock.set(expires - jiff::SignedDuration::from_hours(24 * 29));
    let seen = events.kinds_until(EventKind::ApiKeyRenewed, EVENT_TIMEOUT);
    assert_eq!(seen, [EventKind::ApiKeyRenewed], "one renewal, one event");
}

#[test]
fn a_token_refresh_is_watched_as_one_refresh_and_not_as_an_install() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, _daemon) = installed(&emu, &clock);
    let mut events = home.subscribe_events();

    ok(&home.run_ctl(&["token", "refresh", "--org", "acme", "--yes"]));
    let seen = events.kinds_until(EventKind::TokenRefreshed, EVENT_TIMEOUT);
    assert_eq!(seen, [EventKind::TokenRefreshed], "one refresh, one event");
}

#[test]
fn the_first_command_after_a_start_with_a_lapsed_renewable_api_key_renews_it_first() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let home = TestHome::against(&emu).with_env("ANACONDAD_BROWSER_LOGIN_PORT", "0");
    let daemon = InProcessDaemon::start(&home, clock.clone());
    home.login_through_browser(&[]);
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["login"]["can_renew"], true);
    let expires: Timestamp = status["login"]["api_key_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let old_key = served_header(&home, &emu);
    daemon.stop();

    // The key has lapsed by the time the daemon starts again: the service refuses it.
    let key = old_key.strip_prefix("Bearer ").expect("the API key");
    emu.post("/_emulator/expire", serde_json::json!({ "api_key": key }));
    clock.set(expires + jiff::SignedDuration::from_secs(1));
    // The service is slow to renew it, so the renewal the daemon starts by itself is still
    // under way when the first command comes (and its new key outlives the clock above).
    emu.post(
        "/_emulator/faults",
        serde_json::json!({"path_prefix": "/api/auth/oauth2/token", "kind": "hang",
                           "millis": 2500, "count": 1}),
    );
    let _daemon = InProcessDaemon::start(&home, clock.clone());

    let who = home.run_ctl(&["--json", "whoami"]);
    ok(&who);
    assert_eq!(json_output(&who)["username"], "demo");
    let new_key = served_header(&home, &emu);
    assert_ne!(new_key, old_key, "the renewed key is served");
    assert_eq!(repository_status(&emu, &new_key), 200);
}
