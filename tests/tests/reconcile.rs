//! The daemon reconciles its tokens with the service's current one (`GET .../current-token`):
//! renewal deadlines a lost state file held come back at start; a token another machine
//! reissued is shown replaced (not valid), the API key serves its org from then on (also
//! after a restart), and the scheduler does not reissue it back; renewals can be turned off
//! per org and are announced ahead; nothing is reissued when the store would not keep the new
//! token. The whole daemon runs in this process with a clock the test moves; the CLI, the
//! socket and the emulator are real.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anacondad::clock::ManualClock;
use anacondad_proto::v1::EventKind;
use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::in_process::InProcessDaemon;
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use jiff::{SignedDuration, Timestamp};

const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A logged-in home with a token for acme, served by an in-process daemon on `clock`.
fn installed(emu: &EmulatorProcess, clock: &Arc<ManualClock>) -> (TestHome, InProcessDaemon) {
    let home = TestHome::against(emu);
    let daemon = InProcessDaemon::start(&home, clock.clone());
    home.login_with_api_key(&emu.mint_api_key());
    ok(&home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]));
    (home, daemon)
}

fn acme(home: &TestHome) -> serde_json::Value {
    let listed = json_output(&home.run_ctl(&["--json", "token", "list"]));
    listed["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["org"] == "acme")
        .cloned()
        .expect("acme's token is listed")
}

fn served_header(home: &TestHome, emu: &EmulatorProcess) -> String {
    let url = emu.url("/repo/acme/internal/noarch/repodata.json");
    json_output(&home.run_ctl(&["--json", "credential", "get", &url]))["header_value"]
        .as_str()
        .expect("a credential")
        .to_owned()
}

fn time(value: &serde_json::Value) -> Timestamp {
    value.as_str().expect("a time").parse().expect("a time")
}

/// Polls `daemon status --json` until `done` holds (background work after a start).
fn status_when(home: &TestHome, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
        if done(&status) {
            return status;
        }
        assert!(
            start.elapsed() < EVENT_TIMEOUT,
            "status never got there: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn renewal_times_lost_with_a_corrupt_state_file_are_rebuilt_from_the_service() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, daemon) = installed(&emu, &clock);
    let planned = time(&acme(&home)["next_refresh_at"]);
    daemon.stop();
    std::fs::write(home.state_dir().join("state.json"), "garbage\n").unwrap();

    let _daemon = InProcessDaemon::start(&home, clock.clone());
    let status = status_when(&home, |s| {
        s["notices"].as_array().is_some_and(|n| {
            n.iter().any(|n| {
                let n = n.as_str().unwrap();
                n.contains("rebuilt") && n.contains("acme")
            })
        })
    });
    let notices = status["notices"].to_string();
    assert!(notices.contains("set aside"), "{notices}");
    assert!(notices.contains("acme"), "{notices}");
    let human = text(&home.run_ctl(&["daemon", "status"]));
    assert!(human.contains("rebuilt from the service"), "{human}");
    let token = acme(&home);
    assert_eq!(token["state"], "valid", "{token}");
    assert!(!token["token_id"].as_str().unwrap().is_empty(), "{token}");
    let rebuilt = time(&token["next_refresh_at"]);
    assert!(
        rebuilt <= planned,
        "renewed no later than planned: {rebuilt} {planned}"
    );
    let login = &status["login"];
    assert!(login["api_key_expires_at"].is_string(), "{status}");

    let first = emu.org_token("acme").unwrap();
    let mut events = home.subscribe_events();
    clock.set(rebuilt + SignedDuration::from_secs(1));
    events.wait_for(EventKind::TokenRefreshed, EVENT_TIMEOUT);
    let second = emu.org_token("acme").unwrap();
    assert_ne!(first, second, "the rebuilt deadline renewed the token");
    assert_eq!(served_header(&home, &emu), format!("token {second}"));
}

#[test]
fn a_token_reissued_elsewhere_is_listed_as_replaced_and_the_api_key_serves_its_org() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, daemon) = installed(&emu, &clock);
    let ours = emu.org_token("acme").unwrap();
    assert_eq!(acme(&home)["state"], "valid");
    // Another machine (or a reissue whose answer was lost) replaces the token.
    emu.post("/_emulator/orgs/acme/token", serde_json::json!({}));

    let mut events = home.subscribe_events();
    let token = acme(&home);
    assert_eq!(token["state"], "replaced", "{token}");
    let why = token["last_error"].as_str().unwrap();
    assert!(why.contains("reissued elsewhere"), "{why}");
    assert!(
        why.contains("anacondactl token install --org acme"),
        "{why}"
    );
    let event = events.wait_for(EventKind::TokenReplaced, EVENT_TIMEOUT);
    assert_eq!(event.org, "acme");
    let human = text(&home.run_ctl(&["token", "list"]));
    assert!(
        human.contains("replaced") && human.contains("reissued elsewhere"),
        "{human}"
    );
    let header = served_header(&home, &emu);
    assert!(header.starts_with("Bearer "), "the API key first: {header}");
    assert_ne!(header, format!("token {ours}"));

    // A new daemon (a new conda process asks it afresh) still serves the API key first.
    daemon.stop();
    let _daemon = InProcessDaemon::start(&home, clock.clone());
    assert!(served_header(&home, &emu).starts_with("Bearer "));
    let status = text(&home.run_ctl(&["daemon", "status"]));
    assert!(status.contains("reissued elsewhere"), "{status}");
}

