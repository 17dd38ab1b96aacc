//! The configuration calls of `DaemonService`: `config show`, `sites list|show|add|remove` and
//! the storage alignment with anaconda-auth. The daemon answers from the configuration it was
//! started with; edits go to the files and are served by the next daemon.

use std::path::Path;

use anacondad_proto::v1::{
    AddSiteRequest, AddSiteResponse, AlignAuthStorageRequest, AlignAuthStorageResponse,
    AuthStorageAlignment, ConfigValue, ListSitesResponse, RemoveSiteRequest, RemoveSiteResponse,
    ShowConfigRequest, ShowConfigResponse, SiteInfo, SiteValues,
};
use tonic::{Code, Status};

use super::error::{edit_status, status};
use crate::config::anaconda_auth::{self, AlignState};
use crate::config::edit::{self, EditError, NewSite};
use crate::config::origin::Origin;
use crate::config::{DaemonConfig, sites};
use crate::daemon::Daemon;

fn value(origin: &Origin) -> ConfigValue {
    ConfigValue {
        key: origin.key.clone(),
        value: origin.value.clone(),
        source: origin.source.kind().to_owned(),
        source_detail: origin.source.detail(),
        source_text: origin.source.to_string(),
    }
}

/// The site `name` (a name or a domain), or a NotFound naming the configured ones.
fn site<'a>(config: &'a DaemonConfig, name: &str) -> Result<&'a sites::SiteConfig, Status> {
    config.site(Some(name)).ok_or_else(|| {
        let known: Vec<&str> = config.sites.iter().map(|s| s.name.as_str()).collect();
        status(
            Code::NotFound,
            anacondad_proto::v1::ErrorReason::Configuration,
            "",
            format!(
                "no site {name} is configured; the sites are {}: `anacondactl sites list` \
                 shows them, `anacondactl sites add` adds one",
                known.join(", ")
            ),
        )
    })
}

fn configured_in(config: &DaemonConfig, name: &str) -> Vec<String> {
    config
        .site_origins
        .iter()
        .find(|o| o.name == name)
        .map(|o| o.configured_in.iter().map(ToString::to_string).collect())
        .unwrap_or_default()
}

pub fn show(config: &DaemonConfig, req: &ShowConfigRequest) -> Result<ShowConfigResponse, Status> {
    let wanted = if req.site.is_empty() {
        None
    } else {
        Some(site(config, &req.site)?.name.clone())
    };
    let sites = config
        .site_origins
        .iter()
        .filter(|o| wanted.as_ref().is_none_or(|w| *w == o.name))
        .map(|o| SiteValues {
            name: o.name.clone(),
            is_default: o.name == config.default_site,
            configured_in: o.configured_in.iter().map(ToString::to_string).collect(),
            values: o.keys.iter().map(value).collect(),
        })
        .collect();
    Ok(ShowConfigResponse {
        daemon: config.origins.iter().map(value).collect(),
        sites,
    })
}

/// What of a site's credentials is stored, in words; `None` when nothing is.
async fn stored_credentials(daemon: &Daemon, name: &str) -> Result<Option<String>, Status> {
    // A site this daemon does not serve yet (added since it started) holds nothing it wrote.
    let Ok(site) = daemon.site_named(Some(name)) else {
        return Ok(None);
    };
    let snapshot = site
        .vault
        .snapshot()
        .await
        .map_err(|e| Status::from(crate::error::Error::Store(e)))?;
    let mut what = Vec::new();
    if snapshot.api_key.is_some() {
        what.push("an API key".to_owned());
    }
    if !snapshot.tokens.is_empty() {
        what.push(format!("{} repo token(s)", snapshot.tokens.len()));
    }
    Ok((!what.is_empty()).then(|| what.join(" and ")))
}

pub async fn list(daemon: &Daemon) -> Result<ListSitesResponse, Status> {
    let config = &daemon.config;
    let mut sites = Vec::new();
    for site in &config.sites {
        sites.push(SiteInfo {
            name: site.name.clone(),
            domain: site.api.domain.clone(),
            repo_url: site.api.repo_url.clone(),
            extra_repo_urls: site.extra_repo_urls.clone(),
            is_default: site.name == config.default_site,
            configured_in: configured_in(config, &site.name),
            holds_credentials: stored_credentials(daemon, &site.name)
                .await
                .ok()
                .flatten()
                .is_some(),
        });
    }
    Ok(ListSitesResponse {
        sites,
        config_file: config.paths.config_file.display().to_string(),
    })
}

