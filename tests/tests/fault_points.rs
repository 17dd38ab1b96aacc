//! The fault-point suite: for every crash point of install, renewal, uninstall and login
//! (`daemon/src/fault.rs`), the real daemon binary kills itself with SIGKILL there
//! (`ANACONDAD_FAULT_POINT`), a new daemon starts in the same home, and then the token it
//! serves must be one the emulator accepts (HEAD of repodata with it) and `token list` and
//! `daemon status` must tell the truth about it.
//!
//! One daemon start to reach the point (the `#2` points are passed a second time by the
//! scheduler's renewal), one to recover; no fixed sleeps: each wait ends on an event (the
//! daemon's exit, its ready line) or on the awaited state, within a bound.

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt as _;
use std::process::Output;
use std::time::{Duration, Instant};

use anacondad_tests::harness::{DaemonProcess, TestHome};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use serde_json::Value;

/// How long a restarted daemon may take to reach a true state (a renewal it finds overdue
/// runs first).
const CONVERGE: Duration = Duration::from_secs(20);
/// How long the scheduler may take to reach a renewal point (the tokens live 6 s, renewed
/// at half their life).
const RENEWAL_WAIT: Duration = Duration::from_secs(30);

/// Install from nothing: `token install --org acme --yes` (reissue, store, facts,
/// validation, token id), then the `.condarc` it configures.
const INSTALL: &[&str] = &[
    "reissue.before_call",
    "reissue.after_call",
    "reissue.after_store",
    "reissue.after_facts",
    "install.after_validation",
    "install.after_token_id",
    "condarc.before_apply",
    "condarc.after_apply",
];

/// The scheduler's renewal of a stored token: the same steps, passed a second time.
const TOKEN_RENEWAL: &[&str] = &[
    "reissue.before_call#2",
    "reissue.after_call#2",
    "reissue.after_store#2",
    "reissue.after_facts#2",
    "install.after_validation#2",
    "install.after_token_id#2",
];

/// `token uninstall --org acme` of the only token: the store, the facts, then `.condarc`.
const UNINSTALL: &[&str] = &[
    "uninstall.before_remove",
    "uninstall.after_store_remove",
    "uninstall.after_facts",
    "condarc.before_remove",
];

/// A device-flow login: mint the API key, store it and the refresh token, record the facts.
const LOGIN: &[&str] = &[
    "login.before_mint",
    "login.after_mint",
    "login.after_store_key",
    "login.after_store_refresh",
    "login.after_refresh_fact",
    "login.after_facts",
];

/// The scheduler's renewal of the API key: the refresh grant, then the login's steps again.
const API_KEY_RENEWAL: &[&str] = &[
    "renewal.after_refresh_call",
    "renewal.after_refresh_store",
    "login.before_mint#2",
    "login.after_mint#2",
    "login.after_store_key#2",
    "login.after_store_refresh#2",
    "login.after_refresh_fact#2",
    "login.after_facts#2",
];

/// Install into a home whose `~/.condarc` exists: it is backed up before it is changed.
const INSTALL_OVER_CONDARC: &[&str] = &[
    "condarc.before_apply",
    "condarc.after_backup",
    "condarc.after_apply",
];

