//! Organisation channels, as anaconda-client's repository client reads them
//! (`binstar_client/repocore/client.py`): the channels the user owns or that were shared with
//! them (`GET /api/repo/account/channels`), one namespace's channels
//! (`GET /api/repo/channels/<ns>/subchannels`), both paged with `offset`/`limit` and a
//! `total_count`; and whether a credential can read a channel (a `HEAD` of its
//! `noarch/repodata.json`).

use reqwest::Method;
use serde::{Deserialize, Deserializer};
use url::Url;

use super::client::{AnacondaClient, Body, Call, RetryMode};
use super::error::ApiError;
use crate::secret::Secret;

const ACCOUNT_CHANNELS_PATH: &str = "/api/repo/account/channels";
/// anaconda-client's `list_user_organizations`: the namespaces the user is a member of.
const USER_ORGANIZATIONS_PATH: &str = "/api/auth/organizations/my";
/// The page size asked for: the service's largest, as anaconda-client asks.
pub const CHANNEL_PAGE_SIZE: usize = 100;
/// Pages read at most: a service that never ends a list is cut off there, not followed.
const MAX_CHANNEL_PAGES: usize = 100;

/// One item of a channel list (anaconda-client's `Channel` model, with `parent` and `path`).
/// A namespace (the organisation itself) comes with no `parent`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct RepoChannel {
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub privacy: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub description: String,
    #[serde(default)]
    pub artifact_count: u64,
}

impl RepoChannel {
    /// `(namespace, channel)` for a channel under a namespace; `None` for a namespace item.
    pub fn namespace_and_name(&self) -> Option<(&str, &str)> {
        let parent = self.parent.as_deref().filter(|p| !p.is_empty())?;
        Some((parent, &self.name))
    }
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct Namespace {
    name: String,
}

#[derive(Deserialize)]
struct ChannelPage {
    #[serde(default)]
    items: Vec<RepoChannel>,
    #[serde(default)]
    total_count: Option<usize>,
}

/// The credential a channel check sends.
#[derive(Debug, Clone, Copy)]
pub enum ChannelCredential<'a> {
    /// In the path, `/t/<token>/...`, as validation and conda send it.
    RepoToken(&'a Secret),
    /// `Authorization: Bearer <api key>`.
    ApiKey(&'a Secret),
}

impl AnacondaClient {
    /// The names of the organisations (namespaces) the user is a member of.
    #[tracing::instrument(skip_all)]
    pub async fn user_organizations(&self, api_key: &Secret) -> Result<Vec<String>, ApiError> {
        let orgs: Vec<Namespace> = self.get_json(USER_ORGANIZATIONS_PATH, api_key).await?;
        Ok(orgs.into_iter().map(|o| o.name).collect())
    }

    /// Every channel the user owns or that was shared with them, every page, namespaces
    /// included (`include_subchannels=true`).
    #[tracing::instrument(skip_all)]
    pub async fn account_channels(&self, api_key: &Secret) -> Result<Vec<RepoChannel>, ApiError> {
        let url = self.api_url(ACCOUNT_CHANNELS_PATH);
        self.all_pages(url, api_key, true).await
    }

    /// Every channel of `namespace` the user may read, every page. 403: the user may not read
    /// the namespace; 404: there is none.
    #[tracing::instrument(skip_all, fields(namespace = namespace))]
    pub async fn namespace_channels(
        &self,
        api_key: &Secret,
        namespace: &str,
    ) -> Result<Vec<RepoChannel>, ApiError> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .expect("an http(s) base URL has path segments")
            .clear()
            .extend(["api", "repo", "channels", namespace, "subchannels"]);
        self.all_pages(url, api_key, false).await
    }

    async fn all_pages(
        &self,
        base: Url,
        api_key: &Secret,
        include_subchannels: bool,
    ) -> Result<Vec<RepoChannel>, ApiError> {
        let mut all = Vec::new();
        for _ in 0..MAX_CHANNEL_PAGES {
            let mut url = base.clone();
            {
                let mut query = url.query_pairs_mut();
                query
                    .append_pair("offset", &all.len().to_string())
                    .append_pair("limit", &CHANNEL_PAGE_SIZE.to_string());
                if include_subchannels {
                    query.append_pair("include_subchannels", "true");
                }
            }
            let page: ChannelPage = self.get_json_at(url, api_key).await?;
            let got = page.items.len();
            all.extend(page.items);
            let total = page.total_count.unwrap_or(all.len());
            if got == 0 || all.len() >= total {
                break;
            }
        }
        Ok(all)
    }

    /// The HTTP status the repository gives `credential` for `channel_url`'s
    /// `noarch/repodata.json` (200 readable, 401 credential refused, 403 no access, 404 no
    /// such channel).
    #[tracing::instrument(skip_all)]
    pub async fn channel_status(
        &self,
        channel_url: &Url,
        credential: ChannelCredential<'_>,
    ) -> Result<u16, ApiError> {
        let mut url = channel_url.clone();
        let mut segments: Vec<String> = url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        segments.extend(["noarch".to_owned(), "repodata.json".to_owned()]);
        let bearer = match credential {
            ChannelCredential::RepoToken(token) => {
                segments.splice(0..0, ["t".to_owned(), token.expose().to_owned()]);
                None
            }
            ChannelCredential::ApiKey(key) => Some(key),
        };
        url.path_segments_mut()
            .expect("an http(s) URL has path segments")
            .clear()
            .extend(&segments);
        let reply = self
            .execute(&Call {
                method: Method::HEAD,
                url,
                bearer,
                body: Body::Empty,
                retry: RetryMode::Safe,
                api_headers: false,
            })
            .await?;
        Ok(reply.status.as_u16())
    }
}
