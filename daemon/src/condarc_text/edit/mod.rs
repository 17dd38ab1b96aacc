//! Pure planning: from the text of a `.condarc` and what we want in it, the new text, a list
//! of changes and a diff. No file system access here.
//!
//! [`Doc`] holds the lines and the planned splices; the reading and type checks are in
//! `validate`, the edits of each key in `channel_settings` and `default_channels`, and the
//! applying and checking of the result in `finish`.

mod channel_settings;
mod channels;
mod default_channels;
mod finish;
mod org_channels;
mod validate;

pub use org_channels::{ChannelPosition, channel_key};

use std::path::{Path, PathBuf};

use yaml_serde::{Mapping, Value};

use super::text::{
    Line, comment_of, dominant_eol, indent_of, is_document_marker, is_trivia, key_at, split_lines,
};
use super::{CondarcError, CondarcSettings, PlannedEdit};
use validate::parse_mapping;

pub(crate) const CHANNEL_SETTINGS: &str = "channel_settings";
pub(crate) const DEFAULT_CHANNELS: &str = "default_channels";
pub(crate) const CHANNELS: &str = "channels";

/// The indentation conda's own writer uses for list items and nested keys.
const CONDA_INDENT: usize = 2;

/// Plans [`CondarcSettings`] into `original` (`None`: the file does not exist yet).
pub fn plan(
    original: Option<&str>,
    settings: &CondarcSettings,
) -> Result<PlannedEdit, CondarcError> {
    plan_for_path(Path::new(".condarc"), original, settings)
}

/// As [`plan`], naming `path` in errors and in the diff header.
pub fn plan_for_path(
    path: &Path,
    original: Option<&str>,
    settings: &CondarcSettings,
) -> Result<PlannedEdit, CondarcError> {
    let pattern = settings.channel_pattern()?;
    let wanted_defaults = if settings.set_default_channels {
        Some(settings.default_channels()?)
    } else {
        None
    };
    let mut doc = Doc::parse(path, original.unwrap_or(""))?;
    let mut changes = Vec::new();
    doc.set_channel_auth(
        &pattern,
        &settings.auth_handler,
        settings.credential_type.map(|t| t.as_str()),
        &mut changes,
    )?;
    if let Some(wanted) = wanted_defaults {
        let users = doc
            .value
            .get(DEFAULT_CHANNELS)
            .and_then(string_list)
            .is_some_and(|list| super::is_users_default_channels(&list, &wanted));
        if !users {
            doc.set_default_channels(Some(&wanted), &mut changes)?;
        }
    }
    if settings.add_defaults_to_channels {
        doc.add_defaults_to_channels(&mut changes)?;
    }
    doc.finish(path, original, changes)
}

/// Plans removing the `channel_settings` entries for the repository's pattern (token
/// uninstall); `channel_settings` itself goes when no entry is left, its comments stay.
pub fn remove_channel_settings_plan(
    path: &Path,
    original: Option<&str>,
    repo_url: &str,
) -> Result<PlannedEdit, CondarcError> {
    let pattern = super::channel_pattern(repo_url)?;
    let mut doc = Doc::parse(path, original.unwrap_or(""))?;
    let mut changes = Vec::new();
    doc.remove_channel_entries(&pattern, &mut changes)?;
    doc.finish(path, original, changes)
}

/// Plans giving `default_channels` the value it has in `backup` (the key is removed when the
/// backup has none).
pub fn restore_default_channels_plan(
    path: &Path,
    original: Option<&str>,
    backup_path: &Path,
    backup: &str,
) -> Result<PlannedEdit, CondarcError> {
    let saved = Doc::parse(backup_path, backup)?;
    let wanted = match saved.value.get(DEFAULT_CHANNELS) {
        None | Some(Value::Null) => None,
        Some(value) => Some(string_list(value).unwrap_or_default()),
    };
    let mut doc = Doc::parse(path, original.unwrap_or(""))?;
    let mut changes = Vec::new();
    doc.set_default_channels(wanted.as_deref(), &mut changes)?;
    doc.remove_added_defaults(saved.value.get(CHANNELS), &mut changes);
    doc.finish(path, original, changes)
}

/// Plans adding organisation channel URLs to `channels` (see `org_channels`).
pub fn add_channels_plan(
    path: &Path,
    original: Option<&str>,
    urls: &[String],
    position: ChannelPosition,
) -> Result<PlannedEdit, CondarcError> {
    let mut doc = Doc::parse(path, original.unwrap_or(""))?;
    let mut changes = Vec::new();
    doc.add_channel_urls(urls, position, &mut changes)?;
    doc.finish(path, original, changes)
}

/// Plans taking channel URLs out of `channels`: entries written exactly so when `exact`, else
/// in any form.
pub fn remove_channels_plan(
    path: &Path,
    original: Option<&str>,
    urls: &[String],
    exact: bool,
) -> Result<PlannedEdit, CondarcError> {
    let mut doc = Doc::parse(path, original.unwrap_or(""))?;
    let mut changes = Vec::new();
    doc.remove_channel_urls(urls, exact, &mut changes)?;
    doc.finish(path, original, changes)
}

