//! pixi (rattler) sees what the daemon keeps: the real py-rattler 0.28 from PyPI fetches
//! repodata from the emulator's repository with what the daemon exported, through rattler's
//! credentials file and through the Secret Service, again after a renewal; logout removes the
//! entry and leaves every other one.
//!
//! Needs the venv of tests/scripts/setup-venv.sh and, for the keychain test, a Secret Service
//! (tests/scripts/with-keyring.sh).

mod export_common;

use std::sync::Arc;

use anacondad::clock::ManualClock;
use anacondad_proto::v1::EventKind;
use anacondad_tests::harness::python_venv_or_skip as venv_or_skip;
use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::in_process::InProcessDaemon;
use anacondad_tests::spawn_emulator;
use export_common::{EXPORT_TIMEOUT, mode, ok, python, rattler_fetch, read_json, wait_for};
use jiff::Timestamp;
use serde_json::json;

const HOST: &str = "127.0.0.1";
const THEIRS: &str = r#"{"BearerToken":"someone-elses"}"#;

fn status(url: &str) -> u16 {
    reqwest::blocking::get(url)
        .expect("the emulator answers")
        .status()
        .as_u16()
}

#[test]
fn pixi_fetches_repodata_with_the_api_key_exported_to_its_credentials_file() {
    let Some(venv) =
        venv_or_skip("pixi_fetches_repodata_with_the_api_key_exported_to_its_credentials_file")
    else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let file = home.path().join(".rattler/credentials.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, format!(r#"{{"prefix.dev": {THEIRS}}}"#)).unwrap();
    let _daemon = home.start_daemon();
    let key = emu.mint_api_key();
    home.login_with_api_key(&key);
    let channel = emu.url("/repo/main");
    assert!(
        rattler_fetch(&venv, &home, &channel, false).is_err(),
        "nothing exported yet: the repository refuses rattler"
    );

    let planned = json_output(&home.run_ctl(&["--json", "export", "--for", "pixi", "--dry-run"]));
    assert_eq!(planned["export"]["entries"][0]["key"], HOST);
    assert_eq!(planned["export"]["entries"][0]["credential"], "the API key");
    assert!(
        !read_json(&file).contains_key(HOST),
        "a dry run writes nothing"
    );

    let shown = ok(&home.run_ctl(&["export", "--for", "pixi"]));
    assert!(shown.contains(&file.display().to_string()), "{shown}");
    assert!(
        shown.contains("127.0.0.1 BearerToken (the API key)"),
        "{shown}"
    );
    let held = read_json(&file);
    let exported = held[HOST]["BearerToken"].as_str().expect("a bearer token");
    export_common::assert_read_only_key(&emu, exported, &key);
    assert_eq!(
        held["prefix.dev"],
        serde_json::from_str::<serde_json::Value>(THEIRS).unwrap()
    );
    assert_eq!(mode(&file), 0o600);
    assert_eq!(
        rattler_fetch(&venv, &home, &channel, false).expect("rattler reads the exported key"),
        ["anacondad-hello"]
    );

    let status_text = ok(&home.run_ctl(&["daemon", "status"]));
    assert!(
        status_text.contains("pixi (on)") && status_text.contains("last written"),
        "{status_text}"
    );
    let listed = json_output(&home.run_ctl(&["--json", "token", "list"]));
    assert_eq!(listed["exports"][0]["for"], "pixi");
    assert!(
        listed["exports"][0]["last_written_at"].is_string(),
        "{listed}"
    );

    ok(&home.run_ctl(&["logout"]));
    wait_for("logout to remove the exported entry", || {
        (!read_json(&file).contains_key(HOST)).then_some(())
    });
    let held = read_json(&file);
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(held.contains_key("prefix.dev"), "the other entry stays");
    assert!(rattler_fetch(&venv, &home, &channel, false).is_err());
}

#[test]
fn pixi_fetches_repodata_through_the_secret_service() {
    let Some(venv) = venv_or_skip("pixi_fetches_repodata_through_the_secret_service") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu).with_env("ANACONDAD_STORAGE", "system");
    let read_theirs =
        "import keyring; print(keyring.get_password('rattler', 'prefix.dev') or 'none')";
    python(
        &venv,
        &home,
        &format!("import keyring; keyring.set_password('rattler', 'prefix.dev', '{THEIRS}')"),
    );
    let _daemon = home.start_daemon();
    let key = emu.mint_api_key();
    home.login_with_api_key(&key);
    let shown = ok(&home.run_ctl(&["export", "--for", "pixi"]));
    assert!(shown.contains("OS keychain (service rattler)"), "{shown}");
    assert!(
        !home.path().join(".rattler/credentials.json").exists(),
        "with the keychain, rattler's entry goes there, not to a file"
    );
    let channel = emu.url("/repo/main");
    assert_eq!(
        rattler_fetch(&venv, &home, &channel, true).expect("rattler reads its keychain entry"),
        ["anacondad-hello"]
    );

    ok(&home.run_ctl(&["logout"]));
    let read_ours =
        format!("import keyring; print(keyring.get_password('rattler', '{HOST}') or 'none')");
    wait_for("logout to remove the keychain entry", || {
        (python(&venv, &home, &read_ours) == "none").then_some(())
    });
    assert_eq!(
        python(&venv, &home, read_theirs),
        THEIRS,
        "the other entry stays"
    );
    assert!(rattler_fetch(&venv, &home, &channel, true).is_err());
}

