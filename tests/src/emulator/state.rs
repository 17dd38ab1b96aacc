//! The emulator's mutable world: accounts, credentials, pending logins, faults and counters.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rand::Rng;
use serde::Serialize;

use super::seed::Seed;
use super::{DeviceApproval, EmulatorConfig, jwt, mask};

/// How long an OIDC access token is good for: it is used once, to mint an API key.
const ACCESS_TOKEN_LIFETIME_SECS: i64 = 3600;
/// How long an authorization code waits for its exchange.
const AUTH_CODE_LIFETIME_SECS: i64 = 600;
/// Log entries kept; older ones are dropped so a long demo does not grow without bound.
const REQUEST_LOG_CAPACITY: usize = 10_000;

pub(crate) struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

pub(crate) struct Organization {
    pub id: String,
    pub name: String,
    pub title: String,
    pub members: Vec<String>,
}

pub(crate) struct Subscription {
    pub org: Option<String>,
    pub user: Option<String>,
    pub product_code: String,
}

/// Why a credential no longer works; the repository says which in its 401.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revocation {
    Active,
    Reissued,
    ExpiredByControl,
}

pub(crate) struct RepoToken {
    pub id: String,
    pub org: String,
    pub expires_at: Timestamp,
    pub revocation: Revocation,
}

pub(crate) struct ApiKey {
    pub username: String,
    pub expires_at: Timestamp,
    /// The key's id (its `jti`): what `DELETE /api/auth/api-keys/<id>` takes.
    pub id: String,
    /// What the key may do: `cloud:read` (account reads), `cloud:write` (reissue a repo token,
    /// mint or revoke keys), `repo:read` (the package repository).
    pub scopes: Vec<String>,
    pub name: Option<String>,
}

/// The scopes of the key the existing client mints at login, also given to seeded keys and to
/// a mint that asks for none.
pub(crate) const FULL_SCOPES: [&str; 3] = ["cloud:read", "cloud:write", "repo:read"];

pub(crate) struct AccessToken {
    pub username: String,
    pub expires_at: Timestamp,
}

#[derive(Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DeviceStatus {
    Pending,
    Approved,
    Denied,
}

pub(crate) struct DeviceCode {
    pub user_code: String,
    pub scope: String,
    pub expires_at: Timestamp,
    pub interval_secs: i64,
    pub last_poll: Option<Timestamp>,
    pub status: DeviceStatus,
    pub username: Option<String>,
}

pub(crate) struct AuthCode {
    pub username: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: String,
    pub expires_at: Timestamp,
}

/// What an injected fault does to a matching request.
#[derive(Clone, Debug, serde::Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer with this status (and a small JSON body) instead of the real answer.
    Status { status: u16 },
    /// Wait this long, then answer normally: for client timeouts.
    Hang { millis: u64 },
    /// Answer 200 with a body that is not JSON.
    Malformed,
    /// Close the connection without answering.
    Drop,
    /// Answer with this status and JSON body instead of the real answer: a hostile or broken
    /// service (a token with control characters, a megabyte-long key).
    Body {
        #[serde(default = "ok_status")]
        status: u16,
        body: serde_json::Value,
    },
}

fn ok_status() -> u16 {
    200
}

pub(crate) struct Fault {
    pub path_prefix: String,
    pub method: Option<String>,
    pub remaining: u32,
    pub action: FaultAction,
}

/// One request as the log shows it: paths and credentials masked.
#[derive(Clone, Serialize)]
pub(crate) struct LogEntry {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    pub fault: Option<String>,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    pub client_hostname: Option<String>,
}

/// A fresh set of OIDC tokens for a login.
pub(crate) struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: String,
    pub scope: String,
}

pub(crate) struct IssuedRepoToken {
    pub token: String,
    pub id: String,
    pub expires_at: Timestamp,
}

/// Who a bearer credential on an API call belongs to, or why it is refused.
pub(crate) enum BearerCheck {
    User(String),
    Missing,
    Unknown,
    Expired,
}

