//! The emulator's login: discovery, device flow, browser flow with PKCE, refresh rotation.

mod emulator_common;

use anacondad_tests::emulator::{DeviceApproval, EmulatorConfig};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use emulator_common::{CLIENT_ID, fast_polling, start, start_default};
use serde_json::json;
use sha2::{Digest, Sha256};

#[tokio::test]
async fn discovery_points_every_endpoint_back_at_the_emulator() {
    let emu = start_default().await;
    let v: serde_json::Value = emu
        .http
        .get(emu.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in [
        "authorization_endpoint",
        "token_endpoint",
        "device_authorization_endpoint",
    ] {
        let endpoint = v[key].as_str().unwrap();
        assert!(
            endpoint.starts_with(&emu.handle.base_url),
            "{key} = {endpoint}"
        );
    }
}

#[tokio::test]
async fn device_flow_answers_every_rfc_8628_field_and_auto_approves() {
    let emu = start_default().await;
    let auth = emu.start_device_flow("openid").await;
    for key in [
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
    ] {
        assert!(auth[key].is_string(), "{key} missing in {auth}");
    }
    assert_eq!(auth["interval"], 5);
    assert!(auth["expires_in"].as_u64().unwrap() > 0);
    let (status, tokens) = emu.poll_device(auth["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["access_token"].is_string());
    assert_eq!(tokens["token_type"], "Bearer");
    // Only `offline_access` earns a refresh token.
    assert!(tokens.get("refresh_token").is_none());
}

#[tokio::test]
async fn polling_faster_than_the_interval_gets_slow_down_and_a_longer_interval() {
    let emu = start(EmulatorConfig {
        device_approval: DeviceApproval::Manual,
        ..EmulatorConfig::default()
    })
    .await;
    let auth = emu.start_device_flow("openid").await;
    let code = auth["device_code"].as_str().unwrap();
    let (status, first) = emu.poll_device(code).await;
    assert_eq!(
        (status, first["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    let (status, second) = emu.poll_device(code).await;
    assert_eq!((status, second["error"].as_str()), (400, Some("slow_down")));
    let listed = emu.control_get("/_emulator/device").await;
    assert_eq!(listed["device_codes"][0]["interval"], 10);
}

#[tokio::test]
async fn manual_device_code_is_pending_until_approved_then_yields_tokens_once() {
    let emu = start(EmulatorConfig {
        device_approval: DeviceApproval::Manual,
        ..fast_polling()
    })
    .await;
    let auth = emu.start_device_flow("openid offline_access").await;
    let code = auth["device_code"].as_str().unwrap();
    let (status, pending) = emu.poll_device(code).await;
    assert_eq!(
        (status, pending["error"].as_str()),
        (400, Some("authorization_pending"))
    );
    emu.control(
        "/_emulator/device/approve",
        json!({"user_code": auth["user_code"]}),
    )
    .await;
    let (status, tokens) = emu.poll_device(code).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string());
    let (status, again) = emu.poll_device(code).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn denied_device_code_answers_access_denied() {
    let emu = start(EmulatorConfig {
        device_approval: DeviceApproval::Manual,
        ..fast_polling()
    })
    .await;
    let auth = emu.start_device_flow("openid").await;
    emu.control(
        "/_emulator/device/deny",
        json!({"user_code": auth["user_code"]}),
    )
    .await;
    let (status, body) = emu.poll_device(auth["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("access_denied"))
    );
}

#[tokio::test]
async fn expired_device_code_answers_expired_token() {
    let emu = start(EmulatorConfig {
        device_approval: DeviceApproval::Manual,
        ..fast_polling()
    })
    .await;
    let auth = emu.start_device_flow("openid").await;
    emu.control(
        "/_emulator/device/expire",
        json!({"user_code": auth["user_code"]}),
    )
    .await;
    let (status, body) = emu.poll_device(auth["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("expired_token"))
    );
}

fn pkce_pair() -> (String, String) {
    let verifier = "a".repeat(20) + "-verifier-with-enough-entropy-for-a-test-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Follows the authorize redirect by hand, as the client's loopback listener would receive it.
async fn authorize(emu: &emulator_common::Emu, challenge: &str, redirect: &str) -> url::Url {
    let response = emu
        .http
        .get(emu.url("/api/auth/oauth2/auth"))
        .query(&[
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("scope", "openid email profile offline_access"),
            ("state", "state-123"),
            ("redirect_uri", redirect),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    url::Url::parse(location).unwrap()
}

#[tokio::test]
async fn browser_flow_redirects_to_the_loopback_uri_and_checks_the_code_verifier() {
    let emu = start_default().await;
    let redirect = "http://127.0.0.1:8000/auth/oidc";
    let (verifier, challenge) = pkce_pair();

    let target = authorize(&emu, &challenge, redirect).await;
    assert_eq!(target.host_str(), Some("127.0.0.1"));
    assert_eq!(target.path(), "/auth/oidc");
    let query: std::collections::HashMap<_, _> = target.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "state-123");
    let code = &query["code"];

    let exchange = |code: String, verifier: String| {
        let emu = &emu;
        async move {
            emu.token_post(&[
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", &verifier),
            ])
            .await
        }
    };
    let wrong = exchange(code.clone(), "not-the-verifier".into()).await;
    assert_eq!(wrong.status(), 400);
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    // A code is spent by any exchange attempt, so a correct one needs a fresh code.
    let target = authorize(&emu, &challenge, redirect).await;
    let code = target
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let right = exchange(code, verifier).await;
    assert_eq!(right.status(), 200);
    let tokens: serde_json::Value = right.json().await.unwrap();
    assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string());
}

#[tokio::test]
async fn authorize_refuses_a_redirect_uri_that_is_not_loopback() {
    let emu = start_default().await;
    let (_, challenge) = pkce_pair();
    let response = emu
        .http
        .get(emu.url("/api/auth/oauth2/auth"))
        .query(&[
            ("client_id", CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", "http://evil.example/cb"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_stops_working() {
    let emu = start_default().await;
    let login = emu.control("/_emulator/login", json!({})).await;
    let old = login["refresh_token"].as_str().unwrap();
    let refresh = |token: String| {
        let emu = &emu;
        async move {
            emu.token_post(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &token),
                ("client_id", CLIENT_ID),
            ])
            .await
        }
    };
    let first = refresh(old.to_string()).await;
    assert_eq!(first.status(), 200);
    let tokens: serde_json::Value = first.json().await.unwrap();
    let new = tokens["refresh_token"].as_str().unwrap();
    assert_ne!(new, old);

    let reused = refresh(old.to_string()).await;
    assert_eq!(reused.status(), 400);
    let body: serde_json::Value = reused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    assert_eq!(refresh(new.to_string()).await.status(), 200);
}
