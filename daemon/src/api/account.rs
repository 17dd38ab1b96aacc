//! API keys, the account and its organisations.

use jiff::Timestamp;
use reqwest::Method;
use serde::{Deserialize, Deserializer};
use serde_json::json;
use url::Url;

use super::client::{AnacondaClient, Body, Call, RetryMode};
use super::error::ApiError;
use super::jwt::jwt_expiry;
use crate::secret::Secret;

const API_KEYS_PATH: &str = "/api/auth/api-keys";
/// Older deployments serve the same call here; tried when the first path answers 404.
const API_KEYS_FALLBACK_PATH: &str = "/api/iam/api-keys";
const ACCOUNT_PATH: &str = "/api/account";
const MY_ORGANIZATIONS_PATH: &str = "/api/organizations/my";
/// Scopes of the API keys we mint, as anaconda-auth asks for them.
pub const API_KEY_SCOPES: [&str; 3] = ["cloud:read", "cloud:write", "repo:read"];

/// A minted API key and the expiry read from its `exp` claim.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub key: Secret,
    pub expires_at: Timestamp,
}

/// `GET /api/account`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AccountInfo {
    pub user: User,
    /// Kept as sent; nothing here depends on its shape.
    #[serde(default)]
    pub profile: serde_json::Value,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub subscriptions: Vec<Subscription>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct User {
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Subscription {
    /// The organisation the subscription belongs to; `None` (a personal plan) matches none.
    #[serde(default)]
    pub org_id: Option<String>,
    pub product_code: String,
}

/// An entry of `GET /api/organizations/my`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Organization {
    pub id: String,
    /// The slug used in URLs and channel paths.
    pub name: String,
    /// The display name.
    pub title: String,
}

#[derive(Deserialize)]
struct ApiKeyBody {
    api_key: Secret,
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
        Id::Text(s) => s,
        Id::Number(n) => n.to_string(),
    }))
}

/// The organisations a repo token may be installed for: those with a subscription whose
/// `product_code` does not contain `starter`. Ids compare as UUIDs (case and hyphens aside).
pub fn eligible_organizations(
    organizations: Vec<Organization>,
    subscriptions: &[Subscription],
) -> Vec<Organization> {
    let business: Vec<String> = subscriptions
        .iter()
        .filter(|s| !s.product_code.contains("starter"))
        .filter_map(|s| s.org_id.as_deref().map(normalize_uuid))
        .collect();
    organizations
        .into_iter()
        .filter(|org| business.contains(&normalize_uuid(&org.id)))
        .collect()
}

fn normalize_uuid(id: &str) -> String {
    id.chars()
        .filter(|c| !matches!(c, '-' | '{' | '}'))
        .flat_map(char::to_lowercase)
        .collect()
}

impl AnacondaClient {
    /// Mints an API key with the OIDC access token (`POST /api/auth/api-keys`, falling back to
    /// `/api/iam/api-keys` on 404). Only 201 with `{"api_key": <JWT>}` is success; the key's
    /// `exp` is read without checking the signature. Retried like a read: a lost answer at worst
    /// leaves an unused key behind on the service.
    #[tracing::instrument(skip_all)]
    pub async fn create_api_key(&self, access_token: &Secret) -> Result<ApiKey, ApiError> {
        let body = json!({
            "scopes": API_KEY_SCOPES,
            "tags": [format!("{}/v{}", self.client_name, self.client_version)],
        });
        let mut reply = self
            .post_api_key(API_KEYS_PATH, access_token, &body)
            .await?;
        if reply.status.as_u16() == 404 {
            reply = self
                .post_api_key(API_KEYS_FALLBACK_PATH, access_token, &body)
                .await?;
        }
        let reply = reply.check_api_status()?;
        if reply.status.as_u16() != 201 {
            return Err(reply.invalid("expected 201 Created with a new API key", false));
        }
        let parsed: ApiKeyBody = reply.json(true)?;
        if let Err(reason) = super::check_credential(parsed.api_key.expose()) {
            return Err(reply.invalid(
                format!(
                    "the new API key is unusable ({reason}), so it was not stored: run `anacondactl login` again, and report it if it persists"
                ),
                false,
            ));
        }
        let expires_at = jwt_expiry(&parsed.api_key)
            .map_err(|e| reply.invalid(format!("the api_key is unusable: {e}"), false))?;
        Ok(ApiKey {
            key: parsed.api_key,
            expires_at,
        })
    }