#[test]
fn a_refused_token_is_checked_with_the_service_and_reported_with_the_fix() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, _daemon) = installed(&emu, &clock);
    let ours = emu.org_token("acme").unwrap();
    emu.post("/_emulator/orgs/acme/token", serde_json::json!({}));
    let mut events = home.subscribe_events();

    let url = emu.url("/repo/acme/internal/noarch/repodata.json");
    let refused = anacondad::credentials::sha256_hex(&format!("token {ours}"));
    let replay = json_output(&home.run_ctl(&[
        "--json",
        "credential",
        "rejected",
        &url,
        "--status",
        "401",
        "--kind",
        "repo_token",
        "--header-sha256",
        &refused,
    ]));
    assert!(
        replay["header_value"]
            .as_str()
            .is_some_and(|h| h.starts_with("Bearer ")),
        "{replay}"
    );
    let event = events.wait_for(EventKind::TokenReplaced, EVENT_TIMEOUT);
    assert!(
        event.message.contains("reissued elsewhere"),
        "{}",
        event.message
    );
    assert!(
        event
            .message
            .contains("anacondactl token install --org acme")
    );
    let status = status_when(&home, |s| s["tokens"][0]["state"] == "replaced");
    let why = status["tokens"][0]["last_error"].as_str().unwrap();
    assert!(why.contains("reissued elsewhere"), "{status}");
    // Another scope of the same org, asked afresh: the working credential first.
    let other = emu.url("/repo/acme/tools/noarch/repodata.json");
    let header = json_output(&home.run_ctl(&["--json", "credential", "get", &other]));
    assert!(
        header["header_value"]
            .as_str()
            .unwrap()
            .starts_with("Bearer "),
        "{header}"
    );
}

#[test]
fn the_scheduler_does_not_reissue_back_a_token_another_machine_reissued() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, _daemon) = installed(&emu, &clock);
    let next = time(&acme(&home)["next_refresh_at"]);
    let theirs = emu.post("/_emulator/orgs/acme/token", serde_json::json!({}))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut events = home.subscribe_events();

    clock.set(next + SignedDuration::from_secs(1));
    let event = events.wait_for(EventKind::TokenReplaced, EVENT_TIMEOUT);
    assert_eq!(event.org, "acme");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        emu.org_token("acme").unwrap(),
        theirs,
        "the other machine's token still works"
    );
    clock.set(next + SignedDuration::from_hours(2));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(emu.org_token("acme").unwrap(), theirs, "no retry reissues");
    assert!(served_header(&home, &emu).starts_with("Bearer "));

    let refresh = home.run_ctl(&["token", "refresh", "--org", "acme", "--yes"]);
    assert!(!refresh.status.success());
    assert!(
        text(&refresh).contains("did not reissue it back"),
        "{}",
        text(&refresh)
    );
    assert_eq!(emu.org_token("acme").unwrap(), theirs);
}

