//! The store: whether it opens and answers quickly (`storage.usable`), and the keyring file's
//! mode when secrets are kept there (`storage.file_mode`).

use std::time::{Duration, Instant};

use super::Inputs;
use super::finding::{Finding, Level};
use crate::sites::Site;
use crate::store::{BackendKind, StoreError};

/// A store read slower than this makes every conda request slow: warn.
pub const SLOW_STORE_READ: Duration = Duration::from_millis(1000);

const S: &str = "storage";

/// Whether the store opened and answered, and its findings.
pub async fn check(inputs: &Inputs<'_>, site: &Site) -> (Vec<Finding>, bool) {
    let mut out = Vec::new();
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
        out.push(Finding::new("storage.usable", S, Level::Fail, e.to_string()).fix(fix));
        return (out, false);
    }
    let view = site.vault.storage_view();
    let evidence = format!(
        "secrets in {} (configured: {}); a read took {} ms",
        view.location,
        view.configured,
        took.as_millis()
    );
    out.push(if !view.warning.is_empty() {
        Finding::new(
            "storage.usable",
            S,
            Level::Warn,
            format!("{}; {evidence}", view.warning),
        )
        .fix(
            "unlock or start the OS keychain and run `anacondactl daemon stop` (the next command \
             starts the daemon again), or set storage = \"file\" to keep the file",
        )
    } else if took > SLOW_STORE_READ {
        Finding::new(
            "storage.usable",
            S,
            Level::Warn,
            format!("slow: {evidence}"),
        )
        .fix("check the keychain (a locked or remote keychain is slow), or set storage = \"file\"")
    } else {
        Finding::new("storage.usable", S, Level::Ok, evidence)
    });
    if view.backend == Some(BackendKind::File) {
        out.extend(file_mode(inputs));
    }
    (out, true)
}

#[cfg(unix)]
fn file_mode(inputs: &Inputs<'_>) -> Option<Finding> {
    use std::os::unix::fs::PermissionsExt;
    const ID: &str = "storage.file_mode";
    let path = inputs.keyring_path;
    let shown = path.display();
    Some(match std::fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                Finding::new(
                    ID,
                    S,
                    Level::Fail,
                    format!("{shown} has mode {mode:04o}: other users can read it"),
                )
                .fix(format!("chmod 600 {shown}"))
            } else {
                Finding::new(ID, S, Level::Ok, format!("{shown} has mode {mode:04o}"))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Finding::new(
            ID,
            S,
            Level::Ok,
            format!("{shown} does not exist yet (made 0600 on first write)"),
        ),
        Err(e) => Finding::new(
            ID,
            S,
            Level::Warn,
            format!("cannot read the mode of {shown}: {e}"),
        ),
    })
}

#[cfg(not(unix))]
fn file_mode(_: &Inputs<'_>) -> Option<Finding> {
    None
}
