//! The daemon's client of the Anaconda service (`anacondad::api`) against the emulator over real
//! HTTP: every endpoint it calls and every error class it reports, with faults injected through
//! the emulator's controls and retries counted on the emulator's side.

mod emulator_common;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anacondad::api::{
    API_KEY_SCOPES, AnacondaClient, ApiConfig, ApiError, DeviceAuthorization, ManualClock,
    OidcTokens, ProxyConfig, RepoTokenCheck, RetryClock, RetryPolicy, TransientCause,
    hash_hostname,
};
use anacondad::secret::Secret;
use anacondad_tests::emulator::seed::{SeedOrganization, SeedUser};
use anacondad_tests::emulator::{DeviceApproval, EmulatorConfig, Seed};
use base64::Engine as _;
use emulator_common::Emu;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

const CLIENT_VERSION: &str = "0.1.0-test";
const HOSTNAME: &str = "myhost";
/// `hash_hostname("myhost")`, the test vector of anaconda-service.md.
const HOSTNAME_HASH: &str = "BqZ6rxgPMg3GxNGGblejIA";
const ATTEMPTS: u32 = 3;

/// The client's configuration for `emu`: plain http on loopback, no system proxy, three attempts
/// whose backoff waits on the test's clock.
fn config_for(emu: &Emu) -> ApiConfig {
    let base = &emu.handle.base_url;
    let mut config = ApiConfig::new(CLIENT_VERSION, HOSTNAME);
    config.domain = base.clone();
    config.repo_url = format!("{base}/repo/");
    config.proxy = ProxyConfig::Disabled;
    config.connect_timeout = Duration::from_secs(5);
    config.request_timeout = Duration::from_secs(10);
    config.retry = RetryPolicy {
        max_attempts: ATTEMPTS,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
        max_retry_after: Duration::from_secs(5),
    };
    config
}

fn client_with(config: &ApiConfig) -> (AnacondaClient, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let client = AnacondaClient::with_clock(config, clock.clone()).expect("client builds");
    (client, clock)
}

fn client_for(emu: &Emu) -> (AnacondaClient, Arc<ManualClock>) {
    client_with(&config_for(emu))
}

async fn start(config: EmulatorConfig) -> Emu {
    emulator_common::start(config).await
}

/// The demo world with polls allowed back to back.
async fn start_fast() -> Emu {
    start(emulator_common::fast_polling()).await
}

async fn manual_approval() -> Emu {
    start(EmulatorConfig {
        device_approval: DeviceApproval::Manual,
        ..emulator_common::fast_polling()
    })
    .await
}

async fn fault(emu: &Emu, fault: Value) {
    emu.control("/_emulator/faults", fault).await;
}

async fn api_key(emu: &Emu) -> Secret {
    Secret::new(emu.api_key().await)
}

/// Requests the emulator logged, as `(method, path, status)`.
async fn logged(emu: &Emu) -> Vec<(String, String, Option<u64>)> {
    let log = emu.control_get("/_emulator/log").await;
    log["entries"]
        .as_array()
        .expect("the log lists entries")
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_owned(),
                e["path"].as_str().unwrap().to_owned(),
                e["status"].as_u64(),
            )
        })
        .collect()
}

async fn requests(emu: &Emu, method: &str, path: &str) -> usize {
    logged(emu)
        .await
        .iter()
        .filter(|(m, p, _)| m == method && p == path)
        .count()
}

/// A full device login with auto approval: the OIDC tokens.
async fn device_login(client: &AnacondaClient) -> OidcTokens {
    let authorization = client
        .start_device_flow()
        .await
        .expect("device flow starts");
    client
        .poll_device_flow(&authorization)
        .await
        .expect("auto-approved login succeeds")
}

/// The claims of a JWT, read without checking its signature.
fn jwt_claims(token: &Secret) -> Value {
    let payload = token
        .expose()
        .split('.')
        .nth(1)
        .expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("the payload is base64url");
    serde_json::from_slice(&bytes).expect("the payload is JSON")
}

/// A [`ManualClock`] that also runs a step of the test (the user approving or denying in the
/// browser) during a chosen wait between two polls, so the order of events is fixed without
/// real waiting.
#[derive(Debug)]
struct ScriptedClock {
    inner: ManualClock,
    /// `(index of the sleep, control path, body)`.
    script: Mutex<Vec<(usize, String, Value)>>,
    base_url: String,
    http: reqwest::Client,
}

