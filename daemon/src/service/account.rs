//! `AccountService`: login (device and browser flows, streamed), logout, whoami, API keys.

use std::sync::Arc;

use anacondad_proto::v1::{
    BrowserAuthorization, DeviceAuthorization, LoginMethod as WireMethod, LoginRequest,
    LoginResponse, LogoutRequest, LogoutResponse, SetApiKeyRequest, SetApiKeyResponse,
    WhoamiRequest, WhoamiResponse, account_service_server::AccountService, login_response::Event,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::convert;
use crate::account::{LoginMethod, LoginPrompt};
use crate::daemon::Daemon;
use crate::secret::Secret;

#[derive(Debug)]
pub struct AccountApi {
    daemon: Arc<Daemon>,
}

impl AccountApi {
    pub fn new(daemon: Arc<Daemon>) -> Self {
        Self { daemon }
    }
}

fn prompt_event(prompt: LoginPrompt) -> Event {
    match prompt {
        LoginPrompt::Browser { authorization_url } => {
            Event::Browser(BrowserAuthorization { authorization_url })
        }
        LoginPrompt::Device {
            user_code,
            verification_uri,
            verification_uri_complete,
            expires_at,
        } => Event::Device(DeviceAuthorization {
            user_code,
            verification_uri,
            verification_uri_complete: verification_uri_complete.unwrap_or_default(),
            expires_at: expires_at.as_second(),
        }),
    }
}

type LoginSender = mpsc::Sender<Result<LoginResponse, Status>>;

/// Passes the login's prompts on to the caller until the login ends or the caller hangs up
/// (then `prompts` closes, which abandons the login).
async fn relay(mut prompts: mpsc::Receiver<LoginPrompt>, tx: LoginSender) {
    loop {
        tokio::select! {
            prompt = prompts.recv() => {
                let Some(prompt) = prompt else { return };
                let event = LoginResponse { event: Some(prompt_event(prompt)) };
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
            }
            () = tx.closed() => return,
        }
    }
}

#[tonic::async_trait]
impl AccountService for AccountApi {
    async fn login(
        &self,
        request: Request<LoginRequest>,
    ) -> Result<Response<BoxStream<LoginResponse>>, Status> {
        let site = super::site_of(&self.daemon, &request)?.clone();
        let req = request.into_inner();
        let method = match req.method() {
            WireMethod::Browser => LoginMethod::Browser,
            WireMethod::Device | WireMethod::Unspecified => LoginMethod::Device,
        };
        let daemon = self.daemon.clone();
        let port = daemon.config.settings.browser_login_port;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let (prompts, pending) = mpsc::channel(2);
            let relayed = tokio::spawn(relay(pending, tx.clone()));
            let result = site.account.login(method, req.force, port, &prompts).await;
            drop(prompts);
            let _relay_ends_with_the_prompts = relayed.await;
            if result.is_ok() {
                daemon.remember_login_site(&site).await;
            }
            let message = match result {
                Ok(outcome) => Ok(LoginResponse {
                    event: Some(Event::Outcome(anacondad_proto::v1::LoginOutcome {
                        username: outcome.username,
                        email: outcome.email,
                        api_key_expires_at: outcome.api_key_expires_at.map_or(0, |t| t.as_second()),
                        storage: Some(convert::storage(&site.vault.storage_view_news())),
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

    async fn logout(
        &self,
        request: Request<LogoutRequest>,
    ) -> Result<Response<LogoutResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let removed = site.account.logout().await?;
        Ok(Response::new(LogoutResponse {
            removed,
            storage: Some(convert::storage(&site.vault.storage_view())),
        }))
    }

    async fn whoami(
        &self,
        request: Request<WhoamiRequest>,
    ) -> Result<Response<WhoamiResponse>, Status> {
        let site = super::site_of(&self.daemon, &request)?;
        let deadline = super::deadline(&self.daemon, &request);
        deadline
            .run(async move {
                super::renew_lapsed_api_key(site).await;
                let who = site.account.whoami().await?;
                Ok(Response::new(WhoamiResponse {
                    login: Some(convert::login(&who.login, self.daemon.clock.now())),
                    user_id: who.user_id,
                    username: who.username,
                    email: who.email,
                    first_name: who.first_name,
                    last_name: who.last_name,
                }))
            })
            .await
    }

    async fn set_api_key(
        &self,
        request: Request<SetApiKeyRequest>,
    ) -> Result<Response<SetApiKeyResponse>, Status> {
        let daemon = &self.daemon;
        let site = super::site_of(daemon, &request)?;
        let key = Secret::new(request.into_inner().api_key);
        site.account.set_api_key(key).await?;
        daemon.remember_login_site(site).await;
        Ok(Response::new(SetApiKeyResponse {
            login: Some(convert::login(
                &site.account.login_view().await,
                daemon.clock.now(),
            )),
            storage: Some(convert::storage(&site.vault.storage_view_news())),
        }))
    }
}