#[test]
fn after_a_renewal_pixi_holds_the_new_token_and_the_old_one_is_refused() {
    let Some(venv) =
        venv_or_skip("after_a_renewal_pixi_holds_the_new_token_and_the_old_one_is_refused")
    else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let home = TestHome::against(&emu);
    let _daemon = InProcessDaemon::start(&home, clock.clone());
    home.login_with_api_key(&emu.mint_api_key());
    ok(&home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]));
    ok(&home.run_ctl(&["export", "--for", "pixi"]));
    let file = home.path().join(".rattler/credentials.json");
    assert!(read_json(&file)[HOST]["BearerToken"].is_string());

    // The repository refuses the API key for globex's channels: a host-keyed store can hold
    // one credential only, so it now holds a repo token (rattler puts it in a /t/ path).
    let globex = emu.url("/repo/globex/main/noarch/repodata.json");
    // Nothing else can serve globex: the CLI says so and fails, which is not under test here.
    let refused = home.run_ctl(&[
        "credential",
        "rejected",
        &globex,
        "--status",
        "403",
        "--kind",
        "api_key",
    ]);
    assert!(!refused.status.success());
    let first = emu.org_token("acme").unwrap();
    wait_for("the refusal to put the repo token in the export", || {
        (read_json(&file)[HOST] == json!({"CondaToken": first})).then_some(())
    });
    let acme = emu.url("/repo/acme/main");
    assert_eq!(
        rattler_fetch(&venv, &home, &acme, false).unwrap(),
        ["anacondad-hello"]
    );

    let mut events = home.subscribe_events();
    let next: Timestamp =
        json_output(&home.run_ctl(&["--json", "token", "list"]))["tokens"][0]["next_refresh_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    clock.set(next + jiff::SignedDuration::from_secs(1));
    events.wait_for(EventKind::TokenRefreshed, EXPORT_TIMEOUT);
    let second = emu.org_token("acme").unwrap();
    assert_ne!(first, second);
    wait_for("the renewal to rewrite the export", || {
        (read_json(&file)[HOST] == json!({"CondaToken": second})).then_some(())
    });
    let repodata =
        |token: &str| emu.url(&format!("/t/{token}/repo/acme/main/noarch/repodata.json"));
    assert_eq!(status(&repodata(&first)), 401, "the old token is revoked");
    assert_eq!(status(&repodata(&second)), 200);
    assert_eq!(
        rattler_fetch(&venv, &home, &acme, false).unwrap(),
        ["anacondad-hello"]
    );
}

#[test]
fn turning_the_export_off_removes_only_what_the_daemon_wrote() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu).with_env("ANACONDAD_EXPORT", "rattler");
    let file = home.path().join(".rattler/credentials.json");
    let _daemon = home.start_daemon();
    let key = emu.mint_api_key();
    home.login_with_api_key(&key);
    // On from the configuration: written on the login, with no command.
    wait_for("the login to be exported", || {
        let held = read_json(&file);
        let exported = held.get(HOST)?["BearerToken"].as_str()?.to_owned();
        (exported != key).then_some(())
    });
    let mut held = read_json(&file);
    held.insert("prefix.dev".into(), serde_json::from_str(THEIRS).unwrap());
    std::fs::write(&file, serde_json::Value::Object(held).to_string()).unwrap();

    let shown = ok(&home.run_ctl(&["export", "--for", "pixi", "--off"]));
    assert!(shown.contains("No longer exporting for pixi"), "{shown}");
    let held = read_json(&file);
    assert!(!held.contains_key(HOST), "{held:?}");
    assert!(held.contains_key("prefix.dev"));
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(
        status["exports"],
        json!([]),
        "off and nothing left: not shown"
    );
    // Off is remembered: a new login is not exported.
    home.login_with_api_key(&emu.mint_api_key());
    ok(&home.run_ctl(&["daemon", "status"]));
    assert!(!read_json(&file).contains_key(HOST));
}

#[test]
fn a_credentials_file_that_is_not_json_is_reported_and_left_as_it_was() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let file = home.path().join(".rattler/credentials.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "{\"prefix.dev\": {\"BearerToken\": ").unwrap();
    let _daemon = home.start_daemon();
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&["export", "--for", "pixi"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("credentials.json") && err.contains("fix or move"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{\"prefix.dev\": {\"BearerToken\": ",
        "nothing of the user's file is lost"
    );
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert!(
        status["exports"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("credentials.json"),
        "{status}"
    );
    // Once the file is fixed, the next change writes the export and clears the error.
    std::fs::write(&file, "{}").unwrap();
    ok(&home.run_ctl(&["export", "--for", "pixi"]));
    assert!(read_json(&file).contains_key(HOST));
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert!(status["exports"][0]["last_error"].is_null(), "{status}");
}
