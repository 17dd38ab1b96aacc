//! anaconda-auth beside us: which store it reads and whether our record is there
//! (`anaconda_auth.storage`), and whether it is installed in a conda found
//! (`anaconda_auth.installed`).

use super::Inputs;
use super::finding::{Finding, Level};
use crate::conda_setup::CondaView;
use crate::conda_setup::view::ANACONDA_AUTH_HANDLER;
use crate::sites::Site;
use crate::store::BackendKind;

const S: &str = "anaconda-auth";

/// Which store anaconda-auth reads (its `preferred_token_storage`: its variable, its site's
/// table or `[plugin.auth]` of its config.toml), and whether that is where our record is.
pub fn storage(inputs: &Inputs<'_>, site: &Site, store_ok: bool) -> Finding {
    use crate::config::anaconda_auth as theirs_config;
    const ID: &str = "anaconda_auth.storage";
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
        return Finding::new(ID, S, Level::Warn, format!("{theirs}; ours is not usable"));
    }
    let ours = site.vault.storage_view().backend;
    let snapshot = site.vault.peek();
    let record = if snapshot.api_key.is_some() || !snapshot.tokens.is_empty() {
        format!("our record for {}", site.vault.domain())
    } else {
        format!("our (still empty) record for {}", site.vault.domain())
    };
    match (ours, reads_system) {
        (Some(BackendKind::File), false) | (Some(BackendKind::System), true) => {
            Finding::new(ID, S, Level::Ok, format!("{theirs}: it sees {record}"))
        }
        (Some(BackendKind::File), true) => Finding::new(
            ID,
            S,
            Level::Warn,
            format!("{theirs}, but {record} is in {}", keyring.display()),
        )
        .fix(format!(
            "remove preferred_token_storage from {}, or make the OS keychain usable",
            config.display()
        )),
        (Some(BackendKind::System), false) => Finding::new(
            ID,
            S,
            Level::Warn,
            format!("{theirs}, but {record} is in the OS keychain"),
        )
        // `login` and `token install` align only an anaconda-auth they see in use.
        // Not `token install --yes`: that would reissue (and revoke) a working token.
        .fix(format!(
            "add preferred_token_storage = \"system\" under [plugin.auth] in {}",
            config.display()
        )),
        _ => Finding::new(
            ID,
            S,
            Level::Ok,
            format!("{theirs}; our secrets are in memory only"),
        ),
    }
}

/// Whether anaconda-auth is installed in a conda found; a failure only when conda is
/// configured to use its handler.
pub fn installed(conda: &CondaView) -> Finding {
    const ID: &str = "anaconda_auth.installed";
    let with: Vec<String> = conda
        .installations
        .iter()
        .filter_map(|i| {
            let version = i.anaconda_auth.as_deref()?;
            let named = if version.is_empty() {
                "anaconda-auth".to_owned()
            } else {
                format!("anaconda-auth {version}")
            };
            Some(format!("{named} in {}", i.prefix.display()))
        })
        .collect();
    if !with.is_empty() {
        return Finding::new(ID, S, Level::Ok, format!("installed: {}", with.join("; ")));
    }
    if conda.auth_handler == ANACONDA_AUTH_HANDLER {
        Finding::new(
            ID,
            S,
            Level::Fail,
            "not installed in any conda found, but conda is configured to use its handler",
        )
        .fix(
            "conda install -n base anaconda-auth, or `anacondactl condarc apply --auth-handler \
             anacondad`",
        )
    } else {
        Finding::new(
            ID,
            S,
            Level::Ok,
            "not installed in any conda found (only needed with --auth-handler anaconda-auth)",
        )
    }
}
