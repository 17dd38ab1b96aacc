//! What one source says: the three keys of a `.condarc` with the flags in its comments, or a
//! `CONDA_*` variable; and conda's merge of the sources into one list.

use std::path::Path;

use super::{ChannelSetting, CondaSource, ConfigProblem, SearchPathInput, Sourced};

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
pub(super) struct Match<T> {
    source: CondaSource,
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
            // A comment after a mapping's first key (`- channel: x  #!bottom`) belongs to the
            // mapping, not to the item: conda flags such an item only as `- #!bottom`.
            let flag = item
                .find(" #")
                .filter(|&at| !opens_a_mapping(&item[..at]))
                .and_then(|at| flag_of(&item[at + 1..]))
                .or_else(|| item.trim_start().strip_prefix('#').and_then(flag_of));
            items.push(flag);
        }
    }
    (key_flag, items)
}

/// Whether a block-list item's text starts a mapping (`channel: x`), not a plain value (a URL's
/// `https://` has no space after its colon).
fn opens_a_mapping(item: &str) -> bool {
    item.trim().split_once(':').is_some_and(|(key, rest)| {
        !key.is_empty()
            && !key.contains(char::is_whitespace)
            && (rest.is_empty() || rest.starts_with(' '))
    })
}

/// Reads the three keys from one file's text.
pub(super) struct FileValues {
    pub(super) channels: Option<Match<String>>,
    pub(super) default_channels: Option<Match<String>>,
    pub(super) channel_settings: Option<Match<ChannelSetting>>,
}

pub(super) fn read_file(
    path: &Path,
    text: &str,
    problems: &mut Vec<ConfigProblem>,
) -> Option<FileValues> {
    let source = CondaSource::File(path.to_path_buf());
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
pub(super) fn env_list(input: &SearchPathInput, names: &[&str]) -> Option<Match<String>> {
    let (name, raw) = names
        .iter()
        .find_map(|n| input.env.get(*n).map(|v| (*n, v)))?;
    Some(Match {
        source: CondaSource::EnvVar(name.to_string()),
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
pub(super) fn merge<T: Clone + PartialEq>(matches: Vec<Match<T>>) -> Vec<Sourced<T>> {
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