impl ScriptedClock {
    fn new(emu: &Emu) -> Self {
        Self {
            inner: ManualClock::new(),
            script: Mutex::new(Vec::new()),
            base_url: emu.handle.base_url.clone(),
            http: emu.http.clone(),
        }
    }

    /// During sleep number `index` (0-based), POST `body` to the control `path`.
    fn on_sleep(&self, index: usize, path: &str, body: Value) {
        self.script
            .lock()
            .unwrap()
            .push((index, path.to_owned(), body));
    }
}

impl RetryClock for ScriptedClock {
    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let index = self.inner.sleeps().len();
        let wait = self.inner.sleep(duration);
        let step = {
            let mut script = self.script.lock().unwrap();
            script
                .iter()
                .position(|(i, _, _)| *i == index)
                .map(|at| script.remove(at))
        };
        Box::pin(async move {
            wait.await;
            if let Some((_, path, body)) = step {
                let response = self
                    .http
                    .post(format!("{}{path}", self.base_url))
                    .json(&body)
                    .send()
                    .await
                    .expect("the control answers");
                assert!(response.status().is_success(), "control {path} failed");
            }
        })
    }
}

fn scripted_client(emu: &Emu) -> (AnacondaClient, Arc<ScriptedClock>) {
    let clock = Arc::new(ScriptedClock::new(emu));
    let client =
        AnacondaClient::with_clock(&config_for(emu), clock.clone()).expect("client builds");
    (client, clock)
}

async fn start_device(client: &AnacondaClient) -> DeviceAuthorization {
    client
        .start_device_flow()
        .await
        .expect("device flow starts")
}

// --- Configuration and discovery -------------------------------------------------------------

#[tokio::test]
async fn the_emulator_domain_keys_the_store_as_host_and_port() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let port = emu.handle.base_url.rsplit(':').next().unwrap();
    assert_eq!(client.keyring_username(), format!("127.0.0.1:{port}"));
    assert_eq!(
        client.base_url().as_str(),
        format!("{}/", emu.handle.base_url)
    );
    assert_eq!(
        client.repo_url().as_str(),
        format!("{}/repo/", emu.handle.base_url)
    );
}

#[tokio::test]
async fn discovery_points_at_the_emulator_and_is_fetched_once() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let base = &emu.handle.base_url;
    let oidc = client.oidc_configuration().await.unwrap().clone();
    assert_eq!(
        oidc.token_endpoint.as_str(),
        format!("{base}/api/auth/oauth2/token")
    );
    assert_eq!(
        oidc.authorization_endpoint.as_str(),
        format!("{base}/api/auth/oauth2/auth")
    );
    assert_eq!(
        oidc.device_authorization_endpoint.unwrap().as_str(),
        format!("{base}/api/auth/oauth2/device/auth")
    );
    client.oidc_configuration().await.unwrap();
    client.start_device_flow().await.unwrap();
    assert_eq!(emu.count("/.well-known/").await, 1);
}

#[tokio::test]
async fn every_api_request_carries_the_user_agent_and_the_hashed_hostname() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    assert_eq!(hash_hostname(HOSTNAME), HOSTNAME_HASH);
    let key = api_key(&emu).await;
    client.account(&key).await.unwrap();
    let token = Secret::new(emu.issue_token("acme").await);
    client.validate_repo_token(&token).await.unwrap();

    let log = emu.control_get("/_emulator/log").await;
    let entries = log["entries"].as_array().unwrap();
    let account = entries
        .iter()
        .find(|e| e["path"] == "/api/account")
        .unwrap();
    assert_eq!(account["user_agent"], format!("anacondad/{CLIENT_VERSION}"));
    assert_eq!(account["client_hostname"], HOSTNAME_HASH);
    assert_eq!(
        account["authorization"],
        format!("Bearer {}", anacondad_tests::emulator::mask(key.expose()))
    );
    let repo = entries
        .iter()
        .find(|e| e["path"].as_str().unwrap().starts_with("/t/"))
        .unwrap();
    assert_eq!(repo["method"], "HEAD");
    assert_eq!(repo["user_agent"], format!("anacondad/{CLIENT_VERSION}"));
    assert!(
        repo["client_hostname"].is_null(),
        "the repository gets no hostname hash: {repo}"
    );
}

// --- Device login ------------------------------------------------------------------------------

