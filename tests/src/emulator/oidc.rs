//! OpenID Connect: discovery, the device flow (RFC 8628), the browser flow with PKCE, and the
//! token endpoint with its three grants.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State as AxumState};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::Shared;
use super::state::{DeviceStatus, IssuedTokens};

/// The public client id every Anaconda client sends.
pub const CLIENT_ID: &str = "b4ad7f1d-c784-46b5-a9fe-106e50441f5a";
pub const AUTHORIZATION_PATH: &str = "/api/auth/oauth2/auth";
pub const TOKEN_PATH: &str = "/api/auth/oauth2/token";
pub const DEVICE_AUTHORIZATION_PATH: &str = "/api/auth/oauth2/device/auth";
pub const VERIFICATION_PATH: &str = "/app/device";
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 section 3.5: each `slow_down` adds five seconds to the interval.
const SLOW_DOWN_STEP_SECS: i64 = 5;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

pub(crate) async fn discovery(AxumState(shared): AxumState<Shared>) -> Response {
    let base = shared.lock().base_url.clone();
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}{AUTHORIZATION_PATH}"),
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "device_authorization_endpoint": format!("{base}{DEVICE_AUTHORIZATION_PATH}"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_CODE_GRANT],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile", "offline_access"],
        "token_endpoint_auth_methods_supported": ["none"],
    }))
    .into_response()
}

pub(crate) async fn device_authorization(
    AxumState(shared): AxumState<Shared>,
    body: Bytes,
) -> Response {
    let params = form(&body);
    if params.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "client_id is missing or unknown: send the public Anaconda client id",
        );
    }
    let scope = params.get("scope").cloned().unwrap_or_default();
    let mut state = shared.lock();
    let base = state.base_url.clone();
    let expires_in = state.device_expires_in_secs;
    let (device_code, record) = state.start_device_flow(&scope);
    let user_code = record.user_code.clone();
    let interval = record.interval_secs;
    Json(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": format!("{base}{VERIFICATION_PATH}"),
        "verification_uri_complete": format!("{base}{VERIFICATION_PATH}?user_code={user_code}"),
        "expires_in": expires_in,
        "interval": interval,
    }))
    .into_response()
}

/// The page a user would open: here it only says how a test approves the code.
pub(crate) async fn verification_page(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let code = q.get("user_code").map(String::as_str).unwrap_or("");
    Html(format!(
        "<html><body><p>Anaconda emulator: device code {code}.</p>\
         <p>Approve it with POST /_emulator/device/approve {{\"user_code\": \"{code}\"}}.</p>\
         </body></html>"
    ))
}

pub(crate) async fn login_result_page() -> Html<&'static str> {
    Html("<html><body><p>Anaconda emulator: you can close this window.</p></body></html>")
}

fn is_loopback_redirect(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "http"
            && match u.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            }
    })
}

/// The browser flow's authorization endpoint: the login is approved at once and the browser is
/// sent back to the client's loopback listener.
pub(crate) async fn authorize(
    AxumState(shared): AxumState<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let redirect_uri = get("redirect_uri");
    if !is_loopback_redirect(redirect_uri) {
        return (
            StatusCode::BAD_REQUEST,
            Html(format!(
                "<p>redirect_uri {redirect_uri:?} is not an http:// loopback address; \
                 use http://127.0.0.1:&lt;port&gt;/auth/oidc</p>"
            )),
        )
            .into_response();
    }
    let mut target = url::Url::parse(redirect_uri).expect("checked above");
    let problem = if get("client_id") != CLIENT_ID {
        Some(("unauthorized_client", "unknown client_id"))
    } else if get("response_type") != "code" {
        Some(("unsupported_response_type", "response_type must be code"))
    } else if get("code_challenge").is_empty() || get("code_challenge_method") != "S256" {
        Some((
            "invalid_request",
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        ))
    } else {
        None
    };
    {
        let mut pairs = target.query_pairs_mut();
        match problem {
            Some((error, description)) => {
                pairs.append_pair("error", error);
                pairs.append_pair("error_description", description);
            }
            None => {
                let code =
                    shared
                        .lock()
                        .new_auth_code(redirect_uri, get("code_challenge"), get("scope"));
                pairs.append_pair("code", &code);
                pairs.append_pair("scope", get("scope"));
            }
        }
        pairs.append_pair("state", get("state"));
    }
    (
        StatusCode::FOUND,
        [(header::LOCATION, target.to_string())],
        "",
    )
        .into_response()
}

