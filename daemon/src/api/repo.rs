//! Repo tokens: the current token of an organisation, the reissue, and validation against the
//! repository.

use jiff::Timestamp;
use jiff::civil::DateTime;
use reqwest::Method;
use serde::{Deserialize, Deserializer};
use serde_json::json;
use url::Url;

use super::client::{AnacondaClient, Body, Call, RetryMode};
use super::error::ApiError;
use crate::secret::Secret;

/// What the service tells about an organisation's current token (never its value).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RepoTokenInfo {
    pub id: String,
    #[serde(deserialize_with = "iso_timestamp")]
    pub expires_at: Timestamp,
}

/// A freshly issued repo token. Store it before anything else: the previous one is dead.
#[derive(Debug, Clone, Deserialize)]
pub struct IssuedRepoToken {
    pub token: Secret,
    #[serde(deserialize_with = "iso_timestamp")]
    pub expires_at: Timestamp,
}

/// The repository's verdict on a repo token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoTokenCheck {
    /// The repository served `repodata.json` with it (200).
    Accepted,
    /// The repository refused it (401 or 403).
    Rejected { status: u16 },
}

/// ISO-8601 with an offset, or without one meaning UTC (Python's `datetime` accepts both).
fn iso_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let text = String::deserialize(d)?;
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    text.parse::<DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| serde::de::Error::custom("expires_at is not an ISO-8601 time"))
}

impl AnacondaClient {
    fn current_token_url(&self, org: &str) -> Result<Url, ApiError> {
        if org.is_empty() || org.chars().any(char::is_control) {
            return Err(ApiError::Config {
                setting: "organization",
                value: super::error::snippet(org.as_bytes()),
                reason: "not an organization name; run `anacondactl token install` without --org to pick one".into(),
            });
        }
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .expect("an http(s) base URL has path segments")
            .clear()
            .extend(["api", "organizations", org, "ce", "current-token"]);
        Ok(url)
    }

    /// `GET /api/organizations/<org>/ce/current-token`; `Ok(None)` when the org has no token.
    #[tracing::instrument(skip_all, fields(org = org))]
    pub async fn current_repo_token(
        &self,
        api_key: &Secret,
        org: &str,
    ) -> Result<Option<RepoTokenInfo>, ApiError> {
        let reply = self
            .execute(&Call {
                method: Method::GET,
                url: self.current_token_url(org)?,
                bearer: Some(api_key),
                body: Body::Empty,
                retry: RetryMode::Safe,
                api_headers: true,
            })
            .await?;
        if reply.status.as_u16() == 404 {
            return Ok(None);
        }
        reply.check_api_status()?.json(false).map(Some)
    }

    /// `PUT /api/organizations/<org>/ce/current-token` `{"confirm":"yes"}`: issues a new token
    /// and revokes the previous one everywhere.
    ///
    /// Never retried once the request may have reached the service (timeouts, broken
    /// connections, 5xx other than 503): a second reissue would revoke the token the first one
    /// issued. Those come back as [`ApiError::OutcomeUnknown`]; the caller should treat the stored
    /// token as possibly revoked and offer a fresh reissue. Retried only when the connection was
    /// never made or the service answered 429/503. Any non-2xx status is an error (unlike
    /// anaconda-auth, which parses whatever comes back).
    #[tracing::instrument(skip_all, fields(org = org))]
    pub async fn reissue_repo_token(
        &self,
        api_key: &Secret,
        org: &str,
    ) -> Result<IssuedRepoToken, ApiError> {
        let reply = self
            .execute(&Call {
                method: Method::PUT,
                url: self.current_token_url(org)?,
                bearer: Some(api_key),
                body: Body::Json(json!({"confirm": "yes"})),
                retry: RetryMode::NotAfterSend,
                api_headers: true,
            })
            .await?
            .check_api_status()?;
        let issued: IssuedRepoToken = reply.json(true)?;
        if let Err(reason) = super::check_credential(issued.token.expose()) {
            return Err(reply.invalid(
                format!(
                    "the new token is unusable ({reason}), so it was not stored; the previous token may no longer work: run `anacondactl token install` again, and report it if it persists"
                ),
                false,
            ));
        }
        Ok(issued)
    }

    /// The URL that validates `token`: the repository URL with `/t/<token>` put in front of its
    /// path, as conda does (`https://host/repo/` ->
    /// `https://host/t/<token>/repo/main/noarch/repodata.json`).
    pub fn repo_token_validation_url(&self, token: &Secret) -> Url {
        let mut url = self.repo_url.clone();
        let base_segments: Vec<String> = self
            .repo_url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        url.path_segments_mut()
            .expect("an http(s) URL has path segments")
            .clear()
            .push("t")
            .push(token.expose())
            .extend(&base_segments)
            .extend(["main", "noarch", "repodata.json"]);
        url
    }

    /// `HEAD` of the default channel's `repodata.json` with the token in the path, through the
    /// same proxy and TLS settings as every other call.
    #[tracing::instrument(skip_all)]
    pub async fn validate_repo_token(&self, token: &Secret) -> Result<RepoTokenCheck, ApiError> {
        let reply = self
            .execute(&Call {
                method: Method::HEAD,
                url: self.repo_token_validation_url(token),
                bearer: None,
                body: Body::Empty,
                retry: RetryMode::Safe,
                api_headers: false,
            })
            .await?;
        match reply.status.as_u16() {
            200 => Ok(RepoTokenCheck::Accepted),
            status @ (401 | 403) => Ok(RepoTokenCheck::Rejected { status }),
            _ => Err(reply.invalid("expected 200, 401 or 403 from the repository", false)),
        }
    }
}
