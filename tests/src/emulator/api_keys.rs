//! API keys as the service manages them: minted (`POST /api/auth/api-keys`, also
//! `/api/iam/api-keys`), listed (`GET`) and revoked (`DELETE /api/auth/api-keys/<id>`), and the
//! scopes every API call checks (`cloud:read` to read the account, `cloud:write` to reissue a
//! repo token or mint and revoke keys; the repository checks `repo:read`).
//!
//! anaconda-auth 0.15.3 only mints (at login, with an OIDC access token, all three scopes). What
//! the hosted service answers to a key minting a key, to a request for an expiry, and the
//! deletion call's path are not known here: this is the shape anacondad assumes (docs/ci.md).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::json;

use super::Shared;
use super::api::{ApiError, api_error, authenticate, bearer};
use super::state::{State, after, whole_seconds};

/// The user behind the request, when its credential may do `scope`: an OIDC access token may
/// do anything (it is what a login mints the first key with); an API key only what its
/// scopes say.
pub(crate) fn authorize(
    state: &State,
    headers: &HeaderMap,
    scope: &str,
) -> Result<String, ApiError> {
    let username = authenticate(state, headers)?;
    let Some(key) = bearer(headers).and_then(|b| state.api_keys.get(b)) else {
        return Ok(username);
    };
    if key.scopes.iter().any(|s| s == scope) {
        return Ok(username);
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        format!(
            "this API key may not do this: it needs the {scope:?} scope and has {:?}",
            key.scopes
        ),
    ))
}

pub(crate) async fn create_api_key(
    AxumState(shared): AxumState<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = shared.lock();
    let username = match authorize(&state, &headers, "cloud:write") {
        Ok(u) => u,
        Err(refusal) => return refusal.into_response(),
    };
    let request: serde_json::Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    &format!("body is not JSON ({e}): send {{\"scopes\": [...], \"tags\": [...]}}"),
                );
            }
        }
    };
    let strings = |key: &str| -> Vec<String> {
        request[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let scopes = strings("scopes");
    // A key mints keys of at most its own scopes and lifetime.
    let caller = bearer(&headers).and_then(|b| state.api_keys.get(b));
    if let Some(caller) = caller
        && let Some(extra) = scopes.iter().find(|s| !caller.scopes.contains(s))
    {
        return api_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            &format!("a key cannot mint a key with a scope it lacks ({extra:?})"),
        );
    }
    let longest = whole_seconds(after(Timestamp::now(), state.api_key_lifetime));
    let longest = caller.map_or(longest, |c| c.expires_at.min(longest));
    let asked = match request["expires_at"].as_str().map(str::parse::<Timestamp>) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("expires_at is not an RFC 3339 time: {e}"),
            );
        }
    };
    let expires_at = whole_seconds(asked.map_or(longest, |t| t.min(longest)));
    let key = state.mint_api_key(&username, expires_at, &scopes, &strings("tags"));
    let record = state.api_keys.get_mut(&key).expect("just minted");
    record.name = request["name"].as_str().map(str::to_owned);
    let id = record.id.clone();
    (
        StatusCode::CREATED,
        Json(json!({"api_key": key, "id": id, "expires_at": expires_at.to_string()})),
    )
        .into_response()
}

/// `GET /api/auth/api-keys`: the caller's keys that still work (never their values).
pub(crate) async fn list_api_keys(
    AxumState(shared): AxumState<Shared>,
    headers: HeaderMap,
) -> Response {
    let state = shared.lock();
    let username = match authorize(&state, &headers, "cloud:read") {
        Ok(u) => u,
        Err(refusal) => return refusal.into_response(),
    };
    let now = Timestamp::now();
    let keys: Vec<_> = state
        .api_keys
        .values()
        .filter(|k| k.username == username && k.expires_at > now)
        .map(|k| {
            json!({"id": k.id, "name": k.name, "scopes": k.scopes,
                   "expires_at": k.expires_at.to_string()})
        })
        .collect();
    Json(keys).into_response()
}

/// `DELETE /api/auth/api-keys/<id>`: the key stops working at once. 204; 404 for a key the
/// caller does not have (never had, or already revoked).
pub(crate) async fn delete_api_key(
    AxumState(shared): AxumState<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut state = shared.lock();
    let username = match authorize(&state, &headers, "cloud:write") {
        Ok(u) => u,
        Err(refusal) => return refusal.into_response(),
    };
    let before = state.api_keys.len();
    state
        .api_keys
        .retain(|_, k| !(k.id == id && k.username == username));
    if state.api_keys.len() == before {
        return api_error(
            StatusCode::NOT_FOUND,
            "api_key_not_found",
            &format!("no API key {id:?} of yours: it was revoked already, or never existed"),
        );
    }
    StatusCode::NO_CONTENT.into_response()
}
