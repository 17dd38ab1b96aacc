//! The shared HTTP client: construction from [`ApiConfig`], the headers every API request
//! carries, bounded bodies, retries with backoff, and the mapping of failures to [`ApiError`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;
use zeroize::Zeroizing;

use super::clock::{RetryClock, SystemClock};
use super::config::{ApiConfig, ProxyConfig, RetryPolicy, check_transport};
use super::discovery::OidcConfiguration;
use super::error::{ApiError, TransientCause, mask_url, snippet};
use super::failure::{
    InsecureRedirect, MAX_REDIRECTS, classify_fatal, error_chain, transport_cause,
};
use super::hostname::hash_hostname;
use crate::secret::Secret;

/// Largest body accepted from the service; real answers are a few KiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
const X_CLIENT_HOSTNAME: &str = "x-client-hostname";

/// The client of the Anaconda service and repository. One per configuration: it holds the one
/// connection pool (`reqwest::Client`) and the cached OIDC discovery document. Share it behind
/// an `Arc`; every method takes `&self`.
pub struct AnacondaClient {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: Url,
    pub(crate) repo_url: Url,
    keyring_username: String,
    pub(crate) client_name: String,
    pub(crate) client_version: String,
    hostname_header: HeaderValue,
    retry: RetryPolicy,
    pub(crate) clock: Arc<dyn RetryClock>,
    pub(crate) oidc: tokio::sync::OnceCell<OidcConfiguration>,
}

impl fmt::Debug for AnacondaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnacondaClient")
            .field("base_url", &self.base_url.as_str())
            .field("repo_url", &self.repo_url.as_str())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// What a request sends as its body.
