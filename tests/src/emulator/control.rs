//! Test controls under `/_emulator/`, and the middleware that counts, logs and injects faults.
//!
//! All JSON over HTTP; control requests are never counted, logged or faulted.
//! - `POST /_emulator/faults` `{"path_prefix": "/api/account", "method": "GET" (optional),
//!   "count": 2 (default 1), "kind": "status", "status": 503}`; other kinds:
//!   `{"kind": "hang", "millis": 5000}` (then answers normally), `{"kind": "malformed"}` (200 with
//!   a body that is not JSON), `{"kind": "drop"}` (closes the connection unanswered),
//!   `{"kind": "body", "status": 201 (default 200), "body": {...}}` (answers that JSON). The prefix
//!   matches the raw path or its masked form (`/t/abcd****/repo/...`). `DELETE` clears them all.
//! - `GET /_emulator/counters[?prefix=/api/]` -> `{"total": n, "paths": {"<masked path>": n}}`.
//! - `GET /_emulator/log` -> `{"entries": [{"seq", "method", "path", "status", "fault",
//!   "authorization", "user_agent", "client_hostname"}]}`, secrets masked.
//! - `POST /_emulator/reset` clears counters and log (not accounts or tokens).
//! - `GET /_emulator/device` lists device codes; `POST /_emulator/device/{approve,deny,expire}`
//!   `{"user_code": "ABCD-EFGH", "username": "demo" (optional)}`.
//! - `POST /_emulator/expire` with exactly one of `repo_token`, `org` (its current token),
//!   `api_key`, `access_token`, `refresh_token`.
//! - `GET /_emulator/orgs/<org>/token` -> `{"token", "id", "expires_at"}` or 404;
//!   `POST` reissues it (revoking the old one) `{"lifetime_secs": 60}` (optional).
//! - `POST /_emulator/api-keys` `{"username", "lifetime_secs"}` (both optional) -> 201 `{"api_key", "expires_at"}`.
//! - `POST /_emulator/login` `{"username"}` (optional) -> `{"access_token", "refresh_token", "id_token"}`.
//! - `POST /_emulator/channels` with a seed channel (`{"org", "name", "privacy", "packages",
//!   "shared_with"}`) adds it; `POST /_emulator/channels/<org>/<name>/revoke` takes every
//!   reader's access away (the repository answers 403); `DELETE /_emulator/channels/<org>/<name>`
//!   removes it (404).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, Request, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::state::{DeviceStatus, Fault, FaultAction, Revocation, after, whole_seconds};
use super::{ConnectionKiller, Shared};

pub const CONTROL_PREFIX: &str = "/_emulator/";

fn control_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Counts and logs every service request, then applies the first matching fault, if any.
/// Control requests pass untouched so a test's own bookkeeping never shows in the counters.
pub(crate) async fn faults_and_counters(
    AxumState(shared): AxumState<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    if path.starts_with(CONTROL_PREFIX) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let (seq, fault) = shared.lock().record_request(
        request.method().as_str(),
        &path,
        header_str(headers, "authorization"),
        header_str(headers, "user-agent"),
        header_str(headers, "x-client-hostname"),
    );
    let response = match fault {
        None => next.run(request).await,
        Some(FaultAction::Hang { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            next.run(request).await
        }
        Some(FaultAction::Status { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            (
                status,
                Json(json!({"error": {"code": "injected_fault", "message": "fault injected by the emulator"}})),
            )
                .into_response()
        }
        Some(FaultAction::Malformed) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"this is\": not json",
        )
            .into_response(),
        Some(FaultAction::Body { status, body }) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            Json(body),
        )
            .into_response(),
        Some(FaultAction::Drop) => {
            if let Some(killer) = request.extensions().get::<ConnectionKiller>() {
                killer.0.cancel();
            }
            // The connection task drops this future along with the connection.
            return futures::future::pending().await;
        }
    };
    shared.lock().record_status(seq, response.status().as_u16());
    response
}

// No `deny_unknown_fields`: serde cannot combine it with the flattened action.
#[derive(Deserialize)]
pub(crate) struct FaultRequest {
    path_prefix: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default = "one")]
    count: u32,
    #[serde(flatten)]
    action: FaultAction,
}

fn one() -> u32 {
    1
}

pub(crate) async fn add_fault(
    AxumState(shared): AxumState<Shared>,
    Json(request): Json<FaultRequest>,
) -> Response {
    if !request.path_prefix.starts_with('/') {
        return control_error(StatusCode::BAD_REQUEST, "path_prefix must start with /");
    }
    shared.lock().faults.push(Fault {
        path_prefix: request.path_prefix,
        method: request.method,
        remaining: request.count,
        action: request.action,
    });
    Json(json!({"ok": true})).into_response()
}

pub(crate) async fn clear_faults(AxumState(shared): AxumState<Shared>) -> Response {
    shared.lock().faults.clear();
    Json(json!({"ok": true})).into_response()
}

#[derive(Deserialize)]
pub(crate) struct PrefixQuery {
    #[serde(default)]
    prefix: Option<String>,
}

