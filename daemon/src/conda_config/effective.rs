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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Platform;

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
pub enum Source {
    File(PathBuf),
    /// A `CONDA_*` environment variable, by name.
    EnvVar(String),
    /// conda's built-in default.
    Default,
}

impl std::fmt::Display for Source {
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
    pub source: Source,
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
    pub source: Source,
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

/// conda's search path for `input`, as templates before expansion.
fn search_path_templates(input: &SearchPathInput) -> Vec<String> {
    let mut templates: Vec<String> = Vec::new();
    let system: Vec<String> = match &input.system_dirs {
        Some(dirs) => dirs.iter().map(|d| d.display().to_string()).collect(),
        None => match input.platform {
            Platform::Unix => vec!["/etc/conda".into(), "/var/lib/conda".into()],
            Platform::Windows => vec!["C:/ProgramData/conda".into()],
        },
    };
    let dir_entries = |dir: &str| {
        [
            format!("{dir}/.condarc"),
            format!("{dir}/condarc"),
            format!("{dir}/condarc.d/"),
        ]
    };
    for dir in &system {
        templates.extend(dir_entries(dir));
    }
    for dir in [
        "$CONDA_ROOT",
        "$XDG_CONFIG_HOME/conda",
        "~/.config/conda",
        "~/.conda",
    ] {
        templates.extend(dir_entries(dir));
    }
    templates.push("~/.condarc".into());
    templates.extend(dir_entries("$CONDA_PREFIX"));
    templates.push("$CONDARC".into());
    templates
}

impl SearchPathInput {
    /// `$CONDA_ROOT`: the variable, else the installation (conda sets it so at import).
    fn conda_root_var(&self) -> String {
        self.env
            .get("CONDA_ROOT")
            .cloned()
            .unwrap_or_else(|| self.conda_root.display().to_string())
    }

    /// The prefix conda targets without `-n`/`-p`: the active one (`$CONDA_PREFIX`, when not
    /// empty), else one named by `$CONDA_DEFAULT_ENV` that is a path, else the installation.
    /// (An environment named by `CONDA_DEFAULT_ENV` alone is looked up in `envs_dirs` by conda;
    /// that is taken as `<installation>/envs/<name>`.)
    pub fn target_prefix(&self) -> PathBuf {
        if let Some(prefix) = self.env.get("CONDA_PREFIX").filter(|p| !p.is_empty()) {
            return PathBuf::from(prefix);
        }
        match self.env.get("CONDA_DEFAULT_ENV").map(String::as_str) {
            None | Some("base" | "root") => self.conda_root.clone(),
            Some(name) if name.contains('/') || name.contains('\\') => PathBuf::from(name),
            Some(name) => self.conda_root.join("envs").join(name),
        }
    }

