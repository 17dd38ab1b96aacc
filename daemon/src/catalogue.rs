//! The site catalogue: adding and removing `[sites.<name>]` in our `config.toml`. An edit is
//! kept only when the whole configuration still resolves with it (else the old text is put
//! back); the running daemon keeps serving what it started with, the next one serves the edit.
//! The file work runs on the blocking pool, off the async runtime.

use std::path::{Path, PathBuf};

use crate::config::edit::{self, EditError, NewSite};
use crate::config::{ConfigError, DaemonConfig, sites};
use crate::sites::Sites;
use crate::store::StoreError;

/// Why a site was not added or removed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error(transparent)]
    Edit(#[from] EditError),
    /// The store could not say whether the site holds credentials.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file work ended without an answer (the runtime is stopping).
    #[error("the config.toml edit did not finish")]
    TaskLost,
}

/// The sites an [`add`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub path: PathBuf,
    /// The new site, after the implicit site served so far when none was configured.
    pub added: Vec<String>,
    pub default_site: String,
}

/// Where a site is configured, as `config show` names the files.
pub fn configured_in(config: &DaemonConfig, name: &str) -> Vec<String> {
    config
        .site_origins
        .iter()
        .find(|o| o.name == name)
        .map(|o| o.configured_in.iter().map(ToString::to_string).collect())
        .unwrap_or_default()
}

/// Adds the site `name` at `domain` (with `repo_urls`, when it names any) to our config.toml.
/// When no site is configured yet, the one served so far is written too, as the default.
pub async fn add(
    config: &DaemonConfig,
    name: &str,
    domain: &str,
    repo_urls: &[String],
) -> Result<Added, CatalogueError> {
    let config = config.clone();
    let (name, domain, repo_urls) = (name.to_owned(), domain.to_owned(), repo_urls.to_vec());
    blocking(move || add_site(&config, &name, &domain, &repo_urls)).await
}

/// Removes `[sites.<name>]` from our config.toml; refused while the site holds credentials
/// in `sites`' stores, unless `force`. Answers with the file's path.
pub async fn remove(
    config: &DaemonConfig,
    sites: &Sites,
    name: &str,
    force: bool,
) -> Result<PathBuf, CatalogueError> {
    let path = config.paths.config_file.clone();
    let old = {
        let path = path.clone();
        blocking(move || read_ours(&path)).await?
    };
    // Refuse first what the file cannot do, then what would lose track of credentials.
    let text = match edit::remove_site(&old, &path, name) {
        Ok(text) => text,
        Err(EditError::Missing {
            path,
            name: missing,
            ..
        }) => {
            let elsewhere = configured_in(config, name)
                .into_iter()
                .find(|c| c.starts_with("anaconda-auth"))
                .map(|c| {
                    format!(
                        "; it is configured in {c}: `anaconda sites remove {name}` removes it there"
                    )
                })
                .unwrap_or_default();
            return Err(EditError::Missing {
                path,
                name: missing,
                elsewhere,
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    if !force && let Some(what) = sites.stored_credentials(name).await? {
        return Err(EditError::HoldsCredentials {
            name: name.to_owned(),
            what,
        }
        .into());
    }
    let config = config.clone();
    blocking(move || write_ours(&config, &old, &text)).await?;
    Ok(path)
}

/// Runs file work on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EditError> + Send + 'static,
) -> Result<T, CatalogueError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| CatalogueError::TaskLost)?
        .map_err(CatalogueError::from)
}

/// Our config.toml as it is now (empty when there is none).
fn read_ours(path: &Path) -> Result<String, EditError> {
    match crate::fsutil::read_regular_text(path) {
        Ok(text) => Ok(text.unwrap_or_default()),
        Err(source) => Err(EditError::Config(ConfigError::Read {
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

fn add_site(
    config: &DaemonConfig,
    name: &str,
    domain: &str,
    repo_urls: &[String],
) -> Result<Added, EditError> {
    let name = name.trim();
    crate::config::names::check_site(name, domain, repo_urls).map_err(EditError::Invalid)?;
    let mut probe = config.api.clone();
    probe.domain = domain.trim().to_owned();
    probe
        .base_url()
        .map_err(|e| EditError::Invalid(format!("--domain {domain}: {e}")))?;
    for url in repo_urls {
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
        repo_urls: repo_urls.to_vec(),
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
    Ok(Added {
        path: path.clone(),
        added: to_add.into_iter().map(|s| s.name).collect(),
        default_site: default.unwrap_or_else(|| config.default_site.clone()),
    })
}
