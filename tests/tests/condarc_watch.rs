//! The daemon notices changes to conda's configuration made behind its back: drift from what
//! it configured, a file that stops parsing, and org channels that have no token.

use std::time::Duration;

use anacondad_proto::v1::EventKind;
use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use serde_json::json;

const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// A home with a token for acme installed and ~/.condarc configured.
fn configured() -> (TestHome, EmulatorProcess) {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&["token", "install", "--org", "acme", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (home, emu)
}

/// Saves `text` the way editors do: a new file renamed over the old one.
fn save_like_an_editor(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("swp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn removing_our_settings_is_reported_as_drift() {
    let (home, _emu) = configured();
    let condarc = home.path().join(".condarc");
    let mut events = home.subscribe_events();
    save_like_an_editor(&condarc, "channels:\n  - conda-forge\n");
    let event = events.wait_for(EventKind::CondarcDrifted, EVENT_TIMEOUT);
    assert!(event.message.contains("condarc apply"), "{}", event.message);
    assert_eq!(event.path, condarc.display().to_string());
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_ne!(status["condarc"]["state"], "configured", "{status}");
    assert!(home.run_ctl(&["condarc", "apply"]).status.success());
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["condarc"]["state"], "configured");
}

#[test]
fn a_condarc_that_stops_parsing_is_reported() {
    let (home, _emu) = configured();
    let condarc = home.path().join(".condarc");
    let mut events = home.subscribe_events();
    save_like_an_editor(&condarc, "channels: [oops\n");
    let event = events.wait_for(EventKind::CondarcMalformed, EVENT_TIMEOUT);
    assert!(event.message.contains("line"), "{}", event.message);
}

#[test]
fn an_org_channel_without_a_token_is_reported() {
    let (home, emu) = configured();
    let condarc = home.path().join(".condarc");
    let text = std::fs::read_to_string(&condarc).unwrap();
    let mut events = home.subscribe_events();
    // token install wrote `channels: [defaults]`; an org channel goes in front.
    assert!(text.contains("channels:\n  - defaults\n"), "{text}");
    std::fs::write(
        &condarc,
        text.replace(
            "channels:\n  - defaults\n",
            &format!(
                "channels:\n  - {}/repo/globex/internal\n  - defaults\n",
                emu.base_url
            ),
        ),
    )
    .unwrap();
    let event = events.wait_for(EventKind::OrgWithoutToken, EVENT_TIMEOUT);
    assert_eq!(event.org, "globex");
    assert!(
        event.message.contains("token install --org globex"),
        "{}",
        event.message
    );
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["condarc"]["orgs_without_token"], json!(["globex"]));
    assert_eq!(status["condarc"]["state"], "configured");
}

#[test]
fn daemon_watch_prints_the_events_as_json_lines() {
    use std::io::BufRead;
    let (home, _emu) = configured();
    let mut watch = home
        .ctl()
        .args(["--json", "daemon", "watch"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = anacondad_tests::harness::KillOnDrop(watch.id());
    let mut ready = String::new();
    std::io::BufReader::new(watch.stderr.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.starts_with("watching the events"), "{ready}");
    save_like_an_editor(
        &home.path().join(".condarc"),
        "channels:\n  - conda-forge\n",
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let drifted = loop {
        let line = rx.recv_timeout(EVENT_TIMEOUT).expect("an event line");
        let event: serde_json::Value = serde_json::from_str(&line).expect("one JSON object a line");
        if event["kind"] == "condarc_drifted" {
            break event;
        }
    };
    assert!(
        drifted["message"]
            .as_str()
            .unwrap()
            .contains("condarc apply")
    );
    assert!(drifted["at"].is_string());
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn a_drop_in_file_in_condarc_d_is_watched_too() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let dropins = home.path().join(".conda/condarc.d");
    std::fs::create_dir_all(&dropins).unwrap();
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&["token", "install", "--org", "acme", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut events = home.subscribe_events();
    std::fs::write(
        dropins.join("team.yml"),
        format!("channels:\n  - {}\n", emu.url("/repo/globex/internal")),
    )
    .unwrap();
    let event = events.wait_for(EventKind::OrgWithoutToken, EVENT_TIMEOUT);
    assert_eq!(event.org, "globex");
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["condarc"]["orgs_without_token"], json!(["globex"]));
}
