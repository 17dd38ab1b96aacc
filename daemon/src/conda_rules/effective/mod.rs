//! conda's effective `channels`, `default_channels` and `channel_settings`, computed as conda
//! 26 computes them (`conda/base/constants.py` `SEARCH_PATH`, `conda/common/configuration.py`,
//! `conda/gateways/connection/session.py`), each value with the file or variable it came from.
//!
//! - The search path, later entries taking precedence: `/etc/conda`, `/var/lib/conda` (or
//!   `C:/ProgramData/conda`), `$CONDA_ROOT`, `$XDG_CONFIG_HOME/conda`, `~/.config/conda`,
//!   `~/.conda` (each as `.condarc`, `condarc` and `condarc.d/`), `~/.condarc`, the target
//!   prefix (`$CONDA_PREFIX`, else the installation), `$CONDARC`. A file counts only when its
//!   name is `.condarc`/`condarc` or ends in `.yml`/`.yaml`; a directory contributes its
//!   `*.yml`/`*.yaml` files in name order. Variables conda cannot expand leave the entry
//!   unusable, as in conda. A file that does not parse is skipped (conda warns and goes on).
//! - `CONDA_<KEY>` variables come after every file: `CONDA_CHANNELS` (or `CONDA_CHANNEL`) and
//!   `CONDA_DEFAULT_CHANNELS`, comma-separated.
//! - Lists merge with the highest-precedence source first, duplicates dropped; a key marked
//!   `#!final` stops every later (higher) source; items marked `#!top` / `#!bottom` move to
//!   the front / end.
//! - For a URL, the `channel_settings` entry conda uses is the last one that matches: by the
//!   channel's canonical name, or by a glob (`fnmatch`, `*` crosses `/`) over `host[:port]` and
//!   path with the very same scheme.

mod matching;
mod search;
mod sources;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Platform;
pub use matching::fnmatch;
use matching::{channel_base, path_of, setting_matches};
use search::expand_vars;
#[cfg(test)]
use search::search_path_templates;
use search::search_path_with;
pub use search::{
    CONDARC_FILE, USER_DIRS, USER_FILE, expand_user, has_yaml_extension, is_condarc_name,
    search_path,
};
use sources::{env_list, merge, read_file};

/// What conda's search path depends on. Paths conda takes from the running interpreter or the
/// process come in here, so tests can point every one of them at a temporary tree.
#[derive(Debug, Clone)]
pub struct SearchPathInput {
    /// The environment conda runs with (a snapshot; nothing reads `std::env`).
    pub env: BTreeMap<String, String>,
    /// `~`.
    pub home: PathBuf,
    /// The conda installation (`sys.prefix` of conda's Python): `$CONDA_ROOT` unless that is
    /// set, and the target prefix when no environment is active.
    pub conda_root: PathBuf,
    pub platform: Platform,
    /// Replaces `/etc/conda`, `/var/lib/conda` (or `C:/ProgramData/conda`) when set: the system
    /// directories, for tests that cannot write there.
    pub system_dirs: Option<Vec<PathBuf>>,
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CondaSource {
    File(PathBuf),
    /// A `CONDA_*` environment variable, by name.
    EnvVar(String),
    /// conda's built-in default.
    Default,
}

impl std::fmt::Display for CondaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::EnvVar(name) => write!(f, "${name}"),
            Self::Default => f.write_str("conda's default"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: CondaSource,
}

/// One `channel_settings` entry: its keys in file order (conda passes extra keys to plugins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSetting {
    pub keys: Vec<(String, String)>,
}

impl ChannelSetting {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `channel` key: a canonical channel name or a URL glob.
    pub fn channel(&self) -> &str {
        self.get("channel").unwrap_or_default()
    }

    /// The `auth` handler name, trimmed as conda trims it; `None` when empty.
    pub fn auth(&self) -> Option<&str> {
        self.get("auth").map(str::trim).filter(|a| !a.is_empty())
    }
}

/// Something conda would complain about or skip, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub source: CondaSource,
    pub message: String,
}

/// conda's effective values of the keys anacondad cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveConfig {
    /// The files conda reads, in its order (lowest precedence first).
    pub files: Vec<PathBuf>,
    pub channels: Vec<Sourced<String>>,
    pub default_channels: Vec<Sourced<String>>,
    pub channel_settings: Vec<Sourced<ChannelSetting>>,
    pub problems: Vec<ConfigProblem>,
}

/// Which `channel_settings` entry serves a URL, and what hides ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsMatch<'a> {
    /// The entry conda uses (the last that matches), if any.
    pub chosen: Option<&'a Sourced<ChannelSetting>>,
    /// Entries after the last matching one of ours that match too, so conda uses them instead
    /// (the last of them wins). Empty when ours is chosen, or when none of ours matches.
    pub shadowing_ours: Vec<&'a Sourced<ChannelSetting>>,
    /// True when one of ours matches the URL at all.
    pub ours_matches: bool,
}