pub(crate) async fn counters(
    AxumState(shared): AxumState<Shared>,
    Query(q): Query<PrefixQuery>,
) -> Response {
    let state = shared.lock();
    let prefix = q.prefix.unwrap_or_default();
    let paths: BTreeMap<&String, &u64> = state
        .counters
        .iter()
        .filter(|(path, _)| path.starts_with(&prefix))
        .collect();
    let total: u64 = paths.values().copied().sum();
    Json(json!({"total": total, "paths": paths})).into_response()
}

pub(crate) async fn request_log(AxumState(shared): AxumState<Shared>) -> Response {
    let state = shared.lock();
    Json(json!({"entries": state.log.iter().collect::<Vec<_>>()})).into_response()
}

pub(crate) async fn reset_counters(AxumState(shared): AxumState<Shared>) -> Response {
    let mut state = shared.lock();
    state.counters.clear();
    state.log.clear();
    Json(json!({"ok": true})).into_response()
}

pub(crate) async fn list_device_codes(AxumState(shared): AxumState<Shared>) -> Response {
    let state = shared.lock();
    let codes: Vec<_> = state
        .device_codes
        .values()
        .map(|d| {
            json!({
                "user_code": d.user_code,
                "status": d.status,
                "expires_at": d.expires_at.to_string(),
                "interval": d.interval_secs,
            })
        })
        .collect();
    Json(json!({"device_codes": codes})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeviceRequest {
    user_code: String,
    #[serde(default)]
    username: Option<String>,
}

#[derive(Clone, Copy)]
pub(crate) enum DeviceDecision {
    Approve,
    Deny,
    Expire,
}

pub(crate) async fn decide_device_code(
    shared: Shared,
    decision: DeviceDecision,
    request: DeviceRequest,
) -> Response {
    let mut state = shared.lock();
    let username = request.username.unwrap_or_else(|| state.login_user.clone());
    if state.user(&username).is_none() {
        return control_error(StatusCode::BAD_REQUEST, &format!("no user {username:?}"));
    }
    let Some(record) = state.device_by_user_code(&request.user_code) else {
        return control_error(
            StatusCode::NOT_FOUND,
            &format!(
                "no pending device code {:?}: list them with GET /_emulator/device",
                request.user_code
            ),
        );
    };
    match decision {
        DeviceDecision::Approve => {
            record.status = DeviceStatus::Approved;
            record.username = Some(username);
        }
        DeviceDecision::Deny => record.status = DeviceStatus::Denied,
        DeviceDecision::Expire => record.expires_at = Timestamp::now(),
    }
    Json(json!({"ok": true})).into_response()
}

pub(crate) async fn approve_device(
    AxumState(shared): AxumState<Shared>,
    Json(request): Json<DeviceRequest>,
) -> Response {
    decide_device_code(shared, DeviceDecision::Approve, request).await
}

pub(crate) async fn deny_device(
    AxumState(shared): AxumState<Shared>,
    Json(request): Json<DeviceRequest>,
) -> Response {
    decide_device_code(shared, DeviceDecision::Deny, request).await
}

pub(crate) async fn expire_device(
    AxumState(shared): AxumState<Shared>,
    Json(request): Json<DeviceRequest>,
) -> Response {
    decide_device_code(shared, DeviceDecision::Expire, request).await
}

/// Which credential to expire: exactly one field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpireRequest {
    #[serde(default)]
    repo_token: Option<String>,
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

pub(crate) async fn expire_credential(
    AxumState(shared): AxumState<Shared>,
    Json(request): Json<ExpireRequest>,
) -> Response {
    let mut state = shared.lock();
    let now = Timestamp::now();
    let found = match request {
        ExpireRequest {
            repo_token: Some(token),
            org: None,
            api_key: None,
            access_token: None,
            refresh_token: None,
        } => state.repo_tokens.get_mut(&token).map(|r| {
            r.revocation = Revocation::ExpiredByControl;
            r.expires_at = now;
        }),
        ExpireRequest {
            org: Some(org),
            repo_token: None,
            api_key: None,
            access_token: None,
            refresh_token: None,
        } => {
            let current = state.current_tokens.get(&org).cloned();
            current
                .and_then(|t| state.repo_tokens.get_mut(&t))
                .map(|r| {
                    r.revocation = Revocation::ExpiredByControl;
                    r.expires_at = now;
                })
        }
        ExpireRequest {
            api_key: Some(key),
            repo_token: None,
            org: None,
            access_token: None,
            refresh_token: None,
        } => state.api_keys.get_mut(&key).map(|k| k.expires_at = now),
        ExpireRequest {
            access_token: Some(token),
            repo_token: None,
            org: None,
            api_key: None,
            refresh_token: None,
        } => state
            .access_tokens
            .get_mut(&token)
            .map(|t| t.expires_at = now),
        ExpireRequest {
            refresh_token: Some(token),
            repo_token: None,
            org: None,
            api_key: None,
            access_token: None,
        } => state.refresh_tokens.remove(&token).map(|_| ()),
        _ => {
            return control_error(
                StatusCode::BAD_REQUEST,
                "name exactly one of repo_token, org, api_key, access_token, refresh_token",
            );
        }
    };
    match found {
        Some(()) => Json(json!({"ok": true})).into_response(),
        None => control_error(StatusCode::NOT_FOUND, "no such credential"),
    }
}

pub(crate) async fn org_token(
    AxumState(shared): AxumState<Shared>,
    Path(org): Path<String>,
) -> Response {
    let state = shared.lock();
    if state.organization(&org).is_none() {
        return control_error(StatusCode::NOT_FOUND, &format!("no organization {org:?}"));
    }
    match state.current_repo_token(&org) {
        Some((token, record)) => Json(json!({
            "token": token,
            "id": record.id,
            "expires_at": record.expires_at.to_string(),
        }))
        .into_response(),
        None => control_error(
            StatusCode::NOT_FOUND,
            &format!("organization {org:?} has no current token"),
        ),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct IssueRequest {
    #[serde(default)]
    lifetime_secs: Option<u64>,
    #[serde(default)]
    username: Option<String>,
}

pub(crate) async fn issue_org_token(
    AxumState(shared): AxumState<Shared>,
    Path(org): Path<String>,
    body: Option<Json<IssueRequest>>,
) -> Response {
    let request = body.map(|Json(r)| r).unwrap_or_default();
    let mut state = shared.lock();
    if state.organization(&org).is_none() {
        return control_error(StatusCode::NOT_FOUND, &format!("no organization {org:?}"));
    }
    let issued = state.reissue_repo_token(&org, request.lifetime_secs.map(Duration::from_secs));
    Json(json!({
        "token": issued.token,
        "id": issued.id,
        "expires_at": issued.expires_at.to_string(),
    }))
    .into_response()
}

pub(crate) async fn mint_api_key(
    AxumState(shared): AxumState<Shared>,
    body: Option<Json<IssueRequest>>,
) -> Response {
    let request = body.map(|Json(r)| r).unwrap_or_default();
    let mut state = shared.lock();
    let username = request.username.unwrap_or_else(|| state.login_user.clone());
    if state.user(&username).is_none() {
        return control_error(StatusCode::BAD_REQUEST, &format!("no user {username:?}"));
    }
    let lifetime = request
        .lifetime_secs
        .map_or(state.api_key_lifetime, Duration::from_secs);
    let expires_at = whole_seconds(after(Timestamp::now(), lifetime));
    let key = state.mint_api_key(&username, expires_at, &[], &[]);
    (
        StatusCode::CREATED,
        Json(json!({"api_key": key, "expires_at": expires_at.to_string()})),
    )
        .into_response()
}

/// OIDC tokens as if the user had just logged in, for tests of the refresh path.
pub(crate) async fn direct_login(
    AxumState(shared): AxumState<Shared>,
    body: Option<Json<IssueRequest>>,
) -> Response {
    let request = body.map(|Json(r)| r).unwrap_or_default();
    let mut state = shared.lock();
    let username = request.username.unwrap_or_else(|| state.login_user.clone());
    if state.user(&username).is_none() {
        return control_error(StatusCode::BAD_REQUEST, &format!("no user {username:?}"));
    }
    let tokens = state.issue_oidc_tokens(&username, "openid email profile offline_access");
    Json(json!({
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "id_token": tokens.id_token,
    }))
    .into_response()
}

/// `POST /_emulator/channels` with a seed channel's JSON: the channel exists from now on.
pub(crate) async fn add_channel(
    AxumState(shared): AxumState<Shared>,
    Json(seed): Json<super::seed::SeedChannel>,
) -> Response {
    let mut state = shared.lock();
    if state.organization(&seed.org).is_none() {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no organization {:?}", seed.org)})),
        )
            .into_response();
    }
    if state.channel(&seed.org, &seed.name).is_some() {
        return (
            StatusCode::CONFLICT,
            Json(json!({"error": format!("{}/{} exists", seed.org, seed.name)})),
        )
            .into_response();
    }
    state.channels.push(super::state::Channel::from_seed(&seed));
    Json(json!({"ok": true})).into_response()
}

/// `POST /_emulator/channels/<org>/<name>/revoke`: nobody may read it any more (403).
pub(crate) async fn revoke_channel(
    AxumState(shared): AxumState<Shared>,
    Path((org, name)): Path<(String, String)>,
) -> Response {
    set_channel_status(&shared, &org, &name, super::state::ChannelStatus::Revoked)
}

/// `DELETE /_emulator/channels/<org>/<name>`: the channel is gone (404).
pub(crate) async fn remove_channel(
    AxumState(shared): AxumState<Shared>,
    Path((org, name)): Path<(String, String)>,
) -> Response {
    set_channel_status(&shared, &org, &name, super::state::ChannelStatus::Removed)
}

fn set_channel_status(
    shared: &Shared,
    org: &str,
    name: &str,
    status: super::state::ChannelStatus,
) -> Response {
    let mut state = shared.lock();
    match state
        .channels
        .iter_mut()
        .find(|c| c.org == org && c.name == name)
    {
        Some(channel) => {
            channel.status = status;
            Json(json!({"ok": true})).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no channel {org}/{name}")})),
        )
            .into_response(),
    }
}