#[test]
fn an_upcoming_renewal_is_announced_and_can_be_turned_off() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, _daemon) = installed(&emu, &clock);
    let next = time(&acme(&home)["next_refresh_at"]);
    let first = emu.org_token("acme").unwrap();
    let mut events = home.subscribe_events();
    let status = text(&home.run_ctl(&["daemon", "status"]));
    assert!(
        status.contains("anacondactl token auto-renew --org acme off"),
        "{status}"
    );

    clock.set(next - SignedDuration::from_hours(2));
    let event = events.wait_for(EventKind::RenewalUpcoming, EVENT_TIMEOUT);
    assert!(
        event
            .message
            .contains("anacondactl token auto-renew --org acme off"),
        "{}",
        event.message
    );
    ok(&home.run_ctl(&["token", "auto-renew", "--org", "acme", "off"]));
    let token = acme(&home);
    assert_eq!(token["auto_renew"], false, "{token}");
    assert!(text(&home.run_ctl(&["token", "list"])).contains("off"));

    clock.set(next + SignedDuration::from_secs(1));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(emu.org_token("acme").unwrap(), first, "not reissued");

    ok(&home.run_ctl(&["token", "auto-renew", "--org", "acme", "on"]));
    events.wait_for(EventKind::TokenRefreshed, EVENT_TIMEOUT);
    assert_ne!(emu.org_token("acme").unwrap(), first, "renewal is on again");
    assert_eq!(acme(&home)["auto_renew"], true);
}

/// Makes `dir` refuse writes until dropped: a read-only bind mount when the tests run as root
/// (file modes do not stop root), else its mode.
struct ReadOnly(std::path::PathBuf, bool);

impl ReadOnly {
    fn make(dir: &std::path::Path) -> Self {
        use std::os::unix::fs::PermissionsExt as _;
        let root = rustix::process::getuid().is_root();
        if root {
            let run = |args: &[&str]| {
                let status = std::process::Command::new("mount").args(args).status();
                assert!(status.is_ok_and(|s| s.success()), "mount {args:?}");
            };
            let path = dir.to_str().unwrap();
            run(&["--bind", path, path]);
            run(&["-o", "remount,ro,bind", path]);
        } else {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        }
        Self(dir.to_path_buf(), root)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt as _;
        if self.1 {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        } else {
            let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o700));
        }
    }
}

#[test]
fn nothing_is_reissued_while_the_keyring_file_cannot_be_written() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, _daemon) = installed(&emu, &clock);
    let first = emu.org_token("acme").unwrap();
    let dir = home.path().join(".anaconda");
    assert!(dir.join("keyring").exists(), "the file store is in use");
    let read_only = ReadOnly::make(&dir);

    let refresh = home.run_ctl(&["token", "refresh", "--org", "acme", "--yes"]);
    let install = home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    let login = home.run_ctl_within(&["login", "--force"], Duration::from_secs(20));
    let next = time(&acme(&home)["next_refresh_at"]);
    let mut events = home.subscribe_events();
    clock.set(next + SignedDuration::from_secs(1));
    let failed = events.wait_for(EventKind::TokenRefreshFailed, EVENT_TIMEOUT);
    drop(read_only);
    for out in [&refresh, &install, &login] {
        assert!(!out.status.success(), "{}", text(out));
        assert!(text(out).contains("was not attempted"), "{}", text(out));
    }
    assert!(
        failed.message.contains("was not attempted"),
        "{}",
        failed.message
    );
    assert_eq!(
        emu.org_token("acme").unwrap(),
        first,
        "the working token was not revoked"
    );
    assert_eq!(served_header(&home, &emu), format!("token {first}"));
}

#[test]
fn after_logout_a_replaced_token_is_reported_as_refused_with_the_fix() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, _daemon) = installed(&emu, &clock);
    // The token is revoked (reissued elsewhere), and the daemon learns it.
    emu.post("/_emulator/orgs/acme/token", serde_json::json!({}));
    assert_eq!(acme(&home)["state"], "replaced");
    ok(&home.run_ctl(&["logout"]));

    let url = emu.url("/repo/acme/internal/noarch/repodata.json");
    let answer = home.run_ctl(&["credential", "get", &url]);
    assert!(!answer.status.success(), "{}", text(&answer));
    let said = text(&answer);
    assert!(
        !said.contains("no token for the organization"),
        "a token is stored: {said}"
    );
    for part in [
        "a token for acme is stored",
        "refused",
        "reissued elsewhere",
        "anacondactl login",
        "anacondactl token install --org acme",
    ] {
        assert!(said.contains(part), "{part:?} missing: {said}");
    }
    assert!(
        !said.contains("the API key serves acme meanwhile"),
        "there is no API key any more: {said}"
    );
}

