//! The keychain record of `anaconda-auth` (service `Anaconda Cloud`, one per domain): its
//! decoding and its byte-exact encoding, keeping fields we do not know.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};
use zeroize::Zeroize;

use crate::secret::Secret;

/// The keyring service name `anaconda-auth` stores its records under.
pub const ANACONDA_SERVICE: &str = "Anaconda Cloud";

/// The record version `anaconda-auth` 0.15 writes (`TOKEN_INFO_VERSION`).
pub const RECORD_VERSION: i64 = 2;

/// The domain that replaced the legacy ones below; `anaconda-auth` migrates records stored
/// under a legacy username to it the first time it looks for this domain.
pub const MODERN_DOMAIN: &str = "anaconda.com";

/// Legacy usernames, in the order `anaconda-auth` (`MIGRATIONS`) tries them.
pub const LEGACY_DOMAINS: [&str; 2] = ["id.anaconda.cloud", "anaconda.cloud"];

/// Python decodes with a lenient `base64.b64decode`; accept both padded and unpadded input,
/// always write padded.
const BASE64_READ: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A record that could not be read. It never carries the record's content.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the stored value is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("the stored value is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the stored record has an unexpected shape: {0}")]
    Shape(String),
}

/// One repo token, as `anaconda_auth.token.RepoToken`.
#[derive(Clone, PartialEq)]
pub struct RepoToken {
    pub token: Secret,
    /// `None` for tokens stored without an organisation (allowed by `anaconda-auth`).
    pub org_name: Option<String>,
    /// Fields of this token we do not know, kept in their order across rewrites.
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for RepoToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoToken")
            .field("token", &self.token)
            .field("org_name", &self.org_name)
            .field("extra_keys", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The decoded record, as `anaconda_auth.token.TokenInfo` plus whatever unknown fields it had.
#[derive(Clone, PartialEq)]
pub struct TokenRecord {
    pub domain: String,
    pub api_key: Option<Secret>,
    /// `TokenInfo.username`: written by older Navigator-based logins; kept as found.
    pub username: Option<String>,
    pub repo_tokens: Vec<RepoToken>,
    /// `TokenInfo.version`: 2 when the stored JSON has none (pydantic's default), `None` only
    /// for an explicit `null`, which is then left out on write as Python does.
    pub version: Option<i64>,
    /// Unknown top-level fields, kept in their order after the known ones. Their values are
    /// never shown in `Debug`: they may be secrets of a newer client.
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("domain", &self.domain)
            .field("api_key", &self.api_key)
            .field("username", &self.username)
            .field("repo_tokens", &self.repo_tokens)
            .field("version", &self.version)
            .field("extra_keys", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TokenRecord {
    /// An empty record of the current version, as `TokenInfo(domain=...)`.
    pub fn new(domain: impl Into<String>) -> Self {
        Self {
            domain: domain.into(),
            api_key: None,
            username: None,
            repo_tokens: Vec::new(),
            version: Some(RECORD_VERSION),
            extra: Map::new(),
        }
    }

    /// True when nothing worth keeping is left (no key, no token, no unknown field).
    pub fn is_empty(&self) -> bool {
        self.api_key.is_none()
            && self.repo_tokens.is_empty()
            && self.username.is_none()
            && self.extra.is_empty()
    }

    /// The token of `org`, the first one if several were stored (as `get_repo_token`).
    pub fn repo_token(&self, org: &str) -> Option<&Secret> {
        self.repo_tokens
            .iter()
            .find(|t| t.org_name.as_deref() == Some(org))
            .map(|t| &t.token)
    }

    /// Replaces the token of `org`, keeping the unknown fields of the one it replaces; as
    /// `set_repo_token`, the entry moves to the end of the list.
    pub fn set_repo_token(&mut self, org: &str, token: Secret) {
        let extra = self
            .repo_tokens
            .iter()
            .find(|t| t.org_name.as_deref() == Some(org))
            .map(|t| t.extra.clone())
            .unwrap_or_default();
        self.repo_tokens
            .retain(|t| t.org_name.as_deref() != Some(org));
        self.repo_tokens.push(RepoToken {
            token,
            org_name: Some(org.to_owned()),
            extra,
        });
    }

    /// Removes every token of `org`; returns whether there was one.
    pub fn remove_repo_token(&mut self, org: &str) -> bool {
        let before = self.repo_tokens.len();
        self.repo_tokens
            .retain(|t| t.org_name.as_deref() != Some(org));
        before != self.repo_tokens.len()
    }

    /// The organisations that have a token, in stored order, without repeats.
    pub fn orgs(&self) -> Vec<String> {
        let mut orgs: Vec<String> = Vec::new();
        for name in self.repo_tokens.iter().filter_map(|t| t.org_name.as_ref()) {
            if !orgs.contains(name) {
                orgs.push(name.clone());
            }
        }
        orgs
    }

    /// Decodes a keyring value. `fallback_domain` (the keyring username) stands in for a
    /// missing `domain`, as Python's default does.
    pub fn decode(value: &Secret, fallback_domain: &str) -> Result<Self, RecordError> {
        let mut bytes = BASE64_READ.decode(value.expose().trim())?;
        let parsed: Result<Value, _> = serde_json::from_slice(&bytes);
        bytes.zeroize();
        let Value::Object(mut map) = parsed? else {
            return Err(RecordError::Shape("not a JSON object".into()));
        };
        let domain = match map.shift_remove("domain") {
            Some(Value::String(d)) => d,
            None | Some(Value::Null) => fallback_domain.to_owned(),
            Some(_) => return Err(RecordError::Shape("`domain` is not a string".into())),
        };
        let api_key = take_opt_string(&mut map, "api_key")?.map(Secret::new);
        let username = take_opt_string(&mut map, "username")?;
        let repo_tokens = match map.shift_remove("repo_tokens") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(decode_repo_token)
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(RecordError::Shape("`repo_tokens` is not a list".into())),
        };
        // As pydantic: a missing version takes the model's default, an explicit null stays
        // null (and, like Python, we then leave it out on the next write).
        let version = match map.shift_remove("version") {
            None => Some(RECORD_VERSION),
            Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(
                n.as_i64()
                    .ok_or_else(|| RecordError::Shape("`version` is not an integer".into()))?,
            ),
            Some(_) => return Err(RecordError::Shape("`version` is not an integer".into())),
        };
        Ok(Self {
            domain,
            api_key,
            username,
            repo_tokens,
            version,
            extra: map,
        })
    }

    /// The compact JSON `anaconda-auth` writes (`model_dump_json(exclude_none=True)`): known
    /// fields in its order, then unknown ones.
    pub fn to_json(&self) -> Secret {
        let mut map = Map::new();
        map.insert("domain".into(), Value::String(self.domain.clone()));
        if let Some(key) = &self.api_key {
            map.insert("api_key".into(), Value::String(key.expose().to_owned()));
        }
        if let Some(user) = &self.username {
            map.insert("username".into(), Value::String(user.clone()));
        }
        let tokens = self
            .repo_tokens
            .iter()
            .map(|t| {
                let mut m = Map::new();
                m.insert("token".into(), Value::String(t.token.expose().to_owned()));
                if let Some(org) = &t.org_name {
                    m.insert("org_name".into(), Value::String(org.clone()));
                }
                for (k, v) in &t.extra {
                    m.entry(k.clone()).or_insert_with(|| v.clone());
                }
                Value::Object(m)
            })
            .collect();
        map.insert("repo_tokens".into(), Value::Array(tokens));
        if let Some(version) = self.version {
            map.insert("version".into(), Value::from(version));
        }
        for (k, v) in &self.extra {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut value = Value::Object(map);
        let json = value.to_string();
        wipe_strings(&mut value);
        Secret::new(json)
    }

    /// The keyring value: standard padded base64 of [`TokenRecord::to_json`].
    pub fn encode(&self) -> Secret {
        let json = self.to_json();
        Secret::new(base64::engine::general_purpose::STANDARD.encode(json.expose()))
    }
}

fn take_opt_string(map: &mut Map<String, Value>, key: &str) -> Result<Option<String>, RecordError> {
    match map.shift_remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(RecordError::Shape(format!("`{key}` is not a string"))),
    }
}

fn decode_repo_token(item: Value) -> Result<RepoToken, RecordError> {
    let Value::Object(mut map) = item else {
        return Err(RecordError::Shape(
            "a repo token is not a JSON object".into(),
        ));
    };
    let token = match map.shift_remove("token") {
        Some(Value::String(s)) => Secret::new(s),
        _ => {
            return Err(RecordError::Shape(
                "a repo token has no string `token`".into(),
            ));
        }
    };
    let org_name = take_opt_string(&mut map, "org_name")?;
    Ok(RepoToken {
        token,
        org_name,
        extra: map,
    })
}

/// Wipes the strings of a JSON tree that held secrets before it is dropped.
fn wipe_strings(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe_strings),
        Value::Object(map) => map.values_mut().for_each(wipe_strings),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> Secret {
        Secret::new(base64::engine::general_purpose::STANDARD.encode(s))
    }

    #[test]
    fn encoding_matches_what_anaconda_auth_writes() {
        let mut record = TokenRecord::new("anaconda.com");
        record.api_key = Some(Secret::new("key"));
        record.set_repo_token("acme", Secret::new("tok"));
        assert_eq!(
            record.to_json().expose(),
            r#"{"domain":"anaconda.com","api_key":"key","repo_tokens":[{"token":"tok","org_name":"acme"}],"version":2}"#
        );
    }

    #[test]
    fn unknown_fields_survive_a_rewrite_in_their_place() {
        let raw = r#"{"domain":"d","future":{"a":1},"repo_tokens":[{"token":"t","org_name":"o","scope":"x"}],"version":2,"z":null}"#;
        let mut record = TokenRecord::decode(&b64(raw), "d").unwrap();
        record.set_repo_token("o", Secret::new("t2"));
        assert_eq!(
            record.to_json().expose(),
            r#"{"domain":"d","repo_tokens":[{"token":"t2","org_name":"o","scope":"x"}],"version":2,"future":{"a":1},"z":null}"#
        );
    }

    /// Found by the `keychain_record` fuzz target: without correctly rounded float parsing an
    /// unknown number changed a little on every rewrite.
    #[test]
    fn an_unknown_number_keeps_its_value_over_rewrites() {
        let raw = format!(r#"{{"future":[{}e0]}}"#, "3".repeat(66));
        let first = TokenRecord::decode(&b64(&raw), "anaconda.com").unwrap();
        let second = TokenRecord::decode(&first.encode(), "anaconda.com").unwrap();
        let third = TokenRecord::decode(&second.encode(), "anaconda.com").unwrap();
        assert_eq!(first.to_json().expose(), second.to_json().expose());
        assert_eq!(second.to_json().expose(), third.to_json().expose());
    }

    #[test]
    fn a_record_without_domain_takes_the_keyring_username() {
        let record = TokenRecord::decode(&b64(r#"{"api_key":"k"}"#), "example.org:8443").unwrap();
        assert_eq!(record.domain, "example.org:8443");
        assert_eq!(record.version, Some(RECORD_VERSION));
        assert_eq!(record.api_key.unwrap().expose(), "k");
    }

    #[test]
    fn unpadded_base64_is_read_too() {
        let padded = b64(r#"{"domain":"a"}"#);
        let unpadded = Secret::new(padded.expose().trim_end_matches('='));
        assert_eq!(TokenRecord::decode(&unpadded, "x").unwrap().domain, "a");
    }

    #[test]
    fn garbage_is_an_error_that_does_not_echo_the_value() {
        let err = TokenRecord::decode(&Secret::new("c2VjcmV0LXZhbHVl"), "d").unwrap_err();
        assert!(!err.to_string().contains("secret-value"));
        assert!(matches!(err, RecordError::Json(_)));
    }

    #[test]
    fn debug_of_a_record_hides_tokens_and_unknown_values() {
        let raw =
            r#"{"domain":"d","api_key":"K-123","repo_tokens":[{"token":"T-456"}],"x":"X-789"}"#;
        let shown = format!("{:?}", TokenRecord::decode(&b64(raw), "d").unwrap());
        for secret in ["K-123", "T-456", "X-789"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
