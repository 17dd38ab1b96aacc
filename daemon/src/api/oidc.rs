//! OpenID Connect against the service's identity provider: discovery, the device flow
//! (RFC 8628), the code exchange of the browser flow and the `refresh_token` grant.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;
use url::Url;

use super::client::{AnacondaClient, Body, Call, Reply, RetryMode};
use super::discovery::OidcConfiguration;
use super::error::ApiError;
use crate::secret::Secret;

/// The public client id of Anaconda's identity provider (the one anaconda-auth uses).
pub const CLIENT_ID: &str = "b4ad7f1d-c784-46b5-a9fe-106e50441f5a";
/// Scopes of both login flows. anaconda-auth asks only `openid` in the device flow; we add
/// `offline_access` (and the profile scopes) there too, since the refresh token it yields is
/// what lets the daemon renew the API key without the user.
pub const LOGIN_SCOPE: &str = "openid email profile offline_access";
const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
const DEVICE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
const DEFAULT_DEVICE_EXPIRES_IN_SECS: u64 = 60;
const DEFAULT_DEVICE_INTERVAL_SECS: u64 = 5;
const SLOW_DOWN_STEP_SECS: u64 = 5;
const MAX_DEVICE_INTERVAL_SECS: u64 = 30;
/// Upper bound on a device code's life whatever the provider says, so a hostile `expires_in`
/// cannot keep a login polling for days.
const MAX_DEVICE_EXPIRES_IN_SECS: u64 = 3600;

/// What the token endpoint hands out. The access token is used once, to mint an API key.
#[derive(Debug, Clone, Deserialize)]
pub struct OidcTokens {
    pub access_token: Secret,
    /// Present when the provider honoured `offline_access`.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    #[serde(default)]
    pub id_token: Option<Secret>,
    /// Lifetime of the access token in seconds, if the provider said.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// A started device login: show `user_code` and `verification_uri` (or the `_complete` form)
/// to the user, then call [`AnacondaClient::poll_device_flow`].
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    /// How long the device code lives (at most an hour, whatever the provider says).
    pub expires_in: Duration,
    /// The provider's polling interval (1 to 30 s).
    pub interval: Duration,
    /// When the code was issued, on the client's clock.
    pub issued_at: Instant,
}

