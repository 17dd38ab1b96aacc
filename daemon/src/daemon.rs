//! [`Daemon`]: every part of a running daemon. [`Daemon::build`] makes them from the
//! configuration, a clock and the shutdown signal; [`Daemon::start_background`] runs the
//! watcher, the exports and each site's renewal scheduler under one task tracker;
//! [`Daemon::stop`] waits (bounded) for work that must not be cut: a reissue whose token is
//! not stored yet. Serving is not done here: the composition root (`crate::run`) hands the
//! services' routes to the transport.
//!
//! Who owns what: [`Sites`] holds every site's parts. Per site, the [`Vault`] holds its
//! secrets and facts; [`Account`] logs in and
//! keeps the API key; [`Tokens`] installs and renews repo tokens; [`Credentials`] answers the
//! hot path; [`Conda`] owns conda's user configuration; [`Exporter`] keeps other tools'
//! credential stores current. The services in `service` are thin
//! adapters from gRPC to these.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::account::Account;
use crate::api::{AnacondaClient, ApiError};
use crate::clock::Clock;
use crate::conda_setup::Conda;
use crate::conda_setup::watcher::CondarcWatcher;
use crate::config::DaemonConfig;
use crate::credentials::{CredentialRule, Credentials};
use crate::error;
use crate::events::EventBus;
use crate::export::Exporter;
use crate::renewal::{RefreshScheduler, Renewal, RenewalPolicy, Renewer};
use crate::repo_url::RepoUrl;
use crate::site_context::SiteContext;
use crate::sites::{Site, Sites, UnknownSite};
use crate::state::StateError;
use crate::tokens::Tokens;
use crate::vault::{Shared, SiteIdentity, Vault};

