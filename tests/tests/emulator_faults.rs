//! Hostile answers on demand: statuses, hangs, malformed bodies, dropped connections; counters
//! and the masked request log that tests use to check a client's retries.

mod emulator_common;

use std::time::Duration;

use emulator_common::start_default;
use serde_json::{Value, json};

#[tokio::test]
async fn two_injected_503s_then_success_are_counted_as_three_requests() {
    let emu = start_default().await;
    let key = emu.api_key().await;
    emu.control(
        "/_emulator/faults",
        json!({"path_prefix": "/api/account", "count": 2, "kind": "status", "status": 503}),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = emu
            .http
            .get(emu.url("/api/account"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [503, 503, 200]);
    assert_eq!(emu.count("/api/account").await, 3);
}

#[tokio::test]
async fn a_fault_only_hits_its_method_and_prefix() {
    let emu = start_default().await;
    emu.control(
        "/_emulator/faults",
        json!({"path_prefix": "/api/", "method": "PUT", "kind": "status", "status": 500}),
    )
    .await;
    let discovery = emu
        .http
        .get(emu.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(discovery.status(), 200);
    let get = emu.http.get(emu.url("/api/account")).send().await.unwrap();
    assert_eq!(get.status(), 401, "GET is not the faulted method");
    let put = emu
        .http
        .put(emu.url("/api/organizations/acme/ce/current-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 500);
}

#[tokio::test]
async fn a_hang_outlasts_a_client_timeout_and_then_the_path_answers_again() {
    let emu = start_default().await;
    emu.control(
        "/_emulator/faults",
        json!({"path_prefix": "/.well-known/", "kind": "hang", "millis": 5000}),
    )
    .await;
    let url = emu.url("/.well-known/openid-configuration");
    let timed_out = emu
        .http
        .get(&url)
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(timed_out.is_timeout(), "{timed_out:?}");
    assert_eq!(emu.http.get(&url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_malformed_answer_is_200_with_a_body_that_is_not_json() {
    let emu = start_default().await;
    emu.control(
        "/_emulator/faults",
        json!({"path_prefix": "/api/organizations/my", "kind": "malformed"}),
    )
    .await;
    let response = emu
        .http
        .get(emu.url("/api/organizations/my"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.json::<Value>().await.is_err());
}

#[tokio::test]
async fn a_dropped_connection_gives_no_response_and_the_next_request_works() {
    let emu = start_default().await;
    emu.control(
        "/_emulator/faults",
        json!({"path_prefix": "/.well-known/", "kind": "drop"}),
    )
    .await;
    let url = emu.url("/.well-known/openid-configuration");
    let dropped = emu.http.get(&url).send().await.unwrap_err();
    assert!(!dropped.is_timeout(), "{dropped:?}");
    assert_eq!(emu.http.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(emu.count("/.well-known/").await, 2);
}

#[tokio::test]
async fn the_request_log_masks_tokens_in_paths_and_headers() {
    let emu = start_default().await;
    let token = emu.issue_token("acme").await;
    let key = emu.api_key().await;
    emu.http
        .get(emu.url(&format!("/t/{token}/repo/main/noarch/repodata.json")))
        .send()
        .await
        .unwrap();
    emu.http
        .get(emu.url("/api/account"))
        .bearer_auth(&key)
        .header("X-Client-Hostname", "BqZ6rxgPMg3GxNGGblejIA")
        .send()
        .await
        .unwrap();
    let log = emu.control_get("/_emulator/log").await.to_string();
    assert!(!log.contains(&token) && !log.contains(&key), "{log}");
    assert!(
        log.contains(&format!("/t/{}****/repo/main", &token[..4])),
        "{log}"
    );
    assert!(log.contains("BqZ6rxgPMg3GxNGGblejIA"), "{log}");
    let entries = emu.control_get("/_emulator/log").await;
    assert_eq!(entries["entries"][1]["status"], 200);

    emu.control("/_emulator/reset", json!({})).await;
    assert_eq!(emu.count("/").await, 0);
}