    /// Expands `$VAR`, `${VAR}` and `%VAR%` (conda's `custom_expandvars`, with
    /// `$CONDA_PREFIX` the target prefix and `$CONDA_ROOT` as conda sets it), then `~`.
    fn expand(&self, template: &str) -> PathBuf {
        let lookup = |name: &str| -> Option<String> {
            match name {
                "CONDA_PREFIX" => Some(self.target_prefix().display().to_string()),
                "CONDA_ROOT" => Some(self.conda_root_var()),
                _ => self.env.get(name).cloned(),
            }
        };
        let expanded = expand_vars(template, &lookup, true);
        if expanded == "~" {
            self.home.clone()
        } else if let Some(rest) = expanded.strip_prefix("~/") {
            self.home.join(rest)
        } else {
            PathBuf::from(expanded)
        }
    }
}

/// `$NAME`, `${NAME}` (and with `percent`, `%NAME%`) replaced where `lookup` knows the name;
/// anything else is left as it is, as conda does.
fn expand_vars(text: &str, lookup: &dyn Fn(&str) -> Option<String>, percent: bool) -> String {
    let is_start = |c: char| c.is_ascii_alphabetic() || c == '_';
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let name_from = |start: usize| -> usize {
            let mut end = start;
            if end < chars.len() && is_start(chars[end]) {
                end += 1;
                while end < chars.len() && is_name(chars[end]) {
                    end += 1;
                }
            }
            end
        };
        if c == '$' && i + 1 < chars.len() && chars[i + 1] == '{' {
            let end = name_from(i + 2);
            if end > i + 2 && end < chars.len() && chars[end] == '}' {
                let name: String = chars[i + 2..end].iter().collect();
                if let Some(value) = lookup(&name) {
                    out.push_str(&value);
                    i = end + 1;
                    continue;
                }
            }
        } else if c == '$' {
            let end = name_from(i + 1);
            if end > i + 1 {
                let name: String = chars[i + 1..end].iter().collect();
                if let Some(value) = lookup(&name) {
                    out.push_str(&value);
                    i = end;
                    continue;
                }
            }
        } else if c == '%' && percent {
            let end = name_from(i + 1);
            if end > i + 1 && end < chars.len() && chars[end] == '%' {
                let name: String = chars[i + 1..end].iter().collect();
                if let Some(value) = lookup(&name) {
                    out.push_str(&value);
                    i = end + 1;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn is_condarc_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name == ".condarc" || name == "condarc" || has_yaml_extension(path)
}

fn has_yaml_extension(path: &Path) -> bool {
    // Python's `Path.suffix`: a leading dot alone (".yml") is no suffix.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.rfind('.') {
        Some(0) | None => false,
        Some(at) => matches!(&name[at..], ".yml" | ".yaml"),
    }
}

/// The files conda reads, in its order (lowest precedence first), each once.
pub fn search_path(input: &SearchPathInput) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Vec::new();
    for template in search_path_templates(input) {
        let path = input.expand(&template);
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_file() && is_condarc_name(&path) {
            files.push(path);
        } else if meta.is_dir() {
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            let mut names: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.path().is_file() && has_yaml_extension(&e.path()))
                .map(|e| e.path())
                .collect();
            names.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
            files.extend(names);
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    files
}

/// A flag conda reads from a comment (`ParameterFlag.from_string`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Final,
    Top,
    Bottom,
}

fn flag_of(comment: &str) -> Option<Flag> {
    match comment.trim().trim_matches(|c| c == '!' || c == '#') {
        "final" => Some(Flag::Final),
        "top" => Some(Flag::Top),
        "bottom" => Some(Flag::Bottom),
        _ => None,
    }
}

/// One source's value of a list key, with its flags.
#[derive(Debug, Clone)]
struct Match<T> {
    source: Source,
    key_flag: Option<Flag>,
    items: Vec<(T, Option<Flag>)>,
}

/// The flags in a file's comments, for one top-level key: the key's own (`key: #!final`) and
/// each block-list item's (`  - value  #!top`), in order. Read from the text because the
/// YAML value has no comments; only the layouts conda's own writer produces are recognised.
fn comment_flags(text: &str, key: &str) -> (Option<Flag>, Vec<Option<Flag>>) {
    let mut key_flag = None;
    let mut items = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indented = line.len() != trimmed.len();
        if !indented && !trimmed.is_empty() && !trimmed.starts_with('#') {
            inside = false;
            if let Some(rest) = trimmed.strip_prefix(key)
                && let Some(rest) = rest.trim_start().strip_prefix(':')
            {
                inside = true;
                key_flag = rest.find('#').and_then(|at| flag_of(&rest[at..]));
            }
            continue;
        }
        if inside && let Some(item) = trimmed.strip_prefix('-') {
            // A comment starts at a `#` after whitespace (YAML); quoted `#` are rare in
            // channel names and are taken as a comment's start only after a space.
            let flag = item
                .find(" #")
                .and_then(|at| flag_of(&item[at + 1..]))
                .or_else(|| item.trim_start().strip_prefix('#').and_then(flag_of));
            items.push(flag);
        }
    }
    (key_flag, items)
}

/// Reads the three keys from one file's text.
struct FileValues {
    channels: Option<Match<String>>,
    default_channels: Option<Match<String>>,
    channel_settings: Option<Match<ChannelSetting>>,
}

fn read_file(path: &Path, text: &str, problems: &mut Vec<ConfigProblem>) -> Option<FileValues> {
    let source = Source::File(path.to_path_buf());
    let value: yaml_serde::Value = match yaml_serde::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(ConfigProblem {
                source,
                message: format!("conda ignores this file: it is not valid YAML ({e})"),
            });
            return None;
        }
    };
    let map = match value {
        yaml_serde::Value::Mapping(map) => map,
        yaml_serde::Value::Null => yaml_serde::Mapping::new(),
        _ => {
            problems.push(ConfigProblem {
                source,
                message: "conda ignores this file: it is not a mapping of settings".into(),
            });
            return None;
        }
    };
    let get = |key: &str| map.get(yaml_serde::Value::String(key.into()));
    let strings = |key: &str, value: &yaml_serde::Value, problems: &mut Vec<ConfigProblem>| {
        let (key_flag, flags) = comment_flags(text, key);
        match value {
            yaml_serde::Value::Null => None,
            yaml_serde::Value::Sequence(items) => Some(Match {
                source: source.clone(),
                key_flag,
                items: items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| {
                        scalar(item).map(|s| (s, flags.get(i).copied().flatten()))
                    })
                    .collect(),
            }),
            _ => {
                problems.push(ConfigProblem {
                    source: source.clone(),
                    message: format!("`{key}` must be a list; conda refuses this value"),
                });
                None
            }
        }
    };
    // conda takes `channels` or its alias `channel`, and refuses both in one file.
    let channels = match (get("channels"), get("channel")) {
        (Some(_), Some(_)) => {
            problems.push(ConfigProblem {
                source: source.clone(),
                message: "both `channels` and `channel` are set; conda uses `channels`".into(),
            });
            get("channels").and_then(|v| strings("channels", v, problems))
        }
        (Some(v), None) => strings("channels", v, problems),
        (None, Some(v)) => strings("channel", v, problems),
        (None, None) => None,
    };
    let default_channels =
        get("default_channels").and_then(|v| strings("default_channels", v, problems));
    let channel_settings = match get("channel_settings") {
        None | Some(yaml_serde::Value::Null) => None,
        Some(yaml_serde::Value::Sequence(entries)) => {
            let (key_flag, flags) = comment_flags(text, "channel_settings");
            let mut items = Vec::new();
            for (i, entry) in entries.iter().enumerate() {
                let yaml_serde::Value::Mapping(entry) = entry else {
                    problems.push(ConfigProblem {
                        source: source.clone(),
                        message: format!("`channel_settings` item {} is not a mapping", i + 1),
                    });
                    continue;
                };
                let keys = entry
                    .iter()
                    .filter_map(|(k, v)| Some((scalar(k)?, scalar(v).unwrap_or_default())))
                    .collect();
                items.push((ChannelSetting { keys }, flags.get(i).copied().flatten()));
            }
            Some(Match {
                source: source.clone(),
                key_flag,
                items,
            })
        }
        Some(_) => {
            problems.push(ConfigProblem {
                source: source.clone(),
                message: "`channel_settings` must be a list; conda refuses this value".into(),
            });
            None
        }
    };
    Some(FileValues {
        channels,
        default_channels,
        channel_settings,
    })
}

