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

// ---------------------------------------------------------------- headers and discovery

#[tokio::test]
async fn every_api_request_carries_user_agent_hashed_hostname_and_bearer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/account"))
        .and(header("user-agent", "anacondad/1.2.3"))
        .and(header("x-client-hostname", "BqZ6rxgPMg3GxNGGblejIA"))
        .and(header("authorization", "Bearer api-key-abc123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "user": {"id": 42, "email": "a@example.com", "username": "a",
                     "first_name": "A", "last_name": "B"},
            "profile": {"x": 1},
            "subscriptions": [{"org_id": ORG_A, "product_code": "commercial"}],
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let account = client.account(&key()).await.unwrap();
    assert_eq!(account.user.id.as_deref(), Some("42"));
    assert_eq!(account.user.email.as_deref(), Some("a@example.com"));
    assert_eq!(account.subscriptions.len(), 1);
}

#[tokio::test]
async fn discovery_is_fetched_once_per_client() {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("GET"))
        .and(path("/.well-known/openid-configuration"))
        .and(header("user-agent", "anacondad/1.2.3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "authorization_endpoint": format!("{uri}/a"),
            "token_endpoint": format!("{uri}/t"),
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let first = client.oidc_configuration().await.unwrap().clone();
    let second = client.oidc_configuration().await.unwrap();
    assert_eq!(&first, second);
    assert_eq!(first.device_authorization_endpoint, None);
    assert_eq!(first.token_endpoint.as_str(), format!("{uri}/t"));
}

// ---------------------------------------------------------------- retries and timeouts

#[tokio::test]
async fn two_503s_then_success_make_exactly_three_requests() {
    let server = MockServer::start().await;
    Mock::given(path("/api/organizations/my"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/organizations/my"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let (client, clock) = client_for(&server);
    assert!(client.organizations(&key()).await.unwrap().is_empty());
    assert_eq!(requests_to(&server, "/api/organizations/my").await, 3);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2);
    // Equal jitter: between half and all of 100 ms, then of 200 ms.
    assert!(sleeps[0] >= Duration::from_millis(50) && sleeps[0] <= Duration::from_millis(100));
    assert!(sleeps[1] >= Duration::from_millis(100) && sleeps[1] <= Duration::from_millis(200));
}

#[tokio::test]
async fn unauthorized_is_login_required_after_exactly_one_request() {
    let server = MockServer::start().await;
    Mock::given(path("/api/account"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let (client, clock) = client_for(&server);
    let err = client.account(&key()).await.unwrap_err();
    assert!(
        matches!(err, ApiError::LoginRequired { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("anacondactl login"));
    assert_eq!(requests_to(&server, "/api/account").await, 1);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn auth_required_403_means_login_and_plain_403_means_forbidden() {
    let server = MockServer::start().await;
    Mock::given(path("/api/account"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"error": {"code": "auth_required", "message": "m"}})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/api/organizations/my"))
        .respond_with(ResponseTemplate::new(403).set_body_string("nope"))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client.account(&key()).await.unwrap_err();
    assert!(
        matches!(err, ApiError::LoginRequired { status: 403, .. }),
        "{err:?}"
    );
    let err = client.organizations(&key()).await.unwrap_err();
    assert!(matches!(err, ApiError::Forbidden { .. }), "{err:?}");
    assert_eq!(requests_to(&server, "/api/organizations/my").await, 1);
}

#[tokio::test]
async fn too_many_requests_then_success_waits_the_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/api/organizations/my"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "2"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/organizations/my"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let (client, clock) = client_for(&server);
    client.organizations(&key()).await.unwrap();
    assert_eq!(requests_to(&server, "/api/organizations/my").await, 2);
    assert_eq!(clock.sleeps(), [Duration::from_secs(2)]);
}

#[tokio::test]
async fn a_long_retry_after_ends_the_retries_at_once() {
    let server = MockServer::start().await;
    Mock::given(path("/api/organizations/my"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .mount(&server)
        .await;
    let (client, clock) = client_for(&server);
    let err = client.organizations(&key()).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transient {
                cause: TransientCause::Status(429),
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn server_errors_that_persist_become_transient_after_all_attempts() {
    let server = MockServer::start().await;
    Mock::given(path("/api/account"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client.account(&key()).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transient {
                cause: TransientCause::Status(502),
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("network or proxy"));
    assert_eq!(requests_to(&server, "/api/account").await, 3);
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/api/account"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad request"))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client.account(&key()).await.unwrap_err();
    assert!(
        matches!(err, ApiError::InvalidResponse { status: 400, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("bad request"));
    assert_eq!(requests_to(&server, "/api/account").await, 1);
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout_retried_then_reported() {
    let server = MockServer::start().await;
    Mock::given(path("/api/account"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let mut config = config_for(&server.uri());
    config.request_timeout = Duration::from_millis(150);
    config.retry.max_attempts = 2;
    let (client, _) = client_with(&config);
    let err = client.account(&key()).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transient {
                cause: TransientCause::Timeout,
                attempts: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(requests_to(&server, "/api/account").await, 2);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (client, clock) = client_with(&config_for(&uri));
    let err = client.account(&key()).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transient {
                cause: TransientCause::Connect,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(clock.sleeps().len(), 2);
}

// ---------------------------------------------------------------- device flow

async fn mount_device_authorization(server: &MockServer, expires_in: u64, interval: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth2/device/auth"))
        .and(body_string_contains(
            "client_id=b4ad7f1d-c784-46b5-a9fe-106e50441f5a",
        ))
        .and(body_string_contains("scope=openid"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "device_code": "dev-code-1",
            "user_code": "ABCD-EFGH",
            "verification_uri": "https://example.com/device",
            "verification_uri_complete": "https://example.com/device?user_code=ABCD-EFGH",
            "expires_in": expires_in,
            "interval": interval,
        })))
        .mount(server)
        .await;
}

/// Token-endpoint answers for the device flow, in order; the last one repeats.
async fn mount_device_polls(server: &MockServer, answers: Vec<ResponseTemplate>) {
    let count = answers.len();
    for (i, answer) in answers.into_iter().enumerate() {
        let mock = Mock::given(method("POST"))
            .and(path("/oauth2/token"))
            .and(body_string_contains("device_code=dev-code-1"))
            .and(body_string_contains(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code",
            ))
            .respond_with(answer)
            .with_priority(u8::try_from(i + 1).unwrap());
        let mock = if i + 1 < count {
            mock.up_to_n_times(1)
        } else {
            mock
        };
        mock.mount(server).await;
    }
}

#[tokio::test]
async fn device_flow_keeps_polling_while_pending_and_slows_down_when_told() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    mount_device_authorization(&server, 600, 5).await;
    mount_device_polls(
        &server,
        vec![
            oauth_error("authorization_pending"),
            oauth_error("slow_down"),
            oauth_error("authorization_pending"),
            ResponseTemplate::new(200).set_body_json(token_body("access-1")),
        ],
    )
    .await;
    let (client, clock) = client_for(&server);
    let auth = client.start_device_flow().await.unwrap();
    assert_eq!(auth.user_code, "ABCD-EFGH");
    assert_eq!(auth.interval, Duration::from_secs(5));
    assert!(!format!("{auth:?}").contains("dev-code-1"));
    let tokens = client.poll_device_flow(&auth).await.unwrap();
    assert_eq!(tokens.access_token.expose(), "access-1");
    assert_eq!(tokens.refresh_token.unwrap().expose(), "refresh-1");
    let secs: Vec<u64> = clock.sleeps().iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [5, 5, 10, 10]);
    assert_eq!(requests_to(&server, "/oauth2/token").await, 4);
}

#[tokio::test]
async fn slow_down_never_pushes_the_interval_past_thirty_seconds() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    mount_device_authorization(&server, 600, 28).await;
    mount_device_polls(
        &server,
        vec![
            oauth_error("slow_down"),
            oauth_error("slow_down"),
            ResponseTemplate::new(200).set_body_json(token_body("access-1")),
        ],
    )
    .await;
    let (client, clock) = client_for(&server);
    let auth = client.start_device_flow().await.unwrap();
    client.poll_device_flow(&auth).await.unwrap();
    let secs: Vec<u64> = clock.sleeps().iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [28, 30, 30]);
}

#[tokio::test]
async fn device_flow_fails_on_expired_token() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    mount_device_authorization(&server, 600, 5).await;
    mount_device_polls(
        &server,
        vec![
            oauth_error("authorization_pending"),
            oauth_error("expired_token"),
        ],
    )
    .await;
    let (client, _) = client_for(&server);
    let auth = client.start_device_flow().await.unwrap();
    let err = client.poll_device_flow(&auth).await.unwrap_err();
    assert!(matches!(err, ApiError::DeviceCodeExpired), "{err:?}");
}

#[tokio::test]
async fn device_flow_fails_on_access_denied() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    mount_device_authorization(&server, 600, 5).await;
    mount_device_polls(&server, vec![oauth_error("access_denied")]).await;
    let (client, _) = client_for(&server);
    let auth = client.start_device_flow().await.unwrap();
    let err = client.poll_device_flow(&auth).await.unwrap_err();
    assert!(matches!(err, ApiError::AccessDenied), "{err:?}");
    assert_eq!(requests_to(&server, "/oauth2/token").await, 1);
}

#[tokio::test]
async fn device_flow_stops_polling_when_the_code_runs_out() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    mount_device_authorization(&server, 20, 5).await;
    mount_device_polls(&server, vec![oauth_error("authorization_pending")]).await;
    let (client, clock) = client_for(&server);
    let auth = client.start_device_flow().await.unwrap();
    let err = client.poll_device_flow(&auth).await.unwrap_err();
    assert!(matches!(err, ApiError::DeviceCodeExpired), "{err:?}");
    // Polls at 5, 10, 15 and 20 s; the next one would be past the 20 s deadline.
    assert_eq!(requests_to(&server, "/oauth2/token").await, 4);
    assert_eq!(
        clock.sleeps().iter().sum::<Duration>(),
        Duration::from_secs(20)
    );
}

#[tokio::test]
async fn an_unknown_oauth_error_ends_the_device_flow_with_its_code() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    mount_device_authorization(&server, 600, 5).await;
    mount_device_polls(&server, vec![oauth_error("invalid_client")]).await;
    let (client, _) = client_for(&server);
    let auth = client.start_device_flow().await.unwrap();
    let err = client.poll_device_flow(&auth).await.unwrap_err();
    assert!(
        matches!(&err, ApiError::LoginRejected { error, .. } if error == "invalid_client"),
        "{err:?}"
    );
}

// ---------------------------------------------------------------- browser flow

async fn browser_get(url: &str) -> reqwest::Response {
    super::install_crypto_provider();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    browser.get(url).send().await.unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn browser_flow_checks_state_and_exchanges_the_code_with_the_pkce_verifier() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=the-code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("access-2")))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let login = client.start_browser_flow(0).await.unwrap();

    let auth_url = login.authorization_url().clone();
    assert!(
        auth_url
            .as_str()
            .starts_with(&format!("{}/oauth2/auth?", server.uri()))
    );
    let param = |name: &str| {
        auth_url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    assert_eq!(param("scope"), "openid email profile offline_access");
    assert_eq!(param("response_type"), "code");
    assert_eq!(param("code_challenge_method"), "S256");
    assert_eq!(param("client_id"), CLIENT_ID);
    let redirect_uri = param("redirect_uri");
    assert_eq!(redirect_uri, login.redirect_uri());
    assert!(redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with("/auth/oidc"));
    let state = param("state");
    let challenge = param("code_challenge");

    let browser = async {
        let wrong = browser_get(&format!("{redirect_uri}?code=evil&state=not-the-state")).await;
        assert_eq!(wrong.status().as_u16(), 303);
        assert_eq!(
            location(&wrong),
            format!("{}/app/local-login-error", server.uri())
        );
        let favicon = browser_get(&redirect_uri.replace("/auth/oidc", "/favicon.ico")).await;
        assert_eq!(favicon.status().as_u16(), 404);
        let right = browser_get(&format!("{redirect_uri}?code=the-code&state={state}")).await;
        assert_eq!(right.status().as_u16(), 303);
        assert_eq!(
            location(&right),
            format!("{}/app/local-login-success", server.uri())
        );
    };
    let (tokens, ()) = tokio::join!(client.finish_browser_flow(login), browser);
    assert_eq!(tokens.unwrap().access_token.expose(), "access-2");

    let exchange = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/oauth2/token")
        .unwrap();
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&exchange.body)
            .into_owned()
            .collect();
    assert_eq!(form["redirect_uri"], redirect_uri);
    assert_eq!(form["client_id"], CLIENT_ID);
    let verifier = &form["code_verifier"];
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        challenge
    );
    // The refused wrong-state code never reached the token endpoint.
    assert!(!String::from_utf8_lossy(&exchange.body).contains("evil"));
}

#[tokio::test]
async fn browser_flow_reports_a_denied_login_and_sends_the_browser_to_the_error_page() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    let (client, _) = client_for(&server);
    let login = client.start_browser_flow(0).await.unwrap();
    let state = login
        .authorization_url()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let redirect_uri = login.redirect_uri().to_owned();
    let browser = async {
        let r = browser_get(&format!("{redirect_uri}?error=access_denied&state={state}")).await;
        assert!(location(&r).ends_with("/app/local-login-error"));
    };
    let (result, ()) = tokio::join!(client.finish_browser_flow(login), browser);
    assert!(matches!(result, Err(ApiError::AccessDenied)), "{result:?}");
    assert_eq!(requests_to(&server, "/oauth2/token").await, 0);
}

#[tokio::test]
async fn browser_flow_reports_a_busy_port() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (client, _) = client_for(&server);
    let err = client.start_browser_flow(port).await.unwrap_err();
    assert!(matches!(err, ApiError::Loopback { .. }), "{err:?}");
    assert!(err.to_string().contains("device login"));
}

// ---------------------------------------------------------------- refresh grant

#[tokio::test]
async fn refresh_grant_returns_new_tokens() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=old-refresh"))
        .and(body_string_contains("client_id=b4ad7f1d"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("access-3")))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let tokens = client
        .refresh_tokens(&Secret::new("old-refresh"))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose(), "access-3");
    assert_eq!(tokens.expires_in, Some(3600));
    let debug = format!("{tokens:?}");
    assert!(
        !debug.contains("access-3") && !debug.contains("refresh-1"),
        "{debug}"
    );
}

