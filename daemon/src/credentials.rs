//! [`Credentials`]: the hot path. For a request URL, which `Authorization` header conda sends
//! ([`Answer::Found`]), or why there is none ([`Answer::None`]); and what to send instead when
//! the repository refused one. Answers read the vault's snapshot and take no lock a disk write
//! holds.
//!
//! The rule, one for every caller: an org's channels are served by that org's token and the API
//! key; the default channels (and the repository root) by any stored token and the API key.
//! Which of the two goes first is, from the strongest: the request's conda `channel_settings`
//! entry (`credential_type`), the site's `use_unified_repo_api_key` (the API key), our
//! `credential_preference` (the repo token by default, see [`CredentialRule`]). A credential
//! the repository refused for a channel is skipped in that channel from then on, so the other
//! one answers there; the org's other channels keep their first credential (an account may
//! read some of an org's channels and not others).

use std::fmt;
use std::sync::Arc;

use jiff::Timestamp;
use url::Url;

use crate::credential_kind::CredentialKind;
use crate::error::Result;
use crate::events::EventBus;
use crate::repo_url::{Channel, RepoUrl};
use crate::secret::Secret;
use crate::vault::{Snapshot, Vault};
use anacondad_proto::v1::EventKind;

/// Which credential goes first when a request's entry names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialRule {
    /// `credential_preference`. The repo token by default: it reads one organisation's channels
    /// and nothing else, and is what `token install` installs, where the API key (sent as
    /// anaconda-auth 0.15.3 sends it first) also carries `cloud:write` for the whole account
    /// and lasts a year; the API key still answers wherever the token is refused or missing.
    pub preference: CredentialKind,
    /// The site's `use_unified_repo_api_key`: the API key first on every channel.
    pub unified_api_key: bool,
}

impl Default for CredentialRule {
    fn default() -> Self {
        Self {
            preference: CredentialKind::RepoToken,
            unified_api_key: false,
        }
    }
}

impl CredentialRule {
    /// The kind offered first: the entry's `credential_type`, else the unified API key, else
    /// the preference.
    pub fn first(&self, entry: &EntrySettings) -> CredentialKind {
        entry
            .credential_type
            .or(self.unified_api_key.then_some(CredentialKind::ApiKey))
            .unwrap_or(self.preference)
    }
}

/// What the conda `channel_settings` entry a request came through says (the keys anaconda-auth
/// reads there); the default is an entry that says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntrySettings {
    /// `credential_type`: the credential to send first.
    pub credential_type: Option<CredentialKind>,
    /// `auth_domain`: the site whose credential answers.
    pub auth_domain: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Credential {
    /// The full `Authorization` header value.
    pub header_value: Secret,
    pub kind: CredentialKind,
    pub org: Option<String>,
    pub expires_at: Option<Timestamp>,
}

impl Credential {
    /// `Authorization: token <repo token>` for `org`.
    fn repo_token(org: &str, token: &Secret, snapshot: &Snapshot) -> Self {
        Self {
            header_value: Secret::new(format!("token {}", token.expose())),
            kind: CredentialKind::RepoToken,
            org: Some(org.to_owned()),
            expires_at: snapshot.facts.orgs.get(org).and_then(|o| o.expires_at),
        }
    }

    /// `Authorization: Bearer <api key>`.
    fn api_key(key: &Secret, snapshot: &Snapshot) -> Self {
        Self {
            header_value: Secret::new(format!("Bearer {}", key.expose())),
            kind: CredentialKind::ApiKey,
            org: None,
            expires_at: snapshot.facts.api_key_expires_at,
        }
    }

    fn fingerprint(&self) -> String {
        sha256_hex(self.header_value.expose())
    }
}