/// The user's own `~/.condarc` in [`INSTALL_OVER_CONDARC`].
const USERS_CONDARC: &str = "channels:\n  - defaults\nshow_channel_urls: true\n";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The JSON a `--json` command printed, failed or not (`null` when it printed none).
fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// A fact `token list` may leave out: null, empty or zero.
fn unknown(v: &Value) -> bool {
    v.is_null() || v == "" || v == 0
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Starts the daemon armed to kill itself at `point`.
fn armed_daemon(home: &TestHome, point: &str) -> DaemonProcess {
    home.start_daemon_with(&home.socket(), &[("ANACONDAD_FAULT_POINT", point)])
}

/// Waits for the armed daemon to die by its own SIGKILL; returns its log.
fn killed_at(mut daemon: DaemonProcess, point: &str, wait: Duration) -> String {
    let status = daemon.wait_exit(wait);
    let log = daemon.log();
    assert_eq!(
        status.signal(),
        Some(9),
        "the daemon did not stop at {point} ({status:?}); its log:\n{log}"
    );
    let name = point.split('#').next().unwrap_or(point);
    assert!(log.contains(&format!("fault point {name}")), "{log}");
    log
}

/// What one look at the restarted daemon found; `None` when everything it says is true.
fn untruth(home: &TestHome, emu: &EmulatorProcess, org: Option<&str>) -> Option<String> {
    let mut wrong = Vec::new();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client");
    let head = |url: &str, header: &str| {
        client
            .head(url)
            .header("Authorization", header)
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };

    let list = json_of(&home.run_ctl(&["--json", "token", "list"]));
    let listed: Vec<&Value> = list["tokens"].as_array().into_iter().flatten().collect();
    let status = json_of(&home.run_ctl(&["--json", "daemon", "status"]));
    let login = &status["login"];

    // The API key: `status` says logged in exactly when the service accepts the stored key
    // (`whoami` asks it), and a key served for a default channel is one the repository takes.
    let logged_in = login["state"] == "logged_in" || login["state"] == "expiring";
    let whoami = home.run_ctl(&["whoami"]);
    if logged_in != whoami.status.success() {
        wrong.push(format!(
            "status says login {} but whoami {}",
            login["state"],
            if whoami.status.success() {
                "works"
            } else {
                "fails"
            }
        ));
    }
    let main_url = emu.url("/repo/main/noarch/repodata.json");
    let main = json_of(&home.run_ctl(&["--json", "credential", "get", &main_url]));
    if main["kind"] == "api_key" {
        let code = head(&main_url, main["header_value"].as_str().unwrap_or_default());
        if code != 200 || !logged_in {
            wrong.push(format!(
                "an API key is served (the repository answers HTTP {code}) while status says \
                 login {}",
                login["state"]
            ));
        }
    }

    if let Some(org) = org {
        let url = emu.url(&format!("/repo/{org}/internal/noarch/repodata.json"));
        let answer = json_of(&home.run_ctl(&["--json", "credential", "get", &url]));
        let entry = listed.iter().find(|t| t["org"] == org);
        let served = (answer["kind"] == "repo_token").then(|| {
            answer["header_value"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        });
        match (&served, entry) {
            (Some(header), Some(entry)) => {
                let code = head(&url, header);
                if code != 200 {
                    wrong.push(format!(
                        "the served token of {org} is refused (HTTP {code}) while token list \
                         says {}",
                        entry["state"]
                    ));
                }
                let token = header.strip_prefix("token ").unwrap_or(header);
                let masked = entry["token"].as_str().unwrap_or_default();
                if !token.ends_with(masked.trim_start_matches('*')) {
                    wrong.push(format!(
                        "token list shows {masked}, another token is served"
                    ));
                }
                let current = emu.get(&format!("/_emulator/orgs/{org}/token"));
                if current["token"] == token {
                    for (ours, theirs) in [("expires_at", "expires_at"), ("token_id", "id")] {
                        if !unknown(&entry[ours]) && entry[ours] != current[theirs] {
                            wrong.push(format!(
                                "token list says {ours} {} but the service says {}",
                                entry[ours], current[theirs]
                            ));
                        }
                    }
                }
            }
            (None, None) => {}
            (Some(_), None) => wrong.push(format!("a token of {org} is served but not listed")),
            (None, Some(entry)) => wrong.push(format!(
                "token list shows {entry} but credential get answers {answer}"
            )),
        }
    }
    (!wrong.is_empty()).then(|| wrong.join("; "))
}

/// Starts a new daemon in `home` and waits (bounded) until all it says is true.
fn recovers(home: &TestHome, emu: &EmulatorProcess, org: Option<&str>) -> Result<(), String> {
    let daemon = home.start_daemon();
    let started = Instant::now();
    let mut first = None;
    loop {
        match untruth(home, emu, org) {
            None => return Ok(()),
            Some(wrong) if started.elapsed() > CONVERGE => {
                let first = first.unwrap_or_default();
                return Err(format!(
                    "first: {first}\nlast: {wrong}\nits log:\n{}",
                    daemon.log()
                ));
            }
            Some(wrong) => {
                first.get_or_insert(wrong);
            }
        }
    }
}

/// Runs `case` for every point in parallel; fails listing the points that did not recover.
fn suite(flow: &str, points: &[&str], case: fn(&str) -> Result<(), String>) {
    let results: Vec<(String, Result<(), String>)> = std::thread::scope(|s| {
        let runs: Vec<_> = points
            .iter()
            .map(|point| (point.to_string(), s.spawn(move || case(point))))
            .collect();
        runs.into_iter()
            .map(|(point, run)| {
                let result = run
                    .join()
                    .unwrap_or_else(|panic| Err(panic_text(panic.as_ref())));
                (point, result)
            })
            .collect()
    });
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(point, r)| r.as_ref().err().map(|e| format!("{point}: {e}")))
        .collect();
    println!(
        "fault points of {flow}: {}/{} recovered",
        points.len() - failed.len(),
        points.len()
    );
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panicked".to_owned())
}

fn install_case(point: &str) -> Result<(), String> {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let daemon = armed_daemon(&home, point);
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&["token", "install", "--org", "acme", "--yes"]);
    if out.status.success() {
        return Err(format!("install went through: {}", text(&out.stdout)));
    }
    killed_at(daemon, point, Duration::from_secs(10));
    recovers(&home, &emu, Some("acme"))
}