#[tokio::test]
async fn a_refused_refresh_token_means_login_required() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(oauth_error("invalid_grant"))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client
        .refresh_tokens(&Secret::new("old-refresh"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::LoginRequired { status: 400, .. }),
        "{err:?}"
    );
    assert!(err.is_login_required());
}

// ---------------------------------------------------------------- API keys

fn api_key_jwt() -> String {
    make_jwt(&json!({"exp": 1_893_456_000, "sub": "user"}))
}

#[tokio::test]
async fn api_key_is_minted_with_scopes_and_tag_and_its_expiry_read() {
    let server = MockServer::start().await;
    let jwt = api_key_jwt();
    Mock::given(method("POST"))
        .and(path("/api/auth/api-keys"))
        .and(header("authorization", "Bearer access-1"))
        .and(header("x-client-hostname", "BqZ6rxgPMg3GxNGGblejIA"))
        .and(body_json(json!({
            "scopes": ["cloud:read", "cloud:write", "repo:read"],
            "tags": ["anacondad/v1.2.3"],
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"api_key": jwt})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let key = client
        .create_api_key(&Secret::new("access-1"))
        .await
        .unwrap();
    assert_eq!(key.key.expose(), jwt);
    assert_eq!(key.expires_at.as_second(), 1_893_456_000);
}

#[tokio::test]
async fn api_key_answered_with_200_is_not_success() {
    let server = MockServer::start().await;
    Mock::given(path("/api/auth/api-keys"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"api_key": api_key_jwt()})))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client
        .create_api_key(&Secret::new("access-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::InvalidResponse {
                status: 200,
                snippet: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("eyJ"), "{err}");
}

#[tokio::test]
async fn api_key_falls_back_to_the_iam_path_on_404() {
    let server = MockServer::start().await;
    Mock::given(path("/api/auth/api-keys"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/iam/api-keys"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"api_key": api_key_jwt()})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    client
        .create_api_key(&Secret::new("access-1"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_api_key_that_is_not_a_jwt_is_an_invalid_response_that_hides_it() {
    let server = MockServer::start().await;
    Mock::given(path("/api/auth/api-keys"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"api_key": "opaque-secret-key"})),
        )
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client
        .create_api_key(&Secret::new("access-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::InvalidResponse { status: 201, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("opaque-secret-key"), "{err}");
    assert!(!format!("{err:?}").contains("opaque-secret-key"), "{err:?}");
}

// ---------------------------------------------------------------- organisations

#[tokio::test]
async fn only_organizations_with_a_business_subscription_are_offered() {
    let server = MockServer::start().await;
    Mock::given(path("/api/account"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "user": {"id": "u1", "email": "e", "username": "u", "first_name": null, "last_name": null},
            "profile": {},
            "subscriptions": [
                {"org_id": ORG_A, "product_code": "commercial_business"},
                {"org_id": ORG_B, "product_code": "security_starter"},
                {"org_id": null, "product_code": "commercial_business"},
            ],
        })))
        .mount(&server)
        .await;
    Mock::given(path("/api/organizations/my"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": ORG_A, "name": "acme", "title": "Acme Inc."},
            {"id": ORG_B, "name": "tiny", "title": "Tiny"},
        ])))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let all = client.organizations(&key()).await.unwrap();
    assert_eq!(all.len(), 2);
    let eligible = client.eligible_organizations(&key()).await.unwrap();
    assert_eq!(
        eligible,
        [Organization {
            id: ORG_A.into(),
            name: "acme".into(),
            title: "Acme Inc.".into()
        }]
    );
}

// ---------------------------------------------------------------- repo tokens

#[tokio::test]
async fn an_org_without_a_token_has_no_current_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/organizations/acme/ce/current-token"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    assert_eq!(
        client.current_repo_token(&key(), "acme").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn the_current_token_is_described_without_its_value() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/organizations/acme/ce/current-token"))
        .and(header("authorization", "Bearer api-key-abc123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": ORG_B, "expires_at": "2027-01-31T12:00:00+00:00",
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/organizations/naive/ce/current-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": ORG_B, "expires_at": "2027-01-31T12:00:00",
        })))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let info = client
        .current_repo_token(&key(), "acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.id, ORG_B);
    assert_eq!(info.expires_at.to_string(), "2027-01-31T12:00:00Z");
    let naive = client
        .current_repo_token(&key(), "naive")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(naive.expires_at, info.expires_at);
}

