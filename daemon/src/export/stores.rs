//! The two kinds of foreign store an export writes: a JSON file that maps keys to values
//! (rattler's `credentials.json`, mamba's `authentication.json`) and rattler's keychain entries
//! (service `rattler`, username = the host). Both change only the keys they are given: every
//! other entry is left as it was.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::credentials::sha256_hex;
use crate::secret::Secret;
use crate::store::SecretBackend as _;
use crate::store::atomic::{resolve_symlinks, write_atomically};

/// rattler's keychain service.
pub const RATTLER_KEYRING_SERVICE: &str = "rattler";
/// The entry in which newer rattler releases list the hosts they stored (a JSON array).
const RATTLER_INDEX_ACCOUNT: &str = "__rattler_authentication_hosts";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "cannot read {path}: {detail}; fix or move the file, then run `anacondactl export` again"
    )]
    Read { path: PathBuf, detail: String },
    #[error(
        "{path} is not a JSON object of entries ({detail}); fix or move it, then run `anacondactl export` again"
    )]
    NotAnObject { path: PathBuf, detail: String },
    #[error(
        "{path} was left alone: {why}. An export writes only the tool's own file: put the file \
         itself there (or remove what is there), or stop the export with `anacondactl export \
         --for TOOL --off`"
    )]
    NotOwnStore { path: PathBuf, why: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the OS keychain: {0}")]
    Keychain(String),
    #[error("the export did not finish within {0:?} (a locked keychain?)")]
    TimedOut(std::time::Duration),
}

/// What to change in one store.
#[derive(Debug, Default)]
pub struct Changes {
    /// key -> value to hold (JSON text).
    pub writes: Vec<(String, Secret)>,
    /// key -> fingerprint of the value written earlier: removed only if it still holds it.
    pub removals: Vec<(String, String)>,
}

/// Where an export's entries live.
#[derive(Debug, Clone)]
pub enum ForeignStore {
    /// A JSON object file; `lock` is the advisory lock file its owner takes around writes.
    File { path: PathBuf, lock: PathBuf },
    /// rattler's keychain entries.
    RattlerKeychain,
}

impl ForeignStore {
    /// rattler's file: its lock is `credentials.lock` next to it (rattler's `with_extension`).
    pub fn rattler_file(path: &Path) -> Self {
        Self::File {
            path: path.to_path_buf(),
            lock: path.with_extension("lock"),
        }
    }

    /// mamba's file (mamba takes no lock; ours keeps two daemons' writes apart).
    pub fn mamba_file(path: &Path) -> Self {
        Self::File {
            path: path.to_path_buf(),
            lock: path.with_extension("json.lock"),
        }
    }

    /// For people: the path, or the keychain and its service.
    pub fn location(&self) -> String {
        match self {
            Self::File { path, .. } => path.display().to_string(),
            Self::RattlerKeychain => format!("OS keychain (service {RATTLER_KEYRING_SERVICE})"),
        }
    }

    /// Applies `changes`; true when anything in the store changed. Blocking.
    pub fn apply(&self, changes: &Changes) -> Result<bool, ExportError> {
        match self {
            Self::File { path, lock } => apply_to_file(path, lock, changes),
            Self::RattlerKeychain => apply_to_keychain(changes),
        }
    }
}

