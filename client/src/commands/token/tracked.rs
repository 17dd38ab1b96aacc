//! The shared progress wrapper: one token-service call under a fresh request id, with its
//! progress shown on a terminal while it takes long.

use std::future::Future;

use anacondad_proto::v1::token_service_client::TokenServiceClient;

use anacondad_proto::DaemonChannel;

use crate::connection::DaemonClient;
use crate::progress::{Progress, RequestId};

/// Sends `message` through `call` on the token service, tagged with a fresh request id, and
/// shows `what` (and the steps the daemon completes) while it waits, unless `json`.
pub(super) async fn tracked<M, T, F, Fut>(
    client: &DaemonClient,
    json: bool,
    what: &str,
    message: M,
    call: F,
) -> Result<T, tonic::Status>
where
    F: FnOnce(TokenServiceClient<DaemonChannel>, tonic::Request<M>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let id = RequestId::new();
    let answer = Progress::new(json)
        .during(
            client,
            &id,
            what,
            call(client.tokens(), id.request(message)),
        )
        .await?;
    Ok(answer.into_inner())
}