/// Our config.toml as it is now (empty when there is none).
fn read_ours(path: &Path) -> Result<String, EditError> {
    match crate::fsutil::read_regular_text(path) {
        Ok(text) => Ok(text.unwrap_or_default()),
        Err(source) => Err(EditError::Config(crate::config::ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })),
    }
}

/// Writes `text` into our config.toml if the whole configuration still resolves with it; else
/// puts the old text back and says why.
fn write_ours(config: &DaemonConfig, old: &str, text: &str) -> Result<(), EditError> {
    let path = &config.paths.config_file;
    let write = |text: &str| {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::store::atomic::write_atomically(path, text.as_bytes())
    };
    let failed = |source| EditError::Write {
        path: path.display().to_string(),
        source,
    };
    write(text).map_err(failed)?;
    if let Err(e) = DaemonConfig::resolve(
        &config.env,
        config.paths.socket.clone(),
        &config.api.hostname,
    ) {
        write(old).map_err(failed)?;
        return Err(EditError::Invalid(format!(
            "the change was not made: with it, {e}"
        )));
    }
    Ok(())
}

pub fn add(config: &DaemonConfig, req: &AddSiteRequest) -> Result<AddSiteResponse, Status> {
    add_site(config, req).map_err(|e| edit_status(&e))
}

fn add_site(config: &DaemonConfig, req: &AddSiteRequest) -> Result<AddSiteResponse, EditError> {
    let name = req.name.trim();
    crate::config::names::check_site(name, &req.domain, &req.repo_urls)
        .map_err(EditError::Invalid)?;
    let mut probe = config.api.clone();
    probe.domain = req.domain.trim().to_owned();
    probe
        .base_url()
        .map_err(|e| EditError::Invalid(format!("--domain {}: {e}", req.domain)))?;
    for url in &req.repo_urls {
        probe.repo_url = url.clone();
        probe
            .repo_base_url()
            .map_err(|e| EditError::Invalid(format!("--repo-url {url}: {e}")))?;
    }
    if let Some(existing) = config
        .sites
        .iter()
        .find(|s| s.name == name || sites::netloc(&s.api.domain) == sites::netloc(&probe.domain))
        && !config
            .site_origins
            .iter()
            .all(|o| o.configured_in.is_empty())
    {
        return Err(EditError::Invalid(format!(
            "the site {} ({}, {}) has this {}: remove it first (`anacondactl sites remove {}`) \
             or pick another",
            existing.name,
            existing.api.domain,
            configured_in(config, &existing.name).join("; "),
            if existing.name == name {
                "name"
            } else {
                "domain"
            },
            existing.name
        )));
    }
    let new = NewSite {
        name: name.to_owned(),
        domain: probe.domain.clone(),
        repo_urls: req.repo_urls.clone(),
    };
    // No site configured yet: the one served so far is written too, as the default, so it
    // stays served (its credentials are keyed by its domain and stay where they are).
    let implicit = config
        .site_origins
        .iter()
        .all(|o| o.configured_in.is_empty())
        .then(|| config.site(None))
        .flatten()
        .filter(|served| sites::netloc(&served.api.domain) != sites::netloc(&new.domain));
    let mut to_add = Vec::new();
    let mut default = None;
    if let Some(served) = implicit {
        let derived = sites::default_repository(&served.api.domain).0;
        to_add.push(NewSite {
            name: served.name.clone(),
            domain: served.api.domain.clone(),
            repo_urls: if served.api.repo_url == derived {
                Vec::new()
            } else {
                std::iter::once(served.api.repo_url.clone())
                    .chain(served.extra_repo_urls.iter().cloned())
                    .collect()
            },
        });
        default = Some(served.name.clone());
    }
    to_add.push(new);
    let path = &config.paths.config_file;
    let old = read_ours(path)?;
    let text = edit::add_sites(&old, path, &to_add, default.as_deref())?;
    write_ours(config, &old, &text)?;
    Ok(AddSiteResponse {
        path: path.display().to_string(),
        added: to_add.into_iter().map(|s| s.name).collect(),
        default_site: default.unwrap_or_else(|| config.default_site.clone()),
    })
}

