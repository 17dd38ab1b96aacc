//! The client against a local server: headers, discovery, retries and timeouts.

use super::*;

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
async fn a_403_for_a_missing_scope_says_which_key_to_use_and_what_the_service_said() {
    let server = MockServer::start().await;
    Mock::given(path("/api/account"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "code": "insufficient_scope",
            "message": "needs \"cloud:read\"\n\u{1b}[31m",
        }})))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let err = client.account(&key()).await.unwrap_err();
    assert!(matches!(err, ApiError::InsufficientScope { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(
        shown.contains("HTTP 403: needs \"cloud:read\"  [31m"),
        "{shown}"
    );
    assert!(
        shown.contains("anacondactl api-key --mint --scope cloud:read"),
        "{shown}"
    );
    assert!(!shown.contains("member of the organization"), "{shown}");
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
