//! Bad input and broken surroundings: each gets a clear message that says what to do, and
//! nothing is lost.

use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use serde_json::json;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn login(home: &TestHome, emu: &EmulatorProcess) {
    home.login_with_api_key(&emu.mint_api_key());
}

#[test]
fn with_the_service_unreachable_stored_credentials_keep_working() {
    let emu = spawn_emulator(&[]);
    let base = emu.base_url.clone();
    let home = TestHome::against(&emu);
    login(&home, &emu);
    assert!(
        home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"])
            .status
            .success()
    );
    drop(emu);

    let who = home.run_ctl(&["whoami"]);
    assert_eq!(who.status.code(), Some(1));
    let err = text(&who.stderr);
    assert!(err.contains("127.0.0.1"), "names the host: {err}");
    assert!(
        err.contains("network") || err.contains("proxy"),
        "says what to check: {err}"
    );

    // Nothing needs the network to answer conda or list what is stored.
    let credential = home.run_ctl(&[
        "credential",
        "get",
        &format!("{base}/repo/main/noarch/repodata.json"),
    ]);
    assert!(credential.status.success(), "{}", text(&credential.stderr));
    assert!(text(&credential.stdout).starts_with("token "));
    let list = json_output(&home.run_ctl(&["--json", "token", "list"]));
    assert_eq!(list["tokens"][0]["org"], "acme");
}

#[test]
fn a_malformed_answer_from_the_service_is_an_error_not_a_crash() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    login(&home, &emu);
    emu.post(
        "/_emulator/faults",
        json!({"path_prefix": "/api/organizations/my", "count": 1, "kind": "malformed"}),
    );
    let out = home.run_ctl(&["token", "install", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("unexpected answer") && err.contains("/api/organizations/my"),
        "{err}"
    );
    // The daemon is still there and serving.
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert!(status["pid"].is_u64());
}

#[test]
fn a_corrupt_state_file_is_set_aside_and_the_daemon_starts() {
    let home = TestHome::new().with_env("ANACONDAD_STORAGE", "file");
    let state = home.state_dir();
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("state.json"), "{ this is not json").unwrap();
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert!(status["pid"].is_u64());
    let aside: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("state.json.unreadable"))
        .collect();
    assert_eq!(aside.len(), 1, "the unreadable file is kept aside");
    assert_eq!(
        std::fs::read_to_string(state.join(&aside[0])).unwrap(),
        "{ this is not json"
    );
}

#[test]
fn an_invalid_configuration_is_named_when_the_daemon_cannot_start() {
    let home = TestHome::new();
    let config = home.path().join("config/anacondad/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "storage = \"vault\"\n").unwrap();
    let out = home.run_ctl(&["daemon", "status"]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(
        err.contains("exited at start") && err.contains("config.toml") && err.contains("vault"),
        "{err}"
    );
}

#[test]
fn an_unknown_organization_is_refused_before_anything_is_reissued() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    login(&home, &emu);
    let out = home.run_ctl(&["token", "install", "--org", "initech", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("initech") && err.contains("acme, globex"),
        "{err}"
    );
    let bad = home.run_ctl(&["token", "refresh", "--org", "../etc", "--yes"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("not an organization name"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn a_keyring_file_others_could_read_is_tightened_and_the_user_told_once() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let keyring = home.path().join(".anaconda/keyring");
    std::fs::create_dir_all(keyring.parent().unwrap()).unwrap();
    std::fs::write(&keyring, "{}").unwrap();
    std::fs::set_permissions(
        &keyring,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let key = emu.mint_api_key();
    let mut child = home
        .ctl()
        .args(["login", "--api-key-stdin"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), key.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("note:") && err.contains("0644"), "{err}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&keyring).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let install = home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    assert!(install.status.success());
    assert!(
        !text(&install.stderr).contains("note:"),
        "told once: {}",
        text(&install.stderr)
    );
    let status = text(&home.run_ctl(&["daemon", "status"]).stdout);
    assert!(
        status.contains("note:") && status.contains("0644"),
        "{status}"
    );
}

#[test]
fn secrets_on_standard_input_are_checked_before_they_are_sent() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let run_with_stdin = |args: &[&str], input: &[u8]| {
        let mut child = home
            .ctl()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // A reader that stops early closes the pipe: ignore the broken pipe here.
        let _ = std::io::Write::write_all(&mut stdin, input);
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let empty = run_with_stdin(&["login", "--api-key-stdin"], b"\n");
    assert_eq!(empty.status.code(), Some(1));
    assert!(text(&empty.stderr).contains("no API key on standard input"));
    let huge = run_with_stdin(&["login", "--api-key-stdin"], &vec![b'x'; 100_000]);
    assert_eq!(huge.status.code(), Some(1));
    assert!(
        text(&huge.stderr).contains("more than 16384 bytes"),
        "{}",
        text(&huge.stderr)
    );

    // A token received by mail, piped in: installed without a login, never echoed.
    let token = emu.post("/_emulator/orgs/globex/token", json!({}))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = run_with_stdin(
        &["token", "install", "-", "--org", "globex", "--no-condarc"],
        format!("{token}\n").as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(&token) && !text(&out.stderr).contains(&token));
    let list = json_output(&home.run_ctl(&["--json", "token", "list"]));
    assert_eq!(list["tokens"][0]["org"], "globex");
}