pub async fn remove(
    daemon: &Daemon,
    req: &RemoveSiteRequest,
) -> Result<RemoveSiteResponse, Status> {
    let config = &daemon.config;
    let path = &config.paths.config_file;
    let old = read_ours(path).map_err(|e| edit_status(&e))?;
    // Refuse first what the file cannot do, then what would lose track of credentials.
    let text = match edit::remove_site(&old, path, &req.name) {
        Ok(text) => text,
        Err(EditError::Missing { path, name, .. }) => {
            let elsewhere = configured_in(config, &req.name)
                .into_iter()
                .find(|c| c.starts_with("anaconda-auth"))
                .map(|c| {
                    format!(
                        "; it is configured in {c}: `anaconda sites remove {}` removes it there",
                        req.name
                    )
                })
                .unwrap_or_default();
            return Err(edit_status(&EditError::Missing {
                path,
                name,
                elsewhere,
            }));
        }
        Err(e) => return Err(edit_status(&e)),
    };
    if !req.force
        && let Some(what) = stored_credentials(daemon, &req.name).await?
    {
        return Err(edit_status(&EditError::HoldsCredentials {
            name: req.name.clone(),
            what,
        }));
    }
    write_ours(config, &old, &text).map_err(|e| edit_status(&e))?;
    Ok(RemoveSiteResponse {
        path: path.display().to_string(),
    })
}

/// The alignment for `site` (the one the request names, `--at`): anaconda-auth's storage for
/// that site against the store its vault writes.
pub async fn align(
    daemon: &Daemon,
    site: &crate::sites::SiteRuntime,
    req: &AlignAuthStorageRequest,
) -> Result<AlignAuthStorageResponse, Status> {
    let config = &daemon.config;
    // The backend is known once the store is open; a store that cannot open says so below.
    let vault = &site.vault;
    let _ = vault.snapshot().await;
    let backend = vault.storage_view().backend;
    let config_error = |e: crate::config::ConfigError| {
        status(
            Code::FailedPrecondition,
            anacondad_proto::v1::ErrorReason::Configuration,
            "",
            e.to_string(),
        )
    };
    let handler = if req.auth_handler.is_empty() {
        config.settings.auth_handler.as_str()
    } else {
        req.auth_handler.as_str()
    };
    let required = req.configures_conda && handler == "anaconda-auth";
    let finding = anaconda_auth::alignment(
        &config.env,
        &config.anaconda_auth_config,
        &config.paths.anaconda_keyring,
        backend,
        site.name(),
        required.then_some("conda is configured with its handler (--auth-handler anaconda-auth)"),
    )
    .map_err(config_error)?;
    let diff = finding
        .edited
        .as_ref()
        .map(|edited| {
            similar::TextDiff::from_lines(&finding.current, edited)
                .unified_diff()
                .header(
                    &finding.path.display().to_string(),
                    &finding.path.display().to_string(),
                )
                .to_string()
        })
        .unwrap_or_default();
    let mut applied = false;
    if req.apply
        && finding.state == AlignState::Needed
        && let Some(edited) = &finding.edited
    {
        anaconda_auth::write_aligned(&finding.path, edited).map_err(|e| {
            status(
                Code::FailedPrecondition,
                anacondad_proto::v1::ErrorReason::Configuration,
                "",
                format!("cannot write {}: {e}", finding.path.display()),
            )
        })?;
        applied = true;
    }
    let state = match finding.state {
        AlignState::NotInstalled => AuthStorageAlignment::NotInstalled,
        AlignState::Aligned => AuthStorageAlignment::Aligned,
        AlignState::Needed => AuthStorageAlignment::Needed,
        AlignState::Blocked => AuthStorageAlignment::Blocked,
    };
    Ok(AlignAuthStorageResponse {
        state: state.into(),
        reason: finding.reason,
        path: finding.path.display().to_string(),
        diff,
        applied,
        required,
    })
}
