//! `AccountService`: login (device and browser flows, streamed), logout, whoami, API keys.

use std::sync::Arc;

use anacondad_proto::v1::{
    BrowserAuthorization, DeviceAuthorization, LoginMethod, LoginRequest, LoginResponse,
    LogoutRequest, LogoutResponse, SetApiKeyRequest, SetApiKeyResponse, WhoamiRequest,
    WhoamiResponse, account_service_server::AccountService, login_response::Event,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::convert;
use crate::context::DaemonContext;
use crate::manager::{CredentialManager, LoginOutcome, ManagerError};
use crate::secret::Secret;

#[derive(Debug)]
pub struct AccountApi {
    ctx: Arc<DaemonContext>,
}

impl AccountApi {
    pub fn new(ctx: Arc<DaemonContext>) -> Self {
        Self { ctx }
    }
}

type LoginSender = mpsc::Sender<Result<LoginResponse, Status>>;

fn abandoned() -> ManagerError {
    ManagerError::InvalidArgument("the login was abandoned".to_owned())
}

/// Sends what the user must see; fails when the caller has hung up.
async fn show(tx: &LoginSender, event: Event) -> Result<(), ManagerError> {
    tx.send(Ok(LoginResponse { event: Some(event) }))
        .await
        .map_err(|_| abandoned())
}

/// Waits for `flow` unless the caller hangs up first (then the flow is dropped: its polling or
/// loopback listener stops).
async fn unless_abandoned<T>(
    tx: &LoginSender,
    flow: impl std::future::Future<Output = T>,
) -> Result<T, ManagerError> {
    tokio::select! {
        result = flow => Ok(result),
        () = tx.closed() => Err(abandoned()),
    }
}

/// Runs one login to its end, telling the caller what to show on the way. Stops early when
/// the caller hangs up.
async fn run_login(
    manager: Arc<CredentialManager>,
    method: LoginMethod,
    force: bool,
    browser_port: u16,
    tx: LoginSender,
) -> Result<LoginOutcome, ManagerError> {
    if !force && let Some(outcome) = manager.already_logged_in().await? {
        return Ok(outcome);
    }
    let tokens = match method {
        LoginMethod::Browser => {
            let login = manager.api().start_browser_flow(browser_port).await?;
            show(
                &tx,
                Event::Browser(BrowserAuthorization {
                    authorization_url: login.authorization_url().to_string(),
                }),
            )
            .await?;
            unless_abandoned(&tx, manager.api().finish_browser_flow(login)).await??
        }
        LoginMethod::Device | LoginMethod::Unspecified => {
            let device = manager.api().start_device_flow().await?;
            let expires_at =
                jiff::Timestamp::now().as_second() + device.expires_in.as_secs() as i64;
            show(
                &tx,
                Event::Device(DeviceAuthorization {
                    user_code: device.user_code.clone(),
                    verification_uri: device.verification_uri.clone(),
                    verification_uri_complete: device
                        .verification_uri_complete
                        .clone()
                        .unwrap_or_default(),
                    expires_at,
                }),
            )
            .await?;
            unless_abandoned(&tx, manager.api().poll_device_flow(&device)).await??
        }
    };
    manager.complete_login(tokens).await
}

#[tonic::async_trait]
impl AccountService for AccountApi {
    async fn login(
        &self,
        request: Request<LoginRequest>,
    ) -> Result<Response<BoxStream<LoginResponse>>, Status> {
        let req = request.into_inner();
        let method = req.method();
        let manager = self.ctx.manager.clone();
        let storage_manager = manager.clone();
        let port = self.ctx.settings.browser_login_port;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let result = run_login(manager, method, req.force, port, tx.clone()).await;
            let message = match result {
                Ok(outcome) => Ok(LoginResponse {
                    event: Some(Event::Outcome(anacondad_proto::v1::LoginOutcome {
                        username: outcome.username,
                        email: outcome.email,
                        api_key_expires_at: outcome.api_key_expires_at.map_or(0, |t| t.as_second()),
                        storage: Some(convert::storage(&storage_manager.storage_view_news())),
                        already_logged_in: outcome.already_logged_in,
                    })),
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "login failed");
                    Err(Status::from(e))
                }
            };
            let _caller_gone_is_fine = tx.send(message).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn logout(&self, _: Request<LogoutRequest>) -> Result<Response<LogoutResponse>, Status> {
        let removed = self.ctx.manager.logout().await?;
        Ok(Response::new(LogoutResponse {
            removed,
            storage: Some(convert::storage(&self.ctx.manager.storage_view())),
        }))
    }

    async fn whoami(&self, _: Request<WhoamiRequest>) -> Result<Response<WhoamiResponse>, Status> {
        let who = self.ctx.manager.whoami().await?;
        Ok(Response::new(WhoamiResponse {
            login: Some(convert::login(&who.login)),
            user_id: who.user_id,
            username: who.username,
            email: who.email,
            first_name: who.first_name,
            last_name: who.last_name,
        }))
    }

    async fn set_api_key(
        &self,
        request: Request<SetApiKeyRequest>,
    ) -> Result<Response<SetApiKeyResponse>, Status> {
        let key = Secret::new(request.into_inner().api_key);
        self.ctx.manager.set_api_key(key).await?;
        let manager = &self.ctx.manager;
        Ok(Response::new(SetApiKeyResponse {
            login: Some(convert::login(&manager.login_view().await)),
            storage: Some(convert::storage(&manager.storage_view_news())),
        }))
    }
}
