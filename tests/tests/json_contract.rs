//! What `anacondactl --json` prints is a contract (docs/json.md): a failure is one JSON object
//! with the message, a reason code and the exit status; times are RFC 3339; what is absent is
//! null, never an empty string.

use std::process::Output;

use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::spawn_emulator;
use serde_json::Value;

/// The JSON error a failed `--json` command printed on standard output, after checking its
/// exit status is the one the object names.
fn json_error(out: &Output) -> Value {
    let error: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "a JSON error on stdout ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        error["exit_code"].as_i64(),
        out.status.code().map(i64::from),
        "{error}"
    );
    assert!(error["error"].is_string(), "{error}");
    error
}

/// True for `2026-12-01T10:00:00Z`, RFC 3339 in UTC as the CLI prints it.
fn is_rfc_3339(value: &Value) -> bool {
    value.as_str().is_some_and(|text| {
        let bytes = text.as_bytes();
        text.len() >= 20
            && bytes[4] == b'-'
            && bytes[10] == b'T'
            && bytes[13] == b':'
            && text.ends_with('Z')
            && text[..4].parse::<u32>().is_ok()
    })
}

#[test]
fn a_lookup_that_finds_nothing_is_a_json_error_with_the_daemons_reason_code() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let url = emu.url("/repo/main/noarch/repodata.json");
    let out = home.run_ctl(&["--json", "credential", "get", &url]);
    assert_eq!(out.status.code(), Some(1));
    let error = json_error(&out);
    assert_eq!(error["reason"], "nothing_stored", "{error}");
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("anacondactl login"),
        "{error}"
    );
}

#[test]
fn a_daemon_error_under_json_carries_its_reason_and_a_client_error_its_kind() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let out = home.run_ctl(&["--json", "whoami"]);
    assert_eq!(out.status.code(), Some(5));
    let error = json_error(&out);
    assert_eq!(error["reason"], "login_required", "{error}");
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("anacondactl login"),
        "{error}"
    );

    let usage = home.run_ctl(&["--json", "token", "list", "--no-such-flag"]);
    assert_eq!(usage.status.code(), Some(2));
    assert_eq!(json_error(&usage)["reason"], "usage");

    let unreachable = TestHome::new().with_env("ANACONDAD_BIN", "/bin/false");
    let out = unreachable.run_ctl(&["--json", "whoami"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(json_error(&out)["reason"], "daemon_unavailable");
}

#[test]
fn times_are_rfc_3339_and_absent_values_are_null() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    home.login_with_api_key(&emu.mint_api_key());
    let installed = home.run_ctl(&[
        "--json",
        "token",
        "install",
        "--org",
        "acme",
        "--yes",
        "--no-condarc",
    ]);
    let installed = json_output(&installed);
    assert!(installed["validation_error"].is_null(), "{installed}");

    let url = emu.url("/repo/acme/internal/noarch/repodata.json");
    let credential = json_output(&home.run_ctl(&["--json", "credential", "get", &url]));
    assert_eq!(credential["kind"], "repo_token", "{credential}");
    assert!(is_rfc_3339(&credential["expires_at"]), "{credential}");

    let list = json_output(&home.run_ctl(&["--json", "token", "list"]));
    let token = &list["tokens"][0];
    assert!(is_rfc_3339(&token["expires_at"]), "{list}");
    assert!(is_rfc_3339(&token["issued_at"]), "{list}");
    assert!(token["last_error"].is_null(), "{list}");

    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert!(status["last_error"].is_null(), "{status}");
    assert!(
        is_rfc_3339(&status["tokens"][0]["next_refresh_at"]),
        "{status}"
    );
}

