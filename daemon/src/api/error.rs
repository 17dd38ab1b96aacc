//! The errors of the API client, each with a message that tells the user what to do next.

use std::fmt;
use std::path::PathBuf;

use url::Url;

/// Why a request that may succeed later failed for good (after the retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransientCause {
    /// No answer within the configured timeout.
    Timeout,
    /// The connection could not be made (refused, DNS, unreachable, proxy down).
    Connect,
    /// The connection broke while the request or the answer was under way.
    Interrupted,
    /// The service answered 429 or 5xx.
    Status(u16),
}

impl fmt::Display for TransientCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out"),
            Self::Connect => f.write_str("connection failed"),
            Self::Interrupted => f.write_str("connection interrupted"),
            Self::Status(429) => f.write_str("HTTP 429, too many requests"),
            Self::Status(s) => write!(f, "HTTP {s}"),
        }
    }
}

/// Everything that can go wrong talking to the Anaconda service or the repository. URLs in here
/// have `/t/<token>/` segments masked and no query; no variant carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API key (or access token) is missing, invalid or expired, or a refresh token was
    /// refused: only a new login helps.
    #[error(
        "the Anaconda service at {url} needs a new login (HTTP {status}); run `anacondactl login`"
    )]
    LoginRequired { url: String, status: u16 },

    #[error(
        "the Anaconda service refused access to {url} (HTTP 403); check that your account is a member of the organization and that its subscription includes this"
    )]
    Forbidden { url: String },

    /// A 403 whose answer says the credential is valid but lacks a scope (RFC 6750's
    /// `insufficient_scope`): a minted `repo:read` key asked to read the account or reissue a
    /// token, say. Another login does not help; another key does.
    #[error(
        "the API key in use may not do this: the Anaconda service refused {url} (HTTP 403{}); use a key that has the scope it needs: the account's own (`anacondactl login`), or one minted with `anacondactl api-key --mint --scope cloud:read --scope cloud:write`",
        description_suffix(.detail)
    )]
    InsufficientScope { url: String, detail: Option<String> },

    #[error(
        "{url} was not found (HTTP 404); check the organization name and the configured domain"
    )]
    NotFound { url: String },

    /// Timeouts, connection errors, 429 and 5xx that outlasted the retries.
    #[error(
        "could not get an answer from {url} ({cause}, {attempts} attempt(s)); check your network or proxy and try again later"
    )]
    Transient {
        url: String,
        cause: TransientCause,
        attempts: u32,
    },

    /// A request that changes state on the service was sent, but its answer was lost. It is not
    /// retried because a second reissue would revoke what the first one issued.
    #[error(
        "the request to {url} was sent but its answer was lost ({cause}); the service may have carried it out. If this was a token reissue, the token stored here may no longer work: run `anacondactl token list`, which checks it with the service and says what to run (reissuing again now could revoke a token that works)"
    )]
    OutcomeUnknown { url: String, cause: TransientCause },

    /// The service answered something this client does not understand.
    #[error("unexpected answer from {url} (HTTP {status}): {detail}{}", snippet_suffix(.snippet))]
    InvalidResponse {
        status: u16,
        url: String,
        detail: String,
        /// The start of the body, bounded and with control characters removed; `None` where the
        /// body may hold credentials.
        snippet: Option<String>,
    },

    #[error(
        "the TLS certificate of {url} could not be verified ({reason}); if a proxy on your network inspects TLS, set ANACONDA_AUTH_SSL_VERIFY to the path of its CA bundle"
    )]
    Tls { url: String, reason: String },

    #[error(
        "refusing to talk plain http to {url}: credentials only go over https (plain http is allowed for 127.0.0.1/localhost only); use an https URL"
    )]
    InsecureTransport { url: String },

    #[error("the setting {setting} = `{value}` is not usable: {reason}")]
    Config {
        setting: &'static str,
        value: String,
        reason: String,
    },

    #[error(
        "the CA bundle at {} could not be read: {reason}; fix the file or change ANACONDA_AUTH_SSL_VERIFY", path.display()
    )]
    CaBundle { path: PathBuf, reason: String },

    /// The device code ran out before the user approved the login.
    #[error(
        "the login was not approved in time; run `anacondactl login` again and approve it in the browser"
    )]
    DeviceCodeExpired,

    #[error("the login was denied in the browser; run `anacondactl login` again to retry")]
    AccessDenied,

    /// Any other OAuth error from the identity provider (`invalid_client`, `invalid_request`...).
    #[error("the identity provider refused the login ({error}{}); run `anacondactl login` again", description_suffix(.description))]
    LoginRejected {
        error: String,
        description: Option<String>,
    },

    /// The browser-login listener could not be set up or broke.
    #[error(
        "could not listen on {addr} for the browser login ({reason}); free the port or use the device login"
    )]
    Loopback { addr: String, reason: String },
}