/// Why no credential answers a URL; each says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoCredential {
    /// The URL (shown redacted) is not under the repository.
    NotOurRepository { url: String, repo: String },
    /// Nothing is stored for this site.
    NothingStored,
    /// An org channel, and neither the org's token nor an API key is stored.
    NoTokenForOrg { org: String },
    /// The org's token is stored, but the service replaced it (reissued elsewhere, revoked,
    /// expired: `what`), and no API key is stored to answer instead.
    TokenReplaced { org: String, what: String },
    /// Every credential that could serve the URL was refused in its channel (`channel`, a URL
    /// prefix); `status` is what the repository answered to the last one.
    Rejected {
        org: Option<String>,
        channel: String,
        status: u32,
    },
    /// The entry's `auth_domain` names a domain that is not a site this daemon serves
    /// (`served`: the names of those it serves).
    UnknownAuthDomain { domain: String, served: String },
}

impl fmt::Display for NoCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotOurRepository { url, repo } => write!(
                f,
                "{url} is not under the repository {repo}; anacondad has no credential for it"
            ),
            Self::NothingStored => f.write_str(
                "no Anaconda credential is stored: run `anacondactl login`, then \
                 `anacondactl token install`",
            ),
            Self::NoTokenForOrg { org } => write!(
                f,
                "no token for the organization {org}: run `anacondactl token install --org {org}`"
            ),
            Self::TokenReplaced { org, what } => {
                // Said while an API key was there to serve the org; now there is none.
                let meanwhile = format!("; the API key serves {org} meanwhile");
                write!(
                    f,
                    "a token for {org} is stored, but the service refused it and no API key \
                     is stored to serve {org} instead: {}. Log in first (`anacondactl login`)",
                    what.replace(&meanwhile, "")
                )
            }
            // Never advise a reissue: a refusal in one channel says nothing of the token's
            // other channels, and a reissue revokes a working token everywhere. `token list`
            // asks the service and names the fix when the token was replaced or expired.
            Self::Rejected {
                org,
                channel,
                status: 403,
            } => write!(
                f,
                "the repository refused {channel} to every credential held for it (HTTP 403): \
                 the account may not read this channel; ask the organization's admin for \
                 access. Other channels are not affected; `anacondactl token list` checks {}",
                checked(org.as_deref())
            ),
            Self::Rejected {
                org,
                channel,
                status,
            } => write!(
                f,
                "the repository did not accept the credentials held for {channel} (HTTP \
                 {status}): run `anacondactl token list`, which checks {} and says what to run",
                checked(org.as_deref())
            ),
            Self::UnknownAuthDomain { domain, served } => write!(
                f,
                "auth_domain {domain} of the channel_settings entry is not a site this daemon \
                 serves (it serves: {served}): run `anacondactl sites list`, then fix the entry's \
                 auth_domain or remove it"
            ),
        }
    }
}

/// What `token list` checks, for a refusal's message.
fn checked(org: Option<&str>) -> String {
    match org {
        Some(org) => format!("the token of {org} with the service"),
        None => "the stored credentials with the service".to_owned(),
    }
}

/// The answer for one URL, with the URL prefix it holds for (`None`: this URL only).
#[derive(Debug, Clone)]
pub struct Answer {
    pub outcome: Result<Credential, NoCredential>,
    pub scope: Option<String>,
    /// Set by [`Credentials::rejected`] when the refused credential was this org's token: the
    /// caller asks the service what became of it.
    pub refused_token_of: Option<String>,
}

impl Answer {
    /// No credential, for this URL only.
    pub fn none(reason: NoCredential) -> Self {
        Self {
            outcome: Err(reason),
            scope: None,
            refused_token_of: None,
        }
    }
}

#[derive(Debug)]
pub struct Credentials {
    vault: Arc<Vault>,
    events: EventBus,
    rule: CredentialRule,
    /// Further repositories the site's credentials open (anaconda.com's repo.anaconda.com).
    extra_repos: Vec<RepoUrl>,
}

impl Credentials {
    pub fn new(vault: Arc<Vault>, events: EventBus, rule: CredentialRule) -> Self {
        Self {
            vault,
            events,
            rule,
            extra_repos: Vec::new(),
        }
    }

    /// These credentials also answer for URLs under `repos`.
    pub fn with_extra_repos(mut self, repos: Vec<RepoUrl>) -> Self {
        self.extra_repos = repos;
        self
    }

