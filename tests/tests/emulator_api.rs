//! The emulator's account API: API keys, account, organisations and repo tokens.

mod emulator_common;

use anacondad_tests::emulator::jwt::decode_claims;
use emulator_common::{Emu, start_default};
use serde_json::{Value, json};

async fn get(emu: &Emu, path: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut request = emu.http.get(emu.url(path));
    if let Some(b) = bearer {
        request = request.bearer_auth(b);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn put_token(emu: &Emu, org: &str, key: &str, body: Value) -> (u16, Value) {
    let response = emu
        .http
        .put(emu.url(&format!("/api/organizations/{org}/ce/current-token")))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn api_key_minting_answers_201_with_a_jwt_that_expires_on_both_paths() {
    let emu = start_default().await;
    for path in ["/api/auth/api-keys", "/api/iam/api-keys"] {
        let login = emu.control("/_emulator/login", json!({})).await;
        let response = emu
            .http
            .post(emu.url(path))
            .bearer_auth(login["access_token"].as_str().unwrap())
            .json(&json!({"scopes": ["cloud:read", "cloud:write", "repo:read"], "tags": ["t/v1"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{path}");
        let body: Value = response.json().await.unwrap();
        let claims = decode_claims(body["api_key"].as_str().unwrap()).unwrap();
        let exp = claims["exp"].as_i64().unwrap();
        let now = jiff::Timestamp::now().as_second();
        assert!(exp > now + 300 * 24 * 3600, "exp {exp} is about a year out");
    }
}

#[tokio::test]
async fn api_key_minting_without_a_bearer_answers_auth_required() {
    let emu = start_default().await;
    let response = emu
        .http
        .post(emu.url("/api/auth/api-keys"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "auth_required");
}

#[tokio::test]
async fn account_shows_the_user_and_its_subscriptions() {
    let emu = start_default().await;
    let key = emu.api_key().await;
    let (status, account) = get(&emu, "/api/account", Some(&key)).await;
    assert_eq!(status, 200);
    assert_eq!(account["user"]["username"], "demo");
    assert_eq!(account["user"]["email"], "demo@example.com");
    let codes: Vec<&str> = account["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["product_code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"commercial_starter") && codes.contains(&"free"),
        "{codes:?}"
    );
    let personal = account["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["product_code"] == "free")
        .unwrap();
    assert!(personal["org_id"].is_null());
}

#[tokio::test]
async fn missing_invalid_and_expired_api_keys_all_answer_auth_required() {
    let emu = start_default().await;
    let key = emu.api_key().await;
    emu.control("/_emulator/expire", json!({"api_key": key}))
        .await;
    for bearer in [None, Some("not-a-key"), Some(key.as_str())] {
        let (status, body) = get(&emu, "/api/account", bearer).await;
        assert_eq!(status, 401, "{bearer:?}");
        assert_eq!(body["error"]["code"], "auth_required", "{bearer:?}");
    }
}

#[tokio::test]
async fn organizations_lists_every_org_of_the_user() {
    let emu = start_default().await;
    let key = emu.api_key().await;
    let (status, orgs) = get(&emu, "/api/organizations/my", Some(&key)).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = orgs
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme", "globex", "initech"]);
    assert!(orgs[0]["id"].is_string() && orgs[0]["title"] == "Acme Corporation");
}

#[tokio::test]
async fn current_token_is_404_until_issued_then_shows_id_and_expiry_without_the_value() {
    let emu = start_default().await;
    let key = emu.api_key().await;
    let path = "/api/organizations/acme/ce/current-token";
    let (status, _) = get(&emu, path, Some(&key)).await;
    assert_eq!(status, 404);

    let (status, issued) = put_token(&emu, "acme", &key, json!({"confirm": "yes"})).await;
    assert_eq!(status, 200, "{issued}");
    assert!(issued["token"].is_string());
    let expires: jiff::Timestamp = issued["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires > jiff::Timestamp::now());

    let (status, info) = get(&emu, path, Some(&key)).await;
    assert_eq!(status, 200);
    assert!(info["id"].is_string());
    assert_eq!(info["expires_at"], issued["expires_at"]);
    assert!(info.get("token").is_none());
}

#[tokio::test]
async fn reissue_needs_confirmation_and_a_business_subscription() {
    let emu = start_default().await;
    let key = emu.api_key().await;
    let (status, body) = put_token(&emu, "acme", &key, json!({})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = put_token(&emu, "initech", &key, json!({"confirm": "yes"})).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = put_token(&emu, "nosuchorg", &key, json!({"confirm": "yes"})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn reissue_revokes_the_previous_token_on_the_channel_at_once() {
    let emu = start_default().await;
    let key = emu.api_key().await;
    let (_, first) = put_token(&emu, "acme", &key, json!({"confirm": "yes"})).await;
    let old = first["token"].as_str().unwrap();
    let channel = emu.url("/repo/acme/main/noarch/repodata.json");
    let with = |token: &str| {
        emu.http
            .get(&channel)
            .header("Authorization", format!("token {token}"))
            .send()
    };
    assert_eq!(with(old).await.unwrap().status(), 200);

    let (_, second) = put_token(&emu, "acme", &key, json!({"confirm": "yes"})).await;
    let new = second["token"].as_str().unwrap();
    let refused = with(old).await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["reason"], "token_revoked");
    assert_eq!(with(new).await.unwrap().status(), 200);

    let current = emu.control_get("/_emulator/orgs/acme/token").await;
    assert_eq!(current["token"], new);
}
