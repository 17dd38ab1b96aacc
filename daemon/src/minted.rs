//! The API keys this daemon minted for scripts, CI jobs and exports: short-lived, with only
//! the scopes asked for (`repo:read` by default). Their records (id, name, scopes, times;
//! never a value) live in `<state dir>/minted-keys.json`, 0600, by site domain; a key is
//! revoked at the service on `api-key --revoke ID`, at `logout --revoke`, and by the daemon
//! itself once its expiry passes ([`MintedKeys::run_expiry`], with the same call): a key the
//! service would refuse anyway is deleted there too, and its record dropped only then. A
//! failed revocation keeps the record (with why, shown by `api-key --list`), is told as an
//! event and is tried again; the records are on disk, so a restarted daemon carries on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::api::ApiError;
use crate::clock::Clock;
use crate::secret::Secret;
use crate::sites::Site;

/// The scope a minted key gets when none is asked for: reading the repository, nothing else.
pub const DEFAULT_SCOPE: &str = "repo:read";
/// The lifetime of a minted key when none is asked for.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// The scopes a key can be minted with (those of the account's own key).
pub const KNOWN_SCOPES: [&str; 3] = ["repo:read", "cloud:read", "cloud:write"];

/// One minted key, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MintedRecord {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Why revoking it at its expiry failed last (it is tried again at `retry_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<i64>,
    /// How many revocations at expiry failed, for the wait before the next.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The first wait before a failed revocation at expiry is tried again; it doubles with each
