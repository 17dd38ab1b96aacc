//! The client against a local server: transport safety, hostile answers and TLS.

use super::*;

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