#[tokio::test]
async fn reissue_sends_the_confirmation_and_returns_the_new_token() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/organizations/acme/ce/current-token"))
        .and(header("authorization", "Bearer api-key-abc123"))
        .and(body_json(json!({"confirm": "yes"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token": "repo-token-xyz", "expires_at": "2027-02-01T00:00:00Z",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let issued = client.reissue_repo_token(&key(), "acme").await.unwrap();
    assert_eq!(issued.token.expose(), "repo-token-xyz");
    assert_eq!(issued.expires_at.to_string(), "2027-02-01T00:00:00Z");
}

#[tokio::test]
async fn reissue_error_statuses_are_surfaced_not_parsed() {
    let server = MockServer::start().await;
    for (org, status) in [
        ("denied", 403),
        ("gone", 404),
        ("conflict", 409),
        ("broken", 500),
    ] {
        Mock::given(method("PUT"))
            .and(path(format!("/api/organizations/{org}/ce/current-token")))
            .respond_with(ResponseTemplate::new(status).set_body_string("{\"detail\":\"no\"}"))
            .mount(&server)
            .await;
    }
    let (client, clock) = client_for(&server);
    let err = client
        .reissue_repo_token(&key(), "denied")
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Forbidden { .. }), "{err:?}");
    let err = client.reissue_repo_token(&key(), "gone").await.unwrap_err();
    assert!(matches!(err, ApiError::NotFound { .. }), "{err:?}");
    let err = client
        .reissue_repo_token(&key(), "conflict")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ApiError::InvalidResponse { status: 409, .. }),
        "{err:?}"
    );
    // A 500 may come after the service acted: no retry, and the caller is told so.
    let err = client
        .reissue_repo_token(&key(), "broken")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::OutcomeUnknown {
                cause: TransientCause::Status(500),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        requests_to(&server, "/api/organizations/broken/ce/current-token").await,
        1
    );
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn reissue_is_retried_after_503_where_the_service_did_not_act() {
    let server = MockServer::start().await;
    let p = "/api/organizations/acme/ce/current-token";
    Mock::given(method("PUT"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token": "repo-token-xyz", "expires_at": "2027-02-01T00:00:00Z",
        })))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    client.reissue_repo_token(&key(), "acme").await.unwrap();
    assert_eq!(requests_to(&server, p).await, 2);
}

