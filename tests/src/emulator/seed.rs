//! The emulator's starting state: users, organisations, subscriptions and pre-existing credentials.

use jiff::Timestamp;
use serde::Deserialize;

/// What the emulator knows when it starts, read from `--state FILE` (JSON) or built by a test.
///
/// The file format, every field but `users` optional:
///
/// ```json
/// {
///   "users": [
///     {"username": "demo", "email": "demo@example.com", "first_name": "Demo", "last_name": "User",
///      "id": "<uuid, optional>"}
///   ],
///   "login_user": "demo",
///   "organizations": [
///     {"name": "acme", "title": "Acme Corporation", "id": "<uuid, optional>", "members": ["demo"]}
///   ],
///   "subscriptions": [
///     {"org": "acme", "product_code": "commercial_business"},
///     {"user": "demo", "product_code": "free"}
///   ],
///   "repo_tokens": [
///     {"org": "acme", "token": "<value>", "expires_at": "2030-01-01T00:00:00Z", "id": "<uuid, optional>"}
///   ],
///   "api_keys": [
///     {"username": "demo", "api_key": "<value, optional: minted when absent>", "expires_at": "<optional>"}
///   ],
///   "channels": [
///     {"org": "acme", "name": "internal", "privacy": "private", "description": "",
///      "packages": ["acme-widgets"], "shared_with": ["<username>"]}
///   ]
/// }
/// ```
///
/// - `login_user` is who the device and browser flows log in (default: the first user).
/// - A subscription with `org` belongs to that organisation and shows in the account of each of its
///   members with that org's id; one with `user` is personal and shows with `"org_id": null`.
///   Organisations whose subscriptions all contain `starter` are not offered a repo token.
/// - A repo token listed for an org becomes that org's current token (the last one listed wins);
///   `expires_at` defaults to now plus `--token-lifetime`, an API key's to now plus
///   `--api-key-lifetime`.
/// - A channel is `<repository>/<org>/<name>`; `privacy` defaults to `private`, `packages` to
///   `["anacondad-hello"]` (the other package there is, `acme-widgets`, is in no default
///   channel). `shared_with` names users who are not members of `org` but may read it (the
///   service lists it among their channels). A channel no seed lists is still served, with
///   `anacondad-hello`, to members of its org, but no API call lists it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub login_user: Option<String>,
    #[serde(default)]
    pub organizations: Vec<SeedOrganization>,
    #[serde(default)]
    pub subscriptions: Vec<SeedSubscription>,
    #[serde(default)]
    pub repo_tokens: Vec<SeedRepoToken>,
    #[serde(default)]
    pub api_keys: Vec<SeedApiKey>,
    #[serde(default)]
    pub channels: Vec<SeedChannel>,
}

/// One channel of an organisation.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedChannel {
    pub org: String,
    pub name: String,
    #[serde(default = "private")]
    pub privacy: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "hello_package")]
    pub packages: Vec<String>,
    #[serde(default)]
    pub shared_with: Vec<String>,
}

fn private() -> String {
    "private".into()
}

fn hello_package() -> Vec<String> {
    vec!["anacondad-hello".into()]
}