pub(crate) enum Body<'a> {
    Empty,
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded`; values may be secrets (device codes, refresh tokens).
    Form(Vec<(&'static str, &'a str)>),
}

/// Whether a request may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryMode {
    /// Repeating it does no harm: retry timeouts, connection errors, 429 and 5xx.
    Safe,
    /// The service may act on it (a reissue, a one-time code): retry only where the service
    /// certainly did not act (connection never made, 429, 503); anything else after the request
    /// left is [`ApiError::OutcomeUnknown`].
    NotAfterSend,
}

pub(crate) struct Call<'a> {
    pub method: Method,
    pub url: Url,
    pub bearer: Option<&'a Secret>,
    pub body: Body<'a>,
    pub retry: RetryMode,
    /// Send `X-Client-Hostname` (API requests; the repository gets only the `User-Agent`).
    pub api_headers: bool,
}

/// An answer read in full (bounded by [`MAX_BODY_BYTES`]).
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The request URL, masked for errors.
    pub url: String,
    /// The body repeats a credential this request sent: never show any of it.
    pub echoes_secret: bool,
}

impl Reply {
    /// An `InvalidResponse` for this answer; `with_body` adds a snippet of the body and must be
    /// false wherever the body may hold credentials.
    pub(crate) fn invalid(&self, detail: impl Into<String>, with_body: bool) -> ApiError {
        ApiError::InvalidResponse {
            status: self.status.as_u16(),
            url: self.url.clone(),
            detail: detail.into(),
            snippet: (with_body && !self.echoes_secret).then(|| snippet(&self.body)),
        }
    }

    /// The body as `T`. When `secret_body`, the serde message (which can quote values) is
    /// replaced by its category and position.
    pub(crate) fn json<T: DeserializeOwned>(&self, secret_body: bool) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            if secret_body {
                self.invalid(
                    format!(
                        "the answer is not the expected JSON ({:?} error at line {} column {})",
                        e.classify(),
                        e.line(),
                        e.column()
                    ),
                    false,
                )
            } else {
                self.invalid(format!("the answer is not the expected JSON ({e})"), true)
            }
        })
    }

    /// The usual meaning of an API status: 2xx passes, 401 and `auth_required` mean a new login,
    /// 403 forbidden, 404 not found, anything else is unexpected.
    pub(crate) fn check_api_status(self) -> Result<Self, ApiError> {
        match self.status_error() {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    /// The error [`Reply::check_api_status`] would return, `None` for 2xx.
    pub(crate) fn status_error(&self) -> Option<ApiError> {
        let status = self.status.as_u16();
        let url = self.url.clone();
        match status {
            200..=299 => None,
            401 => Some(ApiError::LoginRequired { url, status }),
            403 => match error_code(&self.body) {
                Some(("auth_required", _)) => Some(ApiError::LoginRequired { url, status }),
                Some(("insufficient_scope", message)) => Some(ApiError::InsufficientScope {
                    url,
                    detail: message
                        .filter(|_| !self.echoes_secret)
                        .map(|m| snippet(m.as_bytes())),
                }),
                _ => Some(ApiError::Forbidden { url }),
            },
            404 => Some(ApiError::NotFound { url }),
            _ => Some(self.invalid("unexpected status", true)),
        }
    }
}

/// The `error.code` of an API error answer, with its `error.message` when there is one.
fn error_code(body: &[u8]) -> Option<(&'static str, Option<String>)> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    let code = match error.get("code")?.as_str()? {
        "auth_required" => "auth_required",
        "insufficient_scope" => "insufficient_scope",
        _ => return None,
    };
    let message = error
        .get("message")
        .and_then(|m| m.as_str())
        .map(str::to_owned);
    Some((code, message))
}

impl AnacondaClient {
    /// A client on real time.
    pub fn new(config: &ApiConfig) -> Result<Self, ApiError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A client whose polling intervals and retry backoff wait on `clock` (tests pass a
    /// [`super::ManualClock`]).
    pub fn with_clock(config: &ApiConfig, clock: Arc<dyn RetryClock>) -> Result<Self, ApiError> {
        super::install_crypto_provider();
        let base_url = config.base_url()?;
        let repo_url = config.repo_base_url()?;
        let keyring_username = config.keyring_username()?;
        if config.client_name.is_empty() || config.client_version.is_empty() {
            return Err(ApiError::Config {
                setting: "client_name/client_version",
                value: config.user_agent(),
                reason: "both must be set; they form the User-Agent".into(),
            });
        }
        let user_agent =
            HeaderValue::from_str(&config.user_agent()).map_err(|_| ApiError::Config {
                setting: "client_name/client_version",
                value: config.user_agent(),
                reason: "not valid in an HTTP header".into(),
            })?;
        let hostname_header = HeaderValue::from_str(&hash_hostname(&config.hostname))
            .expect("base64url is a valid header value");

        let policy = reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if check_transport(attempt.url()).is_err() {
                let target = mask_url(attempt.url());
                attempt.error(InsecureRedirect(target))
            } else {
                attempt.follow()
            }
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(policy);
        if !config.ssl_verify {
            tracing::warn!(
                "TLS certificate verification is turned off (ANACONDA_AUTH_SSL_VERIFY); credentials can be intercepted"
            );
            builder = builder.tls_danger_accept_invalid_certs(true);
        } else if let Some(path) = &config.ca_bundle {
            let pem = crate::fsutil::read_regular_file(path)
                .and_then(|pem| pem.ok_or_else(|| std::io::ErrorKind::NotFound.into()))
                .map_err(|e| ApiError::CaBundle {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ApiError::CaBundle {
                    path: path.clone(),
                    reason: format!("not a PEM certificate bundle ({e})"),
                })?;
            if certs.is_empty() {
                return Err(ApiError::CaBundle {
                    path: path.clone(),
                    reason: "it holds no PEM certificate".into(),
                });
            }
            // Like `requests` with `verify=<path>`: the bundle replaces the trust store.
            builder = builder.tls_certs_only(certs);
        }
        builder = match &config.proxy {
            ProxyConfig::System => builder,
            ProxyConfig::Disabled => builder.no_proxy(),
            ProxyConfig::Url(url) => {
                let proxy = reqwest::Proxy::all(url.expose()).map_err(|_| ApiError::Config {
                    setting: "proxy",
                    value: "<hidden>".into(),
                    reason: "not a valid proxy URL".into(),
                })?;
                builder.proxy(proxy)
            }
        };
        let http = builder.build().map_err(|e| ApiError::Config {
            setting: "http client",
            value: String::new(),
            reason: error_chain(&e),
        })?;

        Ok(Self {
            http,
            base_url,
            repo_url,
            keyring_username,
            client_name: config.client_name.clone(),
            client_version: config.client_version.clone(),
            hostname_header,
            retry: config.retry.clone(),
            clock,
            oidc: tokio::sync::OnceCell::new(),
        })
    }

    /// The API base URL, e.g. `https://anaconda.com/`.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The repository base URL, e.g. `https://repo.anaconda.cloud/repo/`.
    pub fn repo_url(&self) -> &Url {
        &self.repo_url
    }

    /// `host[:port]` of the domain: the username of this domain's record in the store.
    pub fn keyring_username(&self) -> &str {
        &self.keyring_username
    }

    /// A URL on the API host.
    pub(crate) fn api_url(&self, path: &str) -> Url {
        self.base_url
            .join(path)
            .expect("a path joins onto a base URL")
    }

    /// Sends `call`, retrying per [`RetryMode`] and the retry policy. Returns any answer that is
    /// not retried (2xx, 3xx, 4xx, and 5xx that may not be retried) for the endpoint to judge.
    pub(crate) async fn execute(&self, call: &Call<'_>) -> Result<Reply, ApiError> {
        check_transport(&call.url)?;
        let masked = mask_url(&call.url);
        let max_attempts = self.retry.max_attempts.max(1);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let request = self.build_request(call)?;
            let waiting = crate::activity::waiting_for(
                &format!("{} {masked}", call.method),
                attempt,
                max_attempts,
            );
            let sent = self.http.execute(request).await;
            drop(waiting);
            let (cause, retry_after) = match sent {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    match read_limited(response).await {
                        Ok(body) => {
                            let reply = Reply {
                                status,
                                headers,
                                echoes_secret: echoes_secret(&body, call),
                                body,
                                url: masked.clone(),
                            };
                            let code = status.as_u16();
                            if code != 429 && !status.is_server_error() {
                                return Ok(reply);
                            }
                            let may_retry = match call.retry {
                                RetryMode::Safe => true,
                                RetryMode::NotAfterSend => code == 429 || code == 503,
                            };
                            if !may_retry {
                                return Err(ApiError::OutcomeUnknown {
                                    url: masked,
                                    cause: TransientCause::Status(code),
                                });
                            }
                            (TransientCause::Status(code), retry_after(&reply.headers))
                        }
                        Err(BodyError::TooLarge) => {
                            return Err(ApiError::InvalidResponse {
                                status: status.as_u16(),
                                url: masked,
                                detail: format!("the answer is larger than {MAX_BODY_BYTES} bytes"),
                                snippet: None,
                            });
                        }
                        Err(BodyError::Transport(e)) => {
                            let cause = transport_cause(&e);
                            if call.retry == RetryMode::NotAfterSend {
                                return Err(ApiError::OutcomeUnknown { url: masked, cause });
                            }
                            (cause, None)
                        }
                    }
                }
                Err(e) => {
                    if let Some(err) = classify_fatal(&e, &masked) {
                        return Err(err);
                    }
                    let cause = transport_cause(&e);
                    if call.retry == RetryMode::NotAfterSend && cause != TransientCause::Connect {
                        return Err(ApiError::OutcomeUnknown { url: masked, cause });
                    }
                    (cause, None)
                }
            };
            let give_up = |attempts| ApiError::Transient {
                url: masked.clone(),
                cause,
                attempts,
            };
            if attempt >= max_attempts {
                return Err(give_up(attempt));
            }
            let delay = match retry_after {
                Some(wait) if wait > self.retry.max_retry_after => return Err(give_up(attempt)),
                Some(wait) => wait,
                None => self.backoff(attempt),
            };
            tracing::debug!(url = %masked, %cause, attempt, ?delay, "retrying");
            self.clock.sleep(delay).await;
        }
    }

    /// Exponential backoff with "equal jitter": half the step fixed, half random.
    fn backoff(&self, attempt: u32) -> Duration {
        let step = self
            .retry
            .initial_backoff
            .saturating_mul(1u32 << (attempt - 1).min(20))
            .min(self.retry.max_backoff);
        let half = step / 2;
        let jitter_ms = rand::rng().random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter_ms)
    }

    fn build_request(&self, call: &Call<'_>) -> Result<reqwest::Request, ApiError> {
        let mut builder = self.http.request(call.method.clone(), call.url.clone());
        if call.api_headers {
            builder = builder.header(X_CLIENT_HOSTNAME, self.hostname_header.clone());
        }
        if let Some(secret) = call.bearer {
            builder = builder.header(AUTHORIZATION, bearer_header(secret)?);
        }
        builder = match &call.body {
            Body::Empty => builder,
            Body::Json(value) => builder.json(value),
            Body::Form(pairs) => builder.form(pairs),
        };
        builder.build().map_err(|e| ApiError::Config {
            setting: "request",
            value: mask_url(&call.url),
            reason: error_chain(&e.without_url()),
        })
    }
}

