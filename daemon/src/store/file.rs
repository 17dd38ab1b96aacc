//! The `anaconda-auth` keyring file (`~/.anaconda/keyring`, `{"<service>": {"<username>":
//! "<value>"}}`): our fallback store, written 0600, atomically, under an advisory lock,
//! keeping every entry that is not ours.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Map, Value};

use super::atomic::{resolve_symlinks, write_atomically};
use super::{BackendError, BackendKind, Change, SecretBackend};
use crate::secret::Secret;

/// Errors of the keyring file. Messages name the file and never its content.
#[derive(Debug, thiserror::Error)]
pub enum FileKeyringError {
    #[error("cannot read the keyring file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "the keyring file {path} is not valid JSON ({source}); it was left untouched: fix it or move it aside, then retry"
    )]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "the keyring file {path} is not shaped {{\"<service>\": {{\"<username>\": \"<value>\"}}}} ({detail}); it was left untouched: fix it or move it aside, then retry"
    )]
    Shape { path: PathBuf, detail: String },
    #[error("cannot write the keyring file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot lock the keyring file {path} (via {lock}): {source}")]
    Lock {
        path: PathBuf,
        lock: PathBuf,
        source: io::Error,
    },
    #[error("cannot set the permissions of the keyring file {path} to 0600: {source}")]
    Permissions { path: PathBuf, source: io::Error },
}

/// The keyring file backend. The path is given by the caller (`main` honours
/// `ANACONDA_AUTH_KEYRING_PATH`); a symlink there is followed and its target rewritten.
#[derive(Debug)]
pub struct FileKeyring {
    path: PathBuf,
    notices: Mutex<Vec<String>>,
}