#[tokio::test]
async fn device_login_with_auto_approval_yields_a_refresh_token() {
    let emu = start_fast().await;
    let (client, clock) = client_for(&emu);
    let authorization = start_device(&client).await;
    assert_eq!(authorization.user_code.len(), "ABCD-EFGH".len());
    assert!(
        authorization
            .verification_uri
            .starts_with(&emu.handle.base_url)
    );
    assert_eq!(authorization.expires_in, Duration::from_secs(600));
    // The emulator's interval 0 is raised to the client's floor of one second.
    assert_eq!(authorization.interval, Duration::from_secs(1));

    let tokens = client.poll_device_flow(&authorization).await.unwrap();
    assert!(!tokens.access_token.is_empty());
    let refresh = tokens
        .refresh_token
        .expect("offline_access was asked for, so a refresh token comes back");
    assert!(!refresh.is_empty());
    assert!(tokens.id_token.is_some());
    assert_eq!(clock.sleeps(), [Duration::from_secs(1)]);
    assert_eq!(
        requests(&emu, "POST", "/api/auth/oauth2/device/auth").await,
        1
    );
    assert_eq!(requests(&emu, "POST", "/api/auth/oauth2/token").await, 1);
}

#[tokio::test]
async fn device_login_keeps_polling_while_pending_and_succeeds_once_approved() {
    let emu = manual_approval().await;
    let (client, clock) = scripted_client(&emu);
    let authorization = start_device(&client).await;
    // Two polls see `authorization_pending`; the user approves during the third wait.
    clock.on_sleep(
        2,
        "/_emulator/device/approve",
        json!({"user_code": authorization.user_code}),
    );
    let tokens = client.poll_device_flow(&authorization).await.unwrap();
    assert!(tokens.refresh_token.is_some());
    assert_eq!(clock.inner.sleeps(), vec![Duration::from_secs(1); 3]);
    let statuses: Vec<_> = logged(&emu)
        .await
        .into_iter()
        .filter(|(_, p, _)| p == "/api/auth/oauth2/token")
        .map(|(_, _, s)| s)
        .collect();
    assert_eq!(statuses, [Some(400), Some(400), Some(200)]);
}

#[tokio::test]
async fn device_login_denied_in_the_browser_is_access_denied() {
    let emu = manual_approval().await;
    let (client, clock) = scripted_client(&emu);
    let authorization = start_device(&client).await;
    clock.on_sleep(
        1,
        "/_emulator/device/deny",
        json!({"user_code": authorization.user_code}),
    );
    let err = client.poll_device_flow(&authorization).await.unwrap_err();
    assert!(matches!(err, ApiError::AccessDenied), "{err:?}");
    assert!(err.is_login_required());
    assert!(err.to_string().contains("anacondactl login"), "{err}");
    assert_eq!(requests(&emu, "POST", "/api/auth/oauth2/token").await, 2);
}

#[tokio::test]
async fn device_code_expired_on_the_service_is_device_code_expired() {
    let emu = manual_approval().await;
    let (client, clock) = scripted_client(&emu);
    let authorization = start_device(&client).await;
    clock.on_sleep(
        0,
        "/_emulator/device/expire",
        json!({"user_code": authorization.user_code}),
    );
    let err = client.poll_device_flow(&authorization).await.unwrap_err();
    assert!(matches!(err, ApiError::DeviceCodeExpired), "{err:?}");
    assert_eq!(requests(&emu, "POST", "/api/auth/oauth2/token").await, 1);
}

#[tokio::test]
async fn slow_down_adds_five_seconds_per_answer_up_to_thirty_until_the_code_runs_out() {
    // A 5 s interval that the client's clock honours but real time does not: every poll after
    // the first comes too early for the emulator and is answered `slow_down`.
    let emu = start(EmulatorConfig {
        device_approval: DeviceApproval::Manual,
        device_interval_secs: 5,
        device_expires_in_secs: 120,
        ..EmulatorConfig::default()
    })
    .await;
    let (client, clock) = client_for(&emu);
    let authorization = start_device(&client).await;
    assert_eq!(authorization.interval, Duration::from_secs(5));
    let err = client.poll_device_flow(&authorization).await.unwrap_err();
    assert!(matches!(err, ApiError::DeviceCodeExpired), "{err:?}");
    let secs: Vec<u64> = clock.sleeps().iter().map(Duration::as_secs).collect();
    // pending, then six slow_downs: 10, 15, 20, 25, 30, 30 (capped); 110 s + 30 s > 120 s.
    assert_eq!(secs, [5, 5, 10, 15, 20, 25, 30]);
    let codes = emu.control_get("/_emulator/device").await;
    assert_eq!(
        codes["device_codes"][0]["interval"], 35,
        "the emulator saw six slow_downs"
    );
    assert_eq!(requests(&emu, "POST", "/api/auth/oauth2/token").await, 7);
}