    async fn post_api_key(
        &self,
        path: &str,
        access_token: &Secret,
        body: &serde_json::Value,
    ) -> Result<super::client::Reply, ApiError> {
        self.execute(&Call {
            method: Method::POST,
            url: self.api_url(path),
            bearer: Some(access_token),
            body: Body::Json(body.clone()),
            retry: RetryMode::Safe,
            api_headers: true,
        })
        .await
    }

    /// `GET /api/account`: who the key belongs to and its subscriptions.
    #[tracing::instrument(skip_all)]
    pub async fn account(&self, api_key: &Secret) -> Result<AccountInfo, ApiError> {
        self.get_json(ACCOUNT_PATH, api_key).await
    }

    /// `GET /api/organizations/my`: every organisation the user belongs to.
    #[tracing::instrument(skip_all)]
    pub async fn organizations(&self, api_key: &Secret) -> Result<Vec<Organization>, ApiError> {
        self.get_json(MY_ORGANIZATIONS_PATH, api_key).await
    }

    /// The organisations a repo token can be installed for (see [`eligible_organizations`]).
    #[tracing::instrument(skip_all)]
    pub async fn eligible_organizations(
        &self,
        api_key: &Secret,
    ) -> Result<Vec<Organization>, ApiError> {
        let (account, organizations) =
            tokio::try_join!(self.account(api_key), self.organizations(api_key))?;
        Ok(eligible_organizations(
            organizations,
            &account.subscriptions,
        ))
    }

    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        api_key: &Secret,
    ) -> Result<T, ApiError> {
        self.get_json_at(self.api_url(path), api_key).await
    }

    /// An authenticated, retried GET of `url` whose API answer is decoded as JSON.
    pub(crate) async fn get_json_at<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        api_key: &Secret,
    ) -> Result<T, ApiError> {
        self.execute(&Call {
            method: Method::GET,
            url,
            bearer: Some(api_key),
            body: Body::Empty,
            retry: RetryMode::Safe,
            api_headers: true,
        })
        .await?
        .check_api_status()?
        .json(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str, name: &str) -> Organization {
        Organization {
            id: id.into(),
            name: name.into(),
            title: name.to_uppercase(),
        }
    }

    fn sub(org_id: Option<&str>, product: &str) -> Subscription {
        Subscription {
            org_id: org_id.map(Into::into),
            product_code: product.into(),
        }
    }

    #[test]
    fn only_organizations_with_a_non_starter_subscription_are_eligible() {
        let orgs = vec![
            org("0a1b2c3d-0000-0000-0000-000000000001", "biz"),
            org("0a1b2c3d-0000-0000-0000-000000000002", "starter-only"),
            org("0a1b2c3d-0000-0000-0000-000000000003", "nothing"),
        ];
        let subs = vec![
            sub(
                Some("0A1B2C3D-0000-0000-0000-000000000001"),
                "commercial_business",
            ),
            sub(Some("0a1b2c3d-0000-0000-0000-000000000002"), "starter_tier"),
            sub(None, "commercial_business"),
        ];
        let names: Vec<_> = eligible_organizations(orgs, &subs)
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(names, ["biz"]);
    }

    #[test]
    fn a_subscription_without_org_id_matches_no_organization() {
        let orgs = vec![org("", "blank")];
        assert!(eligible_organizations(orgs, &[sub(None, "business")]).is_empty());
    }
}