impl FileKeyring {
    /// Opens (without creating) the keyring file at `path`. An existing file readable by
    /// others (as `anaconda-auth` writes it, 0644) is tightened to 0600 now, and
    /// [`SecretBackend::notices`] says so.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, FileKeyringError> {
        let keyring = Self {
            path: path.into(),
            notices: Mutex::new(Vec::new()),
        };
        keyring.tighten_permissions()?;
        Ok(keyring)
    }

    /// The path as given (not resolved).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Only a regular file at the path itself (never through a symlink) that holds a keyring
    /// record (JSON of `{"<service>": {...}}`, or nothing yet) is tightened, through the handle
    /// that was checked: `keyring_path` may name anything (a directory, the home, someone's
    /// text file), and none of those is ours to change.
    #[cfg(unix)]
    fn tighten_permissions(&self) -> Result<(), FileKeyringError> {
        use std::io::Read as _;
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let read_err = |source| FileKeyringError::Read {
            path: self.path.clone(),
            source,
        };
        let meta = match fs::symlink_metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(read_err(source)),
        };
        let mode = meta.permissions().mode() & 0o7777;
        if !meta.file_type().is_file() || mode & 0o077 == 0 {
            return Ok(());
        }
        let flags = rustix::fs::OFlags::NOFOLLOW
            | rustix::fs::OFlags::NONBLOCK
            | rustix::fs::OFlags::NOCTTY;
        let file = match fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags.bits() as i32)
            .open(&self.path)
        {
            Ok(file) => file,
            // Replaced (by a symlink, or removed) since it was looked at: not ours to change.
            Err(_) => return Ok(()),
        };
        let meta = file.metadata().map_err(read_err)?;
        if !meta.is_file() || meta.len() > crate::fsutil::MAX_FILE_BYTES {
            return Ok(());
        }
        let mut text = String::new();
        if (&file)
            .take(crate::fsutil::MAX_FILE_BYTES)
            .read_to_string(&mut text)
            .is_err()
            || !holds_keyring_record(&text)
        {
            return Ok(());
        }
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|source| FileKeyringError::Permissions {
                path: self.path.clone(),
                source,
            })?;
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!(
                "tightened the permissions of {} from {mode:04o} to 0600: it holds secrets and was readable by other users",
                self.path.display()
            ));
        Ok(())
    }

    #[cfg(not(unix))]
    fn tighten_permissions(&self) -> Result<(), FileKeyringError> {
        Ok(())
    }

    fn target(&self) -> Result<PathBuf, FileKeyringError> {
        resolve_symlinks(&self.path).map_err(|source| FileKeyringError::Read {
            path: self.path.clone(),
            source,
        })
    }

    /// Takes the advisory lock on `<target>.lock`. A separate file, because the keyring
    /// itself is replaced by rename and a lock on a replaced inode protects nothing.
    fn lock(&self, target: &Path, exclusive: bool) -> Result<fs::File, FileKeyringError> {
        let mut lock_path = target.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let lock_err = |source| FileKeyringError::Lock {
            path: self.path.clone(),
            lock: lock_path.clone(),
            source,
        };
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(lock_err)?;
        }
        let mut options = fs::OpenOptions::new();
        options.create(true).truncate(false).read(true).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options.open(&lock_path).map_err(lock_err)?;
        // fs4's trait, named in full: std's `File` has inherent methods of the same names
        // only from Rust 1.89, above this crate's minimum.
        let locked = if exclusive {
            fs4::fs_std::FileExt::lock_exclusive(&file)
        } else {
            fs4::fs_std::FileExt::lock_shared(&file)
        };
        locked.map_err(lock_err)?;
        Ok(file)
    }

    fn read_all(&self, target: &Path) -> Result<Map<String, Value>, FileKeyringError> {
        // A FIFO or other special file there is refused rather than read (it would block).
        let text = match crate::fsutil::read_regular_text(target) {
            Ok(Some(t)) => t,
            Ok(None) => return Ok(Map::new()),
            Err(source) => {
                return Err(FileKeyringError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        // `anaconda-auth` creates the file empty when it checks that it is writable.
        if text.trim().is_empty() {
            return Ok(Map::new());
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(FileKeyringError::Shape {
                path: self.path.clone(),
                detail: "the top level is not an object".into(),
            }),
            Err(source) => Err(FileKeyringError::Corrupt {
                path: self.path.clone(),
                source,
            }),
        }
    }

    fn lookup(
        &self,
        data: &Map<String, Value>,
        service: &str,
        username: &str,
    ) -> Result<Option<Secret>, FileKeyringError> {
        match data.get(service) {
            None => Ok(None),
            Some(Value::Object(entries)) => match entries.get(username) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(Secret::new(s.clone()))),
                Some(_) => Err(FileKeyringError::Shape {
                    path: self.path.clone(),
                    detail: format!("the entry {service:?}/{username:?} is not a string"),
                }),
            },
            Some(_) => Err(FileKeyringError::Shape {
                path: self.path.clone(),
                detail: format!("{service:?} is not an object"),
            }),
        }
    }

    fn write_all(&self, target: &Path, data: &Map<String, Value>) -> Result<(), FileKeyringError> {
        let write_err = |source| FileKeyringError::Write {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(write_err)?;
        }
        let text =
            Secret::new(serde_json::to_string(data).map_err(|e| write_err(io::Error::other(e)))?);
        write_atomically(target, text.expose().as_bytes()).map_err(write_err)
    }
}

