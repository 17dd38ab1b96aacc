//! One-attempt requests for `doctor`: did a host answer at all (DNS, TLS, the connection), what
//! its `Date` says, and the repository's verdict on a token, without the retries and backoff
//! of the regular calls, so a service that is down costs one timeout, not four.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use reqwest::Method;
use reqwest::header::DATE;
use url::Url;

use super::client::AnacondaClient;
use super::error::{ApiError, mask_url};
use super::failure::{classify_fatal, transport_cause};
use super::repo::RepoTokenCheck;
use crate::secret::Secret;

/// A host's answer to one request.
#[derive(Debug, Clone)]
pub struct ProbeAnswer {
    pub status: u16,
    /// The answer's `Date` header, when it has a valid one.
    pub date: Option<Timestamp>,
    pub elapsed: Duration,
}

impl AnacondaClient {
    /// `GET` of the service's OIDC discovery document: a path every Anaconda site serves.
    pub fn service_probe_url(&self) -> Url {
        self.api_url(".well-known/openid-configuration")
    }

    /// One request to `url`, any HTTP status being an answer; a failure is the reason no answer
    /// came (DNS, TLS, refused, timeout), as the regular calls report it.
    pub async fn probe(&self, method: Method, url: Url) -> Result<ProbeAnswer, ApiError> {
        super::config::check_transport(&url)?;
        let masked = mask_url(&url);
        let started = Instant::now();
        let waiting = crate::activity::waiting_for(&format!("{method} {masked}"), 1, 1);
        let sent = self.http.request(method, url).send().await;
        drop(waiting);
        match sent {
            Ok(response) => Ok(ProbeAnswer {
                status: response.status().as_u16(),
                date: response
                    .headers()
                    .get(DATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_http_date),
                elapsed: started.elapsed(),
            }),
            Err(e) => Err(classify_fatal(&e, &masked).unwrap_or(ApiError::Transient {
                url: masked,
                cause: transport_cause(&e),
                attempts: 1,
            })),
        }
    }

    /// The repository's verdict on `token` from one `HEAD` of its repodata (see
    /// [`AnacondaClient::validate_repo_token`], which retries).
    pub async fn probe_repo_token(&self, token: &Secret) -> Result<RepoTokenCheck, ApiError> {
        let url = self.repo_token_validation_url(token);
        let masked = mask_url(&url);
        let answer = self.probe(Method::HEAD, url).await?;
        match answer.status {
            200 => Ok(RepoTokenCheck::Accepted),
            status @ (401 | 403) => Ok(RepoTokenCheck::Rejected { status }),
            status => Err(ApiError::InvalidResponse {
                status,
                url: masked,
                detail: "expected 200, 401 or 403 from the repository".into(),
                snippet: None,
            }),
        }
    }
}

/// An HTTP-date (`Wed, 02 Dec 2026 01:10:00 GMT`), the form RFC 9110 requires of `Date`.
fn parse_http_date(text: &str) -> Option<Timestamp> {
    jiff::fmt::rfc2822::parse(text.trim())
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_date_is_read_as_utc() {
        let ts = parse_http_date("Wed, 02 Dec 2026 01:10:00 GMT").unwrap();
        assert_eq!(ts.to_string(), "2026-12-02T01:10:00Z");
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