/// The entries of the file's `channels`, as written; empty when it has none.
pub fn channel_entries(path: &Path, source: &str) -> Result<Vec<String>, CondarcError> {
    let doc = Doc::parse(path, source)?;
    Ok(doc
        .channel_entries()?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect())
}

/// `default_channels` of a file's text, when it is a list of strings.
pub(crate) fn default_channels_of(
    path: &Path,
    source: &str,
) -> Result<Option<Vec<String>>, CondarcError> {
    Ok(Doc::parse(path, source)?
        .value
        .get(DEFAULT_CHANNELS)
        .and_then(string_list))
}

/// Whether a file's `channel_settings` has an entry with the given handler.
pub(crate) fn has_handler_entry(source: &str, handler: &str) -> bool {
    Doc::parse(Path::new(".condarc"), source).is_ok_and(|doc| {
        doc.entries()
            .iter()
            .any(|entry| entry_str(entry, "auth") == Some(handler))
    })
}

/// What check() needs to tell "not configured" from "drifted".
pub(crate) struct Observed {
    pub(crate) entry_auths: Vec<Option<String>>,
    /// The `credential_type` of each entry for the pattern.
    pub(crate) entry_credential_types: Vec<Option<String>>,
    /// Channels of entries after our last one on the same scheme, host and port.
    pub(crate) later_same_origin: Vec<String>,
    pub(crate) default_channels: Option<Vec<String>>,
}

pub(crate) fn observe(path: &Path, source: &str, pattern: &str) -> Result<Observed, CondarcError> {
    let doc = Doc::parse(path, source)?;
    let entries = doc.entries();
    let origin_prefix = pattern.trim_end_matches('*');
    let later_same_origin = entries
        .iter()
        .rposition(|e| entry_str(e, "channel") == Some(pattern))
        .map(|last| {
            entries[last + 1..]
                .iter()
                .filter_map(|e| entry_str(e, "channel"))
                .filter(|c| c.starts_with(origin_prefix) && *c != pattern)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(Observed {
        later_same_origin,
        entry_auths: doc
            .entries()
            .iter()
            .filter(|entry| entry_str(entry, "channel") == Some(pattern))
            .map(|entry| entry_str(entry, "auth").map(str::to_owned))
            .collect(),
        entry_credential_types: doc
            .entries()
            .iter()
            .filter(|entry| entry_str(entry, "channel") == Some(pattern))
            .map(|entry| entry_str(entry, "credential_type").map(str::to_owned))
            .collect(),
        default_channels: doc.value.get(DEFAULT_CHANNELS).and_then(string_list),
    })
}

fn entry_str<'a>(entry: &'a Value, key: &str) -> Option<&'a str> {
    entry.get(key).and_then(Value::as_str)
}

fn string_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_sequence()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// A top-level key's lines: `key` at `line`; its value runs to `end` (exclusive).
#[derive(Debug, Clone)]
struct Block {
    line: usize,
    /// Byte offset just after the key's colon.
    after_colon: usize,
    /// Whether a value (flow list, scalar, alias...) follows the colon on the key line.
    inline_value: bool,
    /// The last line holding content of this value (the key line when there is none).
    last_content: usize,
}

/// A block list item: its `-` line and the lines up to the next item (exclusive).
#[derive(Debug, Clone, Copy)]
struct Item {
    line: usize,
    end: usize,
}

/// The document being edited: its lines, its parsed value before any edit, and the values
/// our two keys should end up with.
struct Doc {
    path: PathBuf,
    lines: Vec<Line>,
    eol: &'static str,
    value: Mapping,
    wanted_channel_settings: Option<Value>,
    wanted_default_channels: Option<Value>,
    wanted_channels: Option<Value>,
    /// Line splices, applied bottom-up by `finish`: (at, how many lines removed, new lines).
    splices: Vec<(usize, usize, Vec<String>)>,
    /// Indices into `splices` of new top-level keys: at the same line, they go after the
    /// other inserts (items appended to a list that ends the file stay in that list).
    key_appends: Vec<usize>,
}

impl Doc {
    fn parse(path: &Path, source: &str) -> Result<Doc, CondarcError> {
        let lines = split_lines(source);
        let value = parse_mapping(path, source, &lines)?;
        let doc = Doc {
            path: path.to_owned(),
            eol: dominant_eol(&lines),
            wanted_channel_settings: value.get(CHANNEL_SETTINGS).cloned(),
            wanted_default_channels: value.get(DEFAULT_CHANNELS).cloned(),
            wanted_channels: value.get(CHANNELS).cloned(),
            lines,
            value,
            splices: Vec::new(),
            key_appends: Vec::new(),
        };
        doc.check_types(path)?;
        Ok(doc)
    }

