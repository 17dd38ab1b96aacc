//! The account API: API keys, the account, organisations and each organisation's repo token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Shared;
use super::api_keys::authorize;
use super::state::{BearerCheck, State};

pub(crate) fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    ApiError {
        status,
        code: code.to_string(),
        message: message.to_string(),
    }
    .into_response()
}

/// An API refusal in the service's shape, `{"error": {"code", "message"}}`; small, unlike a
/// built `Response`, so it travels in a `Result`.
pub(crate) struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credential.trim())
}

/// The user behind the request's bearer credential, or the `auth_required` answer clients key on.
pub(crate) fn authenticate(state: &State, headers: &HeaderMap) -> Result<String, ApiError> {
    let message = match state.check_bearer(bearer(headers)) {
        BearerCheck::User(username) => return Ok(username),
        BearerCheck::Missing => {
            "this endpoint needs `Authorization: Bearer <api key>`: log in first"
        }
        BearerCheck::Unknown => "the API key is not valid: log in again",
        BearerCheck::Expired => "the API key has expired: log in again",
    };
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "auth_required",
        message,
    ))
}

pub(crate) async fn account(AxumState(shared): AxumState<Shared>, headers: HeaderMap) -> Response {
    let state = shared.lock();
    let username = match authorize(&state, &headers, "cloud:read") {
        Ok(u) => u,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(user) = state.user(&username) else {
        return api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "the account no longer exists",
        );
    };
    let subscriptions: Vec<_> = state
        .subscriptions_of(&username)
        .into_iter()
        .map(|(org_id, product_code)| json!({"org_id": org_id, "product_code": product_code}))
        .collect();
    Json(json!({
        "user": {
            "id": user.id,
            "email": user.email,
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
        },
        "profile": {"is_confirmed": true, "is_disabled": false, "is_consented": true},
        "subscriptions": subscriptions,
    }))
    .into_response()
}

/// `GET /api/auth/sessions/whoami`: who the bearer is, in the shape `ana` reads (`passport`).
pub(crate) async fn whoami(AxumState(shared): AxumState<Shared>, headers: HeaderMap) -> Response {
    let state = shared.lock();
    let username = match authenticate(&state, &headers) {
        Ok(u) => u,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(user) = state.user(&username) else {
        return api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "the account no longer exists",
        );
    };
    Json(json!({
        "passport": {
            "user_id": user.id,
            "profile": {"email": user.email, "username": user.username},
        },
    }))
    .into_response()
}

pub(crate) async fn my_organizations(
    AxumState(shared): AxumState<Shared>,
    headers: HeaderMap,
) -> Response {
    let state = shared.lock();
    let username = match authorize(&state, &headers, "cloud:read") {
        Ok(u) => u,
        Err(refusal) => return refusal.into_response(),
    };
    let orgs: Vec<_> = state
        .organizations
        .iter()
        .filter(|o| o.members.contains(&username))
        .map(|o| json!({"id": o.id, "name": o.name, "title": o.title}))
        .collect();
    Json(orgs).into_response()
}

/// Checks the caller may manage `org`'s token; returns the refusal otherwise.
fn org_access(state: &State, headers: &HeaderMap, org: &str, scope: &str) -> Result<(), ApiError> {
    let username = authorize(state, headers, scope)?;
    if state.organization(org).is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "organization_not_found",
            format!("no organization named {org:?}: list yours with GET /api/organizations/my"),
        ));
    }
    if !state.is_member(&username, org) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("user {username:?} is not a member of organization {org:?}"),
        ));
    }
    Ok(())
}

pub(crate) async fn get_current_token(
    AxumState(shared): AxumState<Shared>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let state = shared.lock();
    if let Err(refusal) = org_access(&state, &headers, &org, "cloud:read") {
        return refusal.into_response();
    }
    match state.current_repo_token(&org) {
        Some((_, record)) => Json(json!({
            "id": record.id,
            "expires_at": record.expires_at.to_string(),
        }))
        .into_response(),
        None => api_error(
            StatusCode::NOT_FOUND,
            "token_not_found",
            &format!("organization {org:?} has no current token: issue one with PUT"),
        ),
    }
}

pub(crate) async fn put_current_token(
    AxumState(shared): AxumState<Shared>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = shared.lock();
    if let Err(refusal) = org_access(&state, &headers, &org, "cloud:write") {
        return refusal.into_response();
    }
    let confirmed =
        serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v["confirm"] == "yes");
    if !confirmed {
        return api_error(
            StatusCode::BAD_REQUEST,
            "confirmation_required",
            "reissuing revokes the current token: send {\"confirm\": \"yes\"}",
        );
    }
    if !state.has_business_subscription(&org) {
        return api_error(
            StatusCode::FORBIDDEN,
            "subscription_required",
            &format!("organization {org:?} has no subscription that includes repository access"),
        );
    }
    let issued = state.reissue_repo_token(&org, None);
    Json(json!({
        "token": issued.token,
        "id": issued.id,
        "expires_at": issued.expires_at.to_string(),
    }))
    .into_response()
}
