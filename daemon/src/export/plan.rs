//! Which credential goes under which key of another tool's store: a pure function of the
//! vault's snapshot, so the rule is tested without any store.
//!
//! The rule. rattler keys its store by host alone, so it can hold one credential for the whole
//! repository: the API key (`BearerToken`), because the repository accepts it for every channel
//! the account may read, the default ones and every org's, while a repo token opens only its
//! own org. Once the repository has refused the API key (a refusal the daemon remembers), the
//! entry holds a repo token instead (`CondaToken`, which rattler turns into a `/t/<token>/`
//! path): the token of the org whose channel refused the key when one is stored, else the first
//! by name. mamba looks a URL up by dropping path segments one at a time, so it gets the same
//! host entry plus one `CondaToken` entry per org under `<host>/<repo path>/<org>`: an org's
//! channels get its own token, as conda's do.

use serde_json::json;

use crate::credentials::sha256_hex;
use crate::repo_url::{Channel, RepoUrl};
use crate::secret::Secret;
use crate::vault::Snapshot;

use super::ExportTarget;

/// The credential types the two stores know (the names both use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    BearerToken,
    CondaToken,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BearerToken => "BearerToken",
            Self::CondaToken => "CondaToken",
        }
    }
}

/// One entry to write.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The store's key.
    pub key: String,
    pub kind: EntryKind,
    /// "the API key", "the repo token of acme".
    pub credential: String,
    /// The value as the store holds it: JSON text carrying the secret.
    pub value: Secret,
}

impl Entry {
    /// What the state file keeps to recognise this value later.
    pub fn fingerprint(&self) -> String {
        sha256_hex(self.value.expose())
    }
}

/// Every entry `target` should hold for what `snapshot` holds; empty when it holds nothing.
pub fn plan(target: ExportTarget, snapshot: &Snapshot, repo: &RepoUrl) -> Vec<Entry> {
    let Some(host) = repo.url().host_str() else {
        return Vec::new();
    };
    let mut entries = Vec::new();
    match target {
        ExportTarget::Rattler => {
            if let Some((kind, credential, secret)) = host_credential(snapshot, repo) {
                entries.push(entry(target, host.to_owned(), kind, credential, &secret));
            }
        }
        ExportTarget::Mamba => {
            let host_key = match repo.url().port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            };
            if let Some((kind, credential, secret)) = host_credential(snapshot, repo) {
                entries.push(entry(target, host_key.clone(), kind, credential, &secret));
            }
            let repo_path = repo.url().path();
            for (org, token) in &snapshot.tokens {
                entries.push(entry(
                    target,
                    format!("{host_key}{repo_path}{org}"),
                    EntryKind::CondaToken,
                    format!("the repo token of {org}"),
                    token,
                ));
            }
        }
    }
    entries
}

/// The one credential for a host-keyed entry (see the module's rule).
fn host_credential(snapshot: &Snapshot, repo: &RepoUrl) -> Option<(EntryKind, String, Secret)> {
    let refused_scopes: Vec<&str> = match &snapshot.api_key {
        Some(key) => {
            let hash = sha256_hex(&format!("Bearer {}", key.expose()));
            snapshot
                .refused
                .keys()
                .filter(|(_, h)| *h == hash)
                .map(|(scope, _)| scope.as_str())
                .collect()
        }
        None => Vec::new(),
    };
    if let Some(key) = &snapshot.api_key
        && refused_scopes.is_empty()
    {
        return Some((
            EntryKind::BearerToken,
            "the API key".to_owned(),
            key.clone(),
        ));
    }
    let refused_org = refused_scopes
        .iter()
        .find_map(|scope| match repo.channel_of_str(scope) {
            Some(Channel::Org(org)) if snapshot.tokens.contains_key(&org) => Some(org),
            _ => None,
        });
    let (org, token) = match refused_org {
        Some(org) => {
            let token = snapshot.tokens.get(&org)?;
            (org, token.clone())
        }
        None => {
            let (org, token) = snapshot.tokens.iter().next()?;
            (org.clone(), token.clone())
        }
    };
    Some((
        EntryKind::CondaToken,
        format!("the repo token of {org}"),
        token,
    ))
}

fn entry(
    target: ExportTarget,
    key: String,
    kind: EntryKind,
    credential: String,
    secret: &Secret,
) -> Entry {
    let value = match target {
        // rattler's `Authentication`, externally tagged: `{"BearerToken": "..."}`.
        ExportTarget::Rattler => json!({ kind.as_str(): secret.expose() }),
        // libmamba's authentication.json: `{"type": "CondaToken", "token": "..."}`.
        ExportTarget::Mamba => json!({ "type": kind.as_str(), "token": secret.expose() }),
    };
    Entry {
        key,
        kind,
        credential,
        value: Secret::new(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn repo() -> RepoUrl {
        RepoUrl::new(Url::parse("https://repo.example.com:8443/repo/").unwrap())
    }

    fn snapshot(api_key: Option<&str>, tokens: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            api_key: api_key.map(Secret::new),
            tokens: tokens
                .iter()
                .map(|(o, t)| ((*o).to_owned(), Secret::new(*t)))
                .collect(),
            ..Snapshot::default()
        }
    }

    fn values(entries: &[Entry]) -> Vec<(String, String)> {
        entries
            .iter()
            .map(|e| (e.key.clone(), e.value.expose().to_owned()))
            .collect()
    }

    #[test]
    fn rattler_gets_the_api_key_for_the_host_without_its_port() {
        let s = snapshot(Some("KEY"), &[("acme", "TOK")]);
        assert_eq!(
            values(&plan(ExportTarget::Rattler, &s, &repo())),
            [("repo.example.com".into(), r#"{"BearerToken":"KEY"}"#.into())]
        );
    }

    #[test]
    fn without_an_api_key_rattler_gets_the_first_repo_token_as_a_conda_token() {
        let s = snapshot(None, &[("zeta", "Z"), ("acme", "A")]);
        let entries = plan(ExportTarget::Rattler, &s, &repo());
        assert_eq!(
            values(&entries),
            [("repo.example.com".into(), r#"{"CondaToken":"A"}"#.into())]
        );
        assert_eq!(entries[0].credential, "the repo token of acme");
    }

    #[test]
    fn a_refused_api_key_gives_way_to_the_token_of_the_org_that_refused_it() {
        let mut s = snapshot(Some("KEY"), &[("acme", "A"), ("zeta", "Z")]);
        s.refused.insert(
            (
                format!("{}zeta/internal/", repo().as_str()),
                sha256_hex("Bearer KEY"),
            ),
            403,
        );
        assert_eq!(
            values(&plan(ExportTarget::Rattler, &s, &repo())),
            [("repo.example.com".into(), r#"{"CondaToken":"Z"}"#.into())]
        );
    }

    #[test]
    fn mamba_gets_the_host_with_its_port_and_one_entry_per_org() {
        let s = snapshot(Some("KEY"), &[("acme", "A")]);
        assert_eq!(
            values(&plan(ExportTarget::Mamba, &s, &repo())),
            [
                (
                    "repo.example.com:8443".into(),
                    r#"{"type":"BearerToken","token":"KEY"}"#.into()
                ),
                (
                    "repo.example.com:8443/repo/acme".into(),
                    r#"{"type":"CondaToken","token":"A"}"#.into()
                ),
            ]
        );
    }

    #[test]
    fn nothing_held_means_nothing_exported() {
        assert!(plan(ExportTarget::Mamba, &Snapshot::default(), &repo()).is_empty());
        assert!(plan(ExportTarget::Rattler, &Snapshot::default(), &repo()).is_empty());
    }
}