/// Whether a seeded channel can still be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChannelStatus {
    Live,
    /// Every reader's access was taken away: the repository answers 403, no list shows it.
    Revoked,
    /// Deleted: the repository answers 404, no list shows it.
    Removed,
}

/// A channel `<repository>/<org>/<name>`.
#[derive(Clone, Debug)]
pub(crate) struct Channel {
    pub org: String,
    pub name: String,
    pub privacy: String,
    pub description: String,
    pub packages: Vec<String>,
    /// Users outside `org` who may read it.
    pub shared_with: Vec<String>,
    pub status: ChannelStatus,
}

impl Channel {
    pub fn from_seed(seed: &crate::emulator::seed::SeedChannel) -> Self {
        Channel {
            org: seed.org.clone(),
            name: seed.name.clone(),
            privacy: seed.privacy.clone(),
            description: seed.description.clone(),
            packages: seed.packages.clone(),
            shared_with: seed.shared_with.clone(),
            status: ChannelStatus::Live,
        }
    }
}

pub(crate) struct State {
    pub base_url: String,
    pub token_lifetime: Duration,
    pub api_key_lifetime: Duration,
    pub device_approval: DeviceApproval,
    pub device_interval_secs: u64,
    pub device_expires_in_secs: u64,
    pub login_user: String,
    pub users: Vec<User>,
    pub organizations: Vec<Organization>,
    pub subscriptions: Vec<Subscription>,
    /// Every repo token ever issued, by value; revoked ones stay so the 401 can say why.
    pub repo_tokens: HashMap<String, RepoToken>,
    pub current_tokens: HashMap<String, String>,
    pub api_keys: HashMap<String, ApiKey>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub refresh_tokens: HashMap<String, String>,
    pub device_codes: HashMap<String, DeviceCode>,
    pub auth_codes: HashMap<String, AuthCode>,
    pub faults: Vec<Fault>,
    pub counters: BTreeMap<String, u64>,
    pub log: VecDeque<LogEntry>,
    pub next_seq: u64,
    /// Organisation channels in the order they were made.
    pub channels: Vec<Channel>,
}

pub(crate) fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub(crate) fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `ABCD-EFGH`: easy to read aloud, no letters that look like digits.
fn random_user_code() -> String {
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let mut rng = rand::rng();
    let mut pick = || ALPHABET[rng.random_range(0..ALPHABET.len())] as char;
    let a: String = (0..4).map(|_| pick()).collect();
    let b: String = (0..4).map(|_| pick()).collect();
    format!("{a}-{b}")
}

pub(crate) fn after(now: Timestamp, lifetime: Duration) -> Timestamp {
    let lifetime = SignedDuration::try_from(lifetime).unwrap_or(SignedDuration::MAX);
    now.checked_add(lifetime).unwrap_or(Timestamp::MAX)
}

/// Whole seconds, as the service prints its ISO-8601 times.
pub(crate) fn whole_seconds(ts: Timestamp) -> Timestamp {
    Timestamp::from_second(ts.as_second()).unwrap_or(ts)
}