fn scalar(value: &yaml_serde::Value) -> Option<String> {
    match value {
        yaml_serde::Value::String(s) => Some(s.clone()),
        yaml_serde::Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        yaml_serde::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A `CONDA_<KEY>` list: comma-separated, trimmed, empty items dropped; `!important` marks the
/// key final (conda leaves the marker in the text).
fn env_list(input: &SearchPathInput, names: &[&str]) -> Option<Match<String>> {
    let (name, raw) = names
        .iter()
        .find_map(|n| input.env.get(*n).map(|v| (*n, v)))?;
    Some(Match {
        source: Source::EnvVar(name.to_string()),
        key_flag: raw.contains("!important").then_some(Flag::Final),
        items: raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| (s.to_string(), None))
            .collect(),
    })
}

/// conda's `SequenceLoadedParameter.merge`: `matches` lowest precedence first.
fn merge<T: Clone + PartialEq>(matches: Vec<Match<T>>) -> Vec<Sourced<T>> {
    // Sources up to and including the first one whose key is final.
    let cut = matches
        .iter()
        .position(|m| m.key_flag == Some(Flag::Final))
        .map_or(matches.len(), |i| i + 1);
    let relevant = &matches[..cut];
    let sourced = |m: &Match<T>, flag: Option<Flag>| -> Vec<Sourced<T>> {
        m.items
            .iter()
            .filter(|(_, f)| flag.is_none() || *f == flag)
            .map(|(value, _)| Sourced {
                value: value.clone(),
                source: m.source.clone(),
            })
            .collect()
    };
    let top: Vec<Sourced<T>> = relevant
        .iter()
        .flat_map(|m| sourced(m, Some(Flag::Top)))
        .collect();
    let bottom: Vec<Sourced<T>> = relevant
        .iter()
        .rev()
        .flat_map(|m| sourced(m, Some(Flag::Bottom)))
        .collect();
    let all: Vec<Sourced<T>> = relevant
        .iter()
        .rev()
        .flat_map(|m| sourced(m, None))
        .collect();
    let top_deduped = unique(top.into_iter().chain(all));
    let bottom_deduped = unique(
        bottom
            .into_iter()
            .rev()
            .chain(top_deduped.into_iter().rev()),
    );
    bottom_deduped.into_iter().rev().collect()
}

/// The first of each value, in order (conda's `unique`).
fn unique<T: PartialEq>(items: impl IntoIterator<Item = Sourced<T>>) -> Vec<Sourced<T>> {
    let mut out: Vec<Sourced<T>> = Vec::new();
    for item in items {
        if !out.iter().any(|o| o.value == item.value) {
            out.push(item);
        }
    }
    out
}

/// Reads every file on conda's search path and merges the three keys as conda does.
pub fn effective(input: &SearchPathInput) -> EffectiveConfig {
    let files = search_path(input);
    let mut problems = Vec::new();
    let mut channels = Vec::new();
    let mut default_channels = Vec::new();
    let mut channel_settings = Vec::new();
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                problems.push(ConfigProblem {
                    source: Source::File(file.clone()),
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
                source: Source::Default,
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
        let canonical = self.canonical_name(url);
        let matching: Vec<&Sourced<ChannelSetting>> = self
            .channel_settings
            .iter()
            .filter(|s| setting_matches(&s.value, url, &canonical))
            .collect();
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

/// The channel a URL belongs to, as conda's `split_conda_url_easy_parts` cuts it: the first
/// platform segment (`/linux-64`, `/noarch`, ...) removed, then the last segment when it is a
/// package or repodata file (`.conda`, `.tar.bz2`, `.json`, `.json.zst`). Other files stay part
/// of the "channel": conda names `.../linux-64/repodata_shards.msgpack.zst` the channel
/// `.../repodata_shards.msgpack.zst`, so the exact-name rule misses sharded repodata.
fn channel_base(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let (origin, path) = match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('/') {
            Some((host, path)) => (format!("{scheme}://{host}"), path),
            None => (format!("{scheme}://{rest}"), ""),
        },
        None => (String::new(), url),
    };
    let mut segments: Vec<&str> = path.split('/').collect();
    if let Some(at) = segments.iter().position(|s| is_subdir(s)) {
        segments.remove(at);
    }
    let mut path = segments.join("/").trim_end_matches('/').to_string();
    let is_file = [".conda", ".tar.bz2", ".json", ".json.zst"]
        .iter()
        .any(|ext| path.ends_with(ext));
    if is_file && let Some((dir, _)) = path.rsplit_once('/') {
        path = dir.to_string();
    }
    if origin.is_empty() {
        path
    } else if path.is_empty() {
        origin
    } else {
        format!("{origin}/{path}")
    }
}

fn is_subdir(segment: &str) -> bool {
    segment == "noarch"
        || [
            "linux-",
            "osx-",
            "win-",
            "zos-",
            "freebsd-",
            "emscripten-",
            "wasi-",
        ]
        .iter()
        .any(|p| segment.starts_with(p))
}

/// The path of a URL without its leading `/`, or the text itself when it is no URL.
fn path_of(url: &str) -> String {
    match url.split_once("://") {
        Some((_, rest)) => rest
            .split_once('/')
            .map(|(_, path)| path.trim_end_matches('/').to_string())
            .unwrap_or_default(),
        None => url.trim_matches('/').to_string(),
    }
}

/// conda's rule (`get_session`): the exact canonical name, or a glob over `host[:port]/path`
/// with the same scheme (a pattern without a scheme matches nothing).
fn setting_matches(setting: &ChannelSetting, url: &str, canonical: &str) -> bool {
    let channel = setting.channel();
    if channel == canonical {
        return true;
    }
    let (Some((url_scheme, url_rest)), Some((pattern_scheme, pattern_rest))) =
        (split_scheme(url), split_scheme(channel))
    else {
        return false;
    };
    if url_scheme != pattern_scheme {
        return false;
    }
    fnmatch(url_rest, pattern_rest)
}

/// `(scheme, netloc + path)` as Python's `urlparse` splits them (query and fragment dropped).
fn split_scheme(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    Some((scheme.to_ascii_lowercase(), rest))
}

/// Python's `fnmatch.fnmatch` on POSIX (case-sensitive): `*` any run (including `/`), `?` one
/// character, `[seq]` / `[!seq]` a set.
pub fn fnmatch(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let pattern: Vec<char> = pattern.chars().collect();
    fn matches(t: &[char], p: &[char]) -> bool {
        let (mut ti, mut pi) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            if pi < p.len() {
                match p[pi] {
                    '*' => {
                        star = Some((pi, ti));
                        pi += 1;
                        continue;
                    }
                    '?' => {
                        ti += 1;
                        pi += 1;
                        continue;
                    }
                    '[' => {
                        if let Some((matched, next)) = class(&p[pi..], t[ti]) {
                            if matched {
                                ti += 1;
                                pi += next;
                                continue;
                            }
                        } else if t[ti] == '[' {
                            ti += 1;
                            pi += 1;
                            continue;
                        }
                    }
                    c if c == t[ti] => {
                        ti += 1;
                        pi += 1;
                        continue;
                    }
                    _ => {}
                }
            }
            match star {
                Some((spi, sti)) => {
                    pi = spi + 1;
                    ti = sti + 1;
                    star = Some((spi, sti + 1));
                }
                None => return false,
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }
    /// A `[...]` set at the start of `p`: whether `c` is in it and the set's length; `None`
    /// when the `[` opens no set (then it is a literal, as in Python).
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        let mut i = 1;
        let negate = i < p.len() && p[i] == '!';
        if negate {
            i += 1;
        }
        let start = i;
        let mut found = false;
        while i < p.len() && (p[i] != ']' || i == start) {
            if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                if p[i] <= c && c <= p[i + 2] {
                    found = true;
                }
                i += 3;
            } else {
                if p[i] == c {
                    found = true;
                }
                i += 1;
            }
        }
        if i >= p.len() {
            return None;
        }
        Some((found != negate, i + 1))
    }
    matches(&text, &pattern)
}

#[cfg(test)]
mod tests;
