//! Non-secret facts about the stored credentials (token ids, expiry, validation, next refresh),
//! kept in a 0600 JSON file in the XDG state directory, never next to the secrets.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::store::atomic::{resolve_symlinks, write_atomically};

/// The format this code writes. A file of a higher version is not ours to interpret.
pub const STATE_VERSION: u32 = 1;

/// What is known about one organisation's repo token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgState {
    /// The service's id of the current token (`GET .../current-token` answers it).
    pub token_id: Option<String>,
    pub issued_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    /// Last time the repository accepted the token.
    pub last_validated_at: Option<Timestamp>,
    /// The last failure concerning this token, as shown to the user (never a secret).
    pub last_error: Option<String>,
    /// When the scheduler plans to reissue it.
    pub next_refresh_at: Option<Timestamp>,
    /// Set when the service says the stored token is no longer its current one (reissued
    /// elsewhere, expired, or none on the service): what happened and the command that fixes
    /// it. While set, answers skip the token and the scheduler does not reissue it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<String>,
    /// The user turned the scheduled reissue of this token off (`anacondactl token auto-renew`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_renew_off: bool,
    /// Set just before this daemon asks the service to reissue the token, cleared once the new
    /// token and its facts are kept: still set at the next start, it says that a new token the
    /// service holds came from this machine's unfinished reissue, not from another machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reissue_started_at: Option<Timestamp>,
}

/// What is known about one domain's credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainState {
    /// The API key's JWT `exp`.
    pub api_key_expires_at: Option<Timestamp>,
    /// Who the API key belongs to, as the service said last.
    #[serde(default)]
    pub username: Option<String>,
    /// When this daemon stored the API key (with `exp`, its lifetime, which sets when to renew).
    #[serde(default)]
    pub api_key_obtained_at: Option<Timestamp>,
    /// Whether a refresh token is stored (the token itself is a secret and lives in the token
    /// store, service `anacondad`).
    pub refresh_token_held: bool,
    /// Keyed by organisation name.
    pub orgs: BTreeMap<String, OrgState>,
    /// The organisation channel URLs anacondad added to conda's `channels`, by org, as written:
    /// `token uninstall --org` takes out these and only these.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub added_channels: BTreeMap<String, Vec<String>>,
    /// Exports to other tools' credential stores, keyed by target (`rattler`, `mamba`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exports: BTreeMap<String, ExportState>,
}

/// What one export wrote, so that it can be kept current and removed exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportState {
    /// Turned on or off with `anacondactl export`; `None`: as the configuration says.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Where the entries were written (a file path, or the keychain's name for it).
    #[serde(default)]
    pub location: String,
    /// Each entry written: the store's key -> hex SHA-256 of the value written. An entry whose
    /// value has changed since is someone else's and is left alone.
    #[serde(default)]
    pub entries: BTreeMap<String, String>,
    /// Which credential each entry holds, for `status` (never the secret).
    #[serde(default)]
    pub described: BTreeMap<String, (String, String)>,
    #[serde(default)]
    pub last_written_at: Option<Timestamp>,
    #[serde(default)]
    pub last_error: Option<String>,
}

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonState {
    pub version: u32,
    /// Keyed by domain (`anaconda.com`, `host:port`).
    pub domains: BTreeMap<String, DomainState>,
}

impl Default for DaemonState {
    fn default() -> Self {
        Self {
            version: STATE_VERSION,
            domains: BTreeMap::new(),
        }
    }
}

impl DaemonState {
    /// The state of `domain`, created empty when missing.
    pub fn domain_mut(&mut self, domain: &str) -> &mut DomainState {
        self.domains.entry(domain.to_owned()).or_default()
    }

    /// The state of `org` under `domain`, created empty when missing.
    pub fn org_mut(&mut self, domain: &str, org: &str) -> &mut OrgState {
        self.domain_mut(domain)
            .orgs
            .entry(org.to_owned())
            .or_default()
    }
}