impl State {
    pub fn new(config: &EmulatorConfig, base_url: String) -> Self {
        let seed: &Seed = &config.seed;
        let now = Timestamp::now();
        let mut state = State {
            base_url,
            token_lifetime: config.token_lifetime,
            api_key_lifetime: config.api_key_lifetime,
            device_approval: config.device_approval,
            device_interval_secs: config.device_interval_secs,
            device_expires_in_secs: config.device_expires_in_secs,
            login_user: seed
                .login_user
                .clone()
                .unwrap_or_else(|| seed.users[0].username.clone()),
            users: seed
                .users
                .iter()
                .map(|u| User {
                    id: u.id.clone().unwrap_or_else(random_uuid),
                    username: u.username.clone(),
                    email: u.email.clone(),
                    first_name: u.first_name.clone(),
                    last_name: u.last_name.clone(),
                })
                .collect(),
            organizations: seed
                .organizations
                .iter()
                .map(|o| Organization {
                    id: o.id.clone().unwrap_or_else(random_uuid),
                    name: o.name.clone(),
                    title: o.title.clone().unwrap_or_else(|| o.name.clone()),
                    members: o.members.clone(),
                })
                .collect(),
            subscriptions: seed
                .subscriptions
                .iter()
                .map(|s| Subscription {
                    org: s.org.clone(),
                    user: s.user.clone(),
                    product_code: s.product_code.clone(),
                })
                .collect(),
            repo_tokens: HashMap::new(),
            current_tokens: HashMap::new(),
            api_keys: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            device_codes: HashMap::new(),
            auth_codes: HashMap::new(),
            faults: Vec::new(),
            counters: BTreeMap::new(),
            log: VecDeque::new(),
            next_seq: 1,
            channels: seed.channels.iter().map(Channel::from_seed).collect(),
        };
        for token in &seed.repo_tokens {
            let expires_at = token
                .expires_at
                .unwrap_or_else(|| after(now, config.token_lifetime));
            state.install_repo_token(
                &token.org,
                token.token.clone(),
                token.id.clone().unwrap_or_else(random_uuid),
                expires_at,
            );
        }
        for key in &seed.api_keys {
            let expires_at = key
                .expires_at
                .unwrap_or_else(|| after(now, config.api_key_lifetime));
            match &key.api_key {
                Some(value) => {
                    state.api_keys.insert(
                        value.clone(),
                        ApiKey {
                            username: key.username.clone(),
                            expires_at,
                            id: random_uuid(),
                            scopes: FULL_SCOPES.map(str::to_owned).to_vec(),
                            name: None,
                        },
                    );
                }
                None => {
                    state.mint_api_key(&key.username, expires_at, &[], &[]);
                }
            }
        }
        state
    }