fn apply_to_file(path: &Path, lock: &Path, changes: &Changes) -> Result<bool, ExportError> {
    check_own_store(path)?;
    let target = resolve_symlinks(path).map_err(|e| ExportError::Read {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(|source| ExportError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    }
    let _lock = take_lock(lock).map_err(|source| ExportError::Write {
        path: lock.to_path_buf(),
        source,
    })?;
    let mut map: Map<String, Value> = match crate::fsutil::read_regular_text(&target) {
        Ok(None) => Map::new(),
        Ok(Some(text)) if text.trim().is_empty() => Map::new(),
        Ok(Some(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(ExportError::NotAnObject {
                    path: path.to_path_buf(),
                    detail: "not an object".to_owned(),
                });
            }
            Err(e) => {
                return Err(ExportError::NotAnObject {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                });
            }
        },
        Err(e) => {
            return Err(ExportError::Read {
                path: path.to_path_buf(),
                detail: e.to_string(),
            });
        }
    };
    let mut changed = false;
    for (key, value) in &changes.writes {
        let value: Value =
            serde_json::from_str(value.expose()).expect("planned values are JSON text");
        if map.get(key) != Some(&value) {
            map.insert(key.clone(), value);
            changed = true;
        }
    }
    for (key, fingerprint) in &changes.removals {
        if map
            .get(key)
            .is_some_and(|held| sha256_hex(&held.to_string()) == *fingerprint)
        {
            map.shift_remove(key);
            changed = true;
        }
    }
    if changed {
        let text = Secret::new(Value::Object(map).to_string());
        write_atomically(&target, text.expose().as_bytes()).map_err(|source| {
            ExportError::Write {
                path: path.to_path_buf(),
                source,
            }
        })?;
    }
    Ok(changed)
}

/// Refuses a path that is not the tool's own store: a symlink to a file of another name (an
/// editor's settings) or to nothing yet (which would create its target anywhere), or a file
/// with other hard links (each a name of someone else's). A symlink to an existing regular
/// file of the same name (a dotfiles checkout) is the store, moved.
fn check_own_store(path: &Path) -> Result<(), ExportError> {
    let refused = |why: String| {
        Err(ExportError::NotOwnStore {
            path: path.to_path_buf(),
            why,
        })
    };
    let read_err = |e: std::io::Error| ExportError::Read {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(read_err(e)),
    };
    let meta = if meta.file_type().is_symlink() {
        let Ok(target) = std::fs::canonicalize(path) else {
            return refused("it is a symbolic link to nothing".to_owned());
        };
        if target.file_name() != path.file_name() {
            return refused(format!(
                "it is a symbolic link to {}, another file",
                target.display()
            ));
        }
        std::fs::metadata(&target).map_err(read_err)?
    } else {
        meta
    };
    if !meta.is_file() {
        // The read says what it is.
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        if meta.nlink() > 1 {
            return refused(format!(
                "it has {} other hard links, so it is also another file",
                meta.nlink() - 1
            ));
        }
    }
    Ok(())
}

fn take_lock(lock: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options.open(lock)?;
    // fs4's trait, named in full (see store/file.rs).
    fs4::fs_std::FileExt::lock_exclusive(&file)?;
    Ok(file)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn apply_to_keychain(changes: &Changes) -> Result<bool, ExportError> {
    // rattler opens its entries through keyring-core's default store: on Windows at the
    // target `<host>.rattler`, not where Python's keyring would put them.
    let keychain = crate::store::KeychainBackend::connect_native()
        .map_err(|e| ExportError::Keychain(e.to_string()))?;
    let err = |e: crate::store::BackendError| ExportError::Keychain(e.to_string());
    let mut changed = false;
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for (host, value) in &changes.writes {
        let held = keychain.get(RATTLER_KEYRING_SERVICE, host).map_err(err)?;
        if held.as_ref().map(Secret::expose) != Some(value.expose()) {
            keychain
                .put(RATTLER_KEYRING_SERVICE, host, value)
                .map_err(err)?;
            changed = true;
        }
        added.push(host.clone());
    }
    for (host, fingerprint) in &changes.removals {
        let held = keychain.get(RATTLER_KEYRING_SERVICE, host).map_err(err)?;
        if held.is_some_and(|v| sha256_hex(v.expose()) == *fingerprint) {
            keychain
                .delete(RATTLER_KEYRING_SERVICE, host)
                .map_err(err)?;
            changed = true;
            removed.push(host.clone());
        }
    }
    if changed && let Err(e) = update_rattler_index(&keychain, &added, &removed) {
        // rattler reads an entry by its host without the index; the index only lists them.
        tracing::debug!("rattler's keychain index was not updated: {e}");
    }
    Ok(changed)
}

/// Adds and removes hosts in rattler's index entry, keeping every other host listed.
fn update_rattler_index(
    keychain: &crate::store::KeychainBackend,
    added: &[String],
    removed: &[String],
) -> Result<(), String> {
    let held = keychain
        .get(RATTLER_KEYRING_SERVICE, RATTLER_INDEX_ACCOUNT)
        .map_err(|e| e.to_string())?;
    let mut hosts: Vec<String> = match &held {
        Some(text) => serde_json::from_str(text.expose()).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let before = hosts.clone();
    hosts.extend(added.iter().cloned());
    hosts.retain(|h| !removed.contains(h));
    hosts.sort();
    hosts.dedup();
    if hosts == before {
        return Ok(());
    }
    let text = Secret::new(serde_json::to_string(&hosts).map_err(|e| e.to_string())?);
    keychain
        .put(RATTLER_KEYRING_SERVICE, RATTLER_INDEX_ACCOUNT, &text)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(writes: &[(&str, &str)], removals: &[(&str, &str)]) -> Changes {
        Changes {
            writes: writes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
                .collect(),
            removals: removals
                .iter()
                .map(|(k, v)| ((*k).to_owned(), sha256_hex(v)))
                .collect(),
        }
    }

    #[test]
    fn on_windows_rattler_reads_its_entry_at_the_host_dot_rattler_target() {
        // rattler_networking's KeyringAuthenticationStorage: `Entry::new("rattler", host)` on
        // windows_native_keyring_store::Store::new() (divider `.`).
        assert_eq!(
            crate::store::keychain::native_windows_target(
                RATTLER_KEYRING_SERVICE,
                "repo.anaconda.cloud"
            ),
            "repo.anaconda.cloud.rattler"
        );
    }

    #[test]
    fn a_file_write_keeps_every_other_entry_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".rattler/credentials.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, r#"{"prefix.dev":{"BearerToken":"theirs"}}"#).unwrap();
        let store = ForeignStore::rattler_file(&path);
        let ours = r#"{"BearerToken":"ours"}"#;
        assert!(
            store
                .apply(&changes(&[("repo.example.com", ours)], &[]))
                .unwrap()
        );
        let held: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(held["prefix.dev"]["BearerToken"], "theirs");
        assert_eq!(held["repo.example.com"]["BearerToken"], "ours");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Nothing new: nothing written.
        assert!(
            !store
                .apply(&changes(&[("repo.example.com", ours)], &[]))
                .unwrap()
        );
        assert!(
            store
                .apply(&changes(&[], &[("repo.example.com", ours)]))
                .unwrap()
        );
        let held: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            held,
            serde_json::json!({"prefix.dev": {"BearerToken": "theirs"}})
        );
    }

    #[test]
    fn an_entry_changed_by_someone_else_is_not_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authentication.json");
        std::fs::write(&path, r#"{"h":{"type":"BearerToken","token":"edited"}}"#).unwrap();
        let store = ForeignStore::mamba_file(&path);
        let ours = r#"{"type":"BearerToken","token":"ours"}"#;
        assert!(!store.apply(&changes(&[], &[("h", ours)])).unwrap());
        assert!(std::fs::read_to_string(&path).unwrap().contains("edited"));
    }

    #[test]
    fn a_file_that_is_not_an_object_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        std::fs::write(&path, "[1, 2").unwrap();
        let err = ForeignStore::rattler_file(&path)
            .apply(&changes(&[("h", r#"{"BearerToken":"x"}"#)], &[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("credentials.json"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[1, 2");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_into_another_file_or_to_nothing_and_a_hard_link_are_left_alone() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let write = changes(&[("repo.example.com", r#"{"BearerToken":"ours"}"#)], &[]);
        // An editor's settings, linked in as rattler's store.
        let settings = dir.path().join("settings.json");
        let theirs = "{\n  \"editor.fontSize\": 12\n}\n";
        std::fs::write(&settings, theirs).unwrap();
        std::fs::set_permissions(&settings, std::fs::Permissions::from_mode(0o644)).unwrap();
        let linked = dir.path().join("a/credentials.json");
        std::fs::create_dir_all(linked.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&settings, &linked).unwrap();
        let err = ForeignStore::rattler_file(&linked)
            .apply(&write)
            .unwrap_err()
            .to_string();
        assert!(err.contains("another file"), "{err}");
        assert_eq!(std::fs::read_to_string(&settings).unwrap(), theirs);
        let mode = std::fs::metadata(&settings).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);

        // A dangling link would create its target wherever it points.
        let nowhere = dir.path().join("elsewhere/credentials.json");
        let dangling = dir.path().join("b/credentials.json");
        std::fs::create_dir_all(dangling.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
        let err = ForeignStore::rattler_file(&dangling)
            .apply(&write)
            .unwrap_err()
            .to_string();
        assert!(err.contains("link to nothing"), "{err}");
        assert!(!nowhere.exists() && !nowhere.parent().unwrap().exists());

        // A hard link: writing would break it, leaving the other name with the old content.
        let store = dir.path().join("c/credentials.json");
        std::fs::create_dir_all(store.parent().unwrap()).unwrap();
        std::fs::write(&store, "{}").unwrap();
        std::fs::hard_link(&store, dir.path().join("c/other.json")).unwrap();
        let err = ForeignStore::rattler_file(&store)
            .apply(&write)
            .unwrap_err()
            .to_string();
        assert!(err.contains("hard link"), "{err}");

        // A link to the same store moved elsewhere (a dotfiles checkout) is the store.
        let moved = dir.path().join("dotfiles/credentials.json");
        std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
        std::fs::write(&moved, "{}").unwrap();
        let link = dir.path().join("d/credentials.json");
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&moved, &link).unwrap();
        assert!(ForeignStore::rattler_file(&link).apply(&write).unwrap());
        assert!(std::fs::read_to_string(&moved).unwrap().contains("ours"));
    }
}