/// conda's `default_channels` when no source sets it.
const DEFAULT_CHANNELS_UNIX: [&str; 2] = [
    "https://repo.anaconda.com/pkgs/main",
    "https://repo.anaconda.com/pkgs/r",
];
const DEFAULT_CHANNELS_WIN: [&str; 3] = [
    "https://repo.anaconda.com/pkgs/main",
    "https://repo.anaconda.com/pkgs/r",
    "https://repo.anaconda.com/pkgs/msys2",
];
/// conda's default `channel_alias`: channels given by name live under it.
const DEFAULT_CHANNEL_ALIAS: &str = "https://conda.anaconda.org";

/// Reads every file on conda's search path and merges the three keys as conda does.
pub fn effective(input: &SearchPathInput) -> EffectiveConfig {
    effective_with(input, None)
}

/// [`effective`] as it would be once `path` holds `text` (a planned edit): the file counts
/// wherever the search path names it, whether it exists yet or not.
pub fn effective_planned(input: &SearchPathInput, path: &Path, text: &str) -> EffectiveConfig {
    effective_with(input, Some((path, text)))
}

fn effective_with(input: &SearchPathInput, planned: Option<(&Path, &str)>) -> EffectiveConfig {
    let files = search_path_with(input, planned.map(|(path, _)| path));
    let mut problems = Vec::new();
    let mut channels = Vec::new();
    let mut default_channels = Vec::new();
    let mut channel_settings = Vec::new();
    for file in &files {
        let read = match planned {
            Some((path, text)) if path == file.as_path() => Ok(text.to_owned()),
            _ => crate::fsutil::read_to_string(file),
        };
        let text = match read {
            Ok(text) => text,
            Err(e) => {
                problems.push(ConfigProblem {
                    source: CondaSource::File(file.clone()),
                    message: format!("cannot be read: {e}"),
                });
                continue;
            }
        };
        if let Some(values) = read_file(file, &text, &mut problems) {
            channels.extend(values.channels);
            default_channels.extend(values.default_channels);
            channel_settings.extend(values.channel_settings);
        }
    }
    channels.extend(env_list(input, &["CONDA_CHANNELS", "CONDA_CHANNEL"]));
    default_channels.extend(env_list(input, &["CONDA_DEFAULT_CHANNELS"]));

    let expand = |items: Vec<Sourced<String>>| -> Vec<Sourced<String>> {
        let lookup = |name: &str| input.env.get(name).cloned();
        items
            .into_iter()
            .map(|s| Sourced {
                value: expand_vars(&s.value, &lookup, false),
                source: s.source,
            })
            .collect()
    };
    let channels = expand(merge(channels));
    let default_channels = if default_channels.is_empty() {
        let builtin: &[&str] = match input.platform {
            Platform::Unix => &DEFAULT_CHANNELS_UNIX,
            Platform::Windows => &DEFAULT_CHANNELS_WIN,
        };
        builtin
            .iter()
            .map(|url| Sourced {
                value: (*url).to_string(),
                source: CondaSource::Default,
            })
            .collect()
    } else {
        expand(merge(default_channels))
    };
    EffectiveConfig {
        files,
        channels,
        default_channels,
        channel_settings: merge(channel_settings),
        problems,
    }
}

impl EffectiveConfig {
    /// True when `defaults` (and so `default_channels`) is among the channels conda searches.
    /// Since conda 25.3 an empty `channels` no longer means `defaults`.
    pub fn defaults_in_effect(&self) -> bool {
        self.channels.iter().any(|c| c.value == "defaults")
    }

    /// Which `channel_settings` entry conda uses for `url`, and which entries hide one of ours
    /// (`is_ours` tells ours apart, e.g. by `auth: anacondad`).
    pub fn settings_for(
        &self,
        url: &str,
        is_ours: impl Fn(&ChannelSetting) -> bool,
    ) -> SettingsMatch<'_> {
        let matching = self.entries_for(url);
        let chosen = matching.last().copied();
        let last_ours = matching.iter().rposition(|s| is_ours(&s.value));
        SettingsMatch {
            chosen,
            shadowing_ours: last_ours
                .map(|at| matching[at + 1..].to_vec())
                .unwrap_or_default(),
            ours_matches: last_ours.is_some(),
        }
    }

    /// The `channel_settings` entries that match `url`, in conda's order (the last one is
    /// the one conda uses).
    pub fn entries_for(&self, url: &str) -> Vec<&Sourced<ChannelSetting>> {
        let canonical = self.canonical_name(url);
        self.channel_settings
            .iter()
            .filter(|s| setting_matches(&s.value, url, &canonical))
            .collect()
    }

    /// conda's canonical name of the channel a URL belongs to, for the exact-name rule of
    /// `channel_settings`: `defaults` for a channel of `default_channels`, the name for a channel
    /// under the default `channel_alias`, else the channel's URL. (conda also consults
    /// `custom_channels` and a configured `channel_alias`; those are not modelled.)
    pub fn canonical_name(&self, url: &str) -> String {
        let base = channel_base(url);
        let name = path_of(&base);
        if self
            .default_channels
            .iter()
            .any(|d| path_of(&channel_base(&d.value)) == name && !name.is_empty())
        {
            return "defaults".into();
        }
        if let Some(rest) = base.strip_prefix(&format!("{DEFAULT_CHANNEL_ALIAS}/")) {
            return rest.to_string();
        }
        base
    }
}

#[cfg(test)]
mod tests;
