//! SIGTERM to the real daemon while its scheduler renews a token: the daemon stops only once
//! the token the service issued is stored, so the next daemon serves a token the repository
//! accepts. (The emulator's 4-second tokens make the renewal come within two seconds.)

use std::time::Duration;

use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::spawn_emulator;

#[test]
fn sigterm_during_a_scheduled_renewal_stops_only_after_the_new_token_is_stored() {
    let emu = spawn_emulator(&["--token-lifetime", "4"]);
    let home = TestHome::against(&emu);
    let mut daemon = home.start_daemon();
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = emu.org_token("acme").unwrap();
    // The service holds the renewal's reissue for longer than the old one-second cut-off.
    emu.post(
        "/_emulator/faults",
        serde_json::json!({
            "path_prefix": "/api/organizations/acme/ce/current-token",
            "method": "PUT",
            "kind": "hang",
            "millis": 2500,
        }),
    );
    emu.wait_for_faulted_request("PUT", "/acme/ce/current-token", Duration::from_secs(20));
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status:?}\n{}", daemon.log());
    let second = emu.org_token("acme").unwrap();
    assert_ne!(first, second, "the reissue went through");
    assert!(
        daemon.log().contains("waiting for work under way"),
        "{}",
        daemon.log()
    );

    // The next daemon (started by the CLI) serves the token the service issued last.
    let url = emu.url("/repo/main/noarch/repodata.json");
    let header = json_output(&home.run_ctl(&["--json", "credential", "get", &url]))["header_value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(header, format!("token {second}"));
    let answer = reqwest::blocking::Client::new()
        .get(&url)
        .header("Authorization", header)
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200);
}