    fn entries(&self) -> Vec<Value> {
        match self.value.get(CHANNEL_SETTINGS) {
            Some(Value::Sequence(entries)) => entries.clone(),
            _ => Vec::new(),
        }
    }

    /// Top-level keys in file order, with their line.
    fn top_level_keys(&self) -> Vec<(String, usize)> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                !is_trivia(&l.text) && !is_document_marker(&l.text) && indent_of(&l.text) == 0
            })
            .filter(|(_, l)| {
                !(l.text.starts_with('-') && l.text[1..].chars().next().is_none_or(|c| c == ' '))
            })
            .filter_map(|(i, l)| key_at(&l.text, 0).map(|(k, _)| (k, i)))
            .collect()
    }

    fn block(&self, key: &str) -> Option<Block> {
        let keys = self.top_level_keys();
        let pos = keys.iter().position(|(k, _)| k == key)?;
        let line = keys[pos].1;
        let mut end = keys.get(pos + 1).map_or(self.lines.len(), |(_, l)| *l);
        if let Some(marker) = (line + 1..end).find(|&i| is_document_marker(&self.lines[i].text)) {
            end = marker;
        }
        let text = &self.lines[line].text;
        let (_, after_colon) = key_at(text, 0)?;
        let tail = &text[after_colon..];
        let tail_content = match comment_of(tail) {
            Some(c) => &tail[..tail.len() - c.len()],
            None => tail,
        };
        let last_content = (line + 1..end)
            .rev()
            .find(|&i| !is_trivia(&self.lines[i].text))
            .unwrap_or(line);
        Some(Block {
            line,
            after_colon,
            inline_value: !tail_content.trim().is_empty(),
            last_content,
        })
    }

    /// The items of a block-style list value, or `None` when the value is not laid out as one.
    fn items(&self, block: &Block) -> Option<(usize, Vec<Item>)> {
        if block.inline_value || block.last_content == block.line {
            return None;
        }
        let content: Vec<usize> = (block.line + 1..=block.last_content)
            .filter(|&i| !is_trivia(&self.lines[i].text))
            .collect();
        let indent = indent_of(&self.lines[content[0]].text);
        let is_item = |i: usize| {
            let t = &self.lines[i].text[indent..];
            t.starts_with('-') && t[1..].chars().next().is_none_or(|c| c == ' ')
        };
        let mut starts = Vec::new();
        for &i in &content {
            let ind = indent_of(&self.lines[i].text);
            if ind < indent || self.lines[i].text.contains('\t') && ind == indent {
                return None;
            }
            if ind == indent {
                if !is_item(i) {
                    return None;
                }
                starts.push(i);
            }
        }
        let items = starts
            .iter()
            .enumerate()
            .map(|(n, &line)| Item {
                line,
                end: starts.get(n + 1).copied().unwrap_or(block.last_content + 1),
            })
            .collect();
        Some((indent, items))
    }

    fn splice(&mut self, at: usize, remove: usize, insert: Vec<String>) {
        self.splices.push((at, remove, insert));
    }

    fn append_key(&mut self, lines: Vec<String>) {
        let at = self.append_point();
        self.key_appends.push(self.splices.len());
        self.splice(at, 0, lines);
    }

    /// Where new top-level keys go: at the end, before a closing `...` if there is one.
    fn append_point(&self) -> usize {
        let last = self.lines.iter().rposition(|l| !is_trivia(&l.text));
        match last {
            Some(i) if self.lines[i].text.starts_with("...") => i,
            _ => self.lines.len(),
        }
    }

    /// Comments on lines `from..=to` as lines of their own: comment-only and blank lines as
    /// they are, trailing comments of content lines at `indent`.
    fn comments_as_lines(&self, from: usize, to: usize, indent: usize) -> Vec<String> {
        (from..=to)
            .filter_map(|i| {
                let text = &self.lines[i].text;
                if is_trivia(text) {
                    Some(text.clone())
                } else {
                    comment_of(text).map(|c| format!("{}{c}", " ".repeat(indent)))
                }
            })
            .collect()
    }

    /// Replaces a key's value with `items` (already rendered lines), or removes the key when
    /// `items` is `None`; every comment of the old value is kept on a line of its own.
    fn rewrite_block(&mut self, block: &Block, items: Option<Vec<String>>, indent: usize) {
        let key_text = &self.lines[block.line].text;
        let key_comment = comment_of(&key_text[block.after_colon..]).map(str::to_owned);
        let mut lines = Vec::new();
        match &items {
            Some(_) => {
                let mut key_line = key_text[..block.after_colon].to_owned();
                if let Some(c) = &key_comment {
                    key_line.push_str("  ");
                    key_line.push_str(c);
                }
                lines.push(key_line);
            }
            None => lines.extend(key_comment),
        }
        if block.last_content > block.line {
            lines.extend(self.comments_as_lines(block.line + 1, block.last_content, indent));
        }
        lines.extend(items.unwrap_or_default());
        self.splice(block.line, block.last_content + 1 - block.line, lines);
    }
}
