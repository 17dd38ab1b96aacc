//! anaconda-auth's token storage, aligned with ours: whether anaconda-auth reads the store a
//! site's vault writes, the edit of its `config.toml` that makes it so, and that edit written
//! when asked. The files are read and written on the blocking pool.

use std::path::PathBuf;

use crate::config::anaconda_auth::{self, AlignState};
use crate::config::{ConfigError, DaemonConfig};
use crate::sites::SiteRuntime;

/// Why the alignment could not be told or written.
#[derive(Debug, thiserror::Error)]
pub enum AlignError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file work ended without an answer (the runtime is stopping).
    #[error("anaconda-auth's config.toml could not be read")]
    TaskLost,
}

/// What [`align`] found, and did.
#[derive(Debug, Clone)]
pub struct Aligned {
    pub state: AlignState,
    pub reason: String,
    /// anaconda-auth's `config.toml`.
    pub path: PathBuf,
    /// The edit as a unified diff; empty when there is none.
    pub diff: String,
    /// The edit was written.
    pub applied: bool,
    /// Alignment is required: conda is configured with anaconda-auth's handler.
    pub required: bool,
}

/// The alignment for `site`: anaconda-auth's storage for that site against the store its vault
/// writes. `auth_handler` is the handler conda is configured with (empty: the configured
/// one); `configures_conda`: the caller configures conda now; `apply`: write the edit when it
/// is needed.
pub async fn align(
    config: &DaemonConfig,
    site: &SiteRuntime,
    auth_handler: &str,
    configures_conda: bool,
    apply: bool,
) -> Result<Aligned, AlignError> {
    // The backend is known once the store is open; a store that cannot open says so below.
    let vault = &site.vault;
    let _ = vault.snapshot().await;
    let backend = vault.storage_view().backend;
    let handler = if auth_handler.is_empty() {
        config.settings.auth_handler.as_str()
    } else {
        auth_handler
    };
    let required = configures_conda && handler == "anaconda-auth";
    let env = config.env.clone();
    let path = config.anaconda_auth_config.clone();
    let keyring = config.paths.anaconda_keyring.clone();
    let name = site.name().to_owned();
    let work = move || {
        let finding = anaconda_auth::alignment(
            &env,
            &path,
            &keyring,
            backend,
            &name,
            required
                .then_some("conda is configured with its handler (--auth-handler anaconda-auth)"),
        )?;
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
        if apply
            && finding.state == AlignState::Needed
            && let Some(edited) = &finding.edited
        {
            anaconda_auth::write_aligned(&finding.path, edited).map_err(|source| {
                AlignError::Write {
                    path: finding.path.clone(),
                    source,
                }
            })?;
            applied = true;
        }
        Ok(Aligned {
            state: finding.state,
            reason: finding.reason,
            path: finding.path,
            diff,
            applied,
            required,
        })
    };
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| AlignError::TaskLost)?
}
