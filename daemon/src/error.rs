//! [`Error`]: why a daemon operation failed, in words the user can act on. Each variant is one
//! cause; `service::error` maps each to one gRPC status and one [`ErrorReason`] detail.
//!
//! [`ErrorReason`]: anacondad_proto::v1::ErrorReason

use crate::api::ApiError;
use crate::condarc::CondarcError;
use crate::state::StateError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not logged in to {domain}: run `anacondactl login`")]
    NotLoggedIn { domain: String },
    #[error(
        "the organization {org} already has a token; reissuing revokes it on every machine that \
         uses it: confirm with --yes (or answer the prompt)"
    )]
    ConfirmationRequired { org: String },
    #[error("{org} is not one of your organizations with a repository subscription ({known})")]
    UnknownOrganization { org: String, known: String },
    #[error(
        "no token is stored for the organization {org}: run `anacondactl token install --org {org}`"
    )]
    NoToken { org: String },
    #[error("{org:?} is not an organization name (letters, digits, '-', '_' and '.')")]
    InvalidOrgName { org: String },
    #[error("the token is empty")]
    EmptyToken,
    #[error(
        "this is not a repo token ({reason}); nothing was stored: copy the whole token and try \
         again"
    )]
    NotAToken { reason: String },
    #[error("this is not an Anaconda API key ({reason}); copy the whole key and try again")]
    NotAnApiKey { reason: String },
    #[error("name the organization (--org ORG) or remove every token (--all)")]
    NoUninstallTarget,
    #[error("name the organization of the channels: --org ORG, or ORG/CHANNEL")]
    NoChannelOrg,
    #[error("name the channels of {org} (NAME...), or take them all with --all")]
    NoChannelNamed { org: String },
    #[error("{name:?} is not a channel of {org}")]
    ChannelOrgMismatch { name: String, org: String },
    #[error(
        "{org} has no channel {name:?} that you can read ({known}); see `anacondactl channels list --org {org}`"
    )]
    UnknownChannel {
        org: String,
        name: String,
        known: String,
    },
    #[error("the login was abandoned")]
    LoginAbandoned,
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the service issued a new token for {org} (the previous one is revoked), but it could not \
         be stored: {source}. The daemon holds it in memory and serves it until it stops; fix the \
         keychain, then run `anacondactl token install --org {org}` again"
    )]
    NewTokenNotStored {
        org: String,
        source: Box<StoreError>,
    },
    #[error(
        "{action} was not attempted: the credential store cannot keep its result ({cause}). \
         Nothing changed and the stored credentials still work; unlock the keychain or make the \
         store writable, then run the command again"
    )]
    StoreNotWritable { action: String, cause: String },
    #[error(
        "the token of {org} was reissued elsewhere (the service's current token is {current_id}, \
         not the one stored here), so anacondad did not reissue it back; the API key serves {org} \
         meanwhile. Store the other machine's token with `anacondactl token install --org {org} \
         TOKEN`, or reissue here with `anacondactl token install --org {org} --yes` \
         (which revokes the other one)"
    )]
    ReissuedElsewhere { org: String, current_id: String },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Condarc(#[from] CondarcError),
    /// A task the daemon runs off the async runtime ended without an answer (it panicked, or
    /// the daemon is stopping).
    #[error("the daemon could not finish {what}; see its log, then run the command again")]
    TaskLost { what: &'static str },
}

impl Error {
    /// True when the service gave no verdict ([`ApiError::is_no_answer`]).
    pub fn is_no_answer(&self) -> bool {
        matches!(self, Self::Api(e) if e.is_no_answer())
    }

    /// True when the user must log in (again) before this can work.
    pub fn is_login_required(&self) -> bool {
        match self {
            Self::NotLoggedIn { .. } => true,
            Self::Api(e) => e.is_login_required(),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub use crate::error_text::{chain, one_line};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_the_message_already_names_is_not_said_twice() {
        let e = crate::config::ConfigError::Read {
            path: "/x/config.toml".into(),
            source: std::io::Error::from_raw_os_error(5),
        };
        let line = one_line(chain(&e));
        let io = std::io::Error::from_raw_os_error(5).to_string();
        assert_eq!(line, format!("cannot read /x/config.toml: {io}"));
        // A cause the message does not name is still said.
        let wrapped = anyhow::Error::new(std::io::Error::from_raw_os_error(5)).context("starting");
        assert_eq!(one_line(wrapped.chain()), format!("starting: {io}"));
    }
}
