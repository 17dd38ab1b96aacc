//! The authenticated package repository under `/repo/` and `/t/<token>/repo/`.

use axum::Json;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::Shared;
use super::state::{BearerCheck, ChannelStatus, Revocation, State};

/// The default channels every valid credential may read.
pub const DEFAULT_CHANNELS: [&str; 3] = ["main", "r", "msys2"];
/// Anaconda's early-access channel (`ana feature enable main-x`): like the default channels
/// it belongs to no organisation and every valid credential may read it; it holds the
/// package `main` holds.
pub const MAIN_X_CHANNEL: &str = "main-x";
/// The package `main` and org channels serve, built by tests/python/make_hello_package.py.
pub const PACKAGE_FILENAME: &str = "anacondad-hello-1.0.0-0.tar.bz2";
const PACKAGE_BYTES: &[u8] = include_bytes!("assets/anacondad-hello-1.0.0-0.tar.bz2");
/// The package only acme's `internal` channel holds (in the demo seed): no default channel
/// has it, so conda finds it only through that channel.
pub const ORG_ONLY_PACKAGE: &str = "acme-widgets";
const ORG_ONLY_BYTES: &[u8] = include_bytes!("assets/acme-widgets-1.0.0-0.tar.bz2");
/// Every package a channel can hold, by name: version 1.0.0, build 0, noarch.
pub const PACKAGES: [(&str, &[u8]); 2] = [
    ("anacondad-hello", PACKAGE_BYTES),
    (ORG_ONLY_PACKAGE, ORG_ONLY_BYTES),
];

fn package_filename(name: &str) -> String {
    format!("{name}-1.0.0-0.tar.bz2")
}

/// A 401/403 in the shape conda prints: `message` says what to do, `reason` what went wrong.
fn refusal(status: StatusCode, reason: &'static str, message: &str) -> Refusal {
    Refusal {
        status,
        reason,
        message: message.to_string(),
    }
}

/// A refusal kept small (unlike a built `Response`) so it travels in a `Result`.
struct Refusal {
    status: StatusCode,
    reason: &'static str,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"reason": self.reason, "message": self.message})),
        )
            .into_response()
    }
}

fn not_found(path: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"reason": "not_found", "message": format!("{path} does not exist in this repository")})),
    )
        .into_response()
}

/// What a request presented, in the order the repository looks.
enum Credential<'a> {
    RepoToken(&'a str),
    ApiKey(&'a str),
    None,
    Malformed,
}

fn credential<'a>(path_token: Option<&'a str>, headers: &'a HeaderMap) -> Credential<'a> {
    if let Some(token) = path_token {
        return Credential::RepoToken(token);
    }
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Credential::None;
    };
    let Some((scheme, value)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return Credential::Malformed;
    };
    if scheme.eq_ignore_ascii_case("token") {
        Credential::RepoToken(value.trim())
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Credential::ApiKey(value.trim())
    } else {
        Credential::Malformed
    }
}

/// Who may read: a repo token of one org, or a user's API key.
enum Reader {
    Org(String),
    User(String),
}

fn authenticate(state: &State, credential: Credential<'_>) -> Result<Reader, Refusal> {
    const LOGIN_HINT: &str = "run `anacondactl login` and `anacondactl token install` \
        (or `anaconda login` and `anaconda token install`) to get a working token";
    match credential {
        Credential::None => Err(refusal(
            StatusCode::UNAUTHORIZED,
            "missing_credentials",
            &format!("this repository needs a token: {LOGIN_HINT}"),
        )),
        Credential::Malformed => Err(refusal(
            StatusCode::UNAUTHORIZED,
            "malformed_credentials",
            "send `Authorization: token <repo token>`, `Authorization: Bearer <api key>` \
             or a /t/<token>/repo/ URL",
        )),
        Credential::RepoToken(token) => match state.repo_tokens.get(token) {
            None => Err(refusal(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                &format!("the repo token is not valid: {LOGIN_HINT}"),
            )),
            Some(record) if record.revocation == Revocation::Reissued => Err(refusal(
                StatusCode::UNAUTHORIZED,
                "token_revoked",
                &format!(
                    "the repo token of {:?} was revoked when a new one was issued: \
                     install the new token (`anacondactl token install --org {}`)",
                    record.org, record.org
                ),
            )),
            Some(record)
                if record.revocation == Revocation::ExpiredByControl
                    || record.expires_at <= Timestamp::now() =>
            {
                Err(refusal(
                    StatusCode::UNAUTHORIZED,
                    "token_expired",
                    &format!(
                        "the repo token of {:?} has expired: reissue it \
                         (`anacondactl token install --org {}`)",
                        record.org, record.org
                    ),
                ))
            }
            Some(record) => Ok(Reader::Org(record.org.clone())),
        },
        Credential::ApiKey(key) => match state.check_bearer(Some(key)) {
            BearerCheck::User(username) if state.api_keys.contains_key(key) => {
                if state.api_keys[key].scopes.iter().any(|s| s == "repo:read") {
                    Ok(Reader::User(username))
                } else {
                    Err(refusal(
                        StatusCode::FORBIDDEN,
                        "insufficient_scope",
                        "this API key may not read the repository: it lacks the \"repo:read\" scope",
                    ))
                }
            }
            BearerCheck::Expired => Err(refusal(
                StatusCode::UNAUTHORIZED,
                "api_key_expired",
                "the API key has expired: log in again (`anacondactl login`)",
            )),
            _ => Err(refusal(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "the API key is not valid: log in again (`anacondactl login`)",
            )),
        },
    }
}