/// failure up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(60);
const RETRY_MAX: Duration = Duration::from_secs(3600);
/// The longest the expiry task sleeps at once, so a suspend or a clock jump is caught.
const EXPIRY_CHECK_MAX: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error(
        "{0:?} is not a scope an API key can have (one of: repo:read, cloud:read, cloud:write)"
    )]
    UnknownScope(String),
    #[error("the lifetime must be between 1 second and 1 year")]
    BadTtl,
    #[error(
        "no key {id:?} was minted by this daemon for {domain}: see `anacondactl api-key --list`"
    )]
    UnknownKey { id: String, domain: String },
    #[error("cannot keep the record of minted keys in {path}: {source}")]
    Records {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Daemon(#[from] crate::error::Error),
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// The record file and the one lock its read-modify-write cycles take.
#[derive(Debug)]
pub struct MintedKeys {
    path: PathBuf,
    clock: Arc<dyn Clock>,
    /// Held across each read-modify-write of the file, so two mints do not lose a record.
    lock: tokio::sync::Mutex<()>,
    /// Told when a key is minted: the expiry task's next deadline may be earlier.
    minted: tokio::sync::Notify,
}

type Records = BTreeMap<String, Vec<MintedRecord>>;

impl MintedKeys {
    pub fn new(state_dir: &std::path::Path, clock: Arc<dyn Clock>) -> Self {
        Self {
            path: state_dir.join("minted-keys.json"),
            clock,
            lock: tokio::sync::Mutex::new(()),
            minted: tokio::sync::Notify::new(),
        }
    }

    /// Mints a key for `site` with the account's key, records it, returns its value once.
    pub async fn mint(
        &self,
        site: &Site,
        scopes: &[String],
        ttl: Option<Duration>,
        name: &str,
    ) -> Result<(Secret, MintedRecord), MintError> {
        let scopes = checked_scopes(scopes)?;
        let ttl = ttl.unwrap_or(DEFAULT_TTL);
        if ttl.is_zero() || ttl > Duration::from_secs(366 * 24 * 3600) {
            return Err(MintError::BadTtl);
        }
        let account_key = site.vault.api_key().await?;
        let now = self.clock.now();
        let lifetime = jiff::SignedDuration::try_from(ttl).map_err(|_| MintError::BadTtl)?;
        let expires_at: Timestamp = now.checked_add(lifetime).map_err(|_| MintError::BadTtl)?;
        let name = if name.is_empty() {
            format!("anacondad {}", now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        } else {
            name.to_owned()
        };
        let _guard = self.lock.lock().await;
        let minted = site
            .api
            .mint_scoped_api_key(&account_key, &scopes, &name, expires_at)
            .await?;
        let record = MintedRecord {
            id: minted.id,
            name,
            scopes,
            created_at: now.as_second(),
            expires_at: minted.expires_at.as_second(),
            revocation_error: None,
            retry_at: None,
            failures: 0,
        };
        let mut records = self.read()?;
        records
            .entry(site.domain().to_owned())
            .or_default()
            .push(record.clone());
        self.write(&records)?;
        self.minted.notify_one();
        Ok((minted.key, record))
    }

    /// The keys of `site` on record: the valid ones, and those past their expiry that the
    /// expiry task has not revoked yet (with why, when it failed).
    pub async fn list(&self, site: &Site) -> Result<Vec<MintedRecord>, MintError> {
        let _guard = self.lock.lock().await;
        let mut records = self.read()?;
        Ok(records.remove(site.domain()).unwrap_or_default())
    }

    /// The expiry task: revokes each key at its expiry, at the service, with the call
    /// `api-key --revoke` makes; sleeps until the next expiry or retry (at most
    /// [`EXPIRY_CHECK_MAX`] at once), or until a key is minted; stops with `shutdown`.
    pub async fn run_expiry(
        self: Arc<Self>,
        sites: Vec<Arc<Site>>,
        events: crate::events::EventBus,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        loop {
            let next = match self.revoke_expired(&sites, &events).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e, "the minted keys' records cannot be read");
                    None
                }
            };
            let now = self.clock.now();
            let cap = now
                .checked_add(EXPIRY_CHECK_MAX)
                .expect("a minute from now is a time");
            let wake = next.map_or(cap, |at| at.min(cap));
            let minted = self.minted.notified();
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = minted => {}
                () = self.clock.sleep_until(wake) => {}
            }
        }
    }

    /// Revokes every key past its expiry whose retry is due; answers when the next expiry or
    /// retry is.
    async fn revoke_expired(
        &self,
        sites: &[Arc<Site>],
        events: &crate::events::EventBus,
    ) -> Result<Option<Timestamp>, MintError> {
        use anacondad_proto::v1::EventKind;
        let _guard = self.lock.lock().await;
        let mut records = self.read()?;
        let now = self.clock.now().as_second();
        let mut changed = false;
        for (domain, keys) in &mut records {
            let site = sites.iter().find(|s| s.domain() == domain);
            let mut revoked = Vec::new();
            for key in keys.iter_mut() {
                if key.expires_at > now || key.retry_at.is_some_and(|at| at > now) {
                    continue;
                }
                changed = true;
                let outcome = match site {
                    None => Err(format!("no site of this daemon serves {domain}")),
                    Some(site) => match site.vault.api_key().await {
                        Err(e) => Err(e.to_string()),
                        Ok(account_key) => site
                            .api
                            .revoke_api_key(&account_key, &key.id)
                            .await
                            .map_err(|e| e.to_string()),
                    },
                };
                match outcome {
                    Ok(_) => {
                        revoked.push(key.id.clone());
                        events.publish(
                            EventKind::ApiKeyRevoked,
                            "",
                            "",
                            format!(
                                "the minted API key {} ({}) expired and was revoked at {domain}",
                                key.id, key.name
                            ),
                        );
                    }
                    Err(why) => {
                        let wait = RETRY_FIRST
                            .saturating_mul(1 << key.failures.min(6))
                            .min(RETRY_MAX);
                        key.failures += 1;
                        key.retry_at = Some(now.saturating_add(wait.as_secs() as i64));
                        key.revocation_error = Some(why.clone());
                        events.publish(
                            EventKind::ApiKeyRevocationFailed,
                            "",
                            "",
                            format!(
                                "the minted API key {} ({}) expired but could not be revoked \
                                 at {domain}: {why}; trying again in {} s (its record is kept)",
                                key.id,
                                key.name,
                                wait.as_secs()
                            ),
                        );
                    }
                }
            }
            keys.retain(|k| !revoked.contains(&k.id));
        }
        records.retain(|_, keys| !keys.is_empty());
        if changed {
            self.write(&records)?;
        }
        let next = records
            .values()
            .flatten()
            .map(|k| k.retry_at.unwrap_or(k.expires_at).max(k.expires_at))
            .min()
            .and_then(|at| Timestamp::from_second(at).ok());
        Ok(next)
    }

    /// Revokes `id` (or, `None`, every key minted for `site`) at the service and forgets it;
    /// answers the ids revoked or found gone there. The account's key signs the revocation,
    /// so this runs before a logout forgets it.
    pub async fn revoke(&self, site: &Site, id: Option<&str>) -> Result<Vec<String>, MintError> {
        let _guard = self.lock.lock().await;
        let mut records = self.read()?;
        let ours = records.entry(site.domain().to_owned()).or_default();
        let wanted: Vec<String> = match id {
            Some(id) if ours.iter().any(|k| k.id == id) => vec![id.to_owned()],
            Some(id) => {
                return Err(MintError::UnknownKey {
                    id: id.to_owned(),
                    domain: site.domain().to_owned(),
                });
            }
            None => ours.iter().map(|k| k.id.clone()).collect(),
        };
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let account_key = site.vault.api_key().await?;
        let mut revoked = Vec::new();
        let mut failure = None;
        for id in wanted {
            match site.api.revoke_api_key(&account_key, &id).await {
                Ok(_) => revoked.push(id),
                Err(e) => {
                    tracing::warn!(error = %e, "revoking a minted API key failed");
                    failure = Some(e);
                }
            }
        }
        ours.retain(|k| !revoked.contains(&k.id));
        records.retain(|_, r| !r.is_empty());
        self.write(&records)?;
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(revoked),
        }
    }

    /// Revokes the account's own key at the service (by its JWT `jti`), with itself as the
    /// bearer; `Ok(None)` when it has no id or comes from the environment (a shared secret).
    pub async fn revoke_account_key(&self, site: &Site) -> Result<Option<String>, MintError> {
        if site.vault.api_key_from_environment() {
            return Ok(None);
        }
        let key = site.vault.api_key().await?;
        let Some(id) = crate::api::jwt_id(&key) else {
            return Ok(None);
        };
        site.api.revoke_api_key(&key, &id).await?;
        Ok(Some(id))
    }

    fn read(&self) -> Result<Records, MintError> {
        let bytes = crate::fsutil::read_regular_file(&self.path).map_err(|e| self.failed(e))?;
        Ok(bytes
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default())
    }

    fn write(&self, records: &Records) -> Result<(), MintError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.failed(e))?;
        }
        let bytes = serde_json::to_vec_pretty(records).expect("records serialize");
        crate::store::atomic::write_atomically(&self.path, &bytes).map_err(|e| self.failed(e))
    }

    fn failed(&self, source: std::io::Error) -> MintError {
        MintError::Records {
            path: self.path.display().to_string(),
            source,
        }
    }
}