impl ApiError {
    /// Whether the service gave no verdict (no answer in time, a broken connection, 5xx after
    /// the retries): nothing was refused, so nothing may be recorded as refused.
    pub fn is_no_answer(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::OutcomeUnknown { .. })
    }

    /// Whether only a new login can fix this.
    pub fn is_login_required(&self) -> bool {
        matches!(
            self,
            Self::LoginRequired { .. } | Self::DeviceCodeExpired | Self::AccessDenied
        )
    }
}

fn snippet_suffix(snippet: &Option<String>) -> String {
    match snippet {
        Some(s) if !s.is_empty() => format!("; the answer began with: {s}"),
        _ => String::new(),
    }
}

fn description_suffix(description: &Option<String>) -> String {
    match description {
        Some(d) if !d.is_empty() => format!(": {d}"),
        _ => String::new(),
    }
}

/// Most characters of a body shown in an error.
pub(crate) const SNIPPET_CHARS: usize = 200;

/// The first [`SNIPPET_CHARS`] characters of `body`, control characters replaced, for error
/// messages about bodies that hold no credentials.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .take(SNIPPET_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > SNIPPET_CHARS {
        out.push('…');
    }
    out.trim().to_owned()
}

/// `url` as it may appear in logs and errors: no user info, no query or fragment, and every path
/// segment after a `t` segment (the repository's token-in-path form) replaced by `<token>`.
pub fn mask_url(url: &Url) -> String {
    let mut masked = url.clone();
    let _ = masked.set_username("");
    let _ = masked.set_password(None);
    masked.set_query(None);
    masked.set_fragment(None);
    let segments: Option<Vec<String>> = url.path_segments().map(|segs| {
        let mut out = Vec::new();
        let mut after_t = false;
        for seg in segs {
            if after_t {
                out.push("<token>".to_owned());
                after_t = false;
            } else {
                after_t = seg == "t";
                out.push(seg.to_owned());
            }
        }
        out
    });
    if let Some(segments) = segments {
        masked.set_path(&format!("/{}", segments.join("/")));
    }
    masked.to_string().replace("%3Ctoken%3E", "<token>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_urls_hide_the_token_segment_query_and_user_info() {
        let url = Url::parse("https://u:p@repo.example/t/tok-123/repo/main/x.json?code=abc#frag")
            .unwrap();
        let masked = mask_url(&url);
        assert_eq!(masked, "https://repo.example/t/<token>/repo/main/x.json");
        assert!(!masked.contains("tok-123"));
    }

    #[test]
    fn snippets_are_bounded_and_free_of_control_characters() {
        let long = "x".repeat(10_000);
        let s = snippet(long.as_bytes());
        assert!(s.chars().count() <= SNIPPET_CHARS + 1);
        assert_eq!(snippet(b"a\nb\x1b[31m"), "a b [31m");
    }

    #[test]
    fn every_message_says_what_to_do_next() {
        let login = ApiError::LoginRequired {
            url: "https://anaconda.com/api/account".into(),
            status: 401,
        };
        assert!(login.to_string().contains("anacondactl login"));
        let transient = ApiError::Transient {
            url: "https://anaconda.com/".into(),
            cause: TransientCause::Timeout,
            attempts: 4,
        };
        assert!(transient.to_string().contains("network or proxy"));
        let bundle = ApiError::CaBundle {
            path: "/etc/ca.pem".into(),
            reason: "No such file".into(),
        };
        assert!(
            bundle
                .to_string()
                .contains("the CA bundle at /etc/ca.pem could not be read")
        );
    }
}