// --- Browser login -----------------------------------------------------------------------------

#[tokio::test]
async fn browser_login_with_pkce_returns_through_the_loopback_listener() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let login = client.start_browser_flow(0).await.unwrap();
    let authorization_url = login.authorization_url().clone();
    assert!(
        authorization_url
            .as_str()
            .starts_with(&format!("{}/api/auth/oauth2/auth?", emu.handle.base_url))
    );
    let params: std::collections::HashMap<_, _> = authorization_url.query_pairs().collect();
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["scope"], "openid email profile offline_access");
    assert_eq!(params["redirect_uri"], login.redirect_uri());

    // The browser: the emulator approves at once and redirects to the loopback listener.
    anacondad_tests::install_crypto_provider();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let at_provider = browser.get(authorization_url).send().await.unwrap();
    assert_eq!(at_provider.status(), 302);
    let callback = at_provider.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        callback.starts_with(login.redirect_uri()),
        "{callback} goes to {}",
        login.redirect_uri()
    );

    let (tokens, at_listener) = tokio::join!(
        client.finish_browser_flow(login),
        browser.get(&callback).send()
    );
    let tokens = tokens.unwrap();
    let at_listener = at_listener.unwrap();
    assert_eq!(at_listener.status(), 303);
    assert_eq!(
        at_listener.headers()["location"],
        format!("{}/app/local-login-success", emu.handle.base_url)
    );
    assert!(tokens.refresh_token.is_some());
    // The access token it got is good for minting an API key.
    client.create_api_key(&tokens.access_token).await.unwrap();
}

// --- Refresh -----------------------------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_and_a_spent_refresh_token_needs_a_new_login() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let first = device_login(&client).await.refresh_token.unwrap();

    let renewed = client.refresh_tokens(&first).await.unwrap();
    let second = renewed.refresh_token.expect("rotation hands out a new one");
    assert_ne!(second.expose(), first.expose());
    client.create_api_key(&renewed.access_token).await.unwrap();

    let err = client.refresh_tokens(&first).await.unwrap_err();
    assert!(
        matches!(err, ApiError::LoginRequired { status: 400, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains(first.expose()));
    // The refused attempt was not repeated.
    assert_eq!(requests(&emu, "POST", "/api/auth/oauth2/token").await, 3);
    client.refresh_tokens(&second).await.unwrap();
}

// --- API keys, account, organisations ----------------------------------------------------------

#[tokio::test]
async fn api_key_is_created_with_201_and_its_expiry_read_from_the_jwt() {
    let emu = start(EmulatorConfig {
        api_key_lifetime: Duration::from_secs(7 * 24 * 3600),
        ..emulator_common::fast_polling()
    })
    .await;
    let (client, _) = client_for(&emu);
    let tokens = device_login(&client).await;
    let before = Timestamp::now();
    let key = client.create_api_key(&tokens.access_token).await.unwrap();
    let expected = before + SignedDuration::from_hours(7 * 24);
    let off = key.expires_at.duration_since(expected).abs();
    assert!(
        off < SignedDuration::from_secs(60),
        "{} vs {expected}",
        key.expires_at
    );
    let claims = jwt_claims(&key.key);
    assert_eq!(claims["exp"].as_i64(), Some(key.expires_at.as_second()));
    assert_eq!(claims["scopes"], json!(API_KEY_SCOPES));
    assert_eq!(
        claims["tags"],
        json!([format!("anacondad/v{CLIENT_VERSION}")])
    );
    assert_eq!(claims["username"], "demo");
    let entries = logged(&emu).await;
    assert!(entries.contains(&("POST".into(), "/api/auth/api-keys".into(), Some(201))));
    // The key works.
    client.account(&key.key).await.unwrap();
}

#[tokio::test]
async fn api_key_creation_falls_back_to_the_iam_path_when_the_first_answers_404() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let tokens = device_login(&client).await;
    fault(
        &emu,
        json!({"path_prefix": "/api/auth/api-keys", "kind": "status", "status": 404}),
    )
    .await;
    let key = client.create_api_key(&tokens.access_token).await.unwrap();
    assert!(key.expires_at > Timestamp::now());
    assert_eq!(emu.count("/api/auth/api-keys").await, 1);
    assert_eq!(emu.count("/api/iam/api-keys").await, 1);
    client.account(&key.key).await.unwrap();
}

