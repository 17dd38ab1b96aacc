//! The daemon's side of `anacondactl doctor`: the checks that need the store or the network
//! (the CLI has neither). Each check says `ok`, `warn` or `fail`, one line of evidence and the
//! command that fixes it. Nothing here changes state: tokens are checked with one `HEAD` of
//! their repodata, not through `Tokens::validate` (which records the outcome).

use std::path::Path;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use url::Url;

use crate::api::{ApiError, ProbeAnswer, ProxyConfig, RepoTokenCheck, TransientCause};
use crate::clock::Clock;
use crate::config::{DaemonConfig, EnvSnapshot, StartedBy};
use crate::sites::SiteRuntime;
use crate::store::{BackendKind, StoreError};

/// A store read slower than this makes every conda request slow: warn.
pub const SLOW_STORE_READ: Duration = Duration::from_millis(1000);
/// Clock skew beyond this is worth a warning (token expiry, renewal dates drift).
pub const CLOCK_SKEW_WARN_SECS: i64 = 60;
/// Beyond this, TLS certificates and token lifetimes are judged wrongly: fail.
pub const CLOCK_SKEW_FAIL_SECS: i64 = 300;
/// Bound on one DNS lookup.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: String,
    pub section: String,
    pub level: Level,
    pub evidence: String,
    /// The command or step that fixes it; empty when nothing needs doing.
    pub fix: String,
}

/// What the checks read besides the site: how the daemon was started, what its configuration
/// left out, where the keyring file
/// and anaconda-auth's configuration are, the system proxy and environment it was started
/// with, and its clock.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub started_by: StartedBy,
    /// What the configuration left out at start.
    pub config_warnings: &'a [String],
    pub keyring_path: &'a Path,
    pub anaconda_auth_config: &'a Path,
    pub system_proxy: Option<&'a str>,
    pub env: &'a EnvSnapshot,
    pub clock: &'a dyn Clock,
}

impl<'a> Inputs<'a> {
    /// The inputs of a daemon started with `config`, on `clock`.
    pub fn of(config: &'a DaemonConfig, clock: &'a dyn Clock) -> Self {
        Self {
            started_by: config.started_by,
            config_warnings: &config.warnings,
            keyring_path: &config.store.keyring_path,
            anaconda_auth_config: &config.anaconda_auth_config,
            system_proxy: config.system_proxy.as_deref(),
            env: &config.env,
            clock,
        }
    }
}

/// Every daemon-side finding, in reading order.
#[derive(Debug, Clone, Default)]
pub struct Diagnosis {
    pub findings: Vec<Finding>,
    pub started_by: &'static str,
}

impl Diagnosis {
    fn push(&mut self, id: impl Into<String>, section: &str, level: Level, evidence: String) {
        self.findings.push(Finding {
            id: id.into(),
            section: section.to_owned(),
            level,
            evidence,
            fix: String::new(),
        });
    }

    fn push_fix(
        &mut self,
        id: impl Into<String>,
        section: &str,
        level: Level,
        evidence: String,
        fix: impl Into<String>,
    ) {
        self.push(id, section, level, evidence);
        if let Some(last) = self.findings.last_mut() {
            last.fix = fix.into();
        }
    }
}

/// The whole diagnosis answers within this: the checks that need the network run at once,
/// and each one that has not finished by then is reported as not checked (timed out), so
/// `doctor` against a silent service takes this long, not one request timeout per check.
pub const DIAGNOSE_DEADLINE: Duration = Duration::from_secs(15);

/// Runs every check within [`DIAGNOSE_DEADLINE`].
pub async fn diagnose(inputs: &Inputs<'_>, site: &SiteRuntime) -> Diagnosis {
    diagnose_within(inputs, site, DIAGNOSE_DEADLINE).await
}