#[tokio::test]
async fn reissue_is_not_retried_after_a_timeout() {
    let server = MockServer::start().await;
    let p = "/api/organizations/acme/ce/current-token";
    Mock::given(method("PUT"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let mut config = config_for(&server.uri());
    config.request_timeout = Duration::from_millis(150);
    let (client, _) = client_with(&config);
    let err = client.reissue_repo_token(&key(), "acme").await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::OutcomeUnknown {
                cause: TransientCause::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("anacondactl token install"));
    assert_eq!(requests_to(&server, p).await, 1);
}

#[tokio::test]
async fn a_malformed_reissue_answer_never_shows_its_body() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"token": "leaky-token-value", "expires_at": "soon"})),
        )
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client.reissue_repo_token(&key(), "acme").await.unwrap_err();
    assert!(
        matches!(err, ApiError::InvalidResponse { snippet: None, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("leaky-token-value"), "{err}");
}

#[test]
fn validation_url_puts_the_token_in_front_of_the_repository_path() {
    let mut config = ApiConfig::new(VERSION, "h");
    let (client, _) = client_with(&config);
    let url = client.repo_token_validation_url(&Secret::new("tok-1"));
    assert_eq!(
        url.as_str(),
        "https://repo.anaconda.cloud/t/tok-1/repo/main/noarch/repodata.json"
    );
    config.repo_url = "https://mirror.example:8443/prefix/repo".into();
    let (client, _) = client_with(&config);
    let url = client.repo_token_validation_url(&Secret::new("a/b"));
    assert_eq!(
        url.as_str(),
        "https://mirror.example:8443/t/a%2Fb/prefix/repo/main/noarch/repodata.json"
    );
    assert_eq!(
        mask_url(&url),
        "https://mirror.example:8443/t/<token>/prefix/repo/main/noarch/repodata.json"
    );
}

#[tokio::test]
async fn validation_accepts_200_and_reports_401() {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .and(path("/t/good-token/repo/main/noarch/repodata.json"))
        .and(header("user-agent", "anacondad/1.2.3"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/t/bad-token/repo/main/noarch/repodata.json"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .and(path("/t/odd-token/repo/main/noarch/repodata.json"))
        .respond_with(ResponseTemplate::new(418))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let good = client
        .validate_repo_token(&Secret::new("good-token"))
        .await
        .unwrap();
    assert_eq!(good, RepoTokenCheck::Accepted);
    let bad = client
        .validate_repo_token(&Secret::new("bad-token"))
        .await
        .unwrap();
    assert_eq!(bad, RepoTokenCheck::Rejected { status: 401 });
    let err = client
        .validate_repo_token(&Secret::new("odd-token"))
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("odd-token"), "{err}");
    assert!(err.to_string().contains("/t/<token>/"), "{err}");
}

#[tokio::test]
async fn validation_goes_through_the_configured_proxy() {
    let proxy = MockServer::start().await;
    Mock::given(method("HEAD"))
        .and(path("/t/tok/repo/main/noarch/repodata.json"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&proxy)
        .await;
    // Nothing listens on port 9: the answer can only come from the proxy.
    let mut config = config_for("http://127.0.0.1:9");
    config.proxy = ProxyConfig::Url(Secret::new(proxy.uri()));
    let (client, _) = client_with(&config);
    let check = client
        .validate_repo_token(&Secret::new("tok"))
        .await
        .unwrap();
    assert_eq!(check, RepoTokenCheck::Accepted);
}

// ---------------------------------------------------------------- transport safety

#[test]
fn plain_http_to_a_remote_host_is_refused_before_any_request() {
    let mut config = ApiConfig::new(VERSION, "h");
    config.domain = "http://anaconda.example".into();
    let err = AnacondaClient::new(&config).unwrap_err();
    assert!(matches!(err, ApiError::InsecureTransport { .. }), "{err:?}");
    let mut config = ApiConfig::new(VERSION, "h");
    config.repo_url = "http://repo.example/repo/".into();
    let err = AnacondaClient::new(&config).unwrap_err();
    assert!(matches!(err, ApiError::InsecureTransport { .. }), "{err:?}");
}

#[tokio::test]
async fn a_redirect_to_plain_http_elsewhere_is_not_followed() {
    let server = MockServer::start().await;
    Mock::given(path("/api/account"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "http://collector.example/steal"),
        )
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client.account(&key()).await.unwrap_err();
    assert!(
        matches!(&err, ApiError::InsecureTransport { url } if url.starts_with("http://collector.example")),
        "{err:?}"
    );
}

#[tokio::test]
async fn discovered_endpoints_on_plain_http_elsewhere_are_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "authorization_endpoint": "http://idp.example/auth",
            "token_endpoint": "http://idp.example/token",
        })))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client
        .refresh_tokens(&Secret::new("refresh"))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::InsecureTransport { .. }), "{err:?}");
    let err = client.start_browser_flow(0).await.unwrap_err();
    assert!(matches!(err, ApiError::InsecureTransport { .. }), "{err:?}");
}

