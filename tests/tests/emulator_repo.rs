//! The emulator's package repository: the three credential forms, org checks and the package.

mod emulator_common;

use emulator_common::start_default;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[tokio::test]
async fn repository_accepts_a_repo_token_header_an_api_key_and_a_path_token() {
    let emu = start_default().await;
    let token = emu.issue_token("acme").await;
    let key = emu.api_key().await;
    let path = "/repo/main/noarch/repodata.json";
    let by_header = emu
        .http
        .get(emu.url(path))
        .header("Authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    let by_key = emu
        .http
        .get(emu.url(path))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let by_path = emu
        .http
        .get(emu.url(&format!("/t/{token}{path}")))
        .send()
        .await
        .unwrap();
    for response in [by_header, by_key, by_path] {
        assert_eq!(response.status(), 200, "{}", response.url());
        let repodata: Value = response.json().await.unwrap();
        assert_eq!(repodata["info"]["subdir"], "noarch");
    }
}

#[tokio::test]
async fn head_on_the_main_repodata_validates_a_token() {
    let emu = start_default().await;
    let token = emu.issue_token("globex").await;
    let url = |t: &str| emu.url(&format!("/t/{t}/repo/main/noarch/repodata.json"));
    assert_eq!(
        emu.http.head(url(&token)).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        emu.http
            .head(url("bogus-token"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn every_refusal_is_json_with_a_message_and_a_reason() {
    let emu = start_default().await;
    let url = emu.url("/repo/main/noarch/repodata.json");
    let expired = emu.issue_token("acme").await;
    emu.control("/_emulator/expire", json!({"repo_token": expired}))
        .await;
    let cases = [
        emu.http.get(&url).send().await.unwrap(),
        emu.http
            .get(&url)
            .header("Authorization", "token nope")
            .send()
            .await
            .unwrap(),
        emu.http.get(&url).bearer_auth("nope").send().await.unwrap(),
        emu.http
            .get(&url)
            .header("Authorization", "Basic eDp5")
            .send()
            .await
            .unwrap(),
        emu.http
            .get(&url)
            .header("Authorization", format!("token {expired}"))
            .send()
            .await
            .unwrap(),
    ];
    let mut reasons = Vec::new();
    for response in cases {
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert!(
            body["message"].as_str().is_some_and(|m| m.len() > 20),
            "{body}"
        );
        reasons.push(body["reason"].as_str().unwrap().to_string());
    }
    assert_eq!(
        reasons,
        [
            "missing_credentials",
            "invalid_token",
            "invalid_api_key",
            "malformed_credentials",
            "token_expired"
        ]
    );
}

#[tokio::test]
async fn a_valid_token_of_another_org_gets_403_on_an_org_channel() {
    let emu = start_default().await;
    let acme = emu.issue_token("acme").await;
    let globex = emu.issue_token("globex").await;
    let url = emu.url("/repo/acme/internal/linux-64/repodata.json");
    let ok = emu
        .http
        .get(&url)
        .header("Authorization", format!("token {acme}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let other = emu
        .http
        .get(&url)
        .header("Authorization", format!("token {globex}"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403);
    let body: Value = other.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("acme"));
}

#[tokio::test]
async fn an_api_key_reads_org_channels_only_with_a_business_subscription() {
    let emu = start_default().await;
    let key = emu.api_key().await;
    let get = |org: &str| {
        emu.http
            .get(emu.url(&format!("/repo/{org}/main/noarch/repodata.json")))
            .bearer_auth(&key)
            .send()
    };
    assert_eq!(get("acme").await.unwrap().status(), 200);
    assert_eq!(get("initech").await.unwrap().status(), 403);
}

#[tokio::test]
async fn the_listed_package_downloads_with_the_advertised_size_and_sha256() {
    let emu = start_default().await;
    let token = emu.issue_token("acme").await;
    for channel in ["main", "acme/internal"] {
        let base = emu.url(&format!("/t/{token}/repo/{channel}/noarch"));
        let repodata: Value = emu
            .http
            .get(format!("{base}/repodata.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (filename, record) = repodata["packages"]
            .as_object()
            .unwrap()
            .iter()
            .next()
            .unwrap();
        let bytes = emu
            .http
            .get(format!("{base}/{filename}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(bytes.len() as u64, record["size"].as_u64().unwrap());
        assert_eq!(hex::encode(Sha256::digest(&bytes)), record["sha256"]);
        assert_eq!(&bytes[..3], b"BZh", "a bzip2 stream");
    }
}

#[tokio::test]
async fn other_subdirs_and_default_channels_are_empty() {
    let emu = start_default().await;
    let key = emu.api_key().await;
    for path in [
        "/repo/main/linux-64/repodata.json",
        "/repo/r/noarch/repodata.json",
        "/repo/msys2/win-64/repodata.json",
    ] {
        let response = emu
            .http
            .get(emu.url(path))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let repodata: Value = response.json().await.unwrap();
        assert!(
            repodata["packages"].as_object().unwrap().is_empty(),
            "{path}"
        );
    }
    let missing = emu
        .http
        .get(emu.url("/repo/main/noarch/nothing-here.tar.bz2"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
