//! How a failed request is classified: transport causes, failures no retry can fix (TLS,
//! refused redirects, unbuildable requests), and the error chain as one line.

use std::error::Error as StdError;
use std::fmt;

use super::error::{ApiError, TransientCause};

pub(super) const MAX_REDIRECTS: usize = 5;

/// Refusal of a redirect to plain http on a non-loopback host; carries the masked target.
#[derive(Debug)]
pub(super) struct InsecureRedirect(pub(super) String);

impl fmt::Display for InsecureRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redirect to plain http refused")
    }
}

impl StdError for InsecureRedirect {}

pub(super) fn transport_cause(e: &reqwest::Error) -> TransientCause {
    if e.is_connect() {
        TransientCause::Connect
    } else if e.is_timeout() {
        TransientCause::Timeout
    } else {
        TransientCause::Interrupted
    }
}

/// Failures no retry can fix: TLS verification, refused redirects, malformed requests.
pub(super) fn classify_fatal(e: &reqwest::Error, masked: &str) -> Option<ApiError> {
    if let Some(reason) = tls_reason(e) {
        return Some(ApiError::Tls {
            url: masked.to_owned(),
            reason,
        });
    }
    if e.is_redirect() {
        if let Some(InsecureRedirect(target)) = find_in_chain::<InsecureRedirect>(e) {
            return Some(ApiError::InsecureTransport {
                url: target.clone(),
            });
        }
        return Some(ApiError::InvalidResponse {
            status: 0,
            url: masked.to_owned(),
            detail: format!("too many redirects (more than {MAX_REDIRECTS})"),
            snippet: None,
        });
    }
    if e.is_builder() {
        return Some(ApiError::Config {
            setting: "request",
            value: masked.to_owned(),
            reason: "the request could not be built".into(),
        });
    }
    None
}

fn find_in_chain<'e, T: StdError + 'static>(e: &'e (dyn StdError + 'static)) -> Option<&'e T> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

/// The rustls error somewhere in `e`'s chain. `io::Error` hides its inner error from
/// `source()`, so each one is opened with `get_ref`.
fn tls_reason(e: &(dyn StdError + 'static)) -> Option<String> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Some(tls.to_string());
            }
            if let Some(reason) = tls_reason(inner) {
                return Some(reason);
            }
        }
        current = err.source();
    }
    None
}

/// `e` and its causes on one line. Callers strip URLs from reqwest errors first.
pub(super) fn error_chain(e: &(dyn StdError + 'static)) -> String {
    crate::error_text::one_line(crate::error_text::chain(e))
}
