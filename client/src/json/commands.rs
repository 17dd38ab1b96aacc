//! The answers of the commands that act: log in, install or list tokens, configure conda, run
//! the daemon, manage sites, diagnose. Each type is what one command prints under `--json`.

use anacondad_proto::v1 as pb;
use serde::Serialize;
use serde::ser::SerializeMap as _;

use super::daemon::{CondaView, Condarc, Export, Login, Storage, Token};
use super::{enum_name, text, time};

/// `login --api-key-stdin`.
#[derive(Debug, Serialize)]
pub struct ApiKeySet {
    pub login: Option<Login>,
    pub storage: Option<Storage>,
}

/// `login`.
#[derive(Debug, Serialize)]
pub struct LoggedIn {
    pub username: String,
    pub email: Option<String>,
    pub api_key_expires_at: Option<String>,
    pub already_logged_in: bool,
    pub storage: Option<Storage>,
}

impl From<&pb::LoginOutcome> for LoggedIn {
    fn from(o: &pb::LoginOutcome) -> Self {
        Self {
            username: o.username.clone(),
            email: text(&o.email),
            api_key_expires_at: time(o.api_key_expires_at),
            already_logged_in: o.already_logged_in,
            storage: Storage::of(o.storage.as_ref()),
        }
    }
}

/// `logout`.
#[derive(Debug, Serialize)]
pub struct LoggedOut {
    pub removed: bool,
    /// With `--revoke`: the ids of the keys revoked at the service (minted ones, then the
    /// account's own).
    pub revoked: Vec<String>,
}

/// `whoami`.
#[derive(Debug, Serialize)]
pub struct Whoami {
    pub user_id: Option<String>,
    pub username: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub login: Option<Login>,
}

impl From<&pb::WhoamiResponse> for Whoami {
    fn from(w: &pb::WhoamiResponse) -> Self {
        Self {
            user_id: text(&w.user_id),
            username: w.username.clone(),
            email: text(&w.email),
            first_name: text(&w.first_name),
            last_name: text(&w.last_name),
            login: Login::of(w.login.as_ref()),
        }
    }
}

/// `credential get` and `credential rejected` when a credential applies; when none does, the
/// command fails with an [`super::ErrorJson`] whose `reason` says why (`nothing_stored`,
/// `no_token_for_org`, `rejected`, `not_our_repository`, `unknown_auth_domain`).
#[derive(Debug, Serialize)]
pub struct Credential {
    pub found: bool,
    /// The whole `Authorization` header value: a secret.
    pub header_value: String,
    /// `repo_token` or `api_key`.
    pub kind: String,
    pub org: Option<String>,
    pub expires_at: Option<String>,
    /// The URL prefix the answer holds for (ends in `/`).
    pub scope: Option<String>,
    /// `credential get --also URL`: the answer for each of those URLs, in the order given
    /// (`[]` without the option, and for `credential rejected`).
    pub also: Vec<OtherCredential>,
}

impl From<&pb::GetCredentialResponse> for Credential {
    fn from(c: &pb::GetCredentialResponse) -> Self {
        Self {
            found: true,
            header_value: c.header_value.clone(),
            kind: enum_name(c.kind().as_str_name(), "CREDENTIAL_KIND_"),
            org: text(&c.org),
            expires_at: time(c.expires_at),
            scope: text(&c.scope),
            also: Vec::new(),
        }
    }
}

/// The answer for one URL of `credential get --also`: the fields of [`Credential`] when one
/// applies (`found` true, `error` and `reason` null), else `found` false, the credential's
/// fields null and `error`/`reason` as a failing `credential get` of that URL would print
/// them.
#[derive(Debug, Serialize)]
pub struct OtherCredential {
    /// The URL asked about, without user info, query or fragment.
    pub url: String,
    pub found: bool,
    /// The whole `Authorization` header value: a secret.
    pub header_value: Option<String>,
    /// `repo_token` or `api_key`.
    pub kind: Option<String>,
    pub org: Option<String>,
    pub expires_at: Option<String>,
    /// The URL prefix the answer holds for (ends in `/`).
    pub scope: Option<String>,
    pub error: Option<String>,
    pub reason: Option<String>,
}

impl OtherCredential {
    pub fn found(url: String, c: &pb::GetCredentialResponse) -> Self {
        let credential = Credential::from(c);
        Self {
            url,
            found: true,
            header_value: Some(credential.header_value),
            kind: Some(credential.kind),
            org: credential.org,
            expires_at: credential.expires_at,
            scope: credential.scope,
            error: None,
            reason: None,
        }
    }

