//! The browser login: authorization code with PKCE (S256), received on a loopback listener.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use super::client::AnacondaClient;
use super::config::check_transport;
use super::error::ApiError;
use super::oidc::{CLIENT_ID, LOGIN_SCOPE, OidcTokens};
use crate::secret::Secret;

/// The path of the registered redirect URI `http://127.0.0.1:8000/auth/oidc`.
pub const REDIRECT_PATH: &str = "/auth/oidc";
const LOGIN_SUCCESS_PATH: &str = "/app/local-login-success";
const LOGIN_ERROR_PATH: &str = "/app/local-login-error";
/// A browser sends its request at once; a connection that does not is dropped, so a stray local
/// client cannot hold the listener.
const CALLBACK_READ_TIMEOUT_SECS: u64 = 10;
const MAX_CALLBACK_REQUEST_BYTES: usize = 16 * 1024;

/// A started browser login: open [`BrowserLogin::authorization_url`] in the user's browser,
/// then await [`AnacondaClient::finish_browser_flow`].
#[derive(Debug)]
pub struct BrowserLogin {
    authorization_url: Url,
    redirect_uri: String,
    state: Secret,
    code_verifier: Secret,
    listener: TcpListener,
}

impl BrowserLogin {
    /// The identity provider's page to open; it carries the state and the PKCE challenge.
    pub fn authorization_url(&self) -> &Url {
        &self.authorization_url
    }

    /// `http://127.0.0.1:<port>/auth/oidc`, with the port actually bound.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
}

impl AnacondaClient {
    /// Binds the loopback listener on `127.0.0.1:port` (the registered redirect uses 8000; 0
    /// picks a free port, for tests) and builds the authorization URL.
    #[tracing::instrument(skip_all)]
    pub async fn start_browser_flow(&self, port: u16) -> Result<BrowserLogin, ApiError> {
        let oidc = self.oidc_configuration().await?;
        check_transport(&oidc.authorization_endpoint)?;
        let addr = format!("127.0.0.1:{port}");
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|e| ApiError::Loopback {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        let bound = listener.local_addr().map_err(|e| ApiError::Loopback {
            addr: addr.clone(),
            reason: e.to_string(),
        })?;
        let redirect_uri = format!("http://127.0.0.1:{}{REDIRECT_PATH}", bound.port());
        let state = Secret::new(random_token(16));
        let code_verifier = Secret::new(random_token(32));
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.expose().as_bytes()));

        let mut authorization_url = oidc.authorization_endpoint.clone();
        authorization_url
            .query_pairs_mut()
            .append_pair("client_id", CLIENT_ID)
            .append_pair("response_type", "code")
            .append_pair("scope", LOGIN_SCOPE)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("state", state.expose())
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(BrowserLogin {
            authorization_url,
            redirect_uri,
            state,
            code_verifier,
            listener,
        })
    }

    /// Waits for the browser's redirect to the listener, checks its `state`, exchanges the code
    /// and sends the browser on to `/app/local-login-success` (or `-error`).
    ///
    /// Requests for other paths get 404 and a wrong `state` is answered with the error page;
    /// both leave the listener waiting for the real redirect, so a stray local request cannot
    /// end the login. Cancel by dropping the future.
    #[tracing::instrument(skip_all)]
    pub async fn finish_browser_flow(&self, login: BrowserLogin) -> Result<OidcTokens, ApiError> {
        let success = self.api_url(LOGIN_SUCCESS_PATH);
        let failure = self.api_url(LOGIN_ERROR_PATH);
        loop {
            let (mut stream, _) =
                login
                    .listener
                    .accept()
                    .await
                    .map_err(|e| ApiError::Loopback {
                        addr: login.redirect_uri.clone(),
                        reason: e.to_string(),
                    })?;
            let read = tokio::time::timeout(
                Duration::from_secs(CALLBACK_READ_TIMEOUT_SECS),
                read_request_head(&mut stream),
            )
            .await;
            let Ok(Some(target)) = read else {
                continue;
            };
            let Ok(url) = Url::parse("http://127.0.0.1").and_then(|base| base.join(&target)) else {
                respond(&mut stream, "400 Bad Request", None).await;
                continue;
            };
            if url.path() != REDIRECT_PATH {
                respond(&mut stream, "404 Not Found", None).await;
                continue;
            }
            let params: HashMap<String, String> = url.query_pairs().into_owned().collect();
            let state_matches = params
                .get("state")
                .is_some_and(|s| constant_time_eq(s.as_bytes(), login.state.expose().as_bytes()));
            if !state_matches {
                tracing::warn!("refused a login redirect with a wrong state");
                respond(&mut stream, "303 See Other", Some(&failure)).await;
                continue;
            }
            if let Some(error) = params.get("error") {
                respond(&mut stream, "303 See Other", Some(&failure)).await;
                return Err(match error.as_str() {
                    "access_denied" => ApiError::AccessDenied,
                    other => ApiError::LoginRejected {
                        error: super::error::snippet(other.as_bytes()),
                        description: params
                            .get("error_description")
                            .map(|d| super::error::snippet(d.as_bytes())),
                    },
                });
            }
            let Some(code) = params.get("code").filter(|c| !c.is_empty()) else {
                respond(&mut stream, "303 See Other", Some(&failure)).await;
                return Err(ApiError::LoginRejected {
                    error: "no authorization code in the redirect".into(),
                    description: None,
                });
            };
            let code = Secret::new(code.clone());
            let result = self
                .exchange_code(&code, &login.redirect_uri, &login.code_verifier)
                .await;
            let target = if result.is_ok() { &success } else { &failure };
            respond(&mut stream, "303 See Other", Some(target)).await;
            return result;
        }
    }
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The request target of a `GET`, or `None` for anything else (other methods, garbage, too
/// long, closed early).
async fn read_request_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > MAX_CALLBACK_REQUEST_BYTES {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = std::str::from_utf8(&buf).ok()?;
    let mut parts = head.lines().next()?.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_owned()),
        _ => None,
    }
}

async fn respond(stream: &mut TcpStream, status: &str, location: Option<&Url>) {
    let location = location.map_or_else(String::new, |l| format!("Location: {l}\r\n"));
    let response = format!(
        "HTTP/1.1 {status}\r\n{location}Content-Length: 0\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    );
    // The browser may already be gone; the login's outcome does not depend on this answer.
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