    /// The repository `url` is under: the site's own, else one of its extra ones.
    fn repo_of(&self, url: Option<&Url>) -> (&RepoUrl, Option<Channel>) {
        let own = self.vault.repo();
        let Some(url) = url else {
            return (own, None);
        };
        std::iter::once(own)
            .chain(&self.extra_repos)
            .find_map(|repo| repo.channel_of(url).map(|channel| (repo, Some(channel))))
            .unwrap_or((own, None))
    }

    /// The credential conda should send for `url`, asked through an entry that says `entry`,
    /// or why there is none.
    pub async fn answer(&self, url: &str, entry: &EntrySettings) -> Result<Answer> {
        let snapshot = self.vault.snapshot().await?;
        Ok(self.answer_from(&snapshot, url, entry))
    }

    fn answer_from(&self, snapshot: &Snapshot, url: &str, entry: &EntrySettings) -> Answer {
        let parsed = Url::parse(url).ok();
        let (repo, channel) = self.repo_of(parsed.as_ref());
        let Some(channel) = channel else {
            return Answer::none(NoCredential::NotOurRepository {
                url: anacondad_proto::redact_url(url),
                repo: repo.to_string(),
            });
        };
        let scope = repo.scope(&channel);
        // The refusal key and fingerprints only matter once something was refused; the
        // candidates are built one at a time, up to the first usable one.
        let key = (!snapshot.refused.is_empty()).then(|| refusal_key(repo, parsed.as_ref(), url));
        let mut offered_any = false;
        let mut offered_org = None;
        let mut refused_with = None;
        let first = self.rule.first(entry);
        let usable = candidates(&channel, snapshot, first).find(|c| {
            offered_any = true;
            if offered_org.is_none() {
                offered_org.clone_from(&c.org);
            }
            let refused = key
                .as_ref()
                .and_then(|key| snapshot.refused.get(&(key.clone(), c.fingerprint())));
            if let Some(status) = refused {
                refused_with = Some(*status);
            }
            refused.is_none()
        });
        let outcome = match (usable, &channel) {
            (Some(credential), _) => Ok(credential),
            (None, _) if offered_any => Err(NoCredential::Rejected {
                org: offered_org,
                channel: anacondad_proto::redact_url(key.as_deref().unwrap_or(url)),
                status: refused_with.unwrap_or(401),
            }),
            (None, channel) if let Some((org, what)) = replaced_token(snapshot, channel) => {
                Err(NoCredential::TokenReplaced { org, what })
            }
            (None, Channel::Org(org)) => Err(NoCredential::NoTokenForOrg { org: org.clone() }),
            (None, _) => Err(NoCredential::NothingStored),
        };
        // An answer a refusal changed holds for the refused channel only: the org's other
        // channels are still answered by the first credential.
        let scope = match (refused_with, &scope) {
            (Some(_), Some(_)) => key,
            _ => scope,
        };
        Answer {
            outcome,
            scope,
            refused_token_of: None,
        }
    }

    /// The repository answered `status` (401/403) to a credential we gave for `url` through an
    /// entry that says `entry`; `rejected_sha256` (hex SHA-256 of the refused header) says
    /// which. When the store (read again: another tool may have installed a newer token) holds
    /// another credential, that is the answer. Otherwise the refusal is remembered for the
    /// URL's channel with its status, and the next credential of the rule is offered. A
    /// refused repo token is named in the answer (`refused_token_of`) for the caller to ask the
    /// service what became of it; the refusal itself marks nothing on the token, which may
    /// well serve the org's other channels.
    pub async fn rejected(
        &self,
        url: &str,
        entry: &EntrySettings,
        status: u32,
        rejected_sha256: Option<&str>,
    ) -> Result<Answer> {
        let snapshot = self.vault.reload().await?;
        let current = self.answer_from(&snapshot, url, entry);
        let Ok(offered) = &current.outcome else {
            return Ok(current);
        };
        let fingerprint = offered.fingerprint();
        let refused_is_offered =
            rejected_sha256.is_none_or(|given| given.trim().eq_ignore_ascii_case(&fingerprint));
        if !refused_is_offered {
            return Ok(current);
        }
        let parsed = Url::parse(url).ok();
        let key = refusal_key(self.repo_of(parsed.as_ref()).0, parsed.as_ref(), url);
        let channel = anacondad_proto::redact_url(&key);
        self.vault
            .remember(|s| {
                s.refused.insert((key, fingerprint), status);
            })
            .await;
        let mut refused_token_of = None;
        if let Some(org) = &offered.org
            && offered.kind == CredentialKind::RepoToken
        {
            let message = format!(
                "the repository answered HTTP {status} for the token of {org} in {channel}"
            );
            self.events
                .publish(EventKind::TokenRefreshFailed, org, "", message);
            refused_token_of = Some(org.clone());
        }
        Ok(Answer {
            refused_token_of,
            ..self.answer_from(&self.vault.peek(), url, entry)
        })
    }
}