// ---------------------------------------------------------------- hostile answers

#[tokio::test]
async fn an_oversized_body_is_an_invalid_response() {
    let server = MockServer::start().await;
    Mock::given(path("/api/organizations/my"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[".repeat(MAX_BODY_BYTES + 10)))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client.organizations(&key()).await.unwrap_err();
    assert!(
        matches!(&err, ApiError::InvalidResponse { detail, .. } if detail.contains("larger")),
        "{err:?}"
    );
}

#[tokio::test]
async fn wrong_json_shapes_and_missing_fields_are_invalid_responses() {
    let server = MockServer::start().await;
    Mock::given(path("/api/organizations/my"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"orgs": []})))
        .mount(&server)
        .await;
    Mock::given(path("/api/account"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"profile": {}})))
        .mount(&server)
        .await;
    Mock::given(path("/api/organizations/acme/ce/current-token"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>oops</html>"))
        .mount(&server)
        .await;
    Mock::given(path("/api/auth/api-keys"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"key": "x"})))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    for err in [
        client.organizations(&key()).await.unwrap_err(),
        client.account(&key()).await.unwrap_err(),
        client.current_repo_token(&key(), "acme").await.unwrap_err(),
        client.create_api_key(&key()).await.unwrap_err(),
    ] {
        assert!(matches!(err, ApiError::InvalidResponse { .. }), "{err:?}");
    }
    let err = client.current_repo_token(&key(), "acme").await.unwrap_err();
    assert!(err.to_string().contains("<html>oops</html>"), "{err}");
}