/// What [`StateFile::load`] found.
#[derive(Debug)]
pub struct LoadedState {
    pub state: DaemonState,
    /// Set when the file could not be used and was moved aside: show it in `status`.
    pub warning: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read the state file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot move the unreadable state file {path} aside to {aside}: {source}")]
    MoveAside {
        path: PathBuf,
        aside: PathBuf,
        source: io::Error,
    },
    #[error("cannot write the state file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// The state file at a path chosen by `main` (e.g. `$XDG_STATE_HOME/anacondad/state.json`).
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state. A missing file is an empty state. A file that is not valid JSON of
    /// our format, or of a newer version, is moved aside to `<name>.unreadable-<now>` (kept for
    /// inspection, never overwritten) and an empty state is returned with a warning: these
    /// facts are re-learnt from the service, while refusing to start would block the user.
    pub fn load(&self, now: Timestamp) -> Result<LoadedState, StateError> {
        let text = match crate::fsutil::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(LoadedState {
                    state: DaemonState::default(),
                    warning: None,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => String::new(),
            Err(source) => {
                return Err(StateError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let problem = match serde_json::from_str::<DaemonState>(&text) {
            Ok(state) if state.version <= STATE_VERSION => {
                return Ok(LoadedState {
                    state,
                    warning: None,
                });
            }
            Ok(state) => format!(
                "it has version {}, newer than this anacondad ({STATE_VERSION})",
                state.version
            ),
            Err(e) => format!("it is not a valid state file ({e})"),
        };
        let mut aside = self.path.as_os_str().to_owned();
        aside.push(format!(".unreadable-{}", now.as_second()));
        let aside = PathBuf::from(aside);
        fs::rename(&self.path, &aside).map_err(|source| StateError::MoveAside {
            path: self.path.clone(),
            aside: aside.clone(),
            source,
        })?;
        Ok(LoadedState {
            state: DaemonState::default(),
            warning: Some(format!(
                "the state file {} was set aside as {} because {problem}; token expiry and refresh times will be re-read from the service",
                self.path.display(),
                aside.display()
            )),
        })
    }

    /// Writes the state atomically, mode 0600, creating its directory (0700) when needed.
    pub fn save(&self, state: &DaemonState) -> Result<(), StateError> {
        let write_err = |source| StateError::Write {
            path: self.path.clone(),
            source,
        };
        let target = resolve_symlinks(&self.path).map_err(write_err)?;
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt as _;
                builder.mode(0o700);
            }
            builder.create(dir).map_err(write_err)?;
        }
        let mut text =
            serde_json::to_string_pretty(state).map_err(|e| write_err(io::Error::other(e)))?;
        text.push('\n');
        write_atomically(&target, text.as_bytes()).map_err(write_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-29T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn saved_state_loads_back_equal_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("anacondad/state.json"));
        let mut state = DaemonState::default();
        let org = state.org_mut("anaconda.com", "acme");
        org.token_id = Some("3f2a".into());
        org.expires_at = Some(now());
        org.last_error = Some("validation failed: HTTP 403".into());
        state.domain_mut("anaconda.com").refresh_token_held = true;
        file.save(&state).unwrap();

        let loaded = file.load(now()).unwrap();
        assert_eq!(loaded.state, state);
        assert!(loaded.warning.is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(file.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_missing_state_file_is_an_empty_state_without_warning() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = StateFile::new(dir.path().join("state.json"))
            .load(now())
            .unwrap();
        assert_eq!(loaded.state, DaemonState::default());
        assert!(loaded.warning.is_none());
    }

    #[test]
    fn a_corrupt_state_file_is_set_aside_and_the_state_starts_empty_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, "{ not json").unwrap();
        let loaded = StateFile::new(&path).load(now()).unwrap();
        assert_eq!(loaded.state, DaemonState::default());
        let warning = loaded.warning.unwrap();
        assert!(warning.contains("set aside"), "{warning}");
        let aside = dir
            .path()
            .join(format!("state.json.unreadable-{}", now().as_second()));
        assert_eq!(fs::read_to_string(aside).unwrap(), "{ not json");
        assert!(!path.exists());
    }

    #[test]
    fn a_state_file_of_a_newer_version_is_set_aside_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, r#"{"version": 99, "domains": {}}"#).unwrap();
        let loaded = StateFile::new(&path).load(now()).unwrap();
        assert!(loaded.warning.unwrap().contains("version 99"));
        assert!(!path.exists());
    }
}
