//! The client against a local server: the device and browser flows and the refresh grant.

use super::*;

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
