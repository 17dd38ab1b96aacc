//! `Debug` for the messages that carry secrets: every field but the secret is shown.

use std::fmt;

use crate::v1::{GetCredentialResponse, InstallTokenRequest, SetApiKeyRequest};

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

#[cfg(test)]
mod tests {
    use super::*;

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