/// Whether `body` contains the bearer credential or a secret form value of `call` (device
/// code, authorization code, refresh token, PKCE verifier).
fn echoes_secret(body: &[u8], call: &Call<'_>) -> bool {
    // Shorter values would match by accident; real secrets are far longer.
    const MIN_SECRET_LEN: usize = 8;
    const PUBLIC_FORM_FIELDS: [&str; 4] = ["client_id", "grant_type", "scope", "redirect_uri"];
    let contains = |needle: &str| {
        needle.len() >= MIN_SECRET_LEN
            && body
                .windows(needle.len())
                .any(|window| window == needle.as_bytes())
    };
    let form_values: &[(&str, &str)] = match &call.body {
        Body::Form(pairs) => pairs,
        _ => &[],
    };
    call.bearer.is_some_and(|s| contains(s.expose()))
        || form_values
            .iter()
            .filter(|(name, _)| !PUBLIC_FORM_FIELDS.contains(name))
            .any(|(_, value)| contains(value))
}

/// `Bearer <secret>`, marked sensitive so it is never logged by the HTTP stack.
fn bearer_header(secret: &Secret) -> Result<HeaderValue, ApiError> {
    let text = Zeroizing::new(format!("Bearer {}", secret.expose()));
    let mut value = HeaderValue::from_str(&text).map_err(|_| ApiError::Config {
        setting: "api_key",
        value: "<hidden>".into(),
        reason: "the credential holds characters that cannot be sent in an HTTP header; log in again or set a valid key".into(),
    })?;
    value.set_sensitive(true);
    Ok(value)
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the service and is ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}