fn install_over_condarc_case(point: &str) -> Result<(), String> {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let condarc = home.path().join(".condarc");
    std::fs::write(&condarc, USERS_CONDARC).expect("a .condarc");
    let daemon = armed_daemon(&home, point);
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&["token", "install", "--org", "acme", "--yes"]);
    if out.status.success() {
        return Err(format!("install went through: {}", text(&out.stdout)));
    }
    killed_at(daemon, point, Duration::from_secs(10));
    recovers(&home, &emu, Some("acme"))?;
    // The user's file is whole: as it was, or configured with the user's lines kept; a
    // backup, once there, is the user's file.
    let now = std::fs::read_to_string(&condarc).unwrap_or_default();
    let configured = now.contains(&emu.url("/repo/")) && now.contains("show_channel_urls: true");
    if now != USERS_CONDARC && !configured {
        return Err(format!(
            "~/.condarc is neither the user's nor configured:\n{now}"
        ));
    }
    let backup = home.path().join(".condarc.bak");
    match std::fs::read_to_string(&backup) {
        Ok(saved) if saved != USERS_CONDARC => {
            Err(format!("the backup is not the user's file:\n{saved}"))
        }
        Err(_) if configured => Err("~/.condarc was changed without a backup".to_owned()),
        _ => Ok(()),
    }
}

fn token_renewal_case(point: &str) -> Result<(), String> {
    let emu = spawn_emulator(&["--token-lifetime", "6"]);
    let home = TestHome::against(&emu);
    let daemon = armed_daemon(&home, point);
    home.login_with_api_key(&emu.mint_api_key());
    ok(
        &home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]),
        "install",
    );
    killed_at(daemon, point, RENEWAL_WAIT);
    recovers(&home, &emu, Some("acme"))
}

fn uninstall_case(point: &str) -> Result<(), String> {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let daemon = armed_daemon(&home, point);
    home.login_with_api_key(&emu.mint_api_key());
    ok(
        &home.run_ctl(&["token", "install", "--org", "acme", "--yes"]),
        "install",
    );
    let out = home.run_ctl(&["token", "uninstall", "--org", "acme"]);
    if out.status.success() {
        return Err(format!("uninstall went through: {}", text(&out.stdout)));
    }
    killed_at(daemon, point, Duration::from_secs(10));
    recovers(&home, &emu, Some("acme"))
}

