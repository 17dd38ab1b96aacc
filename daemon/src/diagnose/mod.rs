//! The daemon's side of `anacondactl doctor`: every check that needs the store, the network or
//! conda's files (the CLI has none of them), each a [`Finding`]: `ok`, `warn` or `fail`, one
//! line of evidence and the command that fixes it. The CLI adds only what it alone sees
//! (reaching the daemon, the versions, the service units) and renders. Nothing here changes
//! state: tokens are checked with one `HEAD` of their repodata, not through
//! `Tokens::validate` (which records the outcome).
//!
//! One concern per file, in reading order: the configuration's warnings (here), the store
//! (`storage.rs`), each host (`host.rs`), the API key (`api_key.rs`), the tokens
//! (`tokens.rs`), anaconda-auth (`anaconda_auth.rs`), conda (`conda.rs`). A check of the other
//! Anaconda clients on the machine (which ones see the daemon's credential) belongs in a
//! `clients.rs` of its own, its findings after anaconda-auth's. `finding.rs` is below them all.

mod anaconda_auth;
mod api_key;
mod conda;
pub mod finding;
pub mod host;
pub mod storage;
mod tokens;

use std::path::Path;
use std::time::Duration;

pub use finding::{Finding, Level};

use crate::clock::Clock;
use crate::conda_setup::TargetRequest;
use crate::config::{DaemonConfig, EnvSnapshot, StartedBy};
use crate::sites::Site;

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
/// Every finding, in reading order.
#[derive(Debug, Clone, Default)]
pub struct Diagnosis {
    /// Read before the service units the CLI adds.
    pub findings: Vec<Finding>,
    /// conda's configuration, read after the service units.
    pub conda: Vec<Finding>,
    /// True when conda was checked (the caller sent its conda target).
    pub conda_checked: bool,
    pub started_by: &'static str,
}

/// The whole diagnosis answers within this: the checks that need the network run at once,
/// and each one that has not finished by then is reported as not checked (timed out), so
/// `doctor` against a silent service takes this long, not one request timeout per check.
pub const DIAGNOSE_DEADLINE: Duration = Duration::from_secs(15);

/// Runs every check within [`DIAGNOSE_DEADLINE`]; conda's with `conda` (the caller's target
/// and environment) when it is given.
pub async fn diagnose(
    inputs: &Inputs<'_>,
    site: &Site,
    conda: Option<&TargetRequest>,
) -> Diagnosis {
    diagnose_within(inputs, site, conda, DIAGNOSE_DEADLINE).await
}

/// Runs every check; those not finished within `limit` are marked "not checked (timed out)".
pub async fn diagnose_within(
    inputs: &Inputs<'_>,
    site: &Site,
    conda: Option<&TargetRequest>,
    limit: Duration,
) -> Diagnosis {
    let deadline = tokio::time::Instant::now() + limit;
    let mut d = Diagnosis {
        started_by: inputs.started_by.describe(),
        conda_checked: conda.is_some(),
        ..Diagnosis::default()
    };
    d.findings.extend(configuration(inputs));
    // The store comes first: the API key's and the tokens' checks need to know it is usable.
    let store_ok = match tokio::time::timeout_at(deadline, storage::check(inputs, site)).await {
        Ok((found, ok)) => {
            d.findings.extend(found);
            ok
        }
        Err(_) => {
            d.findings
                .push(finding::timed_out("storage.usable", "storage", limit));
            false
        }
    };
    let api = &site.api;
    let repo = site.vault.repo().url().clone();
    let repo_apart =
        repo.host_str() != api.base_url().host_str() || repo.port() != api.base_url().port();
    let service = within(
        deadline,
        limit,
        "service.reachable",
        "service",
        host::check(inputs, site, "service", api.service_probe_url()),
    );
    let repository = async {
        if !repo_apart {
            return Vec::new();
        }
        let check = host::check(inputs, site, "repository", repo);
        within(deadline, limit, "repository.reachable", "repository", check).await
    };
    let key = api_key::check(inputs, site, store_ok, deadline, limit);
    let tokens = tokens::check(inputs, site, store_ok, deadline, limit);
    // conda's files need no network; its org channels' checks stop at the deadline.
    let conda_check = async {
        match conda {
            Some(request) => Some(site.check_conda(request, Some(deadline)).await),
            None => None,
        }
    };
    let (service, repository, key, tokens, conda_check) =
        tokio::join!(service, repository, key, tokens, conda_check);
    for part in [service, repository, key, tokens] {
        d.findings.extend(part);
    }
    d.findings
        .push(anaconda_auth::storage(inputs, site, store_ok));
    match conda_check {
        None => {}
        Some(Err(e)) => d.findings.push(conda::failed(&e)),
        Some(Ok(check)) => {
            d.findings.push(anaconda_auth::installed(&check.conda));
            d.conda = conda::findings(&check, limit);
        }
    }
    d
}

/// `check`'s findings, or `id` marked as timed out when it has not finished by `deadline`.
async fn within(
    deadline: tokio::time::Instant,
    limit: Duration,
    id: &str,
    section: &str,
    check: impl std::future::Future<Output = Vec<Finding>>,
) -> Vec<Finding> {
    match tokio::time::timeout_at(deadline, check).await {
        Ok(found) => found,
        Err(_) => vec![finding::timed_out(id, section, limit)],
    }
}

/// What the configuration left out at start (anaconda-auth's file that does not parse, a site
/// record set aside): `config.left_out`, one finding each.
fn configuration<'a>(inputs: &Inputs<'a>) -> impl Iterator<Item = Finding> + 'a {
    inputs
        .config_warnings
        .iter()
        .enumerate()
        .map(|(n, warning)| {
            Finding::new(
                format!("config.left_out.{n}"),
                "configuration",
                Level::Warn,
                warning.clone(),
            )
            .fix(
                "fix or remove the file named, then `anacondactl daemon stop` (the next command \
                 starts a daemon that reads it again)",
            )
        })
}
