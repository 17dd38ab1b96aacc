//! The daemon's state as `daemon status`, `token list`, `whoami`, `login` and `condarc check`
//! print it: the storage, the login, each token, `.condarc`, the exports, the events and what
//! conda sees.

use anacondad_proto::v1 as pb;
use serde::Serialize;

use super::{enum_name, text, time};

/// Where secrets are kept.
#[derive(Debug, Serialize)]
pub struct Storage {
    /// `system` (the OS keychain), `file`, `memory` (tests only) or `unspecified`.
    pub backend: String,
    pub location: Option<String>,
    /// Why the storage is not the one asked for, when it is not.
    pub warning: Option<String>,
    pub warning_is_new: bool,
    /// The `storage` setting as configured.
    pub configured: Option<String>,
    pub notices: Vec<String>,
}

impl Storage {
    pub fn of(s: Option<&pb::StorageStatus>) -> Option<Self> {
        s.map(|s| Self {
            backend: enum_name(s.backend().as_str_name(), "STORAGE_BACKEND_"),
            location: text(&s.location),
            warning: text(&s.warning),
            warning_is_new: s.warning_is_new,
            configured: text(&s.configured),
            notices: s.notices.clone(),
        })
    }
}

/// The login at one site.
#[derive(Debug, Serialize)]
pub struct Login {
    /// `logged_in`, `expiring`, `logged_out`, `login_required`, `store_unreadable`.
    pub state: String,
    pub domain: String,
    pub username: Option<String>,
    pub api_key_expires_at: Option<String>,
    pub api_key_from_environment: bool,
    pub can_renew: bool,
}

impl Login {
    pub fn of(l: Option<&pb::LoginStatus>) -> Option<Self> {
        l.map(|l| Self {
            state: enum_name(l.state().as_str_name(), "LOGIN_STATE_"),
            domain: l.domain.clone(),
            username: text(&l.username),
            api_key_expires_at: time(l.api_key_expires_at),
            api_key_from_environment: l.api_key_from_environment,
            can_renew: l.can_renew,
        })
    }
}

/// One org's repo token, never the token itself.
#[derive(Debug, Serialize)]
pub struct Token {
    pub org: String,
    pub channel_url: String,
    /// The token masked (`abcd...wxyz`).
    pub token: Option<String>,
    pub token_id: Option<String>,
    pub issued_at: Option<String>,
    pub expires_at: Option<String>,
    pub next_refresh_at: Option<String>,
    pub last_validated_at: Option<String>,
    /// `valid`, `refresh_due`, `expired`, `rejected`, `replaced`, `unknown`.
    pub state: String,
    pub last_error: Option<String>,
    pub auto_renew: bool,
}

impl From<&pb::TokenSummary> for Token {
    fn from(t: &pb::TokenSummary) -> Self {
        Self {
            org: t.org.clone(),
            channel_url: t.channel_url.clone(),
            token: text(&t.masked_token),
            token_id: text(&t.token_id),
            issued_at: time(t.issued_at),
            expires_at: time(t.expires_at),
            next_refresh_at: time(t.next_refresh_at),
            last_validated_at: time(t.last_validated_at),
            state: enum_name(t.state().as_str_name(), "TOKEN_STATE_"),
            last_error: text(&t.last_error),
            auto_renew: t.auto_renew,
        }
    }
}

pub fn tokens(all: &[pb::TokenSummary]) -> Vec<Token> {
    all.iter().map(Token::from).collect()
}

/// The `.condarc` the daemon configures.
#[derive(Debug, Serialize)]
pub struct Condarc {
    /// `configured`, `not_configured`, `drifted`, `malformed`, `unspecified`.
    pub state: String,
    pub path: String,
    pub detail: Option<String>,
    pub orgs_without_token: Vec<String>,
}

impl Condarc {
    pub fn of(c: Option<&pb::CondarcStatus>) -> Option<Self> {
        c.map(|c| Self {
            state: enum_name(c.state().as_str_name(), "CONDARC_STATE_"),
            path: c.path.clone(),
            detail: text(&c.detail),
            orgs_without_token: c.orgs_without_token.clone(),
        })
    }
}

/// One site the daemon serves, in `daemon status`.
#[derive(Debug, Serialize)]
pub struct SiteState {
    pub name: String,
    pub domain: String,
    pub repo_url: String,
    pub is_default: bool,
    pub login: Option<Login>,
    pub tokens: Vec<Token>,
}

/// `daemon status`.
#[derive(Debug, Serialize)]
pub struct Status {
    pub daemon_version: String,
    pub protocol_version: u32,
    pub pid: u32,
    pub uptime_seconds: u64,
    pub socket: String,
    pub repo_url: String,
    pub storage: Option<Storage>,
    pub login: Option<Login>,
    pub tokens: Vec<Token>,
    pub condarc: Option<Condarc>,
    pub last_error: Option<String>,
    pub exports: Vec<Export>,
    pub notices: Vec<String>,
    pub site: String,
    pub sites: Vec<SiteState>,
}