/// Runs every check; those not finished within `limit` are marked "not checked (timed out)".
pub async fn diagnose_within(
    inputs: &Inputs<'_>,
    site: &SiteRuntime,
    limit: Duration,
) -> Diagnosis {
    let deadline = tokio::time::Instant::now() + limit;
    let mut d = Diagnosis {
        started_by: inputs.started_by.describe(),
        ..Diagnosis::default()
    };
    configuration(inputs, &mut d);
    // The store comes first: the API key's and the tokens' checks need to know it is usable.
    let stored = tokio::time::timeout_at(deadline, async {
        let mut part = Diagnosis::default();
        let ok = storage(inputs, site, &mut part).await;
        (part, ok)
    })
    .await;
    let store_ok = match stored {
        Ok((part, ok)) => {
            d.findings.extend(part.findings);
            ok
        }
        Err(_) => {
            d.findings
                .push(timed_out("storage.usable", "storage", limit));
            false
        }
    };
    let api = &site.api;
    let repo = site.vault.repo().url().clone();
    let repo_apart =
        repo.host_str() != api.base_url().host_str() || repo.port() != api.base_url().port();
    let service = within(deadline, limit, "service.reachable", "service", async {
        let mut part = Diagnosis::default();
        host(inputs, site, &mut part, "service", api.service_probe_url()).await;
        part
    });
    let repository = async {
        if !repo_apart {
            return Diagnosis::default();
        }
        within(
            deadline,
            limit,
            "repository.reachable",
            "repository",
            async {
                let mut part = Diagnosis::default();
                host(inputs, site, &mut part, "repository", repo).await;
                part
            },
        )
        .await
    };
    let key = async {
        let mut part = Diagnosis::default();
        api_key(inputs, site, &mut part, store_ok, deadline, limit).await;
        part
    };
    let tokens = async {
        let mut part = Diagnosis::default();
        tokens(inputs, site, &mut part, store_ok, deadline, limit).await;
        part
    };
    let (service, repository, key, tokens) = tokio::join!(service, repository, key, tokens);
    for part in [service, repository, key, tokens] {
        d.findings.extend(part.findings);
    }
    anaconda_auth(inputs, site, &mut d, store_ok);
    d
}

/// The finding of a check that did not finish within the diagnosis's `limit`.
fn timed_out(id: &str, section: &str, limit: Duration) -> Finding {
    Finding {
        id: id.to_owned(),
        section: section.to_owned(),
        level: Level::Warn,
        evidence: format!("not checked (timed out after {} s)", limit.as_secs()),
        fix: "the service or the network is slow or silent: run `anacondactl doctor` again \
              later"
            .to_owned(),
    }
}

/// `check`'s findings, or `id` marked as timed out when it has not finished by `deadline`.
async fn within(
    deadline: tokio::time::Instant,
    limit: Duration,
    id: &str,
    section: &str,
    check: impl std::future::Future<Output = Diagnosis>,
) -> Diagnosis {
    match tokio::time::timeout_at(deadline, check).await {
        Ok(part) => part,
        Err(_) => Diagnosis {
            findings: vec![timed_out(id, section, limit)],
            ..Diagnosis::default()
        },
    }
}

/// What the configuration left out at start (anaconda-auth's file that does not parse, a site
/// record set aside): `config.left_out`, one finding each.
fn configuration(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    for (n, warning) in inputs.config_warnings.iter().enumerate() {
        d.push_fix(
            format!("config.left_out.{n}"),
            "configuration",
            Level::Warn,
            warning.clone(),
            "fix or remove the file named, then `anacondactl daemon stop` (the next command \
             starts a daemon that reads it again)",
        );
    }
}

/// Whether the store opened and answered; adds `storage.usable` and `storage.file_mode`.
async fn storage(inputs: &Inputs<'_>, site: &SiteRuntime, d: &mut Diagnosis) -> bool {
    const S: &str = "storage";
    let started = Instant::now();
    let read = match site.vault.store().await {
        Ok(_) => site.vault.reload().await.map(|_| ()),
        Err(e) => Err(e),
    };
    let took = started.elapsed();
    if let Err(e) = read {
        let fix = match &e {
            StoreError::Timeout { .. } => {
                "unlock the keychain (it may be waiting for a password prompt), or set \
                 storage = \"file\" in anacondad's config.toml"
            }
            _ => {
                "start a Secret Service (e.g. gnome-keyring-daemon) or set storage = \"file\" \
                 in anacondad's config.toml, then `anacondactl daemon stop`"
            }
        };
        d.push_fix("storage.usable", S, Level::Fail, e.to_string(), fix);
        return false;
    }
    let view = site.vault.storage_view();
    let evidence = format!(
        "secrets in {} (configured: {}); a read took {} ms",
        view.location,
        view.configured,
        took.as_millis()
    );
    if !view.warning.is_empty() {
        d.push_fix(
            "storage.usable",
            S,
            Level::Warn,
            format!("{}; {evidence}", view.warning),
            "unlock or start the OS keychain and run `anacondactl daemon stop` (the next command \
             starts the daemon again), or set storage = \"file\" to keep the file",
        );
    } else if took > SLOW_STORE_READ {
        d.push_fix(
            "storage.usable",
            S,
            Level::Warn,
            format!("slow: {evidence}"),
            "check the keychain (a locked or remote keychain is slow), or set storage = \"file\"",
        );
    } else {
        d.push("storage.usable", S, Level::Ok, evidence);
    }
    if view.backend == Some(BackendKind::File) {
        file_mode(inputs, d);
    }
    true
}