    pub fn failed(url: String, e: &crate::exit::CliError) -> Self {
        Self {
            url,
            found: false,
            header_value: None,
            kind: None,
            org: None,
            expires_at: None,
            scope: None,
            error: Some(e.message.clone()),
            reason: Some(e.reason_code()),
        }
    }
}

/// `condarc show`.
#[derive(Debug, Serialize)]
pub struct CondarcPlan {
    pub path: String,
    pub changes: bool,
    pub summary: Vec<String>,
    pub diff: Option<String>,
}

impl From<&pb::PlanCondarcResponse> for CondarcPlan {
    fn from(p: &pb::PlanCondarcResponse) -> Self {
        Self {
            path: p.path.clone(),
            changes: p.changes,
            summary: p.summary.clone(),
            diff: text(&p.diff),
        }
    }
}

/// `condarc check`.
#[derive(Debug, Serialize)]
pub struct CondarcCheck {
    pub status: Option<Condarc>,
    pub findings: Vec<String>,
    /// What is as the user chose it and stays so (never a finding).
    pub notes: Vec<String>,
    pub conda: Option<CondaView>,
}

/// What writing `.condarc` did (in `condarc apply` and `token install`).
#[derive(Debug, Serialize)]
pub struct CondarcApplied {
    pub path: String,
    pub changed: bool,
    pub backup_path: Option<String>,
    pub summary: Vec<String>,
    pub diff: Option<String>,
}

impl From<&pb::ApplyCondarcResponse> for CondarcApplied {
    fn from(a: &pb::ApplyCondarcResponse) -> Self {
        Self {
            path: a.path.clone(),
            changed: a.changed,
            backup_path: text(&a.backup_path),
            summary: a.summary.clone(),
            diff: text(&a.diff),
        }
    }
}

/// `condarc apply`: what was written, and what still keeps conda from using it.
#[derive(Debug, Serialize)]
pub struct CondarcApply {
    #[serde(flatten)]
    pub applied: CondarcApplied,
    pub conda_findings: Vec<String>,
}

/// `daemon start`.
#[derive(Debug, Serialize)]
pub struct DaemonStarted {
    pub already_running: bool,
    pub pid: u32,
    pub socket: String,
}

/// `daemon stop`.
#[derive(Debug, Serialize)]
pub struct DaemonStopped {
    pub stopped: bool,
    pub running: bool,
}

/// `export --for TOOL`.
#[derive(Debug, Serialize)]
pub struct ExportDone {
    pub dry_run: bool,
    pub export: Export,
}

/// `token install -` (a token given on standard input).
#[derive(Debug, Serialize)]
pub struct TokenStored {
    pub token: Token,
    pub validated: bool,
    pub validation_error: Option<String>,
}

/// `token install` and `token refresh`.
#[derive(Debug, Serialize)]
pub struct TokenInstalled {
    pub token: Option<Token>,
    pub reissued: bool,
    pub validated: bool,
    pub validation_error: Option<String>,
    pub storage: Option<Storage>,
    pub condarc: Option<CondarcApplied>,
    /// `token install`'s channel step: the org's channels offered and added, and what conda
    /// searches afterwards; null when the step did not run (`--no-condarc`, `token refresh`,
    /// a kept token, a failure before it).
    pub channels: Option<super::channels::ChannelStep>,
}

impl TokenInstalled {
    pub fn new(
        answer: &pb::InstallTokenResponse,
        applied: Option<&pb::ApplyCondarcResponse>,
    ) -> Self {
        let validation = answer.validation.clone().unwrap_or_default();
        Self {
            token: answer.token.as_ref().map(Token::from),
            reissued: answer.reissued,
            validated: validation.ok,
            validation_error: text(&validation.error),
            storage: Storage::of(answer.storage.as_ref()),
            condarc: applied.map(CondarcApplied::from),
            channels: None,
        }
    }
}

/// `token auto-renew`.
#[derive(Debug, Serialize)]
pub struct AutoRenew {
    pub token: Token,
}

/// `token list`.
#[derive(Debug, Serialize)]
pub struct TokenList {
    pub tokens: Vec<Token>,
    pub storage: Option<Storage>,
    pub exports: Vec<Export>,
}

/// `token uninstall`.
#[derive(Debug, Serialize)]
pub struct TokensUninstalled {
    pub removed: Vec<String>,
    pub remaining: Vec<String>,
    pub condarc_changed: bool,
    pub condarc_path: Option<String>,
    pub condarc_changes: Vec<String>,
}

