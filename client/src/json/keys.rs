//! `--json` of the commands for scripts: `api-key`, `token show`, `api-key --mint|--list|--revoke`.

use serde::Serialize;

use super::{text, time};

/// `api-key`, `token show --org ORG`: the raw value (a secret).
#[derive(Serialize)]
pub struct Revealed {
    pub value: String,
    /// `api_key` or `repo_token`.
    pub kind: &'static str,
    /// The token's organisation; null for the API key.
    pub org: Option<String>,
    pub expires_at: Option<String>,
}

/// A key minted here, as recorded (never its value).
#[derive(Debug, Serialize)]
pub struct MintedKey {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: Option<String>,
    pub expires_at: Option<String>,
    /// Past its expiry and not revoked yet: why the daemon's last try failed (it retries).
    pub revocation_error: Option<String>,
}

impl From<&anacondad_proto::v1::MintedKey> for MintedKey {
    fn from(k: &anacondad_proto::v1::MintedKey) -> Self {
        Self {
            id: k.id.clone(),
            name: k.name.clone(),
            scopes: k.scopes.clone(),
            created_at: time(k.created_at),
            expires_at: time(k.expires_at),
            revocation_error: Some(k.revocation_error.clone()).filter(|e| !e.is_empty()),
        }
    }
}

/// `api-key --mint`: the new key's value (shown once) and its record.
#[derive(Serialize)]
pub struct Minted {
    pub api_key: String,
    pub key: MintedKey,
}

/// `api-key --list`.
#[derive(Debug, Serialize)]
pub struct MintedKeys {
    pub keys: Vec<MintedKey>,
}

/// `api-key --revoke ID`, and `logout --revoke`'s first step.
#[derive(Debug, Serialize)]
pub struct Revoked {
    pub revoked: Vec<String>,
}

impl Revealed {
    pub fn from_wire(r: &anacondad_proto::v1::RevealCredentialResponse) -> Self {
        let kind = match r.kind() {
            anacondad_proto::v1::CredentialKind::RepoToken => "repo_token",
            _ => "api_key",
        };
        Self {
            value: r.value.clone(),
            kind,
            org: text(&r.org),
            expires_at: time(r.expires_at),
        }
    }
}

impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revealed")
            .field("value", &"<redacted>")
            .field("kind", &self.kind)
            .field("org", &self.org)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("api_key", &"<redacted>")
            .field("key", &self.key)
            .finish()
    }
}
