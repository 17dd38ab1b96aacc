//! The client against a local server: API keys, organisations and repo tokens.

use super::*;

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
    // The advice re-checks; reissuing again could revoke a token that works.
    let advice = err.to_string();
    assert!(advice.contains("anacondactl token list"), "{advice}");
    assert!(!advice.contains("token install"), "{advice}");
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