#[tokio::test]
async fn account_shows_the_demo_user_and_its_subscriptions() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let account = client.account(&api_key(&emu).await).await.unwrap();
    assert_eq!(account.user.username.as_deref(), Some("demo"));
    assert_eq!(account.user.email.as_deref(), Some("demo@example.com"));
    assert_eq!(
        account.user.id.as_deref(),
        Some("6d3c1a52-64a4-4b8e-9f0e-0c1d2e3f4a5b")
    );
    let mut products: Vec<_> = account
        .subscriptions
        .iter()
        .map(|s| s.product_code.as_str())
        .collect();
    products.sort_unstable();
    assert_eq!(
        products,
        [
            "commercial_business",
            "commercial_starter",
            "free",
            "security_business"
        ]
    );
    let personal = account
        .subscriptions
        .iter()
        .find(|s| s.product_code == "free")
        .unwrap();
    assert_eq!(personal.org_id, None);
}

#[tokio::test]
async fn organizations_list_every_membership_and_starter_plans_are_not_eligible() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let key = api_key(&emu).await;
    let mut all: Vec<_> = client
        .organizations(&key)
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.name, o.title))
        .collect();
    all.sort();
    assert_eq!(
        all,
        [
            ("acme".to_owned(), "Acme Corporation".to_owned()),
            ("globex".to_owned(), "Globex Corporation".to_owned()),
            ("initech".to_owned(), "Initech".to_owned()),
        ]
    );
    let mut eligible: Vec<_> = client
        .eligible_organizations(&key)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    eligible.sort();
    assert_eq!(eligible, ["acme", "globex"]);
}

// --- Repo tokens -------------------------------------------------------------------------------

#[tokio::test]
async fn an_org_has_no_current_token_until_one_is_issued() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let key = api_key(&emu).await;
    assert_eq!(client.current_repo_token(&key, "acme").await.unwrap(), None);

    let issued = client.reissue_repo_token(&key, "acme").await.unwrap();
    let info = client
        .current_repo_token(&key, "acme")
        .await
        .unwrap()
        .expect("a token after the reissue");
    let on_service = emu.control_get("/_emulator/orgs/acme/token").await;
    assert_eq!(on_service["token"], issued.token.expose());
    assert_eq!(info.id, on_service["id"].as_str().unwrap());
    assert_eq!(info.expires_at, issued.expires_at);
    assert!(issued.expires_at > Timestamp::now() + SignedDuration::from_hours(24 * 300));
}

#[tokio::test]
async fn reissue_revokes_the_previous_token_in_the_repository() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let key = api_key(&emu).await;
    let old = client.reissue_repo_token(&key, "globex").await.unwrap();
    assert_eq!(
        client.validate_repo_token(&old.token).await.unwrap(),
        RepoTokenCheck::Accepted
    );
    let new = client.reissue_repo_token(&key, "globex").await.unwrap();
    assert_ne!(new.token.expose(), old.token.expose());
    assert_eq!(
        client.validate_repo_token(&old.token).await.unwrap(),
        RepoTokenCheck::Rejected { status: 401 }
    );
    assert_eq!(
        client.validate_repo_token(&new.token).await.unwrap(),
        RepoTokenCheck::Accepted
    );
    assert_eq!(
        requests(&emu, "PUT", "/api/organizations/globex/ce/current-token").await,
        2
    );
}

#[tokio::test]
async fn the_validation_url_puts_the_token_in_front_of_the_emulator_repository() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let token = Secret::new("tok-1234567890");
    assert_eq!(
        client.repo_token_validation_url(&token).as_str(),
        format!(
            "{}/t/tok-1234567890/repo/main/noarch/repodata.json",
            emu.handle.base_url
        )
    );
    let unknown = client.validate_repo_token(&token).await.unwrap();
    assert_eq!(unknown, RepoTokenCheck::Rejected { status: 401 });
}

#[tokio::test]
async fn an_expired_repo_token_is_rejected_by_the_repository() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let token = Secret::new(emu.issue_token("acme").await);
    emu.control("/_emulator/expire", json!({"org": "acme"}))
        .await;
    assert_eq!(
        client.validate_repo_token(&token).await.unwrap(),
        RepoTokenCheck::Rejected { status: 401 }
    );
}

// --- Error classes -----------------------------------------------------------------------------

#[tokio::test]
async fn two_503s_then_success_take_exactly_three_requests() {
    let emu = start_fast().await;
    let (client, clock) = client_for(&emu);
    let key = api_key(&emu).await;
    fault(
        &emu,
        json!({"path_prefix": "/api/account", "count": 2, "kind": "status", "status": 503}),
    )
    .await;
    client.account(&key).await.unwrap();
    assert_eq!(emu.count("/api/account").await, 3);
    assert_eq!(clock.sleeps().len(), 2, "one backoff before each retry");
}