/// How long shutdown waits for a reissue under way to store its token (the service's request
/// timeout, plus a slow keychain).
pub const CRITICAL_WORK_GRACE: Duration = Duration::from_secs(40);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("configuring the Anaconda service client: {0}")]
    Api(#[from] ApiError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// The daemon's renewer: repo tokens through [`Tokens`], the API key through [`Account`].
#[derive(Debug, Clone)]
pub struct Renewals {
    pub tokens: Arc<Tokens>,
    pub account: Arc<Account>,
}

impl Renewer for Renewals {
    async fn deadlines(&self) -> error::Result<Vec<(Renewal, Timestamp)>> {
        let vault = self.tokens.vault();
        let snapshot = vault.snapshot().await?;
        let deadlines = self
            .tokens
            .policy()
            .deadlines(&snapshot, vault.api_key_from_environment());
        self.tokens.announce_upcoming(&deadlines);
        Ok(deadlines)
    }

    async fn renew(&self, renewal: &Renewal) -> error::Result<()> {
        match renewal {
            Renewal::RepoToken(org) => self.tokens.renew(org).await,
            Renewal::ApiKey => self.account.renew_api_key().await,
        }
    }

    fn changed(&self) -> Arc<Notify> {
        self.tokens.vault().deadlines_changed()
    }
}

/// Every part of a running daemon, shared by the RPC handlers.
#[derive(Debug)]
pub struct Daemon {
    pub config: DaemonConfig,
    /// Every site served, each with its vault, account, tokens, credentials and conda entry.
    pub sites: Sites,
    /// The default site's conda configuration (its watcher, `status`).
    pub conda: Arc<Conda>,
    /// Copies of the default site's credential in other tools' stores.
    pub exporter: Arc<Exporter>,
    /// The short-lived API keys minted for scripts and CI jobs (`api-key --mint`).
    pub minted: Arc<crate::minted::MintedKeys>,
    pub events: EventBus,
    pub clock: Arc<dyn Clock>,
    /// Cancelled by SIGTERM, SIGINT or the `Shutdown` RPC; everything stops on it.
    pub shutdown: CancellationToken,
    /// Work that runs to its end: the watcher, the scheduler, and each reissue-and-store.
    pub tasks: TaskTracker,
    /// What each user-facing call under way has done and waits for (`GetActivity`).
    pub activities: crate::activity::Activities,
    started: Instant,
    last_error: Mutex<Option<String>>,
}

impl Daemon {
    /// What keeps the daemon from stopping now without cutting work short: a reissue under
    /// way (of any site), or a user-facing call in progress. `None`: idle.
    pub fn busy_with(&self) -> Option<String> {
        if let Some(org) = self.sites.iter().find_map(|s| s.tokens.reissue_under_way()) {
            return Some(format!("the token of {org} is being installed or renewed"));
        }
        match self.activities.in_progress() {
            0 => None,
            n => Some(format!("{n} command(s) in progress")),
        }
    }

    /// What keeps a daemon that exits when idle from stopping after `idle` with no
    /// connection: [`Self::busy_with`], and, when its storage outlives it, a renewal due
    /// within `idle` (or due less than `idle` ago: the scheduler is at it). A renewal due
    /// later is not lost when the daemon stops: its deadline is in the state file, and the
    /// next daemon's scheduler renews an overdue one at its start. One overdue for longer is
    /// failing; the next daemon retries it, and `status` and `doctor` say it is due.
    pub async fn keeps_running(&self, idle: Duration) -> Option<String> {
        if let Some(busy) = self.busy_with() {
            return Some(busy);
        }
        if self.config.settings.storage == crate::store::StorageMode::Memory {
            return None;
        }
        let now = self.clock.now();
        let window = jiff::SignedDuration::try_from(idle).unwrap_or(jiff::SignedDuration::ZERO);
        for site in self.sites.iter() {
            let vault = site.tokens.vault();
            let Ok(snapshot) = vault.snapshot().await else {
                continue;
            };
            let deadlines = site
                .tokens
                .policy()
                .deadlines(&snapshot, vault.api_key_from_environment());
            let soon = deadlines.iter().find(|(_, at)| {
                let from_now = at.duration_since(now);
                from_now <= window && from_now >= -window
            });
            if let Some((renewal, at)) = soon {
                let what = match renewal {
                    crate::renewal::Renewal::RepoToken(org) => format!("the token of {org}"),
                    crate::renewal::Renewal::ApiKey => "the API key".to_owned(),
                };
                return Some(format!("the renewal of {what} is due at {at}"));
            }
        }
        None
    }

    /// Builds every part of every site; reads the state file, opens nothing else yet.
    pub fn build(
        config: DaemonConfig,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, DaemonError> {
        let events = EventBus::new(clock.clone());
        let shared = Shared::open(config.store.clone(), config.paths.state_file(), clock.now())?;
        let tasks = TaskTracker::new();
        let policy = RenewalPolicy {
            lead_fraction: config.settings.refresh_lead_fraction,
        };
        let default_index = config
            .sites
            .iter()
            .position(|s| s.name == config.default_site)
            .unwrap_or(0);
        let mut all = Vec::with_capacity(config.sites.len());
        for (index, site_config) in config.sites.iter().enumerate() {
            let is_default = index == default_index;
            let api = Arc::new(AnacondaClient::new(&site_config.api)?);
            let mut repos = vec![RepoUrl::new(api.repo_url().clone())];
            for extra in &site_config.extra_repo_urls {
                let url = url::Url::parse(extra).map_err(|e| ApiError::Config {
                    setting: "extra_repo_urls",
                    value: extra.clone(),
                    reason: format!("the site {} names no URL there: {e}", site_config.name),
                })?;
                repos.push(RepoUrl::new(url));
            }
            let site = SiteIdentity {
                domain: api.keyring_username().to_owned(),
                repo: repos[0].clone(),
            };
            let vault = Arc::new(Vault::within(site.clone(), shared.clone(), is_default));
            let parts = SiteContext {
                vault: vault.clone(),
                api: api.clone(),
                events: events.clone(),
                clock: clock.clone(),
            };
            let account = Arc::new(Account::new(parts.clone()));
            let tokens = Arc::new(Tokens::new(parts, policy, tasks.clone()));
            let rule = CredentialRule {
                preference: config.settings.credential_preference,
                unified_api_key: site_config.use_unified_repo_api_key,
            };
            let credentials = Arc::new(
                Credentials::new(vault.clone(), events.clone(), rule)
                    .with_extra_repos(repos[1..].to_vec()),
            );
            let conda = Conda::new(
                config.paths.condarc.clone(),
                config.paths.conda_user_config.clone(),
                site.repo,
                config.settings.auth_handler.clone(),
                crate::conda_setup::ViewInput {
                    env: config.env.map().clone(),
                    home: config.paths.home.clone(),
                    platform: crate::conda_rules::Platform::current(),
                    system: None,
                },
                events.clone(),
            );
            let conda = Arc::new(if is_default {
                conda
            } else {
                conda.for_another_site()
            });
            all.push(Arc::new(Site {
                config: site_config.clone(),
                vault,
                api,
                account,
                tokens,
                credentials,
                conda,
                repos,
            }));
        }
        let sites = Sites::new(all, default_index);
        let default = sites.default_site().clone();
        // What the configuration left out: `status` (and so `doctor`) tells it.
        for warning in &config.warnings {
            tracing::warn!("{warning}");
            default.vault.note(warning.clone());
        }
        let exporter = Arc::new(Exporter::new(
            default.vault.clone(),
            config.settings.export.clone(),
            config.paths.rattler_auth_file.clone(),
            config.paths.mamba_auth_file.clone(),
            clock.clone(),
            // Connecting to the keychain and a few reads and writes, each bounded alike.
            config.settings.keychain_timeout() * 4,
        ));
        let minted = Arc::new(crate::minted::MintedKeys::new(
            &config.paths.state_dir,
            clock.clone(),
        ));
        exporter
            .read_only_key
            .set_source(Arc::new(crate::minted::ExportKeys {
                minted: minted.clone(),
                site: default.clone(),
            }));
        Ok(Arc::new(Self {
            config,
            conda: default.conda.clone(),
            sites,
            exporter,
            minted,
            events,
            clock,
            shutdown,
            tasks,
            activities: crate::activity::Activities::default(),
            started: Instant::now(),
            last_error: Mutex::new(None),
        }))
    }

    /// The site a request names (`anacondad-site`), else the default one.
    pub fn site_named(&self, name: Option<&str>) -> Result<&Arc<Site>, UnknownSite> {
        self.sites.named(name)
    }

    /// The default site's parts, for callers that serve one site.
    pub fn default_site(&self) -> &Arc<Site> {
        self.sites.default_site()
    }

    /// The watcher, and each site's scheduler once the store is open (a slow keychain probe
    /// must not delay readiness).
    pub fn start_background(self: &Arc<Self>) {
        let sites: Vec<Arc<Site>> = self.sites.iter().cloned().collect();
        self.tasks.spawn(Arc::clone(&self.minted).run_expiry(
            sites,
            self.events.clone(),
            self.shutdown.clone(),
        ));
        let default = self.default_site().clone();
        let watcher = CondarcWatcher::new(
            self.conda.clone(),
            default.vault.clone(),
            self.events.clone(),
            self.shutdown.clone(),
        )
        .with_channel_check(crate::channels::OrgChannels::new(
            default.vault.clone(),
            default.api.clone(),
            self.conda.clone(),
        ));
        self.tasks.spawn(watcher.run());
        let guard = crate::keyring_guard::KeyringFileGuard::new(
            self.config.store.keyring_path.clone(),
            self.sites.iter().cloned().collect(),
            self.events.clone(),
            self.shutdown.clone(),
        );
        self.tasks.spawn(guard.run());
        let exporter = self.exporter.clone();
        let shutdown = self.shutdown.clone();
        let tasks = self.tasks.clone();
        let vault = default.vault.clone();
        self.tasks.spawn(async move {
            if let Err(e) = vault.store().await {
                tracing::warn!("the credential store is not usable yet: {e}");
            }
            // The exports need to know where the secrets are (rattler's go beside them).
            tasks.spawn(exporter.run(shutdown));
        });
        for site in self.sites.iter() {
            let scheduler = RefreshScheduler::new(
                Renewals {
                    tokens: site.tokens.clone(),
                    account: site.account.clone(),
                },
                self.clock.clone(),
                self.shutdown.clone(),
            );
            let vault = site.vault.clone();
            let tokens = site.tokens.clone();
            let shutdown = self.shutdown.clone();
            self.tasks.spawn(async move {
                if let Err(e) = vault.store().await {
                    tracing::warn!("the credential store is not usable yet: {e}");
                }
                // Renewal deadlines the state file lost come back from the service first.
                tokio::select! {
                    () = tokens.rebuild_lost_facts() => {}
                    () = shutdown.cancelled() => return,
                }
                scheduler.run().await;
            });
        }
    }

    /// Stops the background work and waits (bounded) for what must finish.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        if tokio::time::timeout(Duration::from_millis(50), self.tasks.wait())
            .await
            .is_ok()
        {
            return;
        }
        tracing::info!("waiting for work under way (a token being stored) before stopping");
        if tokio::time::timeout(CRITICAL_WORK_GRACE, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("work under way did not finish in time; stopping anyway");
        }
    }

    pub fn uptime_seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// After a login at the one implicit site (no sites configured): it is the one every later
    /// daemon serves, so its record is written (on the blocking pool). Configured sites are in
    /// the configuration already. A failure is logged: the login itself stands.
    pub async fn remember_login_site(&self, site: &Site) {
        if self.sites.len() > 1 || !self.sites.is_default(site) {
            return;
        }
        let config = self.config.clone();
        let file = config.paths.site_file();
        let error = match tokio::task::spawn_blocking(move || config.remember_site()).await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        tracing::warn!(%error, file = %file.display(), "the site of this login could not be recorded");
    }

    /// Remembers a failure the user may need to act on; `Status` shows the latest.
    pub fn record_error(&self, message: impl Into<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(message.into());
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
