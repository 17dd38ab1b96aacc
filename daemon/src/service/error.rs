//! The one mapping from daemon errors to gRPC statuses. Messages say what to do next and carry
//! no secrets; every status the daemon makes is marked, so the CLI can tell it from a broken
//! connection.

use tonic::{Code, Status};

use crate::api::ApiError;
use crate::condarc::CondarcError;
use crate::manager::ManagerError;
use crate::store::StoreError;

use anacondad_proto::ORIGIN_METADATA_KEY;

/// A status made by the daemon.
pub fn status(code: Code, message: impl Into<String>) -> Status {
    let mut status = Status::new(code, message.into());
    status.metadata_mut().insert(
        ORIGIN_METADATA_KEY,
        tonic::metadata::MetadataValue::from_static("daemon"),
    );
    status
}

fn api_code(e: &ApiError) -> Code {
    match e {
        ApiError::LoginRequired { .. } => Code::Unauthenticated,
        ApiError::Forbidden { .. } => Code::PermissionDenied,
        ApiError::NotFound { .. } => Code::NotFound,
        ApiError::Transient { .. } | ApiError::Tls { .. } => Code::Unavailable,
        ApiError::OutcomeUnknown { .. } => Code::Aborted,
        ApiError::InsecureTransport { .. }
        | ApiError::Config { .. }
        | ApiError::CaBundle { .. } => Code::FailedPrecondition,
        ApiError::DeviceCodeExpired | ApiError::AccessDenied | ApiError::LoginRejected { .. } => {
            Code::PermissionDenied
        }
        _ => Code::Internal,
    }
}

impl From<ManagerError> for Status {
    fn from(e: ManagerError) -> Self {
        let code = match &e {
            ManagerError::NotLoggedIn { .. } => Code::Unauthenticated,
            ManagerError::ConfirmationRequired { .. } => Code::FailedPrecondition,
            ManagerError::UnknownOrganization { .. } | ManagerError::NoToken { .. } => {
                Code::NotFound
            }
            ManagerError::InvalidArgument(_) => Code::InvalidArgument,
            ManagerError::Api(api) => api_code(api),
            ManagerError::Store(StoreError::Timeout { .. }) => Code::Unavailable,
            ManagerError::Store(StoreError::ApiKeyFromEnvironment) => Code::FailedPrecondition,
            ManagerError::Store(_) | ManagerError::State(_) => Code::Internal,
            ManagerError::NewTokenNotStored { .. } => Code::DataLoss,
        };
        status(code, e.to_string())
    }
}

impl From<CondarcError> for Status {
    fn from(e: CondarcError) -> Self {
        status(Code::FailedPrecondition, e.to_string())
    }
}