#[test]
fn no_json_answer_holds_an_empty_string() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    home.login_with_api_key(&emu.mint_api_key());
    let mut empty = Vec::new();
    for args in [
        &["--json", "daemon", "status"][..],
        &["--json", "whoami"],
        &["--json", "token", "list"],
        &["--json", "config", "show"],
        &["--json", "sites", "list"],
    ] {
        let answer = json_output(&home.run_ctl(args));
        find_empty_strings(&answer, &format!("{args:?}"), &mut empty);
    }
    assert!(
        empty.is_empty(),
        "empty strings where null belongs: {empty:#?}"
    );
}

fn find_empty_strings(value: &Value, at: &str, into: &mut Vec<String>) {
    match value {
        Value::String(s) if s.is_empty() => into.push(at.to_owned()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                find_empty_strings(item, &format!("{at}[{i}]"), into);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                find_empty_strings(item, &format!("{at}.{key}"), into);
            }
        }
        _ => {}
    }
}

#[test]
fn a_refusal_the_daemon_cannot_replace_is_a_json_error_with_reason_rejected() {
    use sha2::{Digest, Sha256};
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    home.login_with_api_key(&emu.mint_api_key());
    json_output(&home.run_ctl(&[
        "--json",
        "token",
        "install",
        "--org",
        "acme",
        "--yes",
        "--no-condarc",
    ]));
    // Without an API key the daemon has nothing to offer in place of the token.
    json_output(&home.run_ctl(&["--json", "logout"]));
    let url = emu.url("/repo/acme/internal/noarch/repodata.json");
    let answer = json_output(&home.run_ctl(&["--json", "credential", "get", &url]));
    assert_eq!(answer["kind"], "repo_token", "{answer}");
    let header = answer["header_value"].as_str().unwrap();
    let sha = format!("{:x}", Sha256::digest(header.as_bytes()));

    let out = home.run_ctl(&[
        "--json",
        "credential",
        "rejected",
        &url,
        "--status",
        "401",
        "--kind",
        "repo_token",
        "--header-sha256",
        &sha,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let error = json_error(&out);
    assert_eq!(error["reason"], "rejected", "{error}");
    let message = error["error"].as_str().unwrap();
    assert!(
        message.contains("anacondactl token list") && !message.contains("token install"),
        "{error}"
    );
}

#[test]
fn credential_get_also_answers_each_further_url_in_order_with_its_scope_or_its_reason() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    home.login_with_api_key(&emu.mint_api_key());
    let installed = home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    assert!(installed.status.success());

    let url = emu.url("/repo/main/noarch/repodata.json");
    let (internal, outside) = (
        emu.url("/repo/acme/internal/linux-64/"),
        "https://elsewhere.example/t/secret-token/repo/main/noarch/",
    );
    let answer = json_output(&home.run_ctl(&[
        "--json",
        "credential",
        "get",
        &url,
        "--also",
        &internal,
        "--also",
        outside,
    ]));
    assert_eq!(answer["scope"], emu.url("/repo/main/"), "{answer}");
    let also = answer["also"].as_array().expect("an `also` list");
    assert_eq!(also.len(), 2, "{answer}");
    assert_eq!(also[0]["url"], internal.as_str(), "{answer}");
    assert_eq!(also[0]["found"], true, "{answer}");
    assert_eq!(also[0]["kind"], "repo_token", "{answer}");
    assert_eq!(also[0]["org"], "acme", "{answer}");
    assert_eq!(also[0]["scope"], emu.url("/repo/acme/"), "{answer}");
    assert!(also[0]["header_value"].is_string(), "{answer}");
    assert!(also[0]["error"].is_null(), "{answer}");
    // A URL the daemon has nothing for: its reason, as a lookup of it alone would give it, and
    // never the token it carries.
    assert_eq!(also[1]["found"], false, "{answer}");
    assert_eq!(also[1]["reason"], "not_our_repository", "{answer}");
    assert!(also[1]["header_value"].is_null(), "{answer}");
    assert!(!answer.to_string().contains("secret-token"), "{answer}");

    let alone = json_output(&home.run_ctl(&["--json", "credential", "get", &url]));
    assert_eq!(alone["also"], serde_json::json!([]), "{alone}");
}
