//! The one mapping from daemon errors to gRPC statuses. Messages say what to do next and carry
//! no secrets; every status carries an [`ErrorDetail`] with the cause, so a client acts on the
//! reason (exit code, prompt) without reading the message, and the origin marker that tells a
//! daemon's answer from a broken connection.

use anacondad_proto::ORIGIN_METADATA_KEY;
use anacondad_proto::v1::{ErrorDetail, ErrorReason};
use prost::Message as _;
use tonic::{Code, Status};

use crate::api::ApiError;
use crate::error::Error;
use crate::store::StoreError;

/// A status made by the daemon, with its reason.
pub fn status(code: Code, reason: ErrorReason, org: &str, message: impl Into<String>) -> Status {
    let detail = ErrorDetail {
        reason: reason.into(),
        org: org.to_owned(),
    };
    let mut status = Status::with_details(code, message.into(), detail.encode_to_vec().into());
    status.metadata_mut().insert(
        ORIGIN_METADATA_KEY,
        tonic::metadata::MetadataValue::from_static("daemon"),
    );
    status
}

/// A configuration edit that was not made: the request's fault, or the file's.
pub fn edit_status(e: &crate::config::edit::EditError) -> Status {
    use crate::config::edit::EditError as E;
    let code = match e {
        E::Exists { .. } => Code::AlreadyExists,
        E::Missing { .. } => Code::NotFound,
        E::Invalid { .. } => Code::InvalidArgument,
        E::HoldsCredentials { .. } => {
            return status(
                Code::FailedPrecondition,
                ErrorReason::ConfirmationRequired,
                "",
                e.to_string(),
            );
        }
        E::Config(_) | E::Shape { .. } | E::Write { .. } => Code::FailedPrecondition,
    };
    status(code, ErrorReason::Configuration, "", e.to_string())
}

fn api_code(e: &ApiError) -> (Code, ErrorReason) {
    use ErrorReason as R;
    match e {
        ApiError::LoginRequired { .. } => (Code::Unauthenticated, R::LoginRequired),
        ApiError::DeviceCodeExpired | ApiError::AccessDenied | ApiError::LoginRejected { .. } => {
            (Code::PermissionDenied, R::LoginRequired)
        }
        ApiError::Forbidden { .. } | ApiError::InsufficientScope { .. } => {
            (Code::PermissionDenied, R::Service)
        }
        ApiError::NotFound { .. } => (Code::NotFound, R::Service),
        ApiError::Transient { .. } | ApiError::Tls { .. } => (Code::Unavailable, R::Service),
        ApiError::OutcomeUnknown { .. } => (Code::Aborted, R::Service),
        ApiError::InvalidResponse { .. } => (Code::Unavailable, R::Service),
        ApiError::InsecureTransport { .. }
        | ApiError::Config { .. }
        | ApiError::CaBundle { .. }
        | ApiError::Loopback { .. } => (Code::FailedPrecondition, R::Service),
    }
}

fn store_code(e: &StoreError) -> Code {
    match e {
        StoreError::Timeout { .. } => Code::Unavailable,
        StoreError::ApiKeyFromEnvironment => Code::FailedPrecondition,
        StoreError::Backend { .. } | StoreError::Record { .. } | StoreError::Task { .. } => {
            Code::Internal
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        use ErrorReason as R;
        let (code, reason, org) = match &e {
            Error::NotLoggedIn { .. } => (Code::Unauthenticated, R::LoginRequired, ""),
            Error::ConfirmationRequired { org } => (
                Code::FailedPrecondition,
                R::ConfirmationRequired,
                org.as_str(),
            ),
            Error::UnknownOrganization { org, .. } => {
                (Code::NotFound, R::UnknownOrganization, org.as_str())
            }
            Error::NoToken { org } => (Code::NotFound, R::NoToken, org.as_str()),
            Error::InvalidOrgName { .. }
            | Error::EmptyToken
            | Error::NotAToken { .. }
            | Error::NotAnApiKey { .. }
            | Error::NoUninstallTarget
            | Error::NoChannelOrg
            | Error::NoChannelNamed { .. }
            | Error::ChannelOrgMismatch { .. } => (Code::InvalidArgument, R::InvalidArgument, ""),
            Error::UnknownChannel { org, .. } => (Code::NotFound, R::InvalidArgument, org.as_str()),
            Error::LoginAbandoned => (Code::Cancelled, R::Abandoned, ""),
            Error::Api(api) => {
                let (code, reason) = api_code(api);
                (code, reason, "")
            }
            Error::Store(store) => (store_code(store), R::Storage, ""),
            Error::NewTokenNotStored { org, .. } => {
                (Code::DataLoss, R::NewTokenNotStored, org.as_str())
            }
            Error::StoreNotWritable { .. } => (Code::FailedPrecondition, R::Storage, ""),
            Error::ReissuedElsewhere { org, .. } => {
                (Code::FailedPrecondition, R::ReissuedElsewhere, org.as_str())
            }
            Error::State(_) => (Code::Internal, R::State, ""),
            Error::Condarc(_) => (Code::FailedPrecondition, R::Condarc, ""),
            Error::TaskLost { .. } => (Code::Unavailable, R::Unspecified, ""),
        };
        status(code, reason, org, e.to_string())
    }
}