impl From<&pb::UninstallTokenResponse> for TokensUninstalled {
    fn from(a: &pb::UninstallTokenResponse) -> Self {
        Self {
            removed: a.removed_orgs.clone(),
            remaining: a.remaining_orgs.clone(),
            condarc_changed: a.condarc_changed,
            condarc_path: text(&a.condarc_path),
            condarc_changes: a.condarc_changes.clone(),
        }
    }
}

/// One setting of `config show`: its value and where it came from.
#[derive(Debug, Serialize)]
pub struct ConfigValue {
    pub value: Option<String>,
    pub source: String,
    /// The file or variable that set it.
    pub from: Option<String>,
}

/// Settings by key, in the daemon's order (a JSON object).
#[derive(Debug)]
pub struct ConfigValues(pub Vec<(String, ConfigValue)>);

impl ConfigValues {
    pub fn of(values: &[pb::ConfigValue]) -> Self {
        Self(
            values
                .iter()
                .map(|v| {
                    let value = ConfigValue {
                        value: text(&v.value),
                        source: v.source.clone(),
                        from: text(&v.source_detail),
                    };
                    (v.key.clone(), value)
                })
                .collect(),
        )
    }
}

impl Serialize for ConfigValues {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// One site's settings in `config show`.
#[derive(Debug, Serialize)]
pub struct SiteConfig {
    pub name: String,
    pub default: bool,
    /// `flag (--at)` when `--at` chose it.
    pub selected_by: Option<&'static str>,
    pub configured_in: Vec<String>,
    pub values: ConfigValues,
}

/// `config show`.
#[derive(Debug, Serialize)]
pub struct ConfigShow {
    pub daemon: ConfigValues,
    pub sites: Vec<SiteConfig>,
}

/// One site of `sites list` and `sites show`.
#[derive(Debug, Serialize)]
pub struct Site {
    pub name: String,
    pub domain: String,
    pub repo_url: String,
    pub extra_repo_urls: Vec<String>,
    pub default: bool,
    pub configured_in: Vec<String>,
    pub holds_credentials: bool,
}

impl From<&pb::SiteInfo> for Site {
    fn from(s: &pb::SiteInfo) -> Self {
        Self {
            name: s.name.clone(),
            domain: s.domain.clone(),
            repo_url: s.repo_url.clone(),
            extra_repo_urls: s.extra_repo_urls.clone(),
            default: s.is_default,
            configured_in: s.configured_in.clone(),
            holds_credentials: s.holds_credentials,
        }
    }
}

/// `sites list`.
#[derive(Debug, Serialize)]
pub struct SiteList {
    pub sites: Vec<Site>,
    pub config_file: Option<String>,
}

/// `sites add`.
#[derive(Debug, Serialize)]
pub struct SiteAdded {
    pub path: String,
    pub added: Vec<String>,
    pub default_site: Option<String>,
    pub daemon_restarted: bool,
}

impl SiteAdded {
    pub fn new(answer: &pb::AddSiteResponse, daemon_restarted: bool) -> Self {
        Self {
            path: answer.path.clone(),
            added: answer.added.clone(),
            default_site: text(&answer.default_site),
            daemon_restarted,
        }
    }
}

/// `sites remove`.
#[derive(Debug, Serialize)]
pub struct SiteRemoved {
    pub path: String,
    pub removed: String,
    pub daemon_restarted: bool,
}

/// One check of `doctor`.
#[derive(Debug, Serialize)]
pub struct Check {
    pub id: String,
    pub section: String,
    /// `ok`, `warn` or `fail`.
    pub state: &'static str,
    pub evidence: String,
    /// The command that fixes it.
    pub fix: Option<String>,
    /// `doctor --fix` can repair it.
    pub fixable: bool,
}

/// `doctor`.
#[derive(Debug, Serialize)]
pub struct DoctorReport {
    pub checks: Vec<Check>,
    pub ok: usize,
    pub warn: usize,
    pub fail: usize,
    pub fixed: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_gives_its_expiry_in_rfc_3339_and_a_missing_email_as_null() {
        let outcome = pb::LoginOutcome {
            username: "demo".into(),
            api_key_expires_at: 86400,
            ..Default::default()
        };
        let json = serde_json::to_value(LoggedIn::from(&outcome)).unwrap();
        assert_eq!(json["api_key_expires_at"], "1970-01-02T00:00:00Z");
        assert!(json["email"].is_null(), "{json}");
    }
}
