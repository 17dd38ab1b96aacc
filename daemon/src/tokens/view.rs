//! How a stored repo token is described: to `token list`, `status`, and install's answer.

use jiff::Timestamp;

use crate::repo_url::RepoUrl;
use crate::secret::Secret;
use crate::state::OrgState;

/// How a stored token is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenHealth {
    Valid,
    RefreshDue,
    Expired,
    Rejected,
    Unknown,
    /// The service's current token is another one, or none, or it expired.
    Replaced,
}

/// A stored repo token, described without its secret.
#[derive(Debug, Clone)]
pub struct TokenView {
    pub org: String,
    pub channel_url: String,
    pub masked: String,
    pub token_id: Option<String>,
    pub issued_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub next_refresh_at: Option<Timestamp>,
    pub last_validated_at: Option<Timestamp>,
    pub health: TokenHealth,
    pub last_error: Option<String>,
    pub auto_renew: bool,
}

impl TokenView {
    pub fn new(org: &str, token: &Secret, facts: OrgState, repo: &RepoUrl, now: Timestamp) -> Self {
        let health = if facts.replaced.is_some() {
            TokenHealth::Replaced
        } else if facts.expires_at.is_some_and(|e| e <= now) {
            TokenHealth::Expired
        } else if facts.last_error.is_some() {
            TokenHealth::Rejected
        } else if facts.next_refresh_at.is_some_and(|r| r <= now) {
            TokenHealth::RefreshDue
        } else if facts.expires_at.is_some() || facts.last_validated_at.is_some() {
            TokenHealth::Valid
        } else {
            TokenHealth::Unknown
        };
        Self {
            org: org.to_owned(),
            channel_url: repo.org_url(org),
            masked: token.masked(),
            token_id: facts.token_id,
            issued_at: facts.issued_at,
            expires_at: facts.expires_at,
            next_refresh_at: facts.next_refresh_at,
            last_validated_at: facts.last_validated_at,
            health,
            last_error: facts.replaced.or(facts.last_error),
            auto_renew: !facts.auto_renew_off,
        }
    }
}

/// The outcome of checking a token against the repository.
#[derive(Debug, Clone, Default)]
pub struct Validation {
    pub ok: bool,
    pub validated_at: Option<Timestamp>,
    pub error: Option<String>,
    /// The repository refused it (401/403), as against not answering.
    pub refused: bool,
}

/// What an install did.
#[derive(Debug, Clone)]
pub struct Installed {
    pub token: TokenView,
    pub reissued: bool,
    pub validation: Validation,
}

/// The service's and the store's view of one org's token.
#[derive(Debug, Clone)]
pub struct TokenStatusView {
    pub org: String,
    pub exists_on_service: bool,
    pub service_token_id: Option<String>,
    pub service_expires_at: Option<Timestamp>,
    pub local: Option<TokenView>,
}
