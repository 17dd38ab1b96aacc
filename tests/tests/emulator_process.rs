//! The `anaconda-emulator` binary: first stdout line, TLS with the written CA, seed files.

use std::io::Write;

use anacondad_tests::spawn_emulator;
use serde_json::Value;

fn client_trusting(ca_path: &std::path::Path) -> reqwest::Client {
    let pem = std::fs::read(ca_path).expect("the emulator wrote its CA before printing its URL");
    anacondad_tests::install_crypto_provider();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn tls_mode_serves_https_that_the_written_ca_verifies_for_both_names() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let emu = spawn_emulator(&["--tls", "--ca-out", ca.to_str().unwrap()]);
    assert!(
        emu.base_url.starts_with("https://127.0.0.1:"),
        "{}",
        emu.base_url
    );
    let client = client_trusting(&ca);
    for host in ["127.0.0.1", "localhost"] {
        let url = format!(
            "https://{host}:{}/.well-known/openid-configuration",
            emu.port()
        );
        let v: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        assert!(
            v["token_endpoint"]
                .as_str()
                .unwrap()
                .starts_with("https://")
        );
    }
    anacondad_tests::install_crypto_provider();
    let untrusting = reqwest::Client::new();
    assert!(
        untrusting
            .get(format!("{}/.well-known/openid-configuration", emu.base_url))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_seed_file_defines_users_orgs_and_existing_tokens() {
    let mut seed = tempfile::NamedTempFile::new().unwrap();
    write!(
        seed,
        r#"{{"users": [{{"username": "ann", "email": "ann@corp.test", "first_name": "Ann"}}],
            "organizations": [{{"name": "corp", "title": "Corp", "members": ["ann"]}}],
            "subscriptions": [{{"org": "corp", "product_code": "commercial_business"}}],
            "repo_tokens": [{{"org": "corp", "token": "seeded-token-0123456789"}}],
            "api_keys": [{{"username": "ann", "api_key": "seeded-api-key-0123456789"}}]}}"#
    )
    .unwrap();
    let emu = spawn_emulator(&["--state", seed.path().to_str().unwrap()]);
    anacondad_tests::install_crypto_provider();
    let client = reqwest::Client::new();
    let account: Value = client
        .get(format!("{}/api/account", emu.base_url))
        .bearer_auth("seeded-api-key-0123456789")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(account["user"]["username"], "ann");
    let channel = client
        .head(format!(
            "{}/t/seeded-token-0123456789/repo/corp/main/noarch/repodata.json",
            emu.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(channel.status(), 200);
}

#[test]
fn a_seed_with_a_typo_stops_the_emulator_with_the_name_to_fix() {
    let mut seed = tempfile::NamedTempFile::new().unwrap();
    write!(
        seed,
        r#"{{"users": [{{"username": "ann", "email": "a@b"}}],
            "organizations": [{{"name": "corp", "members": ["bob"]}}]}}"#
    )
    .unwrap();
    let output = std::process::Command::new(anacondad_tests::emulator_binary())
        .args(["--port", "0", "--state", seed.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\"bob\"") && stderr.contains("\"corp\""),
        "{stderr}"
    );
}

#[tokio::test]
async fn lifetime_and_approval_flags_shape_what_the_emulator_issues() {
    let emu = spawn_emulator(&[
        "--token-lifetime",
        "120",
        "--api-key-lifetime",
        "60",
        "--device-approval",
        "manual",
    ]);
    anacondad_tests::install_crypto_provider();
    let client = reqwest::Client::new();
    let post = |path: &str| client.post(format!("{}{path}", emu.base_url));
    let now = jiff::Timestamp::now().as_second();
    let expiry = |v: &Value| {
        v["expires_at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second()
            - now
    };
    let token: Value = post("/_emulator/orgs/acme/token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!((115..=125).contains(&expiry(&token)), "{token}");
    let key: Value = post("/_emulator/api-keys")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!((55..=65).contains(&expiry(&key)), "{key}");

    let auth: Value = post("/api/auth/oauth2/device/auth")
        .form(&[
            ("client_id", anacondad_tests::emulator::CLIENT_ID),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let poll: Value = post("/api/auth/oauth2/token")
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", auth["device_code"].as_str().unwrap()),
            ("client_id", anacondad_tests::emulator::CLIENT_ID),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(poll["error"], "authorization_pending");
}

#[tokio::test]
async fn a_stopped_in_process_emulator_no_longer_accepts_connections() {
    let handle = anacondad_tests::emulator::start(Default::default())
        .await
        .unwrap();
    let url = format!("{}/.well-known/openid-configuration", handle.base_url);
    anacondad_tests::install_crypto_provider();
    let client = reqwest::Client::new();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    handle.stop().await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(&url).send().await.is_err());
}
