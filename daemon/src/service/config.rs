//! The configuration calls of `DaemonService`: `config show`, `sites list|show|add|remove` and
//! the storage alignment with anaconda-auth. The daemon answers from the configuration it was
//! started with; edits go to the files and are served by the next daemon.

use anacondad_proto::v1::{
    AddSiteRequest, AddSiteResponse, AlignAuthStorageRequest, AlignAuthStorageResponse,
    AuthStorageAlignment, ConfigValue, ListSitesResponse, RemoveSiteRequest, RemoveSiteResponse,
    ShowConfigRequest, ShowConfigResponse, SiteInfo, SiteValues,
};
use tonic::{Code, Status};

use super::error::{edit_status, status};
use crate::auth_storage;
use crate::catalogue::{self, CatalogueError, configured_in};
use crate::config::anaconda_auth::AlignState;
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
            holds_credentials: daemon
                .sites
                .stored_credentials(&site.name)
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

pub async fn add(config: &DaemonConfig, req: &AddSiteRequest) -> Result<AddSiteResponse, Status> {
    let added = catalogue::add(config, &req.name, &req.domain, &req.repo_urls)
        .await
        .map_err(catalogue_status)?;
    Ok(AddSiteResponse {
        path: added.path.display().to_string(),
        added: added.added,
        default_site: added.default_site,
    })
}

pub async fn remove(
    daemon: &Daemon,
    req: &RemoveSiteRequest,
) -> Result<RemoveSiteResponse, Status> {
    let path = catalogue::remove(&daemon.config, &daemon.sites, &req.name, req.force)
        .await
        .map_err(catalogue_status)?;
    Ok(RemoveSiteResponse {
        path: path.display().to_string(),
    })
}

fn catalogue_status(e: CatalogueError) -> Status {
    match e {
        CatalogueError::Edit(e) => edit_status(&e),
        CatalogueError::Store(e) => Status::from(crate::error::Error::Store(e)),
        CatalogueError::TaskLost => Status::from(crate::error::Error::TaskLost {
            what: "the config.toml edit",
        }),
    }
}

/// The alignment for `site` (the one the request names, `--at`): anaconda-auth's storage for
/// that site against the store its vault writes.
pub async fn align(
    daemon: &Daemon,
    site: &crate::sites::SiteRuntime,
    req: &AlignAuthStorageRequest,
) -> Result<AlignAuthStorageResponse, Status> {
    let aligned = auth_storage::align(
        &daemon.config,
        site,
        &req.auth_handler,
        req.configures_conda,
        req.apply,
    )
    .await
    .map_err(|e| {
        status(
            Code::FailedPrecondition,
            anacondad_proto::v1::ErrorReason::Configuration,
            "",
            e.to_string(),
        )
    })?;
    let state = match aligned.state {
        AlignState::NotInstalled => AuthStorageAlignment::NotInstalled,
        AlignState::Aligned => AuthStorageAlignment::Aligned,
        AlignState::Needed => AuthStorageAlignment::Needed,
        AlignState::Blocked => AuthStorageAlignment::Blocked,
    };
    Ok(AlignAuthStorageResponse {
        state: state.into(),
        reason: aligned.reason,
        path: aligned.path.display().to_string(),
        diff: aligned.diff,
        applied: aligned.applied,
        required: aligned.required,
    })
}
