//! The client against a real HTTP server on 127.0.0.1 (wiremock), and TLS against a small
//! rustls server with a throwaway CA.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use wiremock::matchers::{body_json, body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::jwt::make_jwt;
use super::*;
use crate::secret::Secret;

const VERSION: &str = "1.2.3";
const API_KEY: &str = "api-key-abc123";
const ORG_A: &str = "11111111-2222-3333-4444-555555555555";
const ORG_B: &str = "66666666-7777-8888-9999-000000000000";

fn config_for(uri: &str) -> ApiConfig {
    let mut config = ApiConfig::new(VERSION, "myhost");
    config.domain = uri.to_owned();
    config.repo_url = format!("{uri}/repo/");
    // Tests must not depend on a proxy configured on the machine running them.
    config.proxy = ProxyConfig::Disabled;
    config.connect_timeout = Duration::from_secs(2);
    config.request_timeout = Duration::from_secs(5);
    config.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        max_retry_after: Duration::from_secs(10),
    };
    config
}

fn client_with(config: &ApiConfig) -> (AnacondaClient, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let client = AnacondaClient::with_clock(config, clock.clone()).unwrap();
    (client, clock)
}

fn client_for(server: &MockServer) -> (AnacondaClient, Arc<ManualClock>) {
    client_with(&config_for(&server.uri()))
}

fn key() -> Secret {
    Secret::new(API_KEY)
}

async fn mount_discovery(server: &MockServer) {
    let uri = server.uri();
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": uri,
            "authorization_endpoint": format!("{uri}/oauth2/auth"),
            "token_endpoint": format!("{uri}/oauth2/token"),
            "device_authorization_endpoint": format!("{uri}/oauth2/device/auth"),
        })))
        .mount(server)
        .await;
}

async fn requests_to(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

fn token_body(access: &str) -> serde_json::Value {
    json!({
        "access_token": access,
        "refresh_token": "refresh-1",
        "id_token": "id-1",
        "token_type": "bearer",
        "expires_in": 3600,
    })
}

fn oauth_error(code: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({"error": code, "error_description": "x"}))
}

mod keys_and_tokens;
mod login;
mod safety;
mod transport;