    pub fn user(&self, username: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username == username)
    }

    pub fn organization(&self, name: &str) -> Option<&Organization> {
        self.organizations.iter().find(|o| o.name == name)
    }

    /// The channel `<org>/<name>`, whatever its status.
    pub fn channel(&self, org: &str, name: &str) -> Option<&Channel> {
        self.channels
            .iter()
            .find(|c| c.org == org && c.name == name)
    }

    pub fn is_member(&self, username: &str, org: &str) -> bool {
        self.organization(org)
            .is_some_and(|o| o.members.iter().any(|m| m == username))
    }

    /// An org can hold a repo token when it has a subscription that is not a starter plan.
    pub fn has_business_subscription(&self, org: &str) -> bool {
        self.subscriptions
            .iter()
            .any(|s| s.org.as_deref() == Some(org) && !s.product_code.contains("starter"))
    }

    /// The subscriptions an account shows: its orgs' and its own.
    pub fn subscriptions_of(&self, username: &str) -> Vec<(Option<String>, String)> {
        self.subscriptions
            .iter()
            .filter_map(|s| match (&s.org, &s.user) {
                (Some(org), _) if self.is_member(username, org) => Some((
                    self.organization(org).map(|o| o.id.clone()),
                    s.product_code.clone(),
                )),
                (None, Some(user)) if user == username => Some((None, s.product_code.clone())),
                _ => None,
            })
            .collect()
    }

    fn install_repo_token(&mut self, org: &str, token: String, id: String, expires_at: Timestamp) {
        if let Some(previous) = self.current_tokens.insert(org.to_string(), token.clone())
            && let Some(record) = self.repo_tokens.get_mut(&previous)
        {
            record.revocation = Revocation::Reissued;
        }
        self.repo_tokens.insert(
            token,
            RepoToken {
                id,
                org: org.to_string(),
                expires_at,
                revocation: Revocation::Active,
            },
        );
    }

    /// Issues a new current token for `org`, revoking the previous one at once.
    pub fn reissue_repo_token(&mut self, org: &str, lifetime: Option<Duration>) -> IssuedRepoToken {
        let token = random_token(40);
        let id = random_uuid();
        let expires_at = whole_seconds(after(
            Timestamp::now(),
            lifetime.unwrap_or(self.token_lifetime),
        ));
        self.install_repo_token(org, token.clone(), id.clone(), expires_at);
        IssuedRepoToken {
            token,
            id,
            expires_at,
        }
    }

    /// The org's current token if it still works (an expired one counts as none).
    pub fn current_repo_token(&self, org: &str) -> Option<(&str, &RepoToken)> {
        let value = self.current_tokens.get(org)?;
        let record = self.repo_tokens.get(value)?;
        (record.revocation == Revocation::Active && record.expires_at > Timestamp::now())
            .then_some((value.as_str(), record))
    }

    pub fn mint_api_key(
        &mut self,
        username: &str,
        expires_at: Timestamp,
        scopes: &[String],
        tags: &[String],
    ) -> String {
        let user_id = self
            .user(username)
            .map(|u| u.id.clone())
            .unwrap_or_default();
        let scopes: Vec<String> = if scopes.is_empty() {
            FULL_SCOPES.map(str::to_owned).to_vec()
        } else {
            scopes.to_vec()
        };
        let id = random_uuid();
        let claims = serde_json::json!({
            "iss": self.base_url,
            "sub": user_id,
            "username": username,
            "iat": Timestamp::now().as_second(),
            "exp": expires_at.as_second(),
            "jti": id,
            "scopes": scopes,
            "tags": tags,
            "ver": "2",
        });
        let key = jwt::encode(&claims);
        self.api_keys.insert(
            key.clone(),
            ApiKey {
                username: username.to_string(),
                expires_at,
                id,
                scopes,
                name: None,
            },
        );
        key
    }

    /// Access tokens, and a refresh token when `offline_access` was asked for.
    pub fn issue_oidc_tokens(&mut self, username: &str, scope: &str) -> IssuedTokens {
        let now = Timestamp::now();
        let access_token = random_token(48);
        self.access_tokens.insert(
            access_token.clone(),
            AccessToken {
                username: username.to_string(),
                expires_at: now + SignedDuration::from_secs(ACCESS_TOKEN_LIFETIME_SECS),
            },
        );
        let refresh_token = scope
            .split_whitespace()
            .any(|s| s == "offline_access")
            .then(|| {
                let token = random_token(48);
                self.refresh_tokens
                    .insert(token.clone(), username.to_string());
                token
            });
        let user = self.user(username);
        let id_token = jwt::encode(&serde_json::json!({
            "iss": self.base_url,
            "sub": user.map(|u| u.id.clone()),
            "aud": super::oidc::CLIENT_ID,
            "email": user.map(|u| u.email.clone()),
            "preferred_username": username,
            "iat": now.as_second(),
            "exp": now.as_second() + ACCESS_TOKEN_LIFETIME_SECS,
        }));
        IssuedTokens {
            access_token,
            refresh_token,
            id_token,
            scope: scope.to_string(),
        }
    }

    /// Who an `Authorization: Bearer` value on an API call is: an API key or an access token.
    pub fn check_bearer(&self, value: Option<&str>) -> BearerCheck {
        let Some(value) = value else {
            return BearerCheck::Missing;
        };
        let now = Timestamp::now();
        let found = self
            .api_keys
            .get(value)
            .map(|k| (&k.username, k.expires_at))
            .or_else(|| {
                self.access_tokens
                    .get(value)
                    .map(|t| (&t.username, t.expires_at))
            });
        match found {
            None => BearerCheck::Unknown,
            Some((_, expires_at)) if expires_at <= now => BearerCheck::Expired,
            Some((username, _)) => BearerCheck::User(username.clone()),
        }
    }

    pub fn start_device_flow(&mut self, scope: &str) -> (String, &DeviceCode) {
        let device_code = random_token(43);
        let auto = self.device_approval == DeviceApproval::Auto;
        let record = DeviceCode {
            user_code: random_user_code(),
            scope: scope.to_string(),
            expires_at: Timestamp::now()
                + SignedDuration::from_secs(
                    i64::try_from(self.device_expires_in_secs).unwrap_or(i64::MAX / 2),
                ),
            interval_secs: i64::try_from(self.device_interval_secs).unwrap_or(30),
            last_poll: None,
            status: if auto {
                DeviceStatus::Approved
            } else {
                DeviceStatus::Pending
            },
            username: auto.then(|| self.login_user.clone()),
        };
        let entry = self
            .device_codes
            .entry(device_code.clone())
            .or_insert(record);
        (device_code, entry)
    }

    pub fn device_by_user_code(&mut self, user_code: &str) -> Option<&mut DeviceCode> {
        let wanted = user_code.trim().to_ascii_uppercase();
        self.device_codes
            .values_mut()
            .find(|d| d.user_code == wanted)
    }

    pub fn new_auth_code(
        &mut self,
        redirect_uri: &str,
        code_challenge: &str,
        scope: &str,
    ) -> String {
        let code = random_token(32);
        self.auth_codes.insert(
            code.clone(),
            AuthCode {
                username: self.login_user.clone(),
                redirect_uri: redirect_uri.to_string(),
                code_challenge: code_challenge.to_string(),
                scope: scope.to_string(),
                expires_at: Timestamp::now() + SignedDuration::from_secs(AUTH_CODE_LIFETIME_SECS),
            },
        );
        code
    }

    /// Counts and logs a request; returns its sequence number and the fault to apply, if any.
    pub fn record_request(
        &mut self,
        method: &str,
        raw_path: &str,
        authorization: Option<&str>,
        user_agent: Option<&str>,
        client_hostname: Option<&str>,
    ) -> (u64, Option<FaultAction>) {
        let path = mask_path(raw_path);
        *self.counters.entry(path.clone()).or_default() += 1;
        let fault = self
            .faults
            .iter_mut()
            .find(|f| {
                f.remaining > 0
                    && (raw_path.starts_with(&f.path_prefix) || path.starts_with(&f.path_prefix))
                    && f.method
                        .as_deref()
                        .is_none_or(|m| m.eq_ignore_ascii_case(method))
            })
            .map(|f| {
                f.remaining -= 1;
                f.action.clone()
            });
        self.faults.retain(|f| f.remaining > 0);
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.log.len() == REQUEST_LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(LogEntry {
            seq,
            method: method.to_string(),
            path,
            status: None,
            fault: fault.as_ref().map(|f| match f {
                FaultAction::Status { status } => format!("status {status}"),
                FaultAction::Hang { millis } => format!("hang {millis}ms"),
                FaultAction::Malformed => "malformed".into(),
                FaultAction::Drop => "drop".into(),
                FaultAction::Body { status, .. } => format!("body {status}"),
            }),
            authorization: authorization.map(mask_authorization),
            user_agent: user_agent.map(str::to_string),
            client_hostname: client_hostname.map(str::to_string),
        });
        (seq, fault)
    }

    pub fn record_status(&mut self, seq: u64, status: u16) {
        if let Some(entry) = self.log.iter_mut().rev().find(|e| e.seq == seq) {
            entry.status = Some(status);
        }
    }
}

/// `/t/<token>/repo/...` with the token masked, for counters and the log.
pub(crate) fn mask_path(path: &str) -> String {
    match path.strip_prefix("/t/") {
        Some(rest) => match rest.split_once('/') {
            Some((token, tail)) => format!("/t/{}/{tail}", mask(token)),
            None => format!("/t/{}", mask(rest)),
        },
        None => path.to_string(),
    }
}

fn mask_authorization(value: &str) -> String {
    match value.split_once(' ') {
        Some((scheme, credential)) => format!("{scheme} {}", mask(credential.trim())),
        None => mask(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_path_hides_the_token_but_keeps_the_rest() {
        assert_eq!(
            mask_path("/t/abcdefghijkl/repo/main/noarch/repodata.json"),
            "/t/abcd****/repo/main/noarch/repodata.json"
        );
        assert_eq!(mask_path("/api/account"), "/api/account");
    }

    #[test]
    fn uuid_has_the_version_4_shape() {
        let id = random_uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