/// Whether `text` is what a keyring file holds: nothing yet (anaconda-auth creates it empty),
/// or a JSON object whose values are objects. Only the Unix permission tightening asks.
#[cfg(unix)]
fn holds_keyring_record(text: &str) -> bool {
    if text.trim().is_empty() {
        return true;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map.values().all(Value::is_object),
        _ => false,
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

impl SecretBackend for FileKeyring {
    fn kind(&self) -> BackendKind {
        BackendKind::File
    }

    fn get(&self, service: &str, username: &str) -> Result<Option<Secret>, BackendError> {
        let target = self.target()?;
        let _lock = self.lock(&target, false)?;
        let data = self.read_all(&target)?;
        Ok(self.lookup(&data, service, username)?)
    }

    fn put(&self, service: &str, username: &str, value: &Secret) -> Result<(), BackendError> {
        self.modify(service, username, &mut |_| Change::Put(value.clone()))
    }

    fn delete(&self, service: &str, username: &str) -> Result<bool, BackendError> {
        let mut existed = false;
        self.modify(service, username, &mut |old| {
            existed = old.is_some();
            Change::Delete
        })?;
        Ok(existed)
    }

    fn modify(
        &self,
        service: &str,
        username: &str,
        change: &mut dyn FnMut(Option<Secret>) -> Change,
    ) -> Result<(), BackendError> {
        let target = self.target()?;
        let _lock = self.lock(&target, true)?;
        let mut data = self.read_all(&target)?;
        let old = self.lookup(&data, service, username)?;
        let existed = old.is_some();
        match change(old) {
            Change::Keep => return Ok(()),
            Change::Put(value) => {
                let entries = data
                    .entry(service.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(entries) = entries {
                    entries.insert(
                        username.to_owned(),
                        Value::String(value.expose().to_owned()),
                    );
                }
            }
            Change::Delete => {
                if !existed {
                    return Ok(());
                }
                if let Some(Value::Object(entries)) = data.get_mut(service) {
                    entries.shift_remove(username);
                }
            }
        }
        self.write_all(&target, &data)?;
        Ok(())
    }

    fn notices(&self) -> Vec<String> {
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::atomic::{CRASH_AT, CrashPoint};
    use super::*;

    #[test]
    fn a_crash_between_write_and_rename_leaves_the_old_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        let keyring = FileKeyring::open(&path).unwrap();
        keyring
            .put("Anaconda Cloud", "anaconda.com", &Secret::new("old"))
            .unwrap();
        let before = fs::read(&path).unwrap();

        CRASH_AT.with(|c| c.set(Some(CrashPoint::BeforeRename)));
        let result = keyring.put("Anaconda Cloud", "anaconda.com", &Secret::new("new"));
        CRASH_AT.with(|c| c.set(None));

        assert!(result.is_err());
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(
            keyring
                .get("Anaconda Cloud", "anaconda.com")
                .unwrap()
                .unwrap()
                .expose(),
            "old"
        );
        // The crash left its temporary file behind, next to the target, as a killed process would.
        let leftovers = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 1);
    }

    #[cfg(unix)]
    fn mode_of(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn only_a_regular_file_holding_a_keyring_record_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = dir.path().join("keyring");
        fs::write(&keyring, r#"{"Anaconda Cloud": {"anaconda.com": "x"}}"#).unwrap();
        set_mode(&keyring, 0o644);
        FileKeyring::open(&keyring).unwrap();
        assert_eq!(mode_of(&keyring), 0o600);

        // What `keyring_path` may name by mistake keeps its mode: a directory (`~/.anaconda`,
        // `~`), someone's text file, a JSON file of another shape.
        let directory = dir.path().join("dot-anaconda");
        fs::create_dir(&directory).unwrap();
        set_mode(&directory, 0o755);
        let notes = dir.path().join("notes.txt");
        fs::write(&notes, "shopping list\n").unwrap();
        set_mode(&notes, 0o644);
        let settings = dir.path().join("settings.json");
        fs::write(&settings, r#"{"editor.fontSize": 12}"#).unwrap();
        set_mode(&settings, 0o644);
        for (path, mode) in [(&directory, 0o755), (&notes, 0o644), (&settings, 0o644)] {
            let _ = FileKeyring::open(path);
            assert_eq!(mode_of(path), mode, "{}", path.display());
        }

        // Nor through a symlink, even to a keyring record.
        let other = dir.path().join("other-keyring");
        fs::write(&other, r#"{"Anaconda Cloud": {}}"#).unwrap();
        set_mode(&other, 0o644);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&other, &link).unwrap();
        FileKeyring::open(&link).unwrap();
        assert_eq!(mode_of(&other), 0o644);
    }
}
