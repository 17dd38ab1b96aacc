//! The parsers of the service's answers (account, organisations, current token, reissue,
//! login tokens, discovery), the JWT expiry reader, the credential check and the URL maskers
//! on arbitrary bytes: they may refuse, never panic.
#![no_main]

use anacondad::api::{
    AccountInfo, IssuedRepoToken, OidcConfiguration, OidcTokens, Organization, RepoTokenInfo,
    check_credential, jwt_expiry, mask_url,
};
use anacondad::secret::Secret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<AccountInfo>(data);
    let _ = serde_json::from_slice::<Vec<Organization>>(data);
    let _ = serde_json::from_slice::<RepoTokenInfo>(data);
    let _ = serde_json::from_slice::<IssuedRepoToken>(data);
    let _ = serde_json::from_slice::<OidcTokens>(data);
    let _ = serde_json::from_slice::<OidcConfiguration>(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = jwt_expiry(&Secret::new(text));
    if check_credential(text).is_ok() {
        assert!(!text.chars().any(char::is_control));
    }
    // Every `/t/<segment>/` left is redacted (a `://t/` is a host named `t`, not a path).
    let redacted = anacondad_proto::redact_url(text);
    for (at, _) in redacted.match_indices("/t/") {
        if redacted[..at].ends_with(":/") {
            continue;
        }
        let segment = redacted[at + 3..].split('/').next().unwrap_or_default();
        assert!(
            segment.is_empty() || segment == "<redacted>",
            "{text:?} -> {redacted:?}"
        );
    }
    assert!(!redacted.contains('?') && !redacted.contains('#'), "{redacted:?}");
    let shown = anacondactl::render::terminal_safe(text);
    assert!(!shown.chars().any(|c| c != '\n' && c.is_control()));
    if let Ok(url) = url::Url::parse(text) {
        let masked = mask_url(&url);
        assert!(!masked.contains('?'), "{masked}");
    }
});
