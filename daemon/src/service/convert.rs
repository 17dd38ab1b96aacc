//! Domain views to wire messages.

use anacondad_proto::v1 as pb;

use crate::condarc::CondarcState;
use crate::manager::{LoginView, StorageView, TokenHealth, TokenView, Validation};
use crate::store::BackendKind;

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

pub fn login(view: &LoginView) -> pb::LoginStatus {
    let state = if view.login_required {
        pb::LoginState::LoginRequired
    } else if view.logged_in {
        let soon = view
            .api_key_expires_at
            .is_some_and(|t| t.as_second() - jiff::Timestamp::now().as_second() < 14 * 86_400);
        if soon && !view.can_renew {
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
        api_key_from_environment: view.api_key_from_environment,
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
