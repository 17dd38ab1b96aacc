//! The conda plugin's keyring backend (`conda_anacondad.keyring_backend`): the real
//! anaconda-auth 0.15.3 with no configuration at all lands on it and reads the daemon's current
//! credentials from the keychain; what it writes is adopted, its logout logs the daemon out;
//! other services and URLs go to the keyring that would have answered without it; a daemon
//! that is down or hung makes it step aside within its deadline. Needs the Secret Service of
//! `tests/scripts/with-keyring.sh` and the venv of `tests/scripts/setup-venv.sh`.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anacondad_tests::harness::{TestHome, bin, json_output, keychain_python_venv_or_skip};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A daemon that keeps credentials in the OS keychain, logged in with a token for acme.
fn logged_in_with_a_token(emu: &EmulatorProcess) -> TestHome {
    let home = TestHome::new()
        .with_env("ANACONDA_AUTH_DOMAIN", &emu.base_url)
        .with_env("CONDA_TOKEN_REPO_URL", emu.url("/repo/"))
        .with_env("ANACONDAD_STORAGE", "system");
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&["token", "install", "--org", "acme", "--no-condarc"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    home
}

/// A Python program of the venv, run as the user of `home` would run it: anaconda-auth with
/// no configuration (none of the daemon's variables), `anacondactl` the built one.
fn python(venv: &Path, home: &TestHome, script: &str) -> Command {
    let mut command = Command::new(venv.join("bin/python"));
    command
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("python")
                .join(script),
        )
        .env_clear()
        .envs(home.env())
        .env_remove("ANACONDA_AUTH_DOMAIN")
        .env_remove("CONDA_TOKEN_REPO_URL")
        .env_remove("ANACONDAD_STORAGE")
        .env("ANACONDACTL", bin("anacondactl"))
        .env("CONDARC", home.path().join("no.condarc"));
    command
}