#[tokio::test]
async fn an_error_body_that_repeats_the_credential_is_never_shown() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    Mock::given(path("/api/account"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad key api-key-abc123"))
        .mount(&server)
        .await;
    Mock::given(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_request",
            "error_description": "unknown refresh token old-refresh-token",
        })))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client.account(&key()).await.unwrap_err();
    assert!(
        matches!(err, ApiError::InvalidResponse { snippet: None, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains(API_KEY), "{err}");
    let err = client
        .refresh_tokens(&Secret::new("old-refresh-token"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::LoginRejected { error, description: None } if error == "invalid_request"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_device_answer_without_codes_is_an_invalid_response() {
    let server = MockServer::start().await;
    mount_discovery(&server).await;
    Mock::given(path("/oauth2/device/auth"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"user_code": 5})))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client.start_device_flow().await.unwrap_err();
    assert!(matches!(err, ApiError::InvalidResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn the_client_debug_output_names_hosts_only() {
    let server = MockServer::start().await;
    let (client, _) = client_for(&server);
    let debug = format!("{client:?}");
    assert!(debug.contains("127.0.0.1"), "{debug}");
    assert_eq!(client.keyring_username(), server.address().to_string());
}

// ---------------------------------------------------------------- TLS

mod tls {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_rustls::TlsAcceptor;
    use tokio_rustls::rustls::ServerConfig;
    use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    /// A CA and a `localhost` certificate it signed.
    struct TestPki {
        ca_pem: String,
        leaf_der: Vec<u8>,
        leaf_key_der: Vec<u8>,
    }

    fn pki() -> TestPki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "anacondad test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &ca)
            .unwrap();
        TestPki {
            ca_pem: ca.pem(),
            leaf_der: leaf.der().to_vec(),
            leaf_key_der: leaf_key.serialize_der(),
        }
    }

    /// An HTTPS server on 127.0.0.1 answering every request with the discovery document.
    async fn serve(pki: &TestPki) -> u16 {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![pki.leaf_der.clone().into()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.leaf_key_der.clone())),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let body = json!({
                        "authorization_endpoint": format!("https://localhost:{port}/auth"),
                        "token_endpoint": format!("https://localhost:{port}/token"),
                    })
                    .to_string();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        port
    }

    fn tls_config(port: u16) -> ApiConfig {
        let mut config = config_for(&format!("https://localhost:{port}"));
        config.retry = RetryPolicy::none();
        config
    }

    #[tokio::test]
    async fn a_server_signed_by_the_configured_ca_bundle_is_trusted() {
        let pki = pki();
        let port = serve(&pki).await;
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("ca.pem");
        std::fs::write(&bundle, &pki.ca_pem).unwrap();
        let mut config = tls_config(port);
        config.ca_bundle = Some(bundle);
        let (client, _) = client_with(&config);
        let oidc = client.oidc_configuration().await.unwrap();
        assert_eq!(
            oidc.token_endpoint.as_str(),
            format!("https://localhost:{port}/token")
        );
    }

    #[tokio::test]
    async fn a_server_signed_by_an_unknown_ca_is_a_tls_error() {
        let pki = pki();
        let port = serve(&pki).await;
        let (client, _) = client_with(&tls_config(port));
        let err = client.oidc_configuration().await.unwrap_err();
        assert!(matches!(err, ApiError::Tls { .. }), "{err:?}");
        assert!(
            err.to_string().contains("ANACONDA_AUTH_SSL_VERIFY"),
            "{err}"
        );

        // A bundle with another CA does not help either.
        let other = pki_ca_only();
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("other.pem");
        std::fs::write(&bundle, other).unwrap();
        let mut config = tls_config(port);
        config.ca_bundle = Some(bundle);
        let (client, _) = client_with(&config);
        let err = client.oidc_configuration().await.unwrap_err();
        assert!(matches!(err, ApiError::Tls { .. }), "{err:?}");
    }

    fn pki_ca_only() -> String {
        pki().ca_pem
    }

    #[tokio::test]
    async fn turning_verification_off_accepts_an_unknown_ca() {
        let pki = pki();
        let port = serve(&pki).await;
        let mut config = tls_config(port);
        config.ssl_verify = false;
        let (client, _) = client_with(&config);
        client.oidc_configuration().await.unwrap();
    }

    #[test]
    fn an_unreadable_or_empty_ca_bundle_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let mut config = ApiConfig::new(VERSION, "h");
        config.ca_bundle = Some(missing.clone());
        let err = AnacondaClient::new(&config).unwrap_err();
        assert!(matches!(err, ApiError::CaBundle { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&format!(
                "the CA bundle at {} could not be read",
                missing.display()
            )),
            "{err}"
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        config.ca_bundle = Some(junk);
        let err = AnacondaClient::new(&config).unwrap_err();
        assert!(matches!(err, ApiError::CaBundle { .. }), "{err:?}");
    }
}