/// A stored token that would serve `channel` but that the service replaced, and what
/// became of it: why no credential answers when nothing else is stored.
fn replaced_token(snapshot: &Snapshot, channel: &Channel) -> Option<(String, String)> {
    let replaced = |org: &String| {
        let what = snapshot.facts.orgs.get(org)?.replaced.clone()?;
        Some((org.clone(), what))
    };
    match channel {
        Channel::Org(org) => snapshot.tokens.get(org).and(replaced(org)),
        Channel::Default(_) | Channel::Root => snapshot.tokens.keys().find_map(replaced),
    }
}

/// The credentials that may serve `channel`, `first` kind first (built as they are asked for).
fn candidates<'a>(
    channel: &'a Channel,
    snapshot: &'a Snapshot,
    first: CredentialKind,
) -> impl Iterator<Item = Credential> + 'a {
    // A token the service replaced (reissued elsewhere, revoked, expired) is not offered:
    // the credential that works comes first for every caller, until a new token is stored.
    let live = |org: &String| {
        snapshot
            .facts
            .orgs
            .get(org)
            .is_none_or(|facts| facts.replaced.is_none())
    };
    // A token whose reissue started and did not finish (a crash, a lost answer) may be the one
    // that reissue revoked: it comes after the API key until a reconcile (at start, or any
    // later one) says it is the service's current one.
    let settled = |org: &String| {
        snapshot
            .facts
            .orgs
            .get(org)
            .is_none_or(|facts| facts.reissue_started_at.is_none())
    };
    let token = move |want_settled: bool| {
        let wanted = move |org: &String| live(org) && settled(org) == want_settled;
        let token = match channel {
            Channel::Org(org) => snapshot
                .tokens
                .get_key_value(org)
                .filter(|(o, _)| wanted(o)),
            Channel::Default(_) | Channel::Root => snapshot.tokens.iter().find(|(o, _)| wanted(o)),
        };
        token
            .into_iter()
            .map(|(org, token)| Credential::repo_token(org, token, snapshot))
    };
    let api_key = || {
        snapshot
            .api_key
            .iter()
            .map(|key| Credential::api_key(key, snapshot))
    };
    let token_first = first == CredentialKind::RepoToken;
    token_first
        .then(|| token(true))
        .into_iter()
        .flatten()
        .chain(api_key())
        .chain((!token_first).then(|| token(true)).into_iter().flatten())
        .chain(token(false))
}

/// What a refusal is remembered under: the URL's channel ([`RepoUrl::channel_scope`]), or the
/// URL itself.
fn refusal_key(repo: &RepoUrl, parsed: Option<&Url>, url: &str) -> String {
    parsed
        .and_then(|u| repo.channel_scope(u))
        .unwrap_or_else(|| url.to_owned())
}

