//! The daemon renews credentials by itself: repo tokens before they expire (reissue, store,
//! validate), the API key through the refresh token. Short lifetimes from the emulator make the
//! deadlines come within seconds; the tests wait for the daemon's own events, bounded.

use std::time::Duration;

use anacondad_proto::v1::EventKind;
use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::spawn_emulator;

const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn a_repo_token_is_reissued_before_it_expires_and_the_new_one_is_served() {
    let emu = spawn_emulator(&["--token-lifetime", "8"]);
    let base = emu.base_url.clone();
    let home = TestHome::against(&emu);
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut events = home.subscribe_events();
    let first = emu.org_token("acme").unwrap();
    let listed = json_output(&home.run_ctl(&["--json", "token", "list"]));
    let next = listed["tokens"][0]["next_refresh_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let expires = listed["tokens"][0]["expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        next < expires,
        "renewal {next} is planned before expiry {expires}"
    );

    let event = events.wait_for(EventKind::TokenRefreshed, EVENT_TIMEOUT);
    assert_eq!(event.org, "acme");
    let second = emu.org_token("acme").unwrap();
    assert_ne!(first, second, "the service issued a new token");
    let header = json_output(&home.run_ctl(&[
        "--json",
        "credential",
        "get",
        &format!("{base}/repo/main/noarch/repodata.json"),
    ]))["header_value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(header, format!("token {second}"));
    anacondad_tests::install_crypto_provider();
    let status = reqwest::blocking::Client::new()
        .get(format!("{base}/repo/main/noarch/repodata.json"))
        .header("Authorization", header)
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

#[test]
fn the_api_key_is_renewed_with_the_refresh_token() {
    let emu = spawn_emulator(&["--api-key-lifetime", "8", "--device-interval", "1"]);
    let home = TestHome::against(&emu);
    let out = home.run_ctl(&["login", "--no-browser"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut events = home.subscribe_events();
    let before = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(before["login"]["can_renew"], true);

    events.wait_for(EventKind::ApiKeyRenewed, EVENT_TIMEOUT);
    let after = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(after["login"]["state"], "logged_in");
    assert!(
        after["login"]["api_key_expires_at"].as_str()
            > before["login"]["api_key_expires_at"].as_str(),
        "{before} -> {after}"
    );
    let who = json_output(&home.run_ctl(&["--json", "whoami"]));
    assert_eq!(who["username"], "demo");
}
