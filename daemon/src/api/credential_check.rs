//! What a credential handed over by the service may look like before it is stored: it will be
//! sent in `Authorization` headers and in `/t/<token>/` paths, so a control character, a space
//! or a megabyte there would corrupt a request (or inject a header) long after the answer that
//! brought it.

/// Longer than any real API key (a JWT of a few hundred bytes) or repo token by far.
pub const MAX_CREDENTIAL_BYTES: usize = 8 * 1024;

/// Why `value` cannot be a credential, or `Ok`. The reason names a position, never the value.
///
/// Allowed: the `b64token` characters of RFC 6750 (letters, digits, `-._~+/`, trailing `=`),
/// which cover JWTs, base64 and the service's alphanumeric tokens.
pub fn check_credential(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("it is empty".to_owned());
    }
    if value.len() > MAX_CREDENTIAL_BYTES {
        return Err(format!(
            "it is {} bytes long, more than the {MAX_CREDENTIAL_BYTES} a credential can be",
            value.len()
        ));
    }
    let padding = value.len() - value.trim_end_matches('=').len();
    for (at, c) in value[..value.len() - padding].char_indices() {
        let allowed = c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | '+' | '/');
        if !allowed {
            let what = if c.is_control() {
                "a control character"
            } else if c.is_whitespace() {
                "a space"
            } else if !c.is_ascii() {
                "a non-ASCII character"
            } else {
                "a character not allowed in a token"
            };
            return Err(format!("it holds {what} at byte {at}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwts_base64_and_plain_tokens_pass() {
        for ok in [
            "eyJhbGciOiJub25lIn0.eyJleHAiOjF9.c2ln",
            "abc123XYZ",
            "a+b/c==",
            "tok-1_2.3~4",
        ] {
            assert_eq!(check_credential(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn control_characters_spaces_and_oversize_are_refused_without_echoing_the_value() {
        let cases = [
            ("tok\r\nX-Injected: 1", "a control character at byte 3"),
            ("tok\u{1b}[2J", "a control character at byte 3"),
            ("tok en", "a space at byte 3"),
            ("tök", "a non-ASCII character at byte 1"),
            ("a=b", "a character not allowed in a token at byte 1"),
            ("tok\"", "a character not allowed in a token at byte 3"),
            ("", "it is empty"),
        ];
        for (bad, reason) in cases {
            let err = check_credential(bad).unwrap_err();
            assert!(err.contains(reason), "{bad:?}: {err}");
        }
        let huge = "a".repeat(MAX_CREDENTIAL_BYTES + 1);
        assert!(check_credential(&huge).unwrap_err().contains("8193 bytes"));
        assert_eq!(check_credential(&"a".repeat(MAX_CREDENTIAL_BYTES)), Ok(()));
    }
}