fn login_case(point: &str) -> Result<(), String> {
    let emu = spawn_emulator(&["--device-interval", "0"]);
    let home = TestHome::against(&emu);
    let daemon = armed_daemon(&home, point);
    let out = home.run_ctl_within(&["login", "--no-browser"], Duration::from_secs(30));
    if out.status.success() {
        return Err(format!("login went through: {}", text(&out.stdout)));
    }
    killed_at(daemon, point, Duration::from_secs(10));
    recovers(&home, &emu, None)
}

fn api_key_renewal_case(point: &str) -> Result<(), String> {
    let emu = spawn_emulator(&["--device-interval", "0", "--api-key-lifetime", "16"]);
    let home = TestHome::against(&emu);
    let daemon = armed_daemon(&home, point);
    ok(
        &home.run_ctl_within(&["login", "--no-browser"], Duration::from_secs(30)),
        "login",
    );
    killed_at(daemon, point, RENEWAL_WAIT);
    recovers(&home, &emu, None)?;
    // The renewal itself survives too: the daemon can still renew the key without the user,
    // except after a kill between the refresh grant and the store of the refresh token it
    // returned, where the service has already retired the one stored (then `status` says the
    // key is expiring and a login is needed, which is the truth).
    let status = json_of(&home.run_ctl(&["--json", "daemon", "status"]));
    let login = &status["login"];
    let can_renew = login["state"] == "logged_in" && login["can_renew"] == true;
    match (point, can_renew) {
        (LOST_REFRESH_CHAIN, false) | (_, true) => Ok(()),
        _ => Err(format!("the API key can no longer be renewed: {login}")),
    }
}

/// The one API-key renewal point after which the renewal needs a new login (see above).
const LOST_REFRESH_CHAIN: &str = "renewal.after_refresh_call";

#[test]
fn install_recovers_from_a_kill_at_each_point() {
    suite("install", INSTALL, install_case);
}

#[test]
fn install_over_an_existing_condarc_recovers_from_a_kill_at_each_point() {
    suite(
        "install over an existing .condarc",
        INSTALL_OVER_CONDARC,
        install_over_condarc_case,
    );
}

#[test]
fn token_renewal_recovers_from_a_kill_at_each_point() {
    suite("token renewal", TOKEN_RENEWAL, token_renewal_case);
}

#[test]
fn uninstall_recovers_from_a_kill_at_each_point() {
    suite("uninstall", UNINSTALL, uninstall_case);
}

#[test]
fn login_recovers_from_a_kill_at_each_point() {
    suite("login", LOGIN, login_case);
}

#[test]
fn api_key_renewal_recovers_from_a_kill_at_each_point() {
    suite("API key renewal", API_KEY_RENEWAL, api_key_renewal_case);
}

/// Every point in the daemon's code is one of the suite's (or named as not passed here), so a
/// new point cannot go untested.
#[test]
fn every_fault_point_in_the_daemon_is_in_the_suite() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../daemon/src");
    let mut in_code = BTreeSet::new();
    let mut dirs = vec![src];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("daemon/src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let code = std::fs::read_to_string(&path).expect("a source file");
                for piece in code.split("fault::point(\"").skip(1) {
                    if let Some((name, _)) = piece.split_once('"') {
                        in_code.insert(name.to_owned());
                    }
                }
            }
        }
    }
    let in_suite: BTreeSet<String> = [
        INSTALL,
        INSTALL_OVER_CONDARC,
        TOKEN_RENEWAL,
        UNINSTALL,
        LOGIN,
        API_KEY_RENEWAL,
    ]
    .iter()
    .flat_map(|points| points.iter())
    .map(|p| p.split('#').next().unwrap_or(p).to_owned())
    .collect();
    assert!(in_code.len() >= 15, "{in_code:?}");
    assert_eq!(in_code, in_suite);
}