/// The read-only key exports carry, minted through a site with its account's key and lasting
/// as long as it (the service caps a key at its minter's expiry).
#[derive(Debug)]
pub struct ExportKeys {
    pub minted: Arc<MintedKeys>,
    pub site: Arc<Site>,
}

/// How long an export's key is asked to last when the account key's expiry is unknown.
const EXPORT_KEY_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

impl crate::export::ReadOnlyKeySource for ExportKeys {
    fn mint<'a>(
        &'a self,
        account_key: &'a Secret,
    ) -> futures::future::BoxFuture<'a, Option<Secret>> {
        Box::pin(async move {
            let now = self.minted.clock.now();
            let ttl = crate::api::jwt_expiry(account_key)
                .ok()
                .and_then(|exp| Duration::try_from(exp.duration_since(now)).ok())
                .filter(|d| !d.is_zero())
                .map_or(EXPORT_KEY_TTL, |d| {
                    d.min(Duration::from_secs(365 * 24 * 3600))
                });
            let scopes = [DEFAULT_SCOPE.to_owned()];
            match self
                .minted
                .mint(&self.site, &scopes, Some(ttl), "anacondad export")
                .await
            {
                Ok((key, _)) => Some(key),
                Err(e) => {
                    tracing::warn!(error = %e, "no read-only key for the exports: they carry no API key");
                    None
                }
            }
        })
    }
}

/// The scopes asked for, checked and without repeats; none asked: [`DEFAULT_SCOPE`].
fn checked_scopes(asked: &[String]) -> Result<Vec<String>, MintError> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in asked.iter().flat_map(|s| s.split(',')).map(str::trim) {
        if !KNOWN_SCOPES.contains(&scope) {
            return Err(MintError::UnknownScope(scope.to_owned()));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() {
        scopes.push(DEFAULT_SCOPE.to_owned());
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_asked_for_no_scope_may_only_read_the_repository() {
        assert_eq!(checked_scopes(&[]).unwrap(), vec!["repo:read"]);
    }

    #[test]
    fn scopes_are_checked_and_said_once() {
        let asked = vec!["repo:read,cloud:read".to_owned(), "repo:read".to_owned()];
        assert_eq!(
            checked_scopes(&asked).unwrap(),
            vec!["repo:read", "cloud:read"]
        );
        assert!(matches!(
            checked_scopes(&["admin".to_owned()]),
            Err(MintError::UnknownScope(s)) if s == "admin"
        ));
    }
}