fn run_json(mut command: Command, stdin: Option<&str>) -> Value {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("python runs");
    let mut input = child.stdin.take().expect("piped stdin");
    if let Some(stdin) = stdin {
        input.write_all(stdin.as_bytes()).expect("stdin is written");
    }
    drop(input);
    let out = child.wait_with_output().expect("python ends");
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

/// What anaconda-auth's `TokenInfo.load` and its conda handler find for acme's channel.
fn anaconda_auth_finds(venv: &Path, home: &TestHome, emu: &EmulatorProcess) -> Value {
    let mut command = python(venv, home, "anaconda_auth_lookup.py");
    command.args([
        emu.domain(),
        "acme".to_owned(),
        emu.url("/repo/acme/noarch/repodata.json"),
    ]);
    run_json(command, None)
}

fn keyring(venv: &Path, home: &TestHome, args: &[&str], stdin: Option<&str>) -> Value {
    let mut command = python(venv, home, "keyring_client.py");
    command.args(args);
    run_json(command, stdin)
}

fn daemons_api_key(home: &TestHome, emu: &EmulatorProcess) -> String {
    let out = home.run_ctl(&["keyring", "get", "Anaconda Cloud", &emu.domain(), "--json"]);
    let record = json_output(&out)["password"]
        .as_str()
        .expect("a record")
        .to_owned();
    let record = base64_decode(&record);
    let record: Value = serde_json::from_slice(&record).expect("the record is JSON");
    record["api_key"].as_str().unwrap_or_default().to_owned()
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

#[test]
fn anaconda_auth_with_no_configuration_reads_the_daemons_key_and_tokens_and_their_renewal() {
    let Some(venv) = keychain_python_venv_or_skip("anaconda_auth_reads_the_daemons_key_and_tokens")
    else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = logged_in_with_a_token(&emu);
    let chosen = keyring(&venv, &home, &["backend"], None);
    assert_eq!(chosen["backend"], "AnacondadKeyring", "{chosen}");

    let found = anaconda_auth_finds(&venv, &home, &emu);
    let token = emu.org_token("acme").expect("acme has a token");
    assert_eq!(
        found["api_key"],
        daemons_api_key(&home, &emu).as_str(),
        "{found}"
    );
    assert_eq!(found["repo_token"], token.as_str(), "{found}");
    assert!(
        found["handler_credential"].is_string(),
        "its conda handler finds a credential: {found}"
    );
    // Its default configuration: no config.toml, and nothing of ours in its file.
    assert!(!home.path().join(".anaconda/config.toml").exists());
    let file = std::fs::read_to_string(home.path().join(".anaconda/keyring")).unwrap_or_default();
    assert!(!file.contains(&emu.domain()), "{file}");

    // A renewal: the token is reissued; anaconda-auth reads the new one, nothing rewritten.
    let out = home.run_ctl(&["token", "refresh", "--org", "acme", "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let renewed = emu.org_token("acme").expect("acme has a token");
    assert_ne!(renewed, token);
    let found = anaconda_auth_finds(&venv, &home, &emu);
    assert_eq!(found["repo_token"], renewed.as_str(), "{found}");
}

#[test]
fn a_key_anaconda_auth_saves_is_adopted_and_its_logout_logs_the_daemon_out() {
    let Some(venv) = keychain_python_venv_or_skip("a_key_anaconda_auth_saves_is_adopted") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = logged_in_with_a_token(&emu);
    let token = emu.org_token("acme").expect("acme has a token");
    let new_key = emu.mint_api_key();
    keyring(
        &venv,
        &home,
        &["save-api-key", &emu.domain()],
        Some(&new_key),
    );
    assert_eq!(daemons_api_key(&home, &emu), new_key);
    // A key the service refuses is not kept, and the save says so.
    let mut command = python(&venv, &home, "keyring_client.py");
    command.args(["save-api-key", &emu.domain()]);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("python runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln")
        .expect("written");
    let out = child.wait_with_output().expect("python ends");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("anacondad kept none of it"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(daemons_api_key(&home, &emu), new_key);

    keyring(&venv, &home, &["logout", &emu.domain()], None);
    let found = anaconda_auth_finds(&venv, &home, &emu);
    assert_eq!(found["api_key"], Value::Null, "{found}");
    assert_eq!(found["repo_token"], token.as_str(), "tokens stay: {found}");
}

#[test]
fn other_services_and_urls_go_to_the_keyring_that_would_have_answered() {
    let Some(venv) =
        keychain_python_venv_or_skip("other_services_and_urls_go_to_the_other_keyring")
    else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = logged_in_with_a_token(&emu);
    let chosen = keyring(&venv, &home, &["backend"], None);
    assert_eq!(
        chosen["next"], "AnacondaKeyring",
        "anaconda-auth's file: {chosen}"
    );
    keyring(
        &venv,
        &home,
        &["set", "unrelated-service", "bob"],
        Some("bobs-password"),
    );
    let got = keyring(&venv, &home, &["get", "unrelated-service", "bob"], None);
    assert_eq!(got["password"], "bobs-password", "{got}");
    let got = keyring(
        &venv,
        &home,
        &["credential", "https://pypi.example/simple/"],
        None,
    );
    assert_eq!(got["credential"], Value::Null, "{got}");
    let got = keyring(
        &venv,
        &home,
        &["get", "Anaconda Cloud", "other.example"],
        None,
    );
    assert_eq!(got["password"], Value::Null, "{got}");
    // The daemon's own index answers: __token__ and the key.
    let index = emu.url("/repo/anaconda-wheels/simple/");
    let got = keyring(&venv, &home, &["credential", &index], None);
    let key = daemons_api_key(&home, &emu);
    assert_eq!(
        got["credential"],
        serde_json::json!(["__token__", key]),
        "{got}"
    );
}

#[test]
fn a_daemon_that_is_down_or_hung_makes_the_backend_step_aside_within_its_deadline() {
    let Some(venv) =
        keychain_python_venv_or_skip("a_daemon_that_is_down_makes_the_backend_step_aside")
    else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = logged_in_with_a_token(&emu).with_env("CONDA_ANACONDAD_KEYRING_TIMEOUT", "1");
    // anaconda-auth's file holds a record of its own for the domain: it answers once the
    // backend steps aside.
    let file = serde_json::json!({"Anaconda Cloud": {emu.domain(): "from-the-file"}});
    std::fs::create_dir_all(home.path().join(".anaconda")).unwrap();
    std::fs::write(home.path().join(".anaconda/keyring"), file.to_string()).unwrap();
    let got = keyring(
        &venv,
        &home,
        &["get", "Anaconda Cloud", &emu.domain()],
        None,
    );
    assert_ne!(got["password"], "from-the-file", "{got}");
    let pid = home.daemon_pid().expect("the daemon runs");
    anacondad_tests::harness::kill(pid, "STOP");
    let started = Instant::now();
    let got = keyring(
        &venv,
        &home,
        &["get", "Anaconda Cloud", &emu.domain()],
        None,
    );
    anacondad_tests::harness::kill(pid, "CONT");
    assert_eq!(got["password"], "from-the-file", "{got}");
    assert!(
        got["seconds"].as_f64().unwrap() < 2.5,
        "a hung daemon cost {got}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));

    let out = home.run_ctl(&["daemon", "stop"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = keyring(
        &venv,
        &home,
        &["get", "Anaconda Cloud", &emu.domain()],
        None,
    );
    assert_eq!(got["password"], "from-the-file", "{got}");
    assert!(
        got["seconds"].as_f64().unwrap() < 1.0,
        "a stopped daemon cost {got}"
    );
    assert!(
        home.daemon_pid()
            .is_none_or(|pid| !anacondad_tests::harness::process_alive(pid)),
        "the backend does not start the daemon"
    );
}