fn may_read_org(state: &State, reader: &Reader, org: &str) -> bool {
    match reader {
        Reader::Org(token_org) => token_org == org,
        Reader::User(username) => {
            state.is_member(username, org) && state.has_business_subscription(org)
        }
    }
}

fn repodata(subdir: &str, held: &[String]) -> serde_json::Value {
    let mut packages = serde_json::Map::new();
    for (name, bytes) in PACKAGES
        .iter()
        .filter(|(name, _)| subdir == "noarch" && held.iter().any(|h| h == name))
    {
        packages.insert(
            package_filename(name),
            json!({
                "name": name,
                "version": "1.0.0",
                "build": "0",
                "build_number": 0,
                "depends": [],
                "license": "BSD-3-Clause",
                "noarch": "generic",
                "subdir": "noarch",
                "size": bytes.len(),
                "sha256": hex::encode(Sha256::digest(bytes)),
                "timestamp": 1_700_000_000_000_u64,
            }),
        );
    }
    json!({
        "info": {"subdir": subdir},
        "packages": packages,
        "packages.conda": {},
        "removed": [],
        "repodata_version": 1,
    })
}

/// Serves a file of a channel once the reader is allowed: `<subdir>/repodata.json` for any
/// subdir, and under `noarch/` the packages the channel holds.
fn serve_file(held: &[String], rest: &[&str], full_path: &str) -> Response {
    match rest {
        [subdir, "repodata.json"] => Json(repodata(subdir, held)).into_response(),
        ["noarch", file] => match PACKAGES
            .iter()
            .find(|(name, _)| held.iter().any(|h| h == name) && package_filename(name) == *file)
        {
            Some((_, bytes)) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/x-tar")],
                *bytes,
            )
                .into_response(),
            None => not_found(full_path),
        },
        _ => not_found(full_path),
    }
}

fn serve(shared: &Shared, path_token: Option<&str>, rest: &str, headers: &HeaderMap) -> Response {
    let state = shared.lock();
    let reader = match authenticate(&state, credential(path_token, headers)) {
        Ok(r) => r,
        Err(refused) => return refused.into_response(),
    };
    let full_path = format!("/repo/{rest}");
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [channel, tail @ ..]
            if DEFAULT_CHANNELS.contains(channel) || *channel == MAIN_X_CHANNEL =>
        {
            let held = if *channel == "main" || *channel == MAIN_X_CHANNEL {
                vec!["anacondad-hello".to_owned()]
            } else {
                Vec::new()
            };
            serve_file(&held, tail, &full_path)
        }
        [org, channel, tail @ ..] => {
            if state.organization(org).is_none() {
                return not_found(&full_path);
            }
            if let Some(seeded) = state.channel(org, channel) {
                return match seeded.status {
                    ChannelStatus::Removed => not_found(&full_path),
                    ChannelStatus::Revoked => refusal(
                        StatusCode::FORBIDDEN,
                        "access_revoked",
                        &format!(
                            "access to the channel {org}/{channel} was revoked: ask an owner of \
                             {org:?} for access, or remove it from conda's channels \
                             (`anacondactl channels remove --org {org} {channel}`)"
                        ),
                    )
                    .into_response(),
                    ChannelStatus::Live
                        if may_read_org(&state, &reader, org)
                            || matches!(&reader, Reader::User(u) if seeded.shared_with.contains(u)) =>
                    {
                        serve_file(&seeded.packages, tail, &full_path)
                    }
                    ChannelStatus::Live => refusal(
                        StatusCode::FORBIDDEN,
                        "wrong_organization",
                        &format!(
                            "this credential does not give access to the channel {org}/{channel}"
                        ),
                    )
                    .into_response(),
                };
            }
            if !may_read_org(&state, &reader, org) {
                return refusal(
                    StatusCode::FORBIDDEN,
                    "wrong_organization",
                    &format!(
                        "this credential does not give access to the channels of {org:?}: \
                         install a token for it (`anacondactl token install --org {org}`)"
                    ),
                )
                .into_response();
            }
            serve_file(&["anacondad-hello".to_owned()], tail, &full_path)
        }
        _ => not_found(&full_path),
    }
}

pub(crate) async fn by_header(
    AxumState(shared): AxumState<Shared>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&shared, None, &rest, &headers)
}

pub(crate) async fn by_path_token(
    AxumState(shared): AxumState<Shared>,
    Path((token, rest)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve(&shared, Some(&token), &rest, &headers)
}
