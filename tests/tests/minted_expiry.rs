//! The daemon revokes a key it minted once the key's expiry passes, at the service, with the
//! call `api-key --revoke` makes: the service deletes it (not only refuses it), and `api-key
//! --list` drops it. A failed revocation is told as an event, keeps the record (listed with
//! why) and is tried again; a daemon that was stopped at the expiry revokes it when it starts.
//! The daemon runs in this process with a clock the test moves; the CLI, the socket and the
//! emulator are real, and the emulator's own time never reaches the keys' expiry, so a key
//! gone there was deleted.

use std::sync::Arc;
use std::time::Duration;

use anacondad::clock::ManualClock;
use anacondad_proto::v1::EventKind;
use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::in_process::InProcessDaemon;
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use jiff::Timestamp;

const EVENT_TIMEOUT: Duration = Duration::from_secs(30);
/// The lifetime the tests mint keys with, and a time past it.
const TTL: &str = "10m";
const PAST_EXPIRY: Duration = Duration::from_secs(11 * 60);

/// A logged-in home served by an in-process daemon on `clock`; answers the account's key.
fn logged_in(
    emu: &EmulatorProcess,
    clock: &Arc<ManualClock>,
) -> (TestHome, InProcessDaemon, String) {
    let home = TestHome::against(emu);
    let daemon = InProcessDaemon::start(&home, clock.clone());
    let account_key = emu.mint_api_key();
    home.login_with_api_key(&account_key);
    (home, daemon, account_key)
}

fn mint(home: &TestHome) -> String {
    let minted = json_output(&home.run_ctl(&["--json", "api-key", "--mint", "--ttl", TTL]));
    minted["key"]["id"].as_str().expect("an id").to_owned()
}

/// The ids of the keys the service holds for the account, valid by the emulator's own clock.
fn ids_at_the_service(emu: &EmulatorProcess, account_key: &str) -> Vec<String> {
    anacondad_tests::install_crypto_provider();
    let keys: serde_json::Value = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(emu.url("/api/auth/api-keys"))
        .bearer_auth(account_key)
        .send()
        .expect("the emulator answers")
        .json()
        .expect("JSON");
    keys.as_array()
        .expect("a list")
        .iter()
        .filter_map(|k| k["id"].as_str().map(str::to_owned))
        .collect()
}

fn listed(home: &TestHome) -> serde_json::Value {
    json_output(&home.run_ctl(&["--json", "api-key", "--list"]))["keys"].clone()
}

#[test]
fn a_minted_key_is_deleted_at_the_service_when_it_expires_and_leaves_the_list() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, _daemon, account_key) = logged_in(&emu, &clock);
    let id = mint(&home);
    assert!(ids_at_the_service(&emu, &account_key).contains(&id));
    let mut events = home.subscribe_events();

    clock.advance(PAST_EXPIRY);
    let revoked = events.wait_for(EventKind::ApiKeyRevoked, EVENT_TIMEOUT);
    assert!(revoked.message.contains(&id), "{}", revoked.message);
    assert!(!ids_at_the_service(&emu, &account_key).contains(&id));
    assert_eq!(listed(&home), serde_json::json!([]));
}

#[test]
fn a_failed_revocation_at_expiry_is_told_keeps_the_record_and_is_tried_again() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, _daemon, account_key) = logged_in(&emu, &clock);
    let id = mint(&home);
    let mut events = home.subscribe_events();
    emu.post(
        "/_emulator/faults",
        serde_json::json!({"path_prefix": "/api/auth/api-keys/", "method": "DELETE",
                           "count": 1000, "kind": "status", "status": 503}),
    );

    clock.advance(PAST_EXPIRY);
    let failed = events.wait_for(EventKind::ApiKeyRevocationFailed, EVENT_TIMEOUT);
    assert!(failed.message.contains(&id), "{}", failed.message);
    let keys = listed(&home);
    assert_eq!(keys[0]["id"], id.as_str(), "{keys}");
    assert!(keys[0]["revocation_error"].is_string(), "{keys}");
    assert!(ids_at_the_service(&emu, &account_key).contains(&id));

    emu.clear_faults();
    clock.advance(Duration::from_secs(2 * 60));
    events.wait_for(EventKind::ApiKeyRevoked, EVENT_TIMEOUT);
    assert!(!ids_at_the_service(&emu, &account_key).contains(&id));
    assert_eq!(listed(&home), serde_json::json!([]));
}

#[test]
fn a_key_that_expired_while_no_daemon_ran_is_revoked_when_one_starts() {
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, daemon, account_key) = logged_in(&emu, &clock);
    let id = mint(&home);
    daemon.stop();

    clock.advance(PAST_EXPIRY);
    let _again = InProcessDaemon::start(&home, clock.clone());
    let mut events = home.subscribe_events();
    // The revocation may have happened before the subscription: the service says.
    if ids_at_the_service(&emu, &account_key).contains(&id) {
        events.wait_for(EventKind::ApiKeyRevoked, EVENT_TIMEOUT);
    }
    assert!(!ids_at_the_service(&emu, &account_key).contains(&id));
    assert_eq!(listed(&home), serde_json::json!([]));
}