#[tokio::test]
async fn persistent_503s_are_transient_after_every_attempt() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let key = api_key(&emu).await;
    fault(
        &emu,
        json!({"path_prefix": "/api/organizations/my", "count": 10, "kind": "status", "status": 503}),
    )
    .await;
    let err = client.organizations(&key).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transient {
                cause: TransientCause::Status(503),
                attempts: ATTEMPTS,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        emu.count("/api/organizations/my").await,
        u64::from(ATTEMPTS)
    );
}

#[tokio::test]
async fn an_expired_api_key_is_login_required_after_exactly_one_request() {
    let emu = start_fast().await;
    let (client, clock) = client_for(&emu);
    let key = api_key(&emu).await;
    emu.control("/_emulator/expire", json!({"api_key": key.expose()}))
        .await;
    let err = client.account(&key).await.unwrap_err();
    assert!(
        matches!(err, ApiError::LoginRequired { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.is_login_required());
    assert!(!err.to_string().contains(key.expose()));
    assert_eq!(emu.count("/api/account").await, 1);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn a_429_is_retried_and_then_succeeds() {
    let emu = start_fast().await;
    let (client, clock) = client_for(&emu);
    let key = api_key(&emu).await;
    fault(
        &emu,
        json!({"path_prefix": "/api/organizations/my", "kind": "status", "status": 429}),
    )
    .await;
    let orgs = client.organizations(&key).await.unwrap();
    assert_eq!(orgs.len(), 3);
    assert_eq!(emu.count("/api/organizations/my").await, 2);
    assert_eq!(clock.sleeps().len(), 1);
}

#[tokio::test]
async fn a_hang_longer_than_the_request_timeout_is_a_transient_timeout_after_the_retries() {
    let emu = start_fast().await;
    let mut config = config_for(&emu);
    config.request_timeout = Duration::from_millis(300);
    config.retry.max_attempts = 2;
    let (client, clock) = client_with(&config);
    let key = api_key(&emu).await;
    fault(
        &emu,
        json!({"path_prefix": "/api/account", "count": 2, "kind": "hang", "millis": 5000}),
    )
    .await;
    let err = client.account(&key).await.unwrap_err();
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
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(emu.count("/api/account").await, 2);
    assert_eq!(clock.sleeps().len(), 1);
}

#[tokio::test]
async fn malformed_json_is_an_invalid_response_with_a_snippet_and_no_secret() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let key = api_key(&emu).await;
    fault(
        &emu,
        json!({"path_prefix": "/api/account", "kind": "malformed"}),
    )
    .await;
    let err = client.account(&key).await.unwrap_err();
    let ApiError::InvalidResponse {
        status, snippet, ..
    } = &err
    else {
        panic!("expected InvalidResponse, got {err:?}");
    };
    assert_eq!(*status, 200);
    assert!(
        snippet.as_deref().is_some_and(|s| s.contains("this is")),
        "{snippet:?}"
    );
    let message = err.to_string();
    assert!(message.contains("/api/account"), "{message}");
    assert!(message.contains("not json"), "{message}");
    assert!(!message.contains(key.expose()), "{message}");
    assert!(!format!("{err:?}").contains(key.expose()));
    assert_eq!(
        emu.count("/api/account").await,
        1,
        "a bad body is not retried"
    );
}

#[tokio::test]
async fn malformed_answers_where_secrets_travel_show_no_part_of_the_body() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let key = api_key(&emu).await;
    fault(
        &emu,
        json!({"path_prefix": "/api/organizations/acme/ce/current-token", "method": "PUT", "kind": "malformed"}),
    )
    .await;
    let err = client.reissue_repo_token(&key, "acme").await.unwrap_err();
    assert!(
        matches!(err, ApiError::InvalidResponse { snippet: None, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("this is"), "{err}");
    assert!(!err.to_string().contains(key.expose()));
}

#[tokio::test]
async fn a_dropped_connection_is_transient_after_the_retries() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let key = api_key(&emu).await;
    fault(
        &emu,
        json!({"path_prefix": "/api/account", "count": 10, "kind": "drop"}),
    )
    .await;
    let err = client.account(&key).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::Transient {
                cause: TransientCause::Interrupted,
                attempts: ATTEMPTS,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(emu.count("/api/account").await, u64::from(ATTEMPTS));
}

#[tokio::test]
async fn a_dropped_connection_once_is_retried_and_then_succeeds() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let key = api_key(&emu).await;
    fault(&emu, json!({"path_prefix": "/api/account", "kind": "drop"})).await;
    client.account(&key).await.unwrap();
    assert_eq!(emu.count("/api/account").await, 2);
}

#[tokio::test]
async fn a_reissue_whose_answer_hangs_is_outcome_unknown_after_exactly_one_request() {
    let emu = start_fast().await;
    let mut config = config_for(&emu);
    config.request_timeout = Duration::from_millis(300);
    let (client, clock) = client_with(&config);
    let key = api_key(&emu).await;
    let path = "/api/organizations/acme/ce/current-token";
    fault(
        &emu,
        json!({"path_prefix": path, "method": "PUT", "count": 10, "kind": "hang", "millis": 5000}),
    )
    .await;
    let err = client.reissue_repo_token(&key, "acme").await.unwrap_err();
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
    // It advises a re-check, never a reissue that could revoke a working token.
    assert!(err.to_string().contains("token list"), "{err}");
    assert!(!err.to_string().contains("token install"), "{err}");
    assert_eq!(requests(&emu, "PUT", path).await, 1);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn a_reissue_answered_500_is_outcome_unknown_and_never_repeated() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let key = api_key(&emu).await;
    let path = "/api/organizations/acme/ce/current-token";
    fault(
        &emu,
        json!({"path_prefix": path, "method": "PUT", "count": 10, "kind": "status", "status": 500}),
    )
    .await;
    let err = client.reissue_repo_token(&key, "acme").await.unwrap_err();
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
    assert_eq!(requests(&emu, "PUT", path).await, 1);
}

#[tokio::test]
async fn a_reissue_answered_503_is_retried_because_the_service_did_not_act() {
    let emu = start_fast().await;
    let (client, _) = client_for(&emu);
    let key = api_key(&emu).await;
    let path = "/api/organizations/acme/ce/current-token";
    fault(
        &emu,
        json!({"path_prefix": path, "method": "PUT", "kind": "status", "status": 503}),
    )
    .await;
    let issued = client.reissue_repo_token(&key, "acme").await.unwrap();
    assert_eq!(requests(&emu, "PUT", path).await, 2);
    assert_eq!(
        client.validate_repo_token(&issued.token).await.unwrap(),
        RepoTokenCheck::Accepted
    );
}

/// The demo world plus `hooli`, an organisation with a business plan that `demo` is not in.
fn seed_with_a_foreign_org() -> Seed {
    let mut seed = Seed::demo();
    seed.users.push(SeedUser {
        username: "other".into(),
        email: "other@example.com".into(),
        first_name: String::new(),
        last_name: String::new(),
        id: None,
    });
    seed.organizations.push(SeedOrganization {
        name: "hooli".into(),
        title: None,
        id: None,
        members: vec!["other".into()],
    });
    seed
}

#[tokio::test]
async fn an_org_the_user_is_not_in_is_forbidden_and_one_that_does_not_exist_not_found() {
    let emu = start(EmulatorConfig {
        seed: seed_with_a_foreign_org(),
        ..emulator_common::fast_polling()
    })
    .await;
    let (client, _) = client_for(&emu);
    let key = api_key(&emu).await;

    let err = client.current_repo_token(&key, "hooli").await.unwrap_err();
    assert!(matches!(err, ApiError::Forbidden { .. }), "{err:?}");
    assert!(
        err.to_string().contains("member of the organization"),
        "{err}"
    );
    let err = client.reissue_repo_token(&key, "hooli").await.unwrap_err();
    assert!(matches!(err, ApiError::Forbidden { .. }), "{err:?}");

    let err = client.reissue_repo_token(&key, "nosuch").await.unwrap_err();
    assert!(matches!(err, ApiError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/api/organizations/nosuch/"),
        "{err}"
    );
    // The service answers 404 both for "no token yet" and "no such org"; the client reads
    // both as "no current token" (pick the org from `eligible_organizations` first).
    assert_eq!(
        client.current_repo_token(&key, "nosuch").await.unwrap(),
        None
    );

    // A member whose org has only a starter plan may not get a token either.
    let err = client
        .reissue_repo_token(&key, "initech")
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Forbidden { .. }), "{err:?}");
    // None of the refusals was retried.
    assert_eq!(emu.count("/api/organizations/").await, 5);
}

// --- Transport ---------------------------------------------------------------------------------

async fn start_tls() -> (Emu, tempfile::NamedTempFile) {
    let emu = start(EmulatorConfig {
        tls: true,
        ..emulator_common::fast_polling()
    })
    .await;
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        ca.path(),
        emu.handle
            .ca_pem
            .as_deref()
            .expect("a TLS emulator has a CA"),
    )
    .unwrap();
    (emu, ca)
}