#[cfg(unix)]
fn file_mode(inputs: &Inputs<'_>, d: &mut Diagnosis) {
    use std::os::unix::fs::PermissionsExt;
    let path = inputs.keyring_path;
    match std::fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                d.push_fix(
                    "storage.file_mode",
                    "storage",
                    Level::Fail,
                    format!(
                        "{} has mode {mode:04o}: other users can read it",
                        path.display()
                    ),
                    format!("chmod 600 {}", path.display()),
                );
            } else {
                d.push(
                    "storage.file_mode",
                    "storage",
                    Level::Ok,
                    format!("{} has mode {mode:04o}", path.display()),
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => d.push(
            "storage.file_mode",
            "storage",
            Level::Ok,
            format!(
                "{} does not exist yet (made 0600 on first write)",
                path.display()
            ),
        ),
        Err(e) => d.push(
            "storage.file_mode",
            "storage",
            Level::Warn,
            format!("cannot read the mode of {}: {e}", path.display()),
        ),
    }
}

#[cfg(not(unix))]
fn file_mode(_: &Inputs<'_>, _: &mut Diagnosis) {}

/// The CA bundle and proxy requests go through, for the evidence of the TLS check.
fn transport_settings(inputs: &Inputs<'_>, site: &SiteRuntime) -> String {
    let api = &site.config.api;
    let ca = if !api.ssl_verify {
        "verification OFF (ANACONDA_AUTH_SSL_VERIFY)".to_owned()
    } else {
        match &api.ca_bundle {
            Some(path) => format!("CA bundle {}", path.display()),
            None => "the system's trust store".to_owned(),
        }
    };
    let proxy = match &api.proxy {
        ProxyConfig::Disabled => "no proxy".to_owned(),
        ProxyConfig::Url(url) => match Url::parse(url.expose()) {
            Ok(mut u) => {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                format!("proxy {u} (config)")
            }
            Err(_) => "a proxy from the configuration".to_owned(),
        },
        ProxyConfig::System => match inputs.system_proxy {
            Some(var) => format!("proxy {var}"),
            None => "no proxy".to_owned(),
        },
    };
    format!("{ca}, {proxy}")
}

fn proxy_in_use(inputs: &Inputs<'_>, site: &SiteRuntime) -> bool {
    match &site.config.api.proxy {
        ProxyConfig::Disabled => false,
        ProxyConfig::Url(_) => true,
        ProxyConfig::System => inputs.system_proxy.is_some(),
    }
}

/// DNS, the connection (TLS for https) and the clock against one host; true when it answered.
async fn host(
    inputs: &Inputs<'_>,
    site: &SiteRuntime,
    d: &mut Diagnosis,
    section: &str,
    url: Url,
) -> bool {
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let domain_fix = "check the network and DNS, or the domain (ANACONDA_AUTH_DOMAIN, or domain \
                      in anacondad's config.toml)";
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        d.push(
            format!("{section}.dns"),
            section,
            Level::Ok,
            format!("{host} is an IP address"),
        );
    } else {
        let lookup =
            tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host.as_str(), port))).await;
        match lookup {
            Ok(Ok(addrs)) => {
                let addrs: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
                d.push(
                    format!("{section}.dns"),
                    section,
                    Level::Ok,
                    format!("{host} resolves to {}", addrs.join(", ")),
                );
            }
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {}s", DNS_TIMEOUT.as_secs()),
                };
                let (level, evidence) = if proxy_in_use(inputs, site) {
                    (
                        Level::Warn,
                        format!("{host} does not resolve here ({why}); the proxy resolves it"),
                    )
                } else {
                    (Level::Fail, format!("{host} does not resolve: {why}"))
                };
                d.push_fix(
                    format!("{section}.dns"),
                    section,
                    level,
                    evidence,
                    domain_fix,
                );
            }
        }
    }

    let https = url.scheme() == "https";
    let settings = transport_settings(inputs, site);
    let answer = site.api.probe(Method::GET, url.clone()).await;
    let shown = crate::api::mask_url(&url);
    match &answer {
        Ok(ProbeAnswer {
            status, elapsed, ..
        }) => {
            let how = if https {
                format!("TLS verified ({settings})")
            } else {
                format!("plain http to a loopback address ({settings})")
            };
            d.push(
                format!("{section}.reachable"),
                section,
                Level::Ok,
                format!(
                    "{shown} answered HTTP {status} in {} ms; {how}",
                    elapsed.as_millis()
                ),
            );
        }
        Err(e @ (ApiError::Tls { .. } | ApiError::CaBundle { .. })) => d.push_fix(
            format!("{section}.reachable"),
            section,
            Level::Fail,
            format!("TLS failed ({settings}): {e}"),
            "set ANACONDA_AUTH_SSL_VERIFY (or ca_bundle in anacondad's config.toml) to the CA \
             bundle that signs this certificate, then `anacondactl daemon stop`",
        ),
        Err(e) => {
            let fix = match e {
                ApiError::Transient {
                    cause: TransientCause::Timeout,
                    ..
                } => "check the network or the proxy; the service may be slow or down",
                _ => "check the network or the proxy (HTTPS_PROXY); the service may be down",
            };
            d.push_fix(
                format!("{section}.reachable"),
                section,
                Level::Fail,
                format!("{e} ({settings})"),
                fix,
            );
        }
    }
    let Ok(answer) = answer else {
        return false;
    };
    match answer.date {
        None => d.push(
            format!("{section}.clock"),
            section,
            Level::Warn,
            "the answer had no Date header: the clock could not be compared".to_owned(),
        ),
        Some(theirs) => {
            let skew = inputs.clock.now().duration_since(theirs);
            let secs = skew.as_secs();
            let evidence = format!(
                "this machine's clock is {} the service's ({theirs})",
                describe_skew(skew)
            );
            let level = match secs.abs() {
                s if s > CLOCK_SKEW_FAIL_SECS => Level::Fail,
                s if s > CLOCK_SKEW_WARN_SECS => Level::Warn,
                _ => Level::Ok,
            };
            if level == Level::Ok {
                d.push(format!("{section}.clock"), section, level, evidence);
            } else {
                d.push_fix(
                    format!("{section}.clock"),
                    section,
                    level,
                    evidence,
                    "set the clock right (e.g. `timedatectl set-ntp true`)",
                );
            }
        }
    }
    true
}

