//! Anaconda's wheels index as pip and uv meet it: a PEP 503 simple index under
//! `/repo/anaconda-wheels/` that takes HTTP basic auth `__token__:<API key>` (what `ana feature
//! enable wheels` configures) and serves one small wheel. Without a valid key it answers 401
//! with `WWW-Authenticate: Basic`, which is what makes pip and uv ask their keyring.
//!
//! A Package Security Manager's PyPI channels the same way, under `/api/repo/<channel>/`
//! (`simple/`, `files/`): its documented form takes the token as the username and the literal
//! password `x-auth-token` (`https://<token>:x-auth-token@<host>/api/repo/<channel>/simple`);
//! the token here is an API key the emulator issued.

use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::Shared;
use super::state::BearerCheck;

/// The index's project and its one wheel (built by tests/python/make_demo_wheel.py).
pub const PROJECT: &str = "anacondad-wheel-demo";
pub const WHEEL_FILENAME: &str = "anacondad_wheel_demo-1.0.0-py3-none-any.whl";
const WHEEL_BYTES: &[u8] = include_bytes!("assets/anacondad_wheel_demo-1.0.0-py3-none-any.whl");

/// The username the wheels index takes with an API key as the password.
const USERNAME: &str = "__token__";
/// The password a Package Security Manager's PyPI channel takes with the token as username.
const PSM_PASSWORD: &str = "x-auth-token";

/// How an index reads the basic-auth pair.
#[derive(Clone, Copy)]
enum Form {
    /// `__token__:<API key>`.
    Wheels,
    /// `<API key>:x-auth-token`.
    PackageSecurityManager,
}

fn unauthorized(message: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"anaconda-wheels\"")],
        message.to_owned(),
    )
        .into_response()
}

/// Whether the request carries a valid API key in the index's form; else why not.
fn authorized(shared: &Shared, headers: &HeaderMap, form: Form) -> Result<(), &'static str> {
    let Some(encoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return Err("this index needs __token__ and your API key");
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default();
    let key = match (form, decoded.split_once(':')) {
        (Form::Wheels, Some((USERNAME, key))) => key,
        (Form::Wheels, _) => return Err("the username must be __token__"),
        (Form::PackageSecurityManager, Some((token, PSM_PASSWORD))) => token,
        (Form::PackageSecurityManager, _) => {
            return Err("the username must be your token and the password x-auth-token");
        }
    };
    let state = shared.lock();
    match state.check_bearer(Some(key)) {
        BearerCheck::User(_) if state.api_keys.contains_key(key) => Ok(()),
        _ => Err("the API key is not valid (or has expired)"),
    }
}

fn html(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<!DOCTYPE html>\n<html><body>\n{body}</body></html>\n"),
    )
        .into_response()
}

/// `GET /repo/anaconda-wheels/{*rest}`: `simple/`, `simple/<project>/`, `files/<wheel>`.
pub(crate) async fn serve(
    AxumState(shared): AxumState<Shared>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(why) = authorized(&shared, &headers, Form::Wheels) {
        return unauthorized(why);
    }
    index(&rest)
}

/// `GET /api/repo/{channel}/{*rest}`: a Package Security Manager's PyPI channel, the same
/// index in its form of credential.
pub(crate) async fn serve_psm(
    AxumState(shared): AxumState<Shared>,
    Path((_channel, rest)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(why) = authorized(&shared, &headers, Form::PackageSecurityManager) {
        return unauthorized(why);
    }
    index(&rest)
}

/// The index's pages and its wheel, under an authorized prefix.
fn index(rest: &str) -> Response {
    let rest = rest.trim_end_matches('/');
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["simple"] => html(format!("<a href=\"{PROJECT}/\">{PROJECT}</a>\n")),
        ["simple", project] if *project == PROJECT || *project == "anacondad_wheel_demo" => {
            let sha = hex::encode(Sha256::digest(WHEEL_BYTES));
            html(format!(
                "<a href=\"../../files/{WHEEL_FILENAME}#sha256={sha}\">{WHEEL_FILENAME}</a>\n"
            ))
        }
        ["files", WHEEL_FILENAME] => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            WHEEL_BYTES,
        )
            .into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            format!("{rest} is not in this index"),
        )
            .into_response(),
    }
}
