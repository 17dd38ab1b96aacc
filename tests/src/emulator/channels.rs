//! Organisation channels as anaconda-client's repository client reads them: the user's
//! organisations (`GET /api/auth/organizations/my`), the channels the user owns or that were
//! shared with them (`GET /api/repo/account/channels`), and one namespace's channels
//! (`GET /api/repo/channels/<ns>/subchannels`), each paged with `offset`, `limit` and
//! `total_count`. Errors come as `{"error": {"code", "message"}}`, 401 for a missing or bad API
//! key and 403 for a namespace the user may not read: the client tells the two apart.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Shared;
use super::api::{ApiError, api_error, authenticate};
use super::state::{Channel, ChannelStatus, State};

/// The service's largest page; a bigger `limit` is cut to it.
pub const MAX_PAGE: usize = 100;
/// `limit` when absent: `list_my_channels` asks 100, `get_channels` 50.
const ACCOUNT_DEFAULT_PAGE: usize = 100;
const SUBCHANNELS_DEFAULT_PAGE: usize = 50;

/// `offset` and `limit` from the query, or the 422 a bad one gets.
fn page(query: &HashMap<String, String>, default_limit: usize) -> Result<(usize, usize), ApiError> {
    let number = |key: &str, default: usize| match query.get(key) {
        None => Ok(default),
        Some(text) => text.parse::<usize>().map_err(|_| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                format!("`{key}` must be a whole number, not {text:?}"),
            )
        }),
    };
    let offset = number("offset", 0)?;
    let limit = number("limit", default_limit)?.min(MAX_PAGE);
    Ok((offset, limit))
}

fn paged(items: Vec<Value>, offset: usize, limit: usize) -> Response {
    let total = items.len();
    let items: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    Json(json!({"items": items, "total_count": total})).into_response()
}

/// A namespace (the org itself) as a list item: `parent` is null.
fn namespace_item(state: &State, org: &str) -> Value {
    let count = state
        .channels
        .iter()
        .filter(|c| c.org == org && c.status == ChannelStatus::Live)
        .count();
    json!({
        "name": org, "parent": null, "path": org, "privacy": "private", "description": "",
        "artifact_count": 0, "download_count": 0, "subchannel_count": count,
    })
}

fn channel_item(channel: &Channel) -> Value {
    json!({
        "name": channel.name,
        "parent": channel.org,
        "path": format!("{}/{}", channel.org, channel.name),
        "privacy": channel.privacy,
        "description": channel.description,
        "artifact_count": channel.packages.len(),
        "download_count": 0,
    })
}

/// Whether `username` reads `channel` through membership of its org or a share.
fn reads(state: &State, username: &str, channel: &Channel) -> bool {
    channel.status == ChannelStatus::Live
        && (state.is_member(username, &channel.org)
            || channel.shared_with.iter().any(|u| u == username))
}

pub(crate) async fn my_organizations(
    AxumState(shared): AxumState<Shared>,
    headers: HeaderMap,
) -> Response {
    let state = shared.lock();
    let username = match authenticate(&state, &headers) {
        Ok(u) => u,
        Err(refusal) => return refusal.into_response(),
    };
    let orgs: Vec<Value> = state
        .organizations
        .iter()
        .filter(|o| o.members.contains(&username))
        .map(|o| json!({"id": o.id, "name": o.name, "title": o.title}))
        .collect();
    Json(orgs).into_response()
}

pub(crate) async fn account_channels(
    AxumState(shared): AxumState<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = shared.lock();
    let username = match authenticate(&state, &headers) {
        Ok(u) => u,
        Err(refusal) => return refusal.into_response(),
    };
    let (offset, limit) = match page(&query, ACCOUNT_DEFAULT_PAGE) {
        Ok(p) => p,
        Err(refusal) => return refusal.into_response(),
    };
    let with_subchannels = query
        .get("include_subchannels")
        .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
    let mut items = Vec::new();
    for org in state
        .organizations
        .iter()
        .filter(|o| o.members.contains(&username))
    {
        items.push(namespace_item(&state, &org.name));
        if with_subchannels {
            items.extend(
                state
                    .channels
                    .iter()
                    .filter(|c| c.org == org.name && c.status == ChannelStatus::Live)
                    .map(channel_item),
            );
        }
    }
    if with_subchannels {
        items.extend(
            state
                .channels
                .iter()
                .filter(|c| !state.is_member(&username, &c.org) && reads(&state, &username, c))
                .map(channel_item),
        );
    }
    paged(items, offset, limit)
}

pub(crate) async fn namespace_channels(
    AxumState(shared): AxumState<Shared>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = shared.lock();
    let username = match authenticate(&state, &headers) {
        Ok(u) => u,
        Err(refusal) => return refusal.into_response(),
    };
    let (offset, limit) = match page(&query, SUBCHANNELS_DEFAULT_PAGE) {
        Ok(p) => p,
        Err(refusal) => return refusal.into_response(),
    };
    if state.organization(&namespace).is_none() {
        return api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("there is no namespace {namespace:?}"),
        );
    }
    let items: Vec<Value> = state
        .channels
        .iter()
        .filter(|c| c.org == namespace && reads(&state, &username, c))
        .map(channel_item)
        .collect();
    if items.is_empty() && !state.is_member(&username, &namespace) {
        return api_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("you do not have access to the namespace {namespace:?}"),
        );
    }
    paged(items, offset, limit)
}