#[derive(Deserialize)]
struct DeviceAuthorizationBody {
    device_code: Secret,
    user_code: String,
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    interval: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl AnacondaClient {
    /// The OIDC discovery document, fetched once per client and cached.
    #[tracing::instrument(skip_all)]
    pub async fn oidc_configuration(&self) -> Result<&OidcConfiguration, ApiError> {
        self.oidc
            .get_or_try_init(|| async {
                let reply = self
                    .execute(&Call {
                        method: Method::GET,
                        url: self.api_url(DISCOVERY_PATH),
                        bearer: None,
                        body: Body::Empty,
                        retry: RetryMode::Safe,
                        api_headers: true,
                    })
                    .await?
                    .check_api_status()?;
                reply.json::<OidcConfiguration>(false)
            })
            .await
    }

    /// Starts a device login (RFC 8628 section 3.1).
    #[tracing::instrument(skip_all)]
    pub async fn start_device_flow(&self) -> Result<DeviceAuthorization, ApiError> {
        let oidc = self.oidc_configuration().await?;
        let endpoint = oidc.device_authorization_endpoint.clone().ok_or_else(|| {
            ApiError::InvalidResponse {
                status: 200,
                url: self.api_url(DISCOVERY_PATH).to_string(),
                detail: "the identity provider offers no device login; use the browser login"
                    .into(),
                snippet: None,
            }
        })?;
        let reply = self
            .post_form(
                endpoint,
                vec![("client_id", CLIENT_ID), ("scope", LOGIN_SCOPE)],
                RetryMode::Safe,
            )
            .await?;
        if !reply.status.is_success() {
            return Err(oauth_error(&reply));
        }
        let body: DeviceAuthorizationBody = reply.json(true)?;
        if body.device_code.is_empty() || body.user_code.is_empty() {
            return Err(reply.invalid("empty device_code or user_code", false));
        }
        let expires_in = body
            .expires_in
            .unwrap_or(DEFAULT_DEVICE_EXPIRES_IN_SECS)
            .min(MAX_DEVICE_EXPIRES_IN_SECS);
        let interval = body
            .interval
            .unwrap_or(DEFAULT_DEVICE_INTERVAL_SECS)
            .clamp(1, MAX_DEVICE_INTERVAL_SECS);
        Ok(DeviceAuthorization {
            device_code: body.device_code,
            user_code: body.user_code,
            verification_uri: body.verification_uri,
            verification_uri_complete: body.verification_uri_complete,
            expires_in: Duration::from_secs(expires_in),
            interval: Duration::from_secs(interval),
            issued_at: self.clock.now(),
        })
    }

    /// Polls until the user approves or denies the login, or the code expires (RFC 8628
    /// section 3.5): waits `interval` before each poll, adds 5 s on `slow_down` (at most 30 s).
    /// Cancel by dropping the future.
    #[tracing::instrument(skip_all)]
    pub async fn poll_device_flow(
        &self,
        authorization: &DeviceAuthorization,
    ) -> Result<OidcTokens, ApiError> {
        let token_endpoint = self.oidc_configuration().await?.token_endpoint.clone();
        let deadline = authorization.issued_at + authorization.expires_in;
        let mut interval = authorization.interval;
        loop {
            if self.clock.now() + interval > deadline {
                return Err(ApiError::DeviceCodeExpired);
            }
            self.clock.sleep(interval).await;
            let reply = self
                .post_form(
                    token_endpoint.clone(),
                    vec![
                        ("grant_type", DEVICE_GRANT_TYPE),
                        ("device_code", authorization.device_code.expose()),
                        ("client_id", CLIENT_ID),
                    ],
                    RetryMode::Safe,
                )
                .await?;
            if reply.status.is_success() {
                return tokens(&reply);
            }
            let Ok(error) = serde_json::from_slice::<OAuthErrorBody>(&reply.body) else {
                return Err(reply.invalid("not an OAuth error answer", true));
            };
            match error.error.as_str() {
                "authorization_pending" => {}
                "slow_down" => {
                    interval = (interval + Duration::from_secs(SLOW_DOWN_STEP_SECS))
                        .min(Duration::from_secs(MAX_DEVICE_INTERVAL_SECS));
                }
                "expired_token" => return Err(ApiError::DeviceCodeExpired),
                "access_denied" => return Err(ApiError::AccessDenied),
                _ => return Err(oauth_error(&reply)),
            }
        }
    }

    /// Trades a refresh token for new tokens. A refused refresh token (`invalid_grant`) is
    /// [`ApiError::LoginRequired`]. Not retried after the request left: providers that rotate
    /// refresh tokens invalidate the old one on first use, so keep the newest one you get.
    #[tracing::instrument(skip_all)]
    pub async fn refresh_tokens(&self, refresh_token: &Secret) -> Result<OidcTokens, ApiError> {
        let token_endpoint = self.oidc_configuration().await?.token_endpoint.clone();
        let reply = self
            .post_form(
                token_endpoint,
                vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token.expose()),
                    ("client_id", CLIENT_ID),
                ],
                RetryMode::NotAfterSend,
            )
            .await?;
        if reply.status.is_success() {
            return tokens(&reply);
        }
        match oauth_error(&reply) {
            ApiError::LoginRejected { error, .. } if error == "invalid_grant" => {
                Err(ApiError::LoginRequired {
                    url: reply.url.clone(),
                    status: reply.status.as_u16(),
                })
            }
            other => Err(other),
        }
    }

    /// The authorization-code exchange of the browser flow (one-time code: not retried after
    /// the request left).
    #[tracing::instrument(skip_all)]
    pub(crate) async fn exchange_code(
        &self,
        code: &Secret,
        redirect_uri: &str,
        code_verifier: &Secret,
    ) -> Result<OidcTokens, ApiError> {
        let token_endpoint = self.oidc_configuration().await?.token_endpoint.clone();
        let reply = self
            .post_form(
                token_endpoint,
                vec![
                    ("grant_type", "authorization_code"),
                    ("client_id", CLIENT_ID),
                    ("code", code.expose()),
                    ("redirect_uri", redirect_uri),
                    ("code_verifier", code_verifier.expose()),
                ],
                RetryMode::NotAfterSend,
            )
            .await?;
        if reply.status.is_success() {
            return tokens(&reply);
        }
        Err(oauth_error(&reply))
    }
    /// A form POST to the identity provider: its token and device-authorization endpoints
    /// take `application/x-www-form-urlencoded` bodies.
    async fn post_form(
        &self,
        url: Url,
        form: Vec<(&'static str, &str)>,
        retry: RetryMode,
    ) -> Result<Reply, ApiError> {
        self.execute(&Call {
            method: Method::POST,
            url,
            bearer: None,
            body: Body::Form(form),
            retry,
            api_headers: true,
        })
        .await
    }
}

fn tokens(reply: &Reply) -> Result<OidcTokens, ApiError> {
    let tokens: OidcTokens = reply.json(true)?;
    if tokens.access_token.is_empty() {
        return Err(reply.invalid("empty access_token", false));
    }
    let unusable = [Some(&tokens.access_token), tokens.refresh_token.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|t| super::check_credential(t.expose()).err());
    if let Some(reason) = unusable {
        return Err(reply.invalid(
            format!(
                "the login answer holds an unusable token ({reason}), so nothing was stored: run `anacondactl login` again, and report it if it persists"
            ),
            false,
        ));
    }
    Ok(tokens)
}

/// The error of a non-2xx token-endpoint answer: an OAuth error if the body is one, else the
/// usual status meaning.
fn oauth_error(reply: &Reply) -> ApiError {
    if reply.status.is_client_error()
        && let Ok(body) = serde_json::from_slice::<OAuthErrorBody>(&reply.body)
    {
        return match body.error.as_str() {
            "access_denied" => ApiError::AccessDenied,
            "expired_token" => ApiError::DeviceCodeExpired,
            _ => ApiError::LoginRejected {
                error: sanitize(&body.error),
                description: body
                    .error_description
                    .as_deref()
                    .filter(|_| !reply.echoes_secret)
                    .map(sanitize),
            },
        };
    }
    reply
        .status_error()
        .unwrap_or_else(|| reply.invalid("unexpected status", true))
}

/// Provider text shown to the user: bounded, no control characters.
fn sanitize(text: &str) -> String {
    super::error::snippet(text.as_bytes())
}
