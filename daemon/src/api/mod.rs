//! The daemon's client of the hosted Anaconda service and its package repository: login (OIDC
//! device and browser flows, refresh), API keys, account and organisations, repo tokens and
//! their validation. One [`AnacondaClient`] per configuration; see anaconda-service.md for the
//! service it speaks to.
//!
//! A login is `start_device_flow` -> show the user code -> `poll_device_flow` (or
//! `start_browser_flow` -> open the URL -> `finish_browser_flow`), then `create_api_key` with
//! the access token; keep the API key and the refresh token, drop the access token. Installing
//! a repo token is `eligible_organizations` -> `current_repo_token` (to ask before a reissue) ->
//! `reissue_repo_token` -> store the token at once -> `validate_repo_token`.

mod account;
mod browser;
mod channels;
mod client;
mod clock;
mod config;
mod credential_check;
mod discovery;
mod error;
mod failure;
mod hostname;
mod jwt;
mod minted;
mod oidc;
mod probe;
mod repo;
mod tls;

#[cfg(test)]
mod tests;

pub use account::{
    API_KEY_SCOPES, AccountInfo, ApiKey, Organization, Subscription, User, eligible_organizations,
};
pub use browser::{BrowserLogin, REDIRECT_PATH};
pub use channels::{CHANNEL_PAGE_SIZE, ChannelCredential, RepoChannel};
pub use client::{AnacondaClient, MAX_BODY_BYTES};
pub use clock::{ManualClock, RetryClock, SystemClock};
pub use config::{
    ApiConfig, DEFAULT_CLIENT_NAME, DEFAULT_DOMAIN, DEFAULT_LOOPBACK_PORT, DEFAULT_REPO_URL,
    ProxyConfig, RetryPolicy,
};
pub use credential_check::{MAX_CREDENTIAL_BYTES, check_credential};
pub use discovery::OidcConfiguration;
pub use error::{ApiError, TransientCause, mask_url};
pub use hostname::hash_hostname;
pub use jwt::{JwtError, jwt_expiry, jwt_id};
pub use minted::MintedApiKey;
pub use oidc::{CLIENT_ID, DeviceAuthorization, LOGIN_SCOPE, OidcTokens};
pub use probe::ProbeAnswer;
pub use repo::{IssuedRepoToken, RepoTokenCheck, RepoTokenInfo};
pub use tls::install_crypto_provider;