fn describe_skew(skew: SignedDuration) -> String {
    let secs = skew.as_secs();
    match secs {
        0 => "in step with".to_owned(),
        s if s > 0 => format!("{s}s ahead of"),
        s => format!("{}s behind", -s),
    }
}

fn date(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

async fn api_key(
    inputs: &Inputs<'_>,
    site: &SiteRuntime,
    d: &mut Diagnosis,
    store_ok: bool,
    deadline: tokio::time::Instant,
    limit: Duration,
) {
    const S: &str = "API key";
    if !store_ok {
        d.push(
            "api_key.valid",
            S,
            Level::Warn,
            "not checked: the store is not usable".to_owned(),
        );
        return;
    }
    let login = site.account.login_view().await;
    let key = match site.vault.api_key().await {
        Ok(key) => key,
        Err(_) => {
            let level = if login.login_required {
                Level::Fail
            } else {
                Level::Warn
            };
            let evidence = if login.login_required {
                "the API key lapsed"
            } else {
                "not logged in: organisation tokens still work, but no new one can be had"
            };
            d.push_fix(
                "api_key.valid",
                S,
                level,
                evidence.to_owned(),
                "anacondactl login",
            );
            return;
        }
    };
    let now = inputs.clock.now();
    match tokio::time::timeout_at(deadline, site.api.account(&key)).await {
        Err(_) => d.findings.push(timed_out("api_key.valid", S, limit)),
        Ok(answer) => match answer {
            Ok(account) => d.push(
                "api_key.valid",
                S,
                Level::Ok,
                format!(
                    "the service accepts it (user {})",
                    account.user.username.unwrap_or_else(|| "?".to_owned())
                ),
            ),
            Err(e) if e.is_login_required() => d.push_fix(
                "api_key.valid",
                S,
                Level::Fail,
                format!("the service refused it: {e}"),
                "anacondactl login --force",
            ),
            Err(e) => d.push(
                "api_key.valid",
                S,
                Level::Warn,
                format!("not checked at the service: {e}"),
            ),
        },
    }
    let renews = if login.api_key_from_environment {
        "it comes from ANACONDA_AUTH_API_KEY: whoever sets that renews it"
    } else if login.can_renew {
        "it renews by itself (a refresh token is held)"
    } else {
        "it does not renew by itself: run `anacondactl login` before it expires"
    };
    match login.api_key_expires_at {
        None => d.push(
            "api_key.expiry",
            S,
            Level::Ok,
            format!("no expiry is known; {renews}"),
        ),
        Some(at) if at <= now => d.push_fix(
            "api_key.expiry",
            S,
            Level::Fail,
            format!("expired on {}", date(at)),
            "anacondactl login",
        ),
        Some(at) => {
            let evidence = format!("expires {}; {renews}", date(at));
            if login.expiring(now) && !login.api_key_from_environment {
                d.push_fix(
                    "api_key.expiry",
                    S,
                    Level::Warn,
                    evidence,
                    "anacondactl login --force",
                );
            } else {
                d.push("api_key.expiry", S, Level::Ok, evidence);
            }
        }
    }
}

async fn tokens(
    inputs: &Inputs<'_>,
    site: &SiteRuntime,
    d: &mut Diagnosis,
    store_ok: bool,
    deadline: tokio::time::Instant,
    limit: Duration,
) {
    if !store_ok {
        return;
    }
    let Ok(snapshot) = site.vault.snapshot().await else {
        return;
    };
    let views = site.tokens.list().await.unwrap_or_default();
    if views.is_empty() {
        d.push_fix(
            "tokens",
            "tokens",
            Level::Warn,
            "no organisation token is installed".to_owned(),
            "anacondactl token install",
        );
        return;
    }
    let now = inputs.clock.now();
    // Every token's repository check at once, each bounded by the diagnosis's deadline.
    let probes = views.iter().map(|view| async {
        match snapshot.tokens.get(&view.org) {
            Some(secret) => {
                Some(tokio::time::timeout_at(deadline, site.api.probe_repo_token(secret)).await)
            }
            None => None,
        }
    });
    let probed = futures::future::join_all(probes).await;
    for (view, probe) in views.into_iter().zip(probed) {
        let org = &view.org;
        let section = format!("token {org}");
        let refresh = format!("anacondactl token refresh --org {org}");
        if let Some(probe) = probe {
            match probe {
                Err(_) => {
                    d.findings
                        .push(timed_out(&format!("token.{org}.valid"), &section, limit))
                }
                Ok(Ok(RepoTokenCheck::Accepted)) => d.push(
                    format!("token.{org}.valid"),
                    &section,
                    Level::Ok,
                    format!(
                        "{} serves repodata with {} (HEAD, HTTP 200)",
                        view.channel_url, view.masked
                    ),
                ),
                Ok(Ok(RepoTokenCheck::Rejected { status })) => d.push_fix(
                    format!("token.{org}.valid"),
                    &section,
                    Level::Fail,
                    format!(
                        "the repository refused {} (HTTP {status}): revoked or expired",
                        view.masked
                    ),
                    refresh.clone(),
                ),
                Ok(Err(e)) => d.push_fix(
                    format!("token.{org}.valid"),
                    &section,
                    Level::Fail,
                    format!("could not be checked at the repository: {e}"),
                    "check the network or the proxy (see the service and repository checks)",
                ),
            }
        }
        let next = view
            .next_refresh_at
            .map(|t| format!("renews by itself on {}", date(t)))
            .unwrap_or_else(|| "no renewal is planned".to_owned());
        match view.expires_at {
            Some(at) if at <= now => d.push_fix(
                format!("token.{org}.renewal"),
                &section,
                Level::Fail,
                format!("expired on {}; {next}", date(at)),
                refresh,
            ),
            Some(at) if view.next_refresh_at.is_some() => d.push(
                format!("token.{org}.renewal"),
                &section,
                Level::Ok,
                format!("expires {}; {next}", date(at)),
            ),
            Some(at) => d.push_fix(
                format!("token.{org}.renewal"),
                &section,
                Level::Warn,
                format!("expires {}; {next}", date(at)),
                refresh,
            ),
            None => d.push_fix(
                format!("token.{org}.renewal"),
                &section,
                Level::Warn,
                "its expiry is unknown (stored by another tool), so it is not renewed".to_owned(),
                // It works now: reissuing would revoke it for nothing.
                format!(
                    "nothing while the token check above is ok; once the repository refuses it, \
                     `anacondactl token refresh --org {org}` gets a new one"
                ),
            ),
        }
    }
}

/// Which store anaconda-auth reads (its `preferred_token_storage`: its variable, its site's
/// table or `[plugin.auth]` of its config.toml), and whether that is where our record is.
fn anaconda_auth(inputs: &Inputs<'_>, site: &SiteRuntime, d: &mut Diagnosis, store_ok: bool) {
    use crate::config::anaconda_auth as theirs_config;
    const S: &str = "anaconda-auth";
    let config = inputs.anaconda_auth_config;
    // Read afresh: `login` or `token install` may have aligned it since the daemon started.
    let file = theirs_config::load(config).ok().flatten();
    let site_name = site.name();
    let own_site = file
        .as_ref()
        .and_then(|f| f.site(site_name))
        .map(|_| site_name);
    let preferred = theirs_config::effective_storage(inputs.env, file.as_ref(), own_site);
    let reads_system = preferred.value == theirs_config::SYSTEM_STORAGE;
    let keyring = inputs.keyring_path;
    let theirs = if reads_system {
        format!(
            "anaconda-auth reads the OS keychain (preferred_token_storage = \"system\", {})",
            preferred.source
        )
    } else {
        format!(
            "anaconda-auth reads {} ({})",
            keyring.display(),
            preferred.source
        )
    };
    if !store_ok {
        d.push(
            "anaconda_auth.storage",
            S,
            Level::Warn,
            format!("{theirs}; ours is not usable"),
        );
        return;
    }
    let ours = site.vault.storage_view().backend;
    let snapshot = site.vault.peek();
    let record = if snapshot.api_key.is_some() || !snapshot.tokens.is_empty() {
        format!("our record for {}", site.vault.domain())
    } else {
        format!("our (still empty) record for {}", site.vault.domain())
    };
    match (ours, reads_system) {
        (Some(BackendKind::File), false) | (Some(BackendKind::System), true) => d.push(
            "anaconda_auth.storage",
            S,
            Level::Ok,
            format!("{theirs}: it sees {record}"),
        ),
        (Some(BackendKind::File), true) => d.push_fix(
            "anaconda_auth.storage",
            S,
            Level::Warn,
            format!("{theirs}, but {record} is in {}", keyring.display()),
            format!(
                "remove preferred_token_storage from {}, or make the OS keychain usable",
                config.display()
            ),
        ),
        (Some(BackendKind::System), false) => d.push_fix(
            "anaconda_auth.storage",
            S,
            Level::Warn,
            format!("{theirs}, but {record} is in the OS keychain"),
            // `login` and `token install` align only an anaconda-auth they see in use.
            // Not `token install --yes`: that would reissue (and revoke) a working token.
            format!(
                "add preferred_token_storage = \"system\" under [plugin.auth] in {}",
                config.display()
            ),
        ),
        _ => d.push(
            "anaconda_auth.storage",
            S,
            Level::Ok,
            format!("{theirs}; our secrets are in memory only"),
        ),
    }
}