/// `credential rejected` for `url` with the header `header` refused with `status`.
fn report_refused(home: &TestHome, url: &str, header: &str, status: &str) -> std::process::Output {
    let refused = anacondad::credentials::sha256_hex(header);
    let kind = if header.starts_with("Bearer ") {
        "api_key"
    } else {
        "repo_token"
    };
    home.run_ctl(&[
        "--json",
        "credential",
        "rejected",
        url,
        "--status",
        status,
        "--kind",
        kind,
        "--header-sha256",
        &refused,
    ])
}

#[test]
fn refusals_in_one_channel_leave_the_org_served_and_the_token_listed_as_the_service_says() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, daemon) = installed(&emu, &clock);
    let token = format!("token {}", emu.org_token("acme").unwrap());
    let key = served_key(&home, &emu);
    // The account may not read acme/restricted: the plugin reports the token, then the key.
    let restricted = emu.url("/repo/acme/restricted/noarch/repodata.json");
    report_refused(&home, &restricted, &token, "403");
    let last = report_refused(&home, &restricted, &key, "403");
    let why = text(&last);
    assert!(why.contains("HTTP 403"), "{why}");
    assert!(!why.contains("HTTP 401"), "{why}");
    assert!(!why.contains("token install"), "{why}");
    assert!(!why.contains("token refresh"), "{why}");
    // The org's other channels keep the token.
    assert_eq!(served_header(&home, &emu), token);
    assert_eq!(acme(&home)["state"], "valid");
    daemon.stop();

    // A refusal recorded against the token before a restart (as an older daemon did).
    let path = home.state_dir().join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for domain in state["domains"].as_object_mut().unwrap().values_mut() {
        domain["orgs"]["acme"]["last_error"] =
            "the repository answered HTTP 403 for the token of acme".into();
    }
    std::fs::write(&path, state.to_string()).unwrap();
    let _daemon = InProcessDaemon::start(&home, clock.clone());
    let listed = acme(&home);
    assert_eq!(listed["state"], "valid", "{listed}");
    assert_eq!(served_header(&home, &emu), token);
}

/// The API key as the daemon sends it (`Bearer ...`), asked for a default channel.
fn served_key(home: &TestHome, emu: &EmulatorProcess) -> String {
    let url = emu.url("/repo/acme/internal/noarch/repodata.json");
    json_output(&home.run_ctl(&[
        "--json",
        "credential",
        "get",
        &url,
        "--credential-type",
        "api-key",
    ]))["header_value"]
        .as_str()
        .expect("the API key")
        .to_owned()
}

#[test]
fn after_a_crash_between_a_reissue_and_its_store_the_api_key_serves_until_the_start_up_check() {
    use anacondad::clock::Clock as _;
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, daemon) = installed(&emu, &clock);
    daemon.stop();
    // What the crash leaves: the reissue started (recorded), the service issued a new token
    // (the stored one is revoked), and the answer never reached the store.
    let path = home.state_dir().join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for domain in state["domains"].as_object_mut().unwrap().values_mut() {
        domain["orgs"]["acme"]["reissue_started_at"] = clock.now().to_string().into();
    }
    std::fs::write(&path, state.to_string()).unwrap();
    emu.post("/_emulator/orgs/acme/token", serde_json::json!({}));

    let _daemon = InProcessDaemon::start(&home, clock.clone());
    assert!(served_header(&home, &emu).starts_with("Bearer "));
    let status = status_when(&home, |s| s["tokens"][0]["state"] == "replaced");
    let why = status["tokens"][0]["last_error"].as_str().unwrap();
    assert!(
        why.contains("did not finish") && why.contains("token refresh --org acme"),
        "{status}"
    );
    assert!(!why.contains("  "), "one space between words: {why}");
    assert!(served_header(&home, &emu).starts_with("Bearer "));
}
