//! `keyring get|set|delete`: what the Python keyring backend (`conda_anacondad.keyring`) reads.

use anacondad_proto::v1 as pb;
use serde::Serialize;

use super::text;

/// `keyring get SERVICE [USERNAME]`.
#[derive(Debug, Serialize)]
pub struct KeyringEntry {
    /// False: not the daemon's; the backend asks the keyring it would otherwise have used.
    pub ours: bool,
    /// The daemon's, with something held for it now.
    pub found: bool,
    /// `__token__` for an index; the domain for `Anaconda Cloud`.
    pub username: Option<String>,
    /// anaconda-auth's record (base64 of its JSON) or the API key: a secret.
    pub password: Option<String>,
    /// The site that answered.
    pub site: Option<String>,
}

impl From<&pb::GetKeyringEntryResponse> for KeyringEntry {
    fn from(e: &pb::GetKeyringEntryResponse) -> Self {
        Self {
            ours: e.ours,
            found: e.found,
            username: text(&e.username),
            password: text(&e.password),
            site: text(&e.site),
        }
    }
}

/// `keyring set SERVICE USERNAME` (the record on standard input).
#[derive(Debug, Serialize)]
pub struct KeyringSet {
    pub ours: bool,
    /// What the daemon took from the record ("the API key", "the repo token of acme").
    pub adopted: Vec<String>,
    /// What it did not take, and why.
    pub refused: Vec<String>,
}

/// `keyring delete SERVICE USERNAME`.
#[derive(Debug, Serialize)]
pub struct KeyringDeleted {
    pub ours: bool,
    /// An API key was removed (the daemon logged out of that site).
    pub removed: bool,
}

/// `export --for pip|uv`.
#[derive(Debug, Serialize)]
pub struct IndexExport {
    /// `pip` or `uv`.
    pub tool: String,
    /// The configuration file written (or that would be).
    pub path: String,
    /// The index, with no password (username `__token__` for Anaconda's wheels index, none
    /// for a Package Security Manager's PyPI channel).
    pub index_url: String,
    /// The `keyring-provider` written (`import`, `subprocess` or `auto` for pip; `subprocess`
    /// for uv).
    pub keyring_provider: String,
    pub enabled: bool,
    pub changed: bool,
    pub dry_run: bool,
}