fn token_response(tokens: IssuedTokens) -> Response {
    let mut body = json!({
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": tokens.scope,
        "id_token": tokens.id_token,
    });
    if let Some(refresh) = tokens.refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response()
}

pub(crate) async fn token(AxumState(shared): AxumState<Shared>, body: Bytes) -> Response {
    let params = form(&body);
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != CLIENT_ID {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "client_id is missing or unknown: send the public Anaconda client id",
        );
    }
    match get("grant_type") {
        DEVICE_CODE_GRANT => device_code_grant(&shared, get("device_code")),
        "authorization_code" => authorization_code_grant(
            &shared,
            get("code"),
            get("redirect_uri"),
            get("code_verifier"),
        ),
        "refresh_token" => refresh_token_grant(&shared, get("refresh_token")),
        other => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!(
                "grant_type {other:?} is not supported: use authorization_code, refresh_token \
                 or {DEVICE_CODE_GRANT}"
            ),
        ),
    }
}

fn device_code_grant(shared: &Shared, device_code: &str) -> Response {
    let now = Timestamp::now();
    let mut state = shared.lock();
    let Some(record) = state.device_codes.get_mut(device_code) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or already used device_code: start the login again",
        );
    };
    if record.expires_at <= now {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "expired_token",
            "the device code expired before it was approved: start the login again",
        );
    }
    let too_soon = record.last_poll.is_some_and(|last| {
        now.duration_since(last) < SignedDuration::from_secs(record.interval_secs)
    });
    record.last_poll = Some(now);
    if too_soon {
        record.interval_secs += SLOW_DOWN_STEP_SECS;
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "slow_down",
            &format!(
                "polled too fast: wait {} seconds between polls",
                record.interval_secs
            ),
        );
    }
    match record.status {
        DeviceStatus::Pending => oauth_error(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            "the user has not approved the code yet",
        ),
        DeviceStatus::Denied => oauth_error(
            StatusCode::BAD_REQUEST,
            "access_denied",
            "the user denied the login",
        ),
        DeviceStatus::Approved => {
            let username = record.username.clone().unwrap_or_default();
            let scope = record.scope.clone();
            state.device_codes.remove(device_code);
            token_response(state.issue_oidc_tokens(&username, &scope))
        }
    }
}

fn authorization_code_grant(
    shared: &Shared,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
) -> Response {
    let mut state = shared.lock();
    // A code is single-use whatever the outcome, as in OAuth 2.1.
    let Some(record) = state.auth_codes.remove(code) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or already used authorization code: log in again",
        );
    };
    if record.expires_at <= Timestamp::now() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the authorization code expired: log in again",
        );
    }
    if record.redirect_uri != redirect_uri {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri differs from the one sent to the authorization endpoint",
        );
    }
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()));
    if code_verifier.is_empty() || challenge != record.code_challenge {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code_verifier does not match the code_challenge (PKCE S256)",
        );
    }
    token_response(state.issue_oidc_tokens(&record.username, &record.scope))
}

fn refresh_token_grant(shared: &Shared, refresh_token: &str) -> Response {
    let mut state = shared.lock();
    // Rotation: the presented refresh token is spent now, whatever happens next.
    let Some(username) = state.refresh_tokens.remove(refresh_token) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "refresh token is unknown, expired or already used: log in again",
        );
    };
    token_response(state.issue_oidc_tokens(&username, "openid offline_access"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_loopback_redirects_are_accepted() {
        assert!(is_loopback_redirect("http://127.0.0.1:8000/auth/oidc"));
        assert!(is_loopback_redirect("http://localhost:1/x"));
        assert!(!is_loopback_redirect("https://127.0.0.1:8000/auth/oidc"));
        assert!(!is_loopback_redirect("http://example.com/auth/oidc"));
    }
}