impl SeedChannel {
    /// A private channel of `org` holding `packages`.
    pub fn new(org: &str, name: &str, packages: &[&str]) -> Self {
        SeedChannel {
            org: org.into(),
            name: name.into(),
            privacy: private(),
            description: String::new(),
            packages: packages.iter().map(|p| (*p).to_owned()).collect(),
            shared_with: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub username: String,
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedOrganization {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSubscription {
    #[serde(default)]
    pub org: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    pub product_code: String,
}

/// A token that exists before the emulator starts; its value is a test fixture, not a secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRepoToken {
    pub org: String,
    pub token: String,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub id: Option<String>,
}

impl std::fmt::Debug for SeedRepoToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedRepoToken")
            .field("org", &self.org)
            .field("token", &crate::emulator::mask(&self.token))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedApiKey {
    pub username: String,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for SeedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeedApiKey")
            .field("username", &self.username)
            .field(
                "api_key",
                &self.api_key.as_deref().map(crate::emulator::mask),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Why a seed was refused; each names the entry to fix.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed has no users: add at least one entry to \"users\"")]
    NoUsers,
    #[error("seed names user {username:?} in {place}, but \"users\" has no such username")]
    UnknownUser { username: String, place: String },
    #[error("seed names organization {org:?} in {place}, but \"organizations\" has no such name")]
    UnknownOrganization { org: String, place: String },
    #[error("seed subscription {product_code:?} must name exactly one of \"org\" or \"user\"")]
    SubscriptionOwner { product_code: String },
    #[error("seed channel {channel:?} holds {package:?}, which is not a package the emulator has")]
    UnknownPackage { package: String, channel: String },
    #[error("seed lists {what} {name:?} twice")]
    Duplicate { what: &'static str, name: String },
}

impl Seed {
    /// The world with no `--state`: user `demo` with business subscriptions for `acme` and
    /// `globex`, a starter one for `initech`, and a personal free plan. `acme` has two
    /// channels, `internal` (holding `anacondad-hello` and `acme-widgets`, which no default channel
    /// has) and `tools`;
    /// `globex` and `initech` have none; `umbrella`, an organisation `demo` is not a member
    /// of, shares its channel `partner` with `demo`.
    pub fn demo() -> Self {
        let org = |name: &str, title: &str, id: &str| SeedOrganization {
            name: name.into(),
            title: Some(title.into()),
            id: Some(id.into()),
            members: vec!["demo".into()],
        };
        let org_subscription = |org: &str, code: &str| SeedSubscription {
            org: Some(org.into()),
            user: None,
            product_code: code.into(),
        };
        Seed {
            users: vec![SeedUser {
                username: "demo".into(),
                email: "demo@example.com".into(),
                first_name: "Demo".into(),
                last_name: "User".into(),
                id: Some("6d3c1a52-64a4-4b8e-9f0e-0c1d2e3f4a5b".into()),
            }],
            login_user: None,
            organizations: vec![
                org(
                    "acme",
                    "Acme Corporation",
                    "a0c4e1f2-1111-4a1a-8a1a-000000000001",
                ),
                org(
                    "globex",
                    "Globex Corporation",
                    "b0c4e1f2-2222-4b2b-8b2b-000000000002",
                ),
                org("initech", "Initech", "c0c4e1f2-3333-4c3c-8c3c-000000000003"),
                SeedOrganization {
                    name: "umbrella".into(),
                    title: Some("Umbrella Partners".into()),
                    id: Some("d0c4e1f2-4444-4d4d-8d4d-000000000004".into()),
                    members: Vec::new(),
                },
            ],
            subscriptions: vec![
                org_subscription("acme", "commercial_business"),
                org_subscription("globex", "security_business"),
                org_subscription("initech", "commercial_starter"),
                SeedSubscription {
                    org: None,
                    user: Some("demo".into()),
                    product_code: "free".into(),
                },
            ],
            repo_tokens: Vec::new(),
            api_keys: Vec::new(),
            channels: vec![
                SeedChannel {
                    description: "Acme's own builds".into(),
                    ..SeedChannel::new("acme", "internal", &["anacondad-hello", "acme-widgets"])
                },
                SeedChannel::new("acme", "tools", &["anacondad-hello"]),
                SeedChannel {
                    shared_with: vec!["demo".into()],
                    ..SeedChannel::new("umbrella", "partner", &["anacondad-hello"])
                },
            ],
        }
    }

    /// Checks every cross reference, so a typo in a seed file fails at start with its name.
    pub fn validate(&self) -> Result<(), SeedError> {
        if self.users.is_empty() {
            return Err(SeedError::NoUsers);
        }
        let user_known = |username: &str, place: String| {
            if self.users.iter().any(|u| u.username == username) {
                Ok(())
            } else {
                Err(SeedError::UnknownUser {
                    username: username.into(),
                    place,
                })
            }
        };
        let org_known = |org: &str, place: String| {
            if self.organizations.iter().any(|o| o.name == org) {
                Ok(())
            } else {
                Err(SeedError::UnknownOrganization {
                    org: org.into(),
                    place,
                })
            }
        };
        for (i, user) in self.users.iter().enumerate() {
            if self.users[..i].iter().any(|u| u.username == user.username) {
                return Err(SeedError::Duplicate {
                    what: "user",
                    name: user.username.clone(),
                });
            }
        }
        for (i, org) in self.organizations.iter().enumerate() {
            if self.organizations[..i].iter().any(|o| o.name == org.name) {
                return Err(SeedError::Duplicate {
                    what: "organization",
                    name: org.name.clone(),
                });
            }
            for member in &org.members {
                user_known(member, format!("the members of {:?}", org.name))?;
            }
        }
        if let Some(login_user) = &self.login_user {
            user_known(login_user, "\"login_user\"".into())?;
        }
        for sub in &self.subscriptions {
            match (&sub.org, &sub.user) {
                (Some(org), None) => org_known(org, "\"subscriptions\"".into())?,
                (None, Some(user)) => user_known(user, "\"subscriptions\"".into())?,
                _ => {
                    return Err(SeedError::SubscriptionOwner {
                        product_code: sub.product_code.clone(),
                    });
                }
            }
        }
        for token in &self.repo_tokens {
            org_known(&token.org, "\"repo_tokens\"".into())?;
        }
        for key in &self.api_keys {
            user_known(&key.username, "\"api_keys\"".into())?;
        }
        for (i, channel) in self.channels.iter().enumerate() {
            let path = format!("{}/{}", channel.org, channel.name);
            org_known(&channel.org, format!("the channel {path:?}"))?;
            for user in &channel.shared_with {
                user_known(user, format!("\"shared_with\" of {path:?}"))?;
            }
            for package in &channel.packages {
                if !crate::emulator::PACKAGES
                    .iter()
                    .any(|(name, _)| name == package)
                {
                    return Err(SeedError::UnknownPackage {
                        package: package.clone(),
                        channel: path,
                    });
                }
            }
            if self.channels[..i]
                .iter()
                .any(|c| c.org == channel.org && c.name == channel.name)
            {
                return Err(SeedError::Duplicate {
                    what: "channel",
                    name: path,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_seed_is_valid() {
        Seed::demo().validate().unwrap();
    }

    #[test]
    fn seed_naming_an_unknown_member_is_refused_with_its_name() {
        let seed: Seed = serde_json::from_str(
            r#"{"users":[{"username":"a","email":"a@x"}],
                "organizations":[{"name":"o","members":["b"]}]}"#,
        )
        .unwrap();
        let err = seed.validate().unwrap_err().to_string();
        assert!(err.contains("\"b\"") && err.contains("\"o\""), "{err}");
    }
}
