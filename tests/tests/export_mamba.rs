//! mamba and micromamba see what the daemon keeps: `~/.mamba/auth/authentication.json` is
//! checked against libmamba's own lookup rule, re-implemented here from its source
//! (`Context::load_authentication_info`, `weakening_map::find_weaken` with `URLWeakener`, and
//! the downloader's bearer lookup), and each credential it yields is sent to the emulator's
//! repository the way libmamba sends it. micromamba itself is not installable here and is not
//! run.

mod export_common;

use anacondad_tests::harness::TestHome;
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use export_common::{mode, ok, read_json, wait_for};
use serde_json::{Map, Value, json};

/// An entry of another tool's, which must survive every write.
fn theirs() -> Value {
    json!({"type": "BasicHTTPAuthentication", "user": "u", "password": "cGFzcw=="})
}

/// libmamba's `find_weaken`: the key with a `/` added, then, while nothing matches, without
/// its last `/`, then without its last path segment, until no `/` is left.
fn find_weaken<'a>(db: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let mut key = if key.ends_with('/') {
        key.to_owned()
    } else {
        format!("{key}/")
    };
    loop {
        if let Some(found) = db.get(&key) {
            return Some(found);
        }
        let pos = key.rfind('/')?;
        if pos + 1 == key.len() {
            key.truncate(pos);
        } else {
            key.truncate(pos + 1);
        }
    }
}

/// The URL libmamba fetches a channel's noarch repodata from: a `CondaToken` found for the
/// channel (its URL without scheme and trailing `/`) goes into the path as `/t/<token>/`; a
/// `BearerToken` found for the host (`host:port`) goes into the `Authorization` header.
fn mamba_request(
    db: &Map<String, Value>,
    emu: &EmulatorProcess,
    channel_path: &str,
) -> (String, Option<String>) {
    let host = format!("127.0.0.1:{}", emu.port());
    let channel_key = format!("{host}{channel_path}");
    let mut url = emu.url(&format!("{channel_path}/noarch/repodata.json"));
    if let Some(found) = find_weaken(db, &channel_key)
        && found["type"] == "CondaToken"
    {
        let token = found["token"].as_str().expect("a token");
        url = emu.url(&format!("/t/{token}{channel_path}/noarch/repodata.json"));
    }
    let header = find_weaken(db, &host)
        .filter(|found| found["type"] == "BearerToken")
        .map(|found| format!("Bearer {}", found["token"].as_str().expect("a token")));
    (url, header)
}

fn fetch_status(url: &str, header: Option<&str>) -> u16 {
    let mut request = reqwest::blocking::Client::new().get(url);
    if let Some(header) = header {
        request = request.header("Authorization", header);
    }
    request
        .send()
        .expect("the emulator answers")
        .status()
        .as_u16()
}

#[test]
fn mamba_finds_each_orgs_token_and_the_api_key_for_the_rest_by_its_own_lookup() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let file = home.path().join(".mamba/auth/authentication.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, json!({"conda.example.com": theirs()}).to_string()).unwrap();
    let _daemon = home.start_daemon();
    let key = emu.mint_api_key();
    home.login_with_api_key(&key);
    ok(&home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]));
    let acme_token = emu.org_token("acme").unwrap();

    let shown = ok(&home.run_ctl(&["export", "--for", "mamba"]));
    assert!(shown.contains(&file.display().to_string()), "{shown}");
    let db = read_json(&file);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(
        db["conda.example.com"],
        theirs(),
        "the other entry is untouched"
    );
    let host = format!("127.0.0.1:{}", emu.port());
    assert_eq!(db[&host]["type"], "BearerToken");
    let exported = db[&host]["token"].as_str().expect("a token").to_owned();
    export_common::assert_read_only_key(&emu, &exported, &key);
    assert_eq!(
        db[&format!("{host}/repo/acme")],
        json!({"type": "CondaToken", "token": acme_token})
    );

    // acme's channel: its own token, in the path.
    let (url, header) = mamba_request(&db, &emu, "/repo/acme/main");
    assert!(url.contains(&format!("/t/{acme_token}/")), "{url}");
    assert_eq!(fetch_status(&url, None), 200);
    assert_eq!(fetch_status(&url, header.as_deref()), 200);
    // A default channel: no path token, the API key in the header.
    let (url, header) = mamba_request(&db, &emu, "/repo/main");
    assert!(!url.contains("/t/"), "{url}");
    assert_eq!(
        header.as_deref(),
        Some(format!("Bearer {exported}").as_str())
    );
    assert_eq!(fetch_status(&url, header.as_deref()), 200);
    assert_eq!(
        fetch_status(&url, None),
        401,
        "it is the exported key that opens it"
    );

    ok(&home.run_ctl(&["token", "uninstall", "--org", "acme", "--keep-condarc"]));
    wait_for("the uninstall to remove acme's entry", || {
        (!read_json(&file).contains_key(&format!("{host}/repo/acme"))).then_some(())
    });
    let db = read_json(&file);
    assert!(db.contains_key(&host), "the API key stays: {db:?}");
    let (url, header) = mamba_request(&db, &emu, "/repo/acme/main");
    assert!(!url.contains("/t/"), "{url}");
    assert!(header.is_some());

    ok(&home.run_ctl(&["logout"]));
    wait_for("logout to remove the API key's entry", || {
        (!read_json(&file).contains_key(&host)).then_some(())
    });
    assert_eq!(
        Value::Object(read_json(&file)),
        json!({"conda.example.com": theirs()}),
        "exactly what was exported is gone"
    );
}

#[test]
fn libmambas_lookup_drops_one_path_segment_at_a_time() {
    let db: Map<String, Value> = serde_json::from_value(json!({
        "h:1": {"type": "BearerToken", "token": "host"},
        "h:1/repo/acme": {"type": "CondaToken", "token": "acme"},
    }))
    .unwrap();
    let token = |key: &str| find_weaken(&db, key).map(|v| v["token"].clone());
    assert_eq!(token("h:1/repo/acme/main"), Some(json!("acme")));
    assert_eq!(token("h:1/repo/acme"), Some(json!("acme")));
    assert_eq!(token("h:1/repo/acmecorp/main"), Some(json!("host")));
    assert_eq!(token("h:1/repo/main"), Some(json!("host")));
    assert_eq!(token("h:1"), Some(json!("host")));
    assert_eq!(token("other:1/repo/acme"), None);
}
