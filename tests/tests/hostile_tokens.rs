//! A credential the service hands over is checked before it is stored: control characters,
//! spaces and absurd lengths are refused with a clear error, and nothing is stored.

use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::spawn_emulator;
use serde_json::json;

const PROMPT: std::time::Duration = std::time::Duration::from_secs(60);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn keyring_text(home: &TestHome) -> String {
    std::fs::read_to_string(home.path().join(".anaconda/keyring")).unwrap_or_default()
}

fn install_refuses(token: &str, reason: &str) {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    home.login_with_api_key(&emu.mint_api_key());
    emu.post(
        "/_emulator/faults",
        json!({"path_prefix": "/api/organizations/acme/ce/current-token", "method": "PUT",
               "kind": "body", "body": {"token": token, "expires_at": "2030-01-01T00:00:00Z"}}),
    );
    let out = home.run_ctl_within(
        &["token", "install", "--org", "acme", "--yes", "--no-condarc"],
        PROMPT,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("the new token is unusable") && err.contains(reason),
        "{err}"
    );
    assert!(
        err.contains("anacondactl token install"),
        "says what to do: {err}"
    );
    assert!(
        !err.contains("X-Injected") && !err.contains("aaaaaaaa"),
        "no echo: {err}"
    );
    let list = json_output(&home.run_ctl(&["--json", "token", "list"]));
    assert_eq!(list["tokens"], json!([]), "nothing stored: {list}");
    let stored = keyring_text(&home);
    assert!(
        !stored.contains("X-Injected") && stored.len() < 10_000,
        "{stored}"
    );
}

#[test]
fn a_reissued_token_with_a_line_break_is_refused_before_it_is_stored() {
    install_refuses("tok\r\nX-Injected: 1", "a control character at byte 3");
}

#[test]
fn a_reissued_token_with_an_escape_is_refused_before_it_is_stored() {
    install_refuses("tok\u{1b}]8;;x\u{7}", "a control character at byte 3");
}

#[test]
fn a_reissued_token_of_a_hundred_kilobytes_is_refused_before_it_is_stored() {
    install_refuses(&"a".repeat(100_000), "100000 bytes long");
}

#[test]
fn an_api_key_with_a_space_is_refused_at_login() {
    let emu = spawn_emulator(&["--device-interval", "0"]);
    let home = TestHome::against(&emu);
    emu.post(
        "/_emulator/faults",
        json!({"path_prefix": "/api/auth/api-keys", "kind": "body", "status": 201,
               "body": {"api_key": "eyJhbGciOiJub25lIn0.eyJleHAiOjQxMDI0NDQ4MDB9 X-Injected"}}),
    );
    let out = home.run_ctl_within(&["login", "--no-browser"], PROMPT);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("the new API key is unusable") && err.contains("a space at byte"),
        "{err}"
    );
    assert!(!err.contains("X-Injected"), "{err}");
    assert!(!keyring_text(&home).contains("X-Injected"));
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_ne!(status["login"]["state"], "logged_in", "{status}");
}

/// `token install - --org acme`, `token` piped in.
fn install_piped(home: &TestHome, token: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = home
        .ctl()
        .args(["token", "install", "-", "--org", "acme", "--no-condarc"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("anacondactl runs");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(token.as_bytes())
        .expect("the token is written");
    child.wait_with_output().expect("anacondactl ends")
}

#[test]
fn a_piped_token_with_a_control_character_or_a_space_is_refused_before_it_is_stored() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    for (token, reason) in [
        ("tok\r\nX-Injected: 1", "a control character at byte 3"),
        ("tok\u{1b}[31mX-Injected", "a control character at byte 3"),
        ("tok\0X-Injected", "a control character at byte 3"),
        ("tok X-Injected", "a space at byte 3"),
    ] {
        let out = install_piped(&home, token);
        assert!(!out.status.success(), "{token:?}: {}", text(&out.stdout));
        let err = text(&out.stderr);
        assert!(err.contains(reason), "{token:?}: {err}");
        assert!(!err.contains("X-Injected"), "no echo: {err}");
        assert!(!keyring_text(&home).contains("X-Injected"), "{token:?}");
    }
    let list = json_output(&home.run_ctl(&["--json", "token", "list"]));
    assert_eq!(list["tokens"], json!([]), "nothing stored: {list}");
    // A clean token (the service's, with the line break a pipe adds) still goes in.
    emu.post("/_emulator/orgs/acme/token", json!({}));
    let token = emu.org_token("acme").unwrap();
    let out = install_piped(&home, &format!("{token}\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
}