impl From<&pb::StatusResponse> for Status {
    fn from(s: &pb::StatusResponse) -> Self {
        Self {
            daemon_version: s.daemon_version.clone(),
            protocol_version: s.protocol_version,
            pid: s.pid,
            uptime_seconds: s.uptime_seconds,
            socket: s.socket_path.clone(),
            repo_url: s.repo_url.clone(),
            storage: Storage::of(s.storage.as_ref()),
            login: Login::of(s.login.as_ref()),
            tokens: tokens(&s.tokens),
            condarc: Condarc::of(s.condarc.as_ref()),
            last_error: text(&s.last_error),
            exports: exports(&s.exports),
            notices: s.notices.clone(),
            site: s.site.clone(),
            sites: s
                .sites
                .iter()
                .map(|site| SiteState {
                    name: site.name.clone(),
                    domain: site.domain.clone(),
                    repo_url: site.repo_url.clone(),
                    is_default: site.is_default,
                    login: Login::of(site.login.as_ref()),
                    tokens: tokens(&site.tokens),
                })
                .collect(),
        }
    }
}

/// `daemon status --json`: the daemon's status and what conda makes of its configuration.
#[derive(Debug, Serialize)]
pub struct DaemonStatus {
    #[serde(flatten)]
    pub status: Status,
    pub conda: Option<CondaView>,
}

/// One entry an export wrote (never the secret).
#[derive(Debug, Serialize)]
pub struct ExportEntry {
    pub key: String,
    pub kind: String,
    pub credential: String,
}

/// What the daemon writes for another tool (`export --for`).
#[derive(Debug, Serialize)]
pub struct Export {
    /// The tool, as `export --for` names it: `pixi`, `mamba`.
    #[serde(rename = "for")]
    pub tool: &'static str,
    pub target: String,
    pub enabled: bool,
    pub location: String,
    pub entries: Vec<ExportEntry>,
    pub last_written_at: Option<String>,
    pub last_error: Option<String>,
}

impl From<&pb::ExportStatus> for Export {
    fn from(e: &pb::ExportStatus) -> Self {
        Self {
            tool: crate::render::export_tool(e),
            target: enum_name(e.target().as_str_name(), "EXPORT_TARGET_"),
            enabled: e.enabled,
            location: e.location.clone(),
            entries: e
                .entries
                .iter()
                .map(|x| ExportEntry {
                    key: x.key.clone(),
                    kind: x.kind.clone(),
                    credential: x.credential.clone(),
                })
                .collect(),
            last_written_at: time(e.last_written_at),
            last_error: text(&e.last_error),
        }
    }
}

pub fn exports(all: &[pb::ExportStatus]) -> Vec<Export> {
    all.iter().map(Export::from).collect()
}

/// One event of `daemon watch --json`, one per line.
#[derive(Debug, Serialize)]
pub struct Event {
    pub at: Option<String>,
    pub kind: String,
    pub org: Option<String>,
    pub path: Option<String>,
    pub message: String,
}

impl From<&pb::WatchResponse> for Event {
    fn from(e: &pb::WatchResponse) -> Self {
        Self {
            at: time(e.at),
            kind: enum_name(e.kind().as_str_name(), "EVENT_KIND_"),
            org: text(&e.org),
            path: text(&e.path),
            message: e.message.clone(),
        }
    }
}

/// A conda installation found on this machine.
#[derive(Debug, Serialize)]
pub struct CondaInstallation {
    pub prefix: String,
    pub found_by: Vec<String>,
    pub python: Option<String>,
    pub conda_version: Option<String>,
    pub has_anacondad_plugin: bool,
    pub has_anaconda_auth: bool,
    pub anaconda_auth_version: Option<String>,
    pub plugin_install_command: Option<String>,
}

/// A `channel_settings` entry that wins over ours for a URL.
#[derive(Debug, Serialize)]
pub struct ShadowingEntry {
    pub url: String,
    pub channel: String,
    pub auth: Option<String>,
    pub source: Option<String>,
    pub ours: Option<String>,
    pub ours_source: Option<String>,
}

/// What conda makes of its configuration, as the daemon found it.
#[derive(Debug, Serialize)]
pub struct CondaView {
    pub installations: Vec<CondaInstallation>,
    pub defaults_in_effect: bool,
    pub channels: Vec<String>,
    /// What `defaults` stands for: conda's effective `default_channels`.
    pub default_channels: Vec<String>,
    pub shadowing_entries: Vec<ShadowingEntry>,
    pub files: Vec<String>,
    pub auth_handler: String,
    pub handler_loadable: bool,
    pub findings: Vec<String>,
}

impl CondaView {
    pub fn of(v: Option<&pb::CondaView>) -> Option<Self> {
        let v = v?;
        Some(Self {
            installations: v
                .installations
                .iter()
                .map(|i| CondaInstallation {
                    prefix: i.prefix.clone(),
                    found_by: i.found_by.clone(),
                    python: text(&i.python),
                    conda_version: text(&i.conda_version),
                    has_anacondad_plugin: i.has_anacondad_plugin,
                    has_anaconda_auth: i.has_anaconda_auth,
                    anaconda_auth_version: text(&i.anaconda_auth_version),
                    plugin_install_command: text(&i.plugin_install_command),
                })
                .collect(),
            defaults_in_effect: v.defaults_in_effect,
            channels: v.channels.clone(),
            default_channels: v.default_channels.clone(),
            shadowing_entries: v
                .shadowing_entries
                .iter()
                .map(|s| ShadowingEntry {
                    url: s.url.clone(),
                    channel: s.channel.clone(),
                    auth: text(&s.auth),
                    source: text(&s.source),
                    ours: text(&s.ours),
                    ours_source: text(&s.ours_source),
                })
                .collect(),
            files: v.files.clone(),
            auth_handler: v.auth_handler.clone(),
            handler_loadable: v.handler_loadable,
            findings: v.findings.clone(),
        })
    }
}
