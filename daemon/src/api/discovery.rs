//! [`OidcConfiguration`]: the parts of the identity provider's discovery document the client
//! caches. Below both the client that holds it and the OIDC flows (`oidc.rs`) that fetch it.

use serde::Deserialize;
use url::Url;

/// The parts of the discovery document the client uses.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct OidcConfiguration {
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    #[serde(default)]
    pub device_authorization_endpoint: Option<Url>,
}
