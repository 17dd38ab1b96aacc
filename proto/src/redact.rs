//! `Debug` for the messages that carry secrets: every field but the secret is shown; and
//! [`redact_url`], the one rule for showing a request URL.

use std::fmt;

use crate::v1::{
    GetCredentialResponse, GetKeyringEntryResponse, InstallTokenRequest, MintApiKeyResponse,
    RevealCredentialResponse, SetApiKeyRequest, SetKeyringEntryRequest,
};

const REDACTED: &str = "<redacted>";

fn redacted_if_set(value: &str) -> &str {
    if value.is_empty() { "" } else { REDACTED }
}

impl fmt::Debug for SetApiKeyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetApiKeyRequest")
            .field("api_key", &redacted_if_set(&self.api_key))
            .finish()
    }
}

impl fmt::Debug for InstallTokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstallTokenRequest")
            .field("org", &self.org)
            .field("confirm_reissue", &self.confirm_reissue)
            .field("token", &redacted_if_set(&self.token))
            .field("skip_validation", &self.skip_validation)
            .finish()
    }
}

impl fmt::Debug for RevealCredentialResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevealCredentialResponse")
            .field("value", &redacted_if_set(&self.value))
            .field("kind", &self.kind)
            .field("org", &self.org)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl fmt::Debug for MintApiKeyResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintApiKeyResponse")
            .field("api_key", &redacted_if_set(&self.api_key))
            .field("key", &self.key)
            .finish()
    }
}

impl fmt::Debug for GetCredentialResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetCredentialResponse")
            .field("found", &self.found)
            .field("header_value", &redacted_if_set(&self.header_value))
            .field("kind", &self.kind)
            .field("org", &self.org)
            .field("expires_at", &self.expires_at)
            .field("reason", &self.reason)
            .finish()
    }
}

impl fmt::Debug for GetKeyringEntryResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetKeyringEntryResponse")
            .field("ours", &self.ours)
            .field("found", &self.found)
            .field("username", &self.username)
            .field("password", &redacted_if_set(&self.password))
            .field("site", &self.site)
            .finish()
    }
}

impl fmt::Debug for SetKeyringEntryRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetKeyringEntryRequest")
            .field("service", &self.service)
            .field("username", &self.username)
            .field("password", &redacted_if_set(&self.password))
            .finish()
    }
}

/// `url` as it may be shown or logged: no `user:password@`, no query, no fragment (the rule
/// of the conda plugin's `_redacted`), and the token of a `/t/<token>/` path segment replaced
/// by `<redacted>`. Works on text that is not a valid URL too: it never echoes more of it.
pub fn redact_url(url: &str) -> String {
    let without_tail = url.split(['?', '#']).next().unwrap_or_default();
    // Only a real scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`) makes
    // what follows an authority; otherwise the whole text is redacted as a path, so a token in
    // front of a later `://` is not mistaken for a scheme and kept.
    let (scheme, rest) = match without_tail.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => (Some(scheme), rest),
        _ => (None, without_tail),
    };
    let (authority, path) = match (scheme, rest.find('/')) {
        (Some(_), Some(at)) => rest.split_at(at),
        (Some(_), None) => (rest, ""),
        (None, _) => ("", rest),
    };
    // The user info ends at the last `@` of the authority (a password may hold an `@`).
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let mut segments: Vec<&str> = path.split('/').collect();
    for i in 1..segments.len() {
        if segments[i - 1] == "t" && !segments[i].is_empty() {
            segments[i] = REDACTED;
        }
    }
    let path = segments.join("/");
    match scheme {
        Some(scheme) => format!("{scheme}://{host}{path}"),
        None => path,
    }
}

fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_loses_its_user_info_query_fragment_and_path_token() {
        assert_eq!(
            redact_url(
                "https://me:p%40ss@repo.example:8443/t/tok-secret/repo/acme/x.json?sig=abc#f"
            ),
            "https://repo.example:8443/t/<redacted>/repo/acme/x.json"
        );
        assert_eq!(
            redact_url("https://user:pa@ss@host/repo/"),
            "https://host/repo/"
        );
        assert_eq!(
            redact_url("https://repo.example/repo/main/noarch/repodata.json"),
            "https://repo.example/repo/main/noarch/repodata.json"
        );
    }

    /// Found by the `api_answers` fuzz target: a `/t/<token>/` before a later `://` was taken
    /// for part of a scheme and kept.
    #[test]
    fn a_token_in_front_of_a_later_scheme_separator_is_redacted() {
        assert_eq!(
            redact_url("https2fu:p@repo/t/tok-secret-123/x://host/t/tok-other-456/y"),
            "https2fu:p@repo/t/<redacted>/x://host/t/<redacted>/y"
        );
    }

    #[test]
    fn text_that_is_not_a_url_is_redacted_by_the_same_rule() {
        assert_eq!(redact_url("/t/secret/repo?k=v"), "/t/<redacted>/repo");
        assert_eq!(redact_url("x:y@host"), "x:y@host");
        assert_eq!(redact_url(""), "");
    }

    #[test]
    fn secrets_never_reach_debug_output() {
        let key = SetApiKeyRequest {
            api_key: "eyJ.secret.key".into(),
        };
        assert!(!format!("{key:?}").contains("secret"));
        let install = InstallTokenRequest {
            org: "acme".into(),
            token: "tok-secret".into(),
            ..Default::default()
        };
        let text = format!("{install:?}");
        assert!(
            text.contains("acme") && !text.contains("tok-secret"),
            "{text}"
        );
        let cred = GetCredentialResponse {
            found: true,
            header_value: "token tok-secret".into(),
            ..Default::default()
        };
        assert!(!format!("{cred:?}").contains("tok-secret"));
    }
}
