//! Domain views to wire messages.

use anacondad_proto::v1 as pb;

use crate::account::LoginView;
use crate::conda_setup::CondarcStatusView;
use crate::condarc_text::CondarcState;
use crate::credential_kind::CredentialKind;
use crate::credentials::{Answer, EntrySettings, NoCredential};
use crate::store::BackendKind;
use crate::tokens::{TokenHealth, TokenView, Validation};
use crate::vault::StorageView;

fn secs(t: Option<jiff::Timestamp>) -> i64 {
    t.map_or(0, |t| t.as_second())
}

pub fn storage(view: &StorageView) -> pb::StorageStatus {
    let backend = match view.backend {
        None => pb::StorageBackend::Unspecified,
        Some(BackendKind::System) => pb::StorageBackend::System,
        Some(BackendKind::File) => pb::StorageBackend::File,
        Some(BackendKind::Memory) => pb::StorageBackend::Memory,
    };
    pb::StorageStatus {
        backend: backend.into(),
        location: view.location.clone(),
        warning: view.warning.clone(),
        configured: view.configured.clone(),
        notices: view.notices.clone(),
        warning_is_new: view.warning_is_new,
    }
}

/// The login state as of `now`: "expiring" as [`LoginView::expiring`] says.
pub fn login(view: &LoginView, now: jiff::Timestamp) -> pb::LoginStatus {
    let state = if view.login_required {
        pb::LoginState::LoginRequired
    } else if view.logged_in {
        if view.expiring(now) {
            pb::LoginState::Expiring
        } else {
            pb::LoginState::LoggedIn
        }
    } else {
        pb::LoginState::LoggedOut
    };
    pb::LoginStatus {
        state: state.into(),
        domain: view.domain.clone(),
        username: view.username.clone(),
        api_key_expires_at: secs(view.api_key_expires_at),
        api_key_from_environment: view.api_key_from_environment(),
        can_renew: view.can_renew,
    }
}

pub fn token(view: &TokenView) -> pb::TokenSummary {
    let state = match view.health {
        TokenHealth::Valid => pb::TokenState::Valid,
        TokenHealth::RefreshDue => pb::TokenState::RefreshDue,
        TokenHealth::Expired => pb::TokenState::Expired,
        TokenHealth::Rejected => pb::TokenState::Rejected,
        TokenHealth::Unknown => pb::TokenState::Unknown,
        TokenHealth::Replaced => pb::TokenState::Replaced,
    };
    pb::TokenSummary {
        org: view.org.clone(),
        channel_url: view.channel_url.clone(),
        masked_token: view.masked.clone(),
        token_id: view.token_id.clone().unwrap_or_default(),
        issued_at: secs(view.issued_at),
        expires_at: secs(view.expires_at),
        next_refresh_at: secs(view.next_refresh_at),
        last_validated_at: secs(view.last_validated_at),
        state: state.into(),
        last_error: view.last_error.clone().unwrap_or_default(),
        auto_renew: view.auto_renew,
    }
}

pub fn validation(v: &Validation) -> pb::ValidationResult {
    pb::ValidationResult {
        ok: v.ok,
        validated_at: secs(v.validated_at),
        error: v.error.clone().unwrap_or_default(),
    }
}

pub fn condarc_state(state: CondarcState) -> pb::CondarcState {
    match state {
        CondarcState::Configured => pb::CondarcState::Configured,
        CondarcState::NotConfigured => pb::CondarcState::NotConfigured,
        CondarcState::Drifted => pb::CondarcState::Drifted,
        CondarcState::Malformed => pb::CondarcState::Malformed,
    }
}

pub fn condarc_status(view: &CondarcStatusView) -> pb::CondarcStatus {
    pb::CondarcStatus {
        state: condarc_state(view.state).into(),
        path: view.path.display().to_string(),
        detail: view.findings.first().cloned().unwrap_or_default(),
        orgs_without_token: view.orgs_without_token.clone(),
    }
}

/// The request's `channel_settings` entry keys; unspecified and empty mean the entry says nothing.
pub fn entry_settings(credential_type: pb::CredentialKind, auth_domain: String) -> EntrySettings {
    EntrySettings {
        credential_type: match credential_type {
            pb::CredentialKind::Unspecified => None,
            pb::CredentialKind::RepoToken => Some(CredentialKind::RepoToken),
            pb::CredentialKind::ApiKey => Some(CredentialKind::ApiKey),
        },
        auth_domain: Some(auth_domain).filter(|d| !d.is_empty()),
    }
}

pub fn credential(answer: Answer) -> pb::GetCredentialResponse {
    let scope = answer.scope.unwrap_or_default();
    match answer.outcome {
        Ok(c) => pb::GetCredentialResponse {
            found: true,
            header_value: c.header_value.expose().to_owned(),
            kind: match c.kind {
                CredentialKind::RepoToken => pb::CredentialKind::RepoToken,
                CredentialKind::ApiKey => pb::CredentialKind::ApiKey,
            }
            .into(),
            org: c.org.unwrap_or_default(),
            expires_at: secs(c.expires_at),
            scope,
            ..Default::default()
        },
        Err(none) => pb::GetCredentialResponse {
            found: false,
            reason: none.to_string(),
            no_credential: match none {
                NoCredential::NotOurRepository { .. } => pb::NoCredentialReason::NotOurRepository,
                NoCredential::NothingStored => pb::NoCredentialReason::NothingStored,
                NoCredential::NoTokenForOrg { .. } => pb::NoCredentialReason::NoTokenForOrg,
                // The repository refuses a token the service replaced.
                NoCredential::Rejected { .. } | NoCredential::TokenReplaced { .. } => {
                    pb::NoCredentialReason::Rejected
                }
                NoCredential::UnknownAuthDomain { .. } => pb::NoCredentialReason::UnknownAuthDomain,
            }
            .into(),
            scope,
            ..Default::default()
        },
    }
}

pub fn diagnosis(d: &crate::diagnose::Diagnosis) -> pb::DiagnoseResponse {
    pb::DiagnoseResponse {
        checks: d.findings.iter().map(check).collect(),
        started_by: d.started_by.to_owned(),
        conda_checks: d.conda.iter().map(check).collect(),
        conda_checked: d.conda_checked,
    }
}

fn check(f: &crate::diagnose::Finding) -> pb::Check {
    use crate::diagnose::Level;
    pb::Check {
        id: f.id.clone(),
        section: f.section.clone(),
        state: match f.level {
            Level::Ok => pb::CheckState::Ok,
            Level::Warn => pb::CheckState::Warn,
            Level::Fail => pb::CheckState::Fail,
        }
        .into(),
        evidence: f.evidence.clone(),
        fix: f.fix.clone(),
        fixable: f.fixable,
    }
}
