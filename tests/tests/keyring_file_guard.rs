//! The shared file record `~/.anaconda/keyring`, rewritten by another client as `ana login`
//! writes it (the domain's record with a new API key and `repo_tokens: []`) or as an older
//! anaconda-auth writes it back (a revoked token, a dead key): the daemon adopts the new valid
//! key, restores the tokens it holds when the file is its store, refuses what is not valid, and
//! says so in a `KEYRING_FILE_REWRITTEN` event. Real daemon and CLI on temp sockets against the
//! emulator.

use std::time::Duration;

use anacondad_proto::v1::EventKind;
use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use base64::Engine as _;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

/// The domain's record in the file now.
fn file_record(home: &TestHome, domain: &str) -> Value {
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(home.path().join(".anaconda/keyring")).expect("the file"),
    )
    .expect("JSON");
    let encoded = file["Anaconda Cloud"][domain].as_str().expect("a record");
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64"),
    )
    .expect("a JSON record")
}

/// Rewrites the whole file as another client does: only its own record of `domain`.
fn rewrite_as_another_client(home: &TestHome, domain: &str, record: &Value) {
    let file = json!({"Anaconda Cloud": {domain: b64(record)}});
    std::fs::write(home.path().join(".anaconda/keyring"), file.to_string()).unwrap();
}

/// What the daemon serves as the domain's record (its current credentials).
fn daemons_record(home: &TestHome, domain: &str) -> Value {
    let out = home.run_ctl(&["--json", "keyring", "get", "Anaconda Cloud", domain]);
    let answer = json_output(&out);
    let encoded = answer["password"].as_str().expect("a record").to_owned();
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap()
}

fn logged_in_with_a_token(home: &TestHome, emu: &EmulatorProcess) {
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&["token", "install", "--org", "acme", "--no-condarc"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn token_of(record: &Value, org: &str) -> Option<String> {
    record["repo_tokens"]
        .as_array()?
        .iter()
        .find(|t| t["org_name"] == org)
        .and_then(|t| t["token"].as_str().map(str::to_owned))
}

#[test]
fn a_login_that_drops_the_tokens_from_the_file_gets_them_back_and_its_new_key_is_adopted() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    logged_in_with_a_token(&home, &emu);
    let domain = emu.domain();
    let token = emu.org_token("acme").expect("acme has a token");
    let mut events = home.subscribe_events();
    let new_key = emu.mint_api_key();
    // What `ana login` writes: its key, no tokens, no other field.
    rewrite_as_another_client(
        &home,
        &domain,
        &json!({"domain": domain, "api_key": new_key, "repo_tokens": [], "version": 2}),
    );
    let event = events.wait_for(EventKind::KeyringFileRewritten, WAIT);
    assert!(
        event.message.contains("adopted the API key")
            && event.message.contains("restored the repo token of acme"),
        "{}",
        event.message
    );
    let record = file_record(&home, &domain);
    assert_eq!(token_of(&record, "acme").as_deref(), Some(token.as_str()));
    assert_eq!(record["api_key"], new_key.as_str());
    assert_eq!(daemons_record(&home, &domain)["api_key"], new_key.as_str());
}

#[test]
fn a_stale_record_written_back_is_refused_and_the_daemons_credentials_restored() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    logged_in_with_a_token(&home, &emu);
    let domain = emu.domain();
    let old = file_record(&home, &domain);
    // A renewal, then a client writes back what it read before it.
    let out = home.run_ctl(&["token", "refresh", "--org", "acme", "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let renewed = emu.org_token("acme").expect("acme has a token");
    let mut events = home.subscribe_events();
    let mut stale = old.clone();
    stale["api_key"] = json!("not-a-key");
    rewrite_as_another_client(&home, &domain, &stale);
    let event = events.wait_for(EventKind::KeyringFileRewritten, WAIT);
    assert!(
        event.message.contains("did not adopt the API key")
            && event.message.contains("did not adopt")
            && event.message.contains("the repo token of acme"),
        "{}",
        event.message
    );
    let record = file_record(&home, &domain);
    assert_eq!(token_of(&record, "acme").as_deref(), Some(renewed.as_str()));
    assert_eq!(record["api_key"], old["api_key"]);
}

#[test]
fn with_the_keychain_a_new_key_in_the_file_is_adopted_and_no_secret_is_written_to_it() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(
            std::env::var_os("ANACONDAD_SKIP_KEYCHAIN_TESTS").is_some(),
            "needs a Secret Service: run under tests/scripts/with-keyring.sh"
        );
        return;
    }
    let emu = spawn_emulator(&[]);
    let home = TestHome::new()
        .with_env("ANACONDA_AUTH_DOMAIN", &emu.base_url)
        .with_env("CONDA_TOKEN_REPO_URL", emu.url("/repo/"))
        .with_env("ANACONDAD_STORAGE", "system");
    logged_in_with_a_token(&home, &emu);
    let domain = emu.domain();
    let mut events = home.subscribe_events();
    let new_key = emu.mint_api_key();
    std::fs::create_dir_all(home.path().join(".anaconda")).unwrap();
    let written = json!({"domain": domain, "api_key": new_key, "repo_tokens": [], "version": 2});
    rewrite_as_another_client(&home, &domain, &written);
    let event = events.wait_for(EventKind::KeyringFileRewritten, WAIT);
    assert!(
        event.message.contains("adopted the API key"),
        "{}",
        event.message
    );
    assert!(!event.message.contains("restored"), "{}", event.message);
    assert_eq!(daemons_record(&home, &domain)["api_key"], new_key.as_str());
    assert!(token_of(&daemons_record(&home, &domain), "acme").is_some());
    assert_eq!(
        file_record(&home, &domain),
        written,
        "the file is left as its client wrote it"
    );
}
