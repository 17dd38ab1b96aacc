//! Reading the `exp` claim of an API key (a JWT) without verifying it: the service signs it, we
//! only need to know when to renew.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;

use crate::secret::Secret;

/// Why a value is not a JWT with a usable `exp`. Carries no part of the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the key is not a JWT (expected three dot-separated parts)")]
    NotAJwt,
    #[error("the key's claims are not base64url-encoded JSON")]
    BadClaims,
    #[error("the key has no numeric `exp` claim")]
    NoExpiry,
    #[error("the key's `exp` claim is out of range")]
    ExpiryOutOfRange,
}

/// The expiry (`exp`) of a JWT such as an Anaconda API key, signature not checked.
pub fn jwt_expiry(token: &Secret) -> Result<Timestamp, JwtError> {
    let claims = jwt_claims(token)?;
    let exp = claims.get("exp").ok_or(JwtError::NoExpiry)?;
    let seconds = if let Some(i) = exp.as_i64() {
        i
    } else if let Some(f) = exp.as_f64().filter(|f| f.is_finite()) {
        // Some issuers write fractional seconds; the whole second is precise enough.
        if f.abs() > i64::MAX as f64 {
            return Err(JwtError::ExpiryOutOfRange);
        }
        f.trunc() as i64
    } else {
        return Err(JwtError::NoExpiry);
    };
    Timestamp::from_second(seconds).map_err(|_| JwtError::ExpiryOutOfRange)
}

/// The `jti` (the key's id at the service) of a JWT, signature not checked.
pub fn jwt_id(token: &Secret) -> Option<String> {
    jwt_claims(token)
        .ok()?
        .get("jti")?
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// The claims of a JWT, signature not checked.
fn jwt_claims(token: &Secret) -> Result<serde_json::Value, JwtError> {
    let mut parts = token.expose().split('.');
    let (Some(_header), Some(claims), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::NotAJwt);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(claims.trim_end_matches('='))
        .map_err(|_| JwtError::BadClaims)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::BadClaims)
}

#[cfg(test)]
pub(crate) fn make_jwt(claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{body}.c2lnbmF0dXJl")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expiry_is_read_from_the_claims() {
        let jwt = make_jwt(&json!({"exp": 1_900_000_000, "sub": "u"}));
        let exp = jwt_expiry(&Secret::new(jwt)).unwrap();
        assert_eq!(exp.as_second(), 1_900_000_000);
        let jwt = make_jwt(&json!({"exp": 1_900_000_000.75}));
        assert_eq!(
            jwt_expiry(&Secret::new(jwt)).unwrap().as_second(),
            1_900_000_000
        );
    }

    #[test]
    fn malformed_keys_are_errors_not_panics() {
        assert_eq!(
            jwt_expiry(&Secret::new("opaque-key")),
            Err(JwtError::NotAJwt)
        );
        assert_eq!(jwt_expiry(&Secret::new("a.b.c.d")), Err(JwtError::NotAJwt));
        assert_eq!(
            jwt_expiry(&Secret::new("a.!!!.c")),
            Err(JwtError::BadClaims)
        );
        let no_exp = make_jwt(&json!({"sub": "u"}));
        assert_eq!(jwt_expiry(&Secret::new(no_exp)), Err(JwtError::NoExpiry));
        let text_exp = make_jwt(&json!({"exp": "tomorrow"}));
        assert_eq!(jwt_expiry(&Secret::new(text_exp)), Err(JwtError::NoExpiry));
        let huge = make_jwt(&json!({"exp": 1e300}));
        assert_eq!(
            jwt_expiry(&Secret::new(huge)),
            Err(JwtError::ExpiryOutOfRange)
        );
        let array = make_jwt(&json!([1, 2]));
        assert_eq!(jwt_expiry(&Secret::new(array)), Err(JwtError::NoExpiry));
    }
}