/// Lower-case hex SHA-256 of `text`: how a client names a credential without sending it back.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, SystemClock};
    use crate::repo_url::RepoUrl;
    use crate::store::{StorageMode, StoreOptions};
    use crate::vault::Site;

    const REPO: &str = "https://repo.example/repo/";
    const NO_ENTRY: EntrySettings = EntrySettings {
        credential_type: None,
        auth_domain: None,
    };

    /// A vault in a temp dir (the keyring file) holding acme's and globex's tokens and a key,
    /// served by the default rule.
    async fn credentials(dir: &tempfile::TempDir) -> Credentials {
        credentials_by(dir, CredentialRule::default()).await
    }

    async fn credentials_by(dir: &tempfile::TempDir, rule: CredentialRule) -> Credentials {
        let site = Site {
            domain: "example".to_owned(),
            repo: RepoUrl::new(Url::parse(REPO).unwrap()),
        };
        let store = StoreOptions::new(StorageMode::File, dir.path().join("keyring"));
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let vault =
            Arc::new(Vault::open(site, store, dir.path().join("state.json"), clock.now()).unwrap());
        for org in ["acme", "globex"] {
            let token = Secret::new(format!("{org}-token"));
            vault.put_repo_token(org, token).await.unwrap();
        }
        vault
            .put_api_key(Secret::new("the-api-key"), None)
            .await
            .unwrap();
        Credentials::new(vault, EventBus::new(clock), rule)
    }

    fn header(answer: &Answer) -> &str {
        answer.outcome.as_ref().unwrap().header_value.expose()
    }

    #[tokio::test]
    async fn an_org_url_gets_that_orgs_token_and_its_channel_as_scope() {
        let dir = tempfile::tempdir().unwrap();
        let c = credentials(&dir).await;
        let answer = c
            .answer(
                &format!("{REPO}globex/internal/noarch/repodata.json"),
                &NO_ENTRY,
            )
            .await
            .unwrap();
        assert_eq!(header(&answer), "token globex-token");
        assert_eq!(
            answer.scope.as_deref(),
            Some("https://repo.example/repo/globex/")
        );
    }

    #[tokio::test]
    async fn an_org_without_a_token_gets_the_api_key_and_never_another_orgs_token() {
        let dir = tempfile::tempdir().unwrap();
        let c = credentials(&dir).await;
        let url = format!("{REPO}initech/internal/noarch/repodata.json");
        let answer = c.answer(&url, &NO_ENTRY).await.unwrap();
        assert_eq!(header(&answer), "Bearer the-api-key");
        let refused = sha256_hex("Bearer the-api-key");
        let after = c
            .rejected(&url, &NO_ENTRY, 403, Some(&refused))
            .await
            .unwrap();
        assert_eq!(
            after.outcome.unwrap_err(),
            NoCredential::Rejected {
                org: None,
                channel: format!("{REPO}initech/internal/"),
                status: 403
            }
        );
    }

    #[tokio::test]
    async fn a_refused_token_is_skipped_in_its_channel_from_then_on() {
        let dir = tempfile::tempdir().unwrap();
        let c = credentials(&dir).await;
        let url = format!("{REPO}acme/internal/linux-64/repodata.json");
        let refused = sha256_hex("token acme-token");
        let replay = c
            .rejected(&url, &NO_ENTRY, 401, Some(&refused))
            .await
            .unwrap();
        assert_eq!(header(&replay), "Bearer the-api-key");
        assert_eq!(replay.scope, Some(format!("{REPO}acme/internal/")));
        // The next caller (another conda process) gets the working credential first.
        let same_channel = format!("{REPO}acme/internal/noarch/repodata.json");
        assert_eq!(
            header(&c.answer(&same_channel, &NO_ENTRY).await.unwrap()),
            "Bearer the-api-key"
        );
        // Other orgs keep their tokens.
        let globex = format!("{REPO}globex/internal/noarch/repodata.json");
        assert_eq!(
            header(&c.answer(&globex, &NO_ENTRY).await.unwrap()),
            "token globex-token"
        );
    }

    #[tokio::test]
    async fn a_refusal_of_an_older_credential_is_answered_with_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let c = credentials(&dir).await;
        let url = format!("{REPO}acme/internal/noarch/repodata.json");
        let stale = sha256_hex("token an-older-acme-token");
        let answer = c
            .rejected(&url, &NO_ENTRY, 401, Some(&stale))
            .await
            .unwrap();
        assert_eq!(header(&answer), "token acme-token");
    }

    #[tokio::test]
    async fn urls_outside_the_repository_are_refused_without_their_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let c = credentials(&dir).await;
        let answer = c
            .answer(
                "https://user:pw@other.example/t/secret-token/repo/main/?key=1",
                &NO_ENTRY,
            )
            .await
            .unwrap();
        let reason = answer.outcome.unwrap_err().to_string();
        assert!(reason.contains("is not under the repository"), "{reason}");
        for secret in ["pw", "secret-token", "key=1"] {
            assert!(!reason.contains(secret), "{reason}");
        }
    }

    fn entry(credential_type: Option<CredentialKind>, auth_domain: Option<&str>) -> EntrySettings {
        EntrySettings {
            credential_type,
            auth_domain: auth_domain.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn the_repo_token_goes_first_by_default_and_the_api_key_when_it_is_preferred() {
        let dir = tempfile::tempdir().unwrap();
        let org = format!("{REPO}acme/internal/noarch/repodata.json");
        let main = format!("{REPO}main/noarch/repodata.json");
        let by_default = credentials(&dir).await;
        assert_eq!(
            header(&by_default.answer(&org, &NO_ENTRY).await.unwrap()),
            "token acme-token"
        );
        assert_eq!(
            header(&by_default.answer(&main, &NO_ENTRY).await.unwrap()),
            "token acme-token"
        );
        let dir = tempfile::tempdir().unwrap();
        let key_first = CredentialRule {
            preference: CredentialKind::ApiKey,
            unified_api_key: false,
        };
        let c = credentials_by(&dir, key_first).await;
        for url in [&org, &main] {
            let answer = c.answer(url, &NO_ENTRY).await.unwrap();
            assert_eq!(header(&answer), "Bearer the-api-key", "{url}");
            assert_eq!(answer.outcome.unwrap().kind, CredentialKind::ApiKey);
        }
    }

    #[tokio::test]
    async fn the_unified_api_key_goes_first_everywhere_unless_the_entry_names_a_type() {
        let dir = tempfile::tempdir().unwrap();
        let unified = CredentialRule {
            preference: CredentialKind::RepoToken,
            unified_api_key: true,
        };
        let c = credentials_by(&dir, unified).await;
        let url = format!("{REPO}globex/internal/noarch/repodata.json");
        assert_eq!(
            header(&c.answer(&url, &NO_ENTRY).await.unwrap()),
            "Bearer the-api-key"
        );
        let wants_token = entry(Some(CredentialKind::RepoToken), None);
        assert_eq!(
            header(&c.answer(&url, &wants_token).await.unwrap()),
            "token globex-token"
        );
        // And an entry asking for the API key wins over a preference for the token.
        let dir = tempfile::tempdir().unwrap();
        let c = credentials(&dir).await;
        let wants_key = entry(Some(CredentialKind::ApiKey), None);
        assert_eq!(
            header(&c.answer(&url, &wants_key).await.unwrap()),
            "Bearer the-api-key"
        );
        assert_eq!(
            header(&c.answer(&url, &NO_ENTRY).await.unwrap()),
            "token globex-token"
        );
    }

    #[tokio::test]
    async fn a_refused_api_key_that_went_first_is_followed_by_the_orgs_token() {
        let dir = tempfile::tempdir().unwrap();
        let c = credentials(&dir).await;
        let wants_key = entry(Some(CredentialKind::ApiKey), None);
        let url = format!("{REPO}acme/internal/noarch/repodata.json");
        let refused = sha256_hex("Bearer the-api-key");
        let replay = c
            .rejected(&url, &wants_key, 401, Some(&refused))
            .await
            .unwrap();
        assert_eq!(header(&replay), "token acme-token");
        // A refused API key is no repo token the service is asked about.
        assert_eq!(replay.refused_token_of, None);
        // The scope remembers it: the next request through that entry gets the token first.
        let next = format!("{REPO}acme/internal/linux-64/repodata.json");
        assert_eq!(
            header(&c.answer(&next, &wants_key).await.unwrap()),
            "token acme-token"
        );
        // Once the token is refused too, nothing is left, and the reason names the org.
        let refused = sha256_hex("token acme-token");
        let after = c
            .rejected(&url, &wants_key, 403, Some(&refused))
            .await
            .unwrap();
        assert_eq!(after.refused_token_of.as_deref(), Some("acme"));
        assert_eq!(
            after.outcome.unwrap_err(),
            NoCredential::Rejected {
                org: Some("acme".to_owned()),
                channel: format!("{REPO}acme/internal/"),
                status: 403
            }
        );
    }

    #[tokio::test]
    async fn refusals_in_one_channel_leave_the_orgs_other_channels_served() {
        let dir = tempfile::tempdir().unwrap();
        let c = credentials(&dir).await;
        // What the plugin reports when the account may not read acme/restricted: the token,
        // then the API key, both 403.
        let restricted = format!("{REPO}acme/restricted/noarch/repodata.json");
        for refused in ["token acme-token", "Bearer the-api-key"] {
            c.rejected(&restricted, &NO_ENTRY, 403, Some(&sha256_hex(refused)))
                .await
                .unwrap();
        }
        for channel in ["public", "internal"] {
            let url = format!("{REPO}acme/{channel}/linux-64/repodata.json");
            let answer = c.answer(&url, &NO_ENTRY).await.unwrap();
            assert_eq!(header(&answer), "token acme-token", "{url}");
            assert_eq!(answer.scope, Some(format!("{REPO}acme/")));
        }
        // The refused channel says what the repository said, and advises no reissue.
        let answer = c.answer(&restricted, &NO_ENTRY).await.unwrap();
        assert_eq!(answer.scope, Some(format!("{REPO}acme/restricted/")));
        let reason = answer.outcome.unwrap_err();
        assert_eq!(
            reason,
            NoCredential::Rejected {
                org: Some("acme".to_owned()),
                channel: format!("{REPO}acme/restricted/"),
                status: 403
            }
        );
        let message = reason.to_string();
        assert!(message.contains("HTTP 403"), "{message}");
        assert!(message.contains("anacondactl token list"), "{message}");
        for reissue in ["token install", "token refresh"] {
            assert!(!message.contains(reissue), "{message}");
        }
    }

    #[tokio::test]
    async fn a_token_whose_reissue_did_not_finish_comes_after_the_api_key() {
        let dir = tempfile::tempdir().unwrap();
        let c = credentials(&dir).await;
        let url = format!("{REPO}acme/internal/noarch/repodata.json");
        // What a crash between the reissue call and storing its answer leaves behind.
        c.vault
            .record(|d| {
                d.orgs
                    .entry("acme".to_owned())
                    .or_default()
                    .reissue_started_at = Some(Timestamp::now());
            })
            .await
            .unwrap();
        assert_eq!(
            header(&c.answer(&url, &NO_ENTRY).await.unwrap()),
            "Bearer the-api-key"
        );
        // Still offered when the API key is refused there: it may be the current one.
        let replay = c
            .rejected(
                &url,
                &NO_ENTRY,
                401,
                Some(&sha256_hex("Bearer the-api-key")),
            )
            .await
            .unwrap();
        assert_eq!(header(&replay), "token acme-token");
        // Once a reconcile finds it current (and clears the mark), it goes first again.
        c.vault
            .record(|d| {
                d.orgs
                    .entry("acme".to_owned())
                    .or_default()
                    .reissue_started_at = None;
            })
            .await
            .unwrap();
        let other = format!("{REPO}acme/tools/noarch/repodata.json");
        assert_eq!(
            header(&c.answer(&other, &NO_ENTRY).await.unwrap()),
            "token acme-token"
        );
    }

    #[test]
    fn credential_types_are_spelled_as_anaconda_auth_spells_them() {
        for kind in [CredentialKind::RepoToken, CredentialKind::ApiKey] {
            assert_eq!(kind.as_str().parse::<CredentialKind>(), Ok(kind));
        }
        let err = "api_key".parse::<CredentialKind>().unwrap_err();
        assert!(
            err.contains("api_key") && err.contains("repo-token"),
            "{err}"
        );
    }
}