#[tokio::test]
async fn over_tls_with_the_emulator_ca_bundle_a_whole_login_and_install_works() {
    let (emu, ca) = start_tls().await;
    assert!(emu.handle.base_url.starts_with("https://127.0.0.1:"));
    let mut config = config_for(&emu);
    config.ca_bundle = Some(ca.path().to_owned());
    let (client, _) = client_with(&config);
    let port = emu.handle.base_url.rsplit(':').next().unwrap();
    assert_eq!(client.keyring_username(), format!("127.0.0.1:{port}"));

    let tokens = device_login(&client).await;
    assert!(tokens.refresh_token.is_some());
    let key = client.create_api_key(&tokens.access_token).await.unwrap();
    let eligible = client.eligible_organizations(&key.key).await.unwrap();
    assert_eq!(eligible.len(), 2);
    let issued = client.reissue_repo_token(&key.key, "acme").await.unwrap();
    assert!(
        client
            .repo_token_validation_url(&issued.token)
            .as_str()
            .starts_with("https://")
    );
    assert_eq!(
        client.validate_repo_token(&issued.token).await.unwrap(),
        RepoTokenCheck::Accepted
    );
}

#[tokio::test]
async fn over_tls_a_certificate_from_an_unknown_ca_is_a_tls_error() {
    let (emu, _) = start_tls().await;
    // Another emulator's CA: a valid bundle that did not sign this server's certificate.
    let (_other, other_ca) = start_tls().await;
    let mut config = config_for(&emu);
    config.ca_bundle = Some(other_ca.path().to_owned());
    let (client, clock) = client_with(&config);
    let err = client.oidc_configuration().await.unwrap_err();
    let ApiError::Tls { url, reason } = &err else {
        panic!("expected a TLS error, got {err:?}");
    };
    assert!(url.starts_with(&emu.handle.base_url), "{url}");
    assert!(!reason.is_empty());
    assert!(
        err.to_string().contains("ANACONDA_AUTH_SSL_VERIFY"),
        "{err}"
    );
    assert!(clock.sleeps().is_empty(), "a TLS failure is not retried");
    assert_eq!(emu.count("/").await, 0, "no request got through");
}

