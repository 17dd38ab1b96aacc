//! Scoped, short-lived API keys minted with the account's key, and their revocation.
//!
//! anaconda-auth 0.15.3 mints only at login (`POST /api/auth/api-keys` with an OIDC access
//! token). Minting with an API key as the bearer, the `name` and `expires_at` fields, the `id`
//! of the answer and `DELETE /api/auth/api-keys/<id>` are the shape we assume of the hosted
//! service (the emulator serves it; docs/ci.md says it is unverified).

use jiff::Timestamp;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::{Body, Call, RetryMode};
use super::{AnacondaClient, ApiError, jwt};
use crate::secret::Secret;

const API_KEYS_PATH: &str = "/api/auth/api-keys";

/// A key the service just minted. Its value is shown once and never stored by the daemon.
#[derive(Debug)]
pub struct MintedApiKey {
    pub key: Secret,
    /// The service's id of the key (the answer's `id`, else the JWT's `jti`).
    pub id: String,
    pub expires_at: Timestamp,
}

#[derive(Deserialize)]
struct MintBody {
    api_key: Secret,
    #[serde(default)]
    id: Option<String>,
}

impl AnacondaClient {
    /// Mints a key of `scopes` that expires at `expires_at`, with `api_key` (which must have
    /// the `cloud:write` scope) as the bearer. Not retried after it was sent: a lost answer
    /// would leave a key we cannot name for revocation.
    #[tracing::instrument(skip_all)]
    pub async fn mint_scoped_api_key(
        &self,
        api_key: &Secret,
        scopes: &[String],
        name: &str,
        expires_at: Timestamp,
    ) -> Result<MintedApiKey, ApiError> {
        let body = json!({
            "scopes": scopes,
            "tags": [format!("{}/v{}", self.client_name, self.client_version)],
            "name": name,
            "expires_at": expires_at.to_string(),
        });
        let reply = self
            .execute(&Call {
                method: Method::POST,
                url: self.api_url(API_KEYS_PATH),
                bearer: Some(api_key),
                body: Body::Json(body),
                retry: RetryMode::NotAfterSend,
                api_headers: true,
            })
            .await?
            .check_api_status()?;
        if reply.status.as_u16() != 201 {
            return Err(reply.invalid("expected 201 Created with a new API key", false));
        }
        let parsed: MintBody = reply.json(true)?;
        let expires_at = jwt::jwt_expiry(&parsed.api_key)
            .map_err(|e| reply.invalid(format!("the new key is unusable: {e}"), false))?;
        let id = parsed
            .id
            .filter(|id| !id.is_empty())
            .or_else(|| jwt::jwt_id(&parsed.api_key))
            .ok_or_else(|| reply.invalid("the new key has no id to revoke it by", false))?;
        Ok(MintedApiKey {
            key: parsed.api_key,
            id,
            expires_at,
        })
    }

    /// Revokes the key `id` (`DELETE /api/auth/api-keys/<id>`). `Ok(false)`: the service has
    /// no such key (already revoked, or expired and forgotten).
    #[tracing::instrument(skip_all)]
    pub async fn revoke_api_key(&self, api_key: &Secret, id: &str) -> Result<bool, ApiError> {
        let path = format!("{API_KEYS_PATH}/{}", urlencoding_path(id));
        let reply = self
            .execute(&Call {
                method: Method::DELETE,
                url: self.api_url(&path),
                bearer: Some(api_key),
                body: Body::Empty,
                retry: RetryMode::Safe,
                api_headers: true,
            })
            .await?;
        match reply.check_api_status() {
            Ok(_) => Ok(true),
            Err(ApiError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// `id` as one path segment: anything but `[A-Za-z0-9-_.]` is percent-encoded.
fn urlencoding_path(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