#[tokio::test]
async fn over_tls_the_system_trust_store_does_not_know_the_emulator_ca() {
    let (emu, _) = start_tls().await;
    let (client, _) = client_for(&emu);
    let err = client.oidc_configuration().await.unwrap_err();
    assert!(matches!(err, ApiError::Tls { .. }), "{err:?}");
}

#[tokio::test]
async fn plain_http_is_used_for_the_loopback_emulator_and_refused_for_other_hosts() {
    let emu = start_fast().await;
    assert!(emu.handle.base_url.starts_with("http://127.0.0.1:"));
    let (client, _) = client_for(&emu);
    client.oidc_configuration().await.unwrap();

    let mut remote = config_for(&emu);
    remote.domain = "http://anaconda.example".into();
    let err = AnacondaClient::new(&remote).unwrap_err();
    assert!(matches!(err, ApiError::InsecureTransport { .. }), "{err:?}");
    assert!(err.to_string().contains("https"), "{err}");

    let mut remote_repo = config_for(&emu);
    remote_repo.repo_url = "http://repo.example/repo/".into();
    let err = AnacondaClient::new(&remote_repo).unwrap_err();
    assert!(matches!(err, ApiError::InsecureTransport { .. }), "{err:?}");
}

#[tokio::test]
async fn the_emulator_binary_serves_the_client_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let ca_arg = ca.to_str().unwrap().to_owned();
    let process = tokio::task::spawn_blocking(move || {
        anacondad_tests::spawn_emulator(&["--tls", "--ca-out", &ca_arg])
    })
    .await
    .unwrap();
    assert!(process.base_url.starts_with("https://"));
    let mut config = ApiConfig::new(CLIENT_VERSION, HOSTNAME);
    config.domain = process.base_url.clone();
    config.repo_url = format!("{}/repo/", process.base_url);
    config.proxy = ProxyConfig::Disabled;
    config.ca_bundle = Some(ca);
    let (client, _) = client_with(&config);
    assert_eq!(client.keyring_username(), process.domain());
    let tokens = device_login(&client).await;
    let key = client.create_api_key(&tokens.access_token).await.unwrap();
    let account = client.account(&key.key).await.unwrap();
    assert_eq!(account.user.username.as_deref(), Some("demo"));
}
