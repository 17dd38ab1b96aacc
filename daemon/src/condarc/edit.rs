//! Pure planning: from the text of a `.condarc` and what we want in it, the new text, a list
//! of changes and a diff. No file system access here.

use std::path::{Path, PathBuf};

use yaml_serde::{Mapping, Value};

use super::text::{
    InlineScalar, Line, Quote, comment_of, dominant_eol, indent_of, inline_scalar,
    is_document_marker, is_trivia, join_lines, key_at, render_scalar, split_lines,
};
use super::{CondarcError, CondarcSettings, Plan};

pub(crate) const CHANNEL_SETTINGS: &str = "channel_settings";
pub(crate) const DEFAULT_CHANNELS: &str = "default_channels";

/// The indentation conda's own writer uses for list items and nested keys.
const CONDA_INDENT: usize = 2;

/// Plans [`CondarcSettings`] into `original` (`None`: the file does not exist yet).
pub fn plan(original: Option<&str>, settings: &CondarcSettings) -> Result<Plan, CondarcError> {
    plan_for_path(Path::new(".condarc"), original, settings)
}

/// As [`plan`], naming `path` in errors and in the diff header.
pub fn plan_for_path(
    path: &Path,
    original: Option<&str>,
    settings: &CondarcSettings,
) -> Result<Plan, CondarcError> {
    let pattern = settings.channel_pattern()?;
    let wanted_defaults = if settings.set_default_channels {
        Some(settings.default_channels()?)
    } else {
        None
    };
    let mut doc = Doc::parse(path, original.unwrap_or(""))?;
    let mut changes = Vec::new();
    doc.set_channel_auth(&pattern, &settings.auth_handler, &mut changes)?;
    if let Some(wanted) = wanted_defaults {
        doc.set_default_channels(Some(&wanted), &mut changes)?;
    }
    doc.finish(path, original, changes)
}

/// Plans removing the `channel_settings` entries for the repository's pattern (token
/// uninstall); `channel_settings` itself goes when no entry is left, its comments stay.
pub fn remove_channel_settings_plan(
    path: &Path,
    original: Option<&str>,
    repo_url: &str,
) -> Result<Plan, CondarcError> {
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
) -> Result<Plan, CondarcError> {
    let saved = Doc::parse(backup_path, backup)?;
    let wanted = match saved.value.get(DEFAULT_CHANNELS) {
        None | Some(Value::Null) => None,
        Some(value) => Some(string_list(value).unwrap_or_default()),
    };
    let mut doc = Doc::parse(path, original.unwrap_or(""))?;
    let mut changes = Vec::new();
    doc.set_default_channels(wanted.as_deref(), &mut changes)?;
    doc.finish(path, original, changes)
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
            lines,
            value,
            splices: Vec::new(),
            key_appends: Vec::new(),
        };
        doc.check_types(path)?;
        Ok(doc)
    }

    fn check_types(&self, path: &Path) -> Result<(), CondarcError> {
        let wrong = |key: &str, expected: &'static str, found: &'static str| {
            let (line, column) = self.value_position(key);
            CondarcError::WrongType {
                path: path.to_owned(),
                key: key.to_owned(),
                line,
                column,
                expected,
                found,
            }
        };
        match self.value.get(CHANNEL_SETTINGS) {
            None | Some(Value::Null) => {}
            Some(Value::Sequence(entries)) => {
                if let Some(bad) = entries.iter().find(|e| !e.is_mapping()) {
                    return Err(wrong(
                        CHANNEL_SETTINGS,
                        "a list of mappings (channel: ..., auth: ...)",
                        item_kind_of(bad),
                    ));
                }
            }
            Some(other) => {
                return Err(wrong(
                    CHANNEL_SETTINGS,
                    "a list of mappings (channel: ..., auth: ...)",
                    kind_of(other),
                ));
            }
        }
        match self.value.get(DEFAULT_CHANNELS) {
            None | Some(Value::Null) => {}
            Some(Value::Sequence(items)) => {
                if let Some(bad) = items.iter().find(|e| !e.is_string()) {
                    return Err(wrong(
                        DEFAULT_CHANNELS,
                        "a list of channel URLs",
                        item_kind_of(bad),
                    ));
                }
            }
            Some(other) => {
                return Err(wrong(
                    DEFAULT_CHANNELS,
                    "a list of channel URLs",
                    kind_of(other),
                ));
            }
        }
        Ok(())
    }

    /// 1-based line and column where `key`'s value starts (the key itself when it has none).
    fn value_position(&self, key: &str) -> (usize, usize) {
        let Some(block) = self.block(key) else {
            return (1, 1);
        };
        let text = &self.lines[block.line].text;
        if block.inline_value {
            let col = block.after_colon
                + (text.len() - block.after_colon - text[block.after_colon..].trim_start().len());
            return (block.line + 1, col + 1);
        }
        if block.last_content > block.line {
            let first = (block.line + 1..=block.last_content)
                .find(|&i| !is_trivia(&self.lines[i].text))
                .unwrap_or(block.line);
            return (first + 1, indent_of(&self.lines[first].text) + 1);
        }
        (block.line + 1, 1)
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

    // ----- channel_settings -----

    fn set_channel_auth(
        &mut self,
        pattern: &str,
        handler: &str,
        changes: &mut Vec<String>,
    ) -> Result<(), CondarcError> {
        let mut entries = self.entries();
        let mut matched = Vec::new();
        for (n, entry) in entries.iter_mut().enumerate() {
            if entry_str(entry, "channel") != Some(pattern) {
                continue;
            }
            let current = entry_str(entry, "auth").map(str::to_owned);
            if current.as_deref() == Some(handler) {
                continue;
            }
            changes.push(match &current {
                Some(old) => format!(
                    "channel_settings: the entry for {pattern} now uses auth `{handler}` instead of `{old}`"
                ),
                None => format!("channel_settings: the entry for {pattern} gets auth `{handler}`"),
            });
            if let Some(map) = entry.as_mapping_mut() {
                map.insert(Value::from("auth"), Value::from(handler));
            }
            matched.push(n);
        }
        let any_entry = self
            .entries()
            .iter()
            .any(|e| entry_str(e, "channel") == Some(pattern));
        if any_entry && matched.is_empty() {
            return Ok(());
        }
        let mut new_entry = Mapping::new();
        new_entry.insert(Value::from("channel"), Value::from(pattern));
        new_entry.insert(Value::from("auth"), Value::from(handler));
        if !any_entry {
            entries.push(Value::Mapping(new_entry));
            changes.push(format!(
                "channel_settings: add an entry for {pattern} with auth `{handler}`"
            ));
        }
        self.wanted_channel_settings = Some(Value::Sequence(entries.clone()));

        let block = self.block(CHANNEL_SETTINGS);
        let Some(block) = block else {
            let lines = std::iter::once(format!("{CHANNEL_SETTINGS}:"))
                .chain(render_entry_lines(
                    CONDA_INDENT,
                    CONDA_INDENT,
                    pattern,
                    handler,
                ))
                .collect();
            self.append_key(lines);
            return Ok(());
        };
        if let Some((indent, items)) = self
            .items(&block)
            .filter(|(_, items)| items.len() == self.entries().len())
        {
            let mut in_place = Vec::new();
            let mut ok = true;
            for &n in &matched {
                match self.entry_auth_splice(items[n], indent, handler) {
                    Some(s) => in_place.push(s),
                    None => ok = false,
                }
            }
            if ok {
                for (at, remove, lines) in in_place {
                    self.splice(at, remove, lines);
                }
                if !any_entry {
                    let key_indent = items
                        .last()
                        .and_then(|item| self.item_key_indent(*item, indent))
                        .unwrap_or(indent + CONDA_INDENT);
                    self.splice(
                        block.last_content + 1,
                        0,
                        render_entry_lines(indent, key_indent, pattern, handler),
                    );
                }
                return Ok(());
            }
        }
        let indent = self.items(&block).map_or(CONDA_INDENT, |(i, _)| i);
        let rendered =
            render_entries(&entries, indent).ok_or_else(|| CondarcError::UnsafeEdit {
                path: self.path.clone(),
                key: CHANNEL_SETTINGS,
                reason: "an entry holds nested values".to_owned(),
            })?;
        self.rewrite_block(&block, Some(rendered), indent);
        Ok(())
    }

    /// Column of the mapping keys of an item (`- channel: x` gives the column of `channel`).
    fn item_key_indent(&self, item: Item, indent: usize) -> Option<usize> {
        let text = &self.lines[item.line].text;
        let after_dash = indent + 1;
        let rest = &text[after_dash..];
        if rest.trim().is_empty() || rest.trim_start().starts_with('#') {
            let next = (item.line + 1..item.end).find(|&i| !is_trivia(&self.lines[i].text))?;
            return Some(indent_of(&self.lines[next].text));
        }
        Some(after_dash + (rest.len() - rest.trim_start_matches(' ').len()))
    }

    /// The splice that gives one block-style entry `auth: handler`, editing only the `auth`
    /// value (or adding an `auth` line after `channel`); `None` when the entry's layout is
    /// beyond what can be edited in place.
    fn entry_auth_splice(
        &self,
        item: Item,
        indent: usize,
        handler: &str,
    ) -> Option<(usize, usize, Vec<String>)> {
        let key_indent = self.item_key_indent(item, indent)?;
        let first = &self.lines[item.line].text;
        let after_dash = first.get(indent + 1..)?.trim_start();
        let dash_alone = after_dash.is_empty() || after_dash.starts_with('#');
        if after_dash.starts_with('{') {
            return None;
        }
        // Keys of this entry: (line, key, offset after colon, whether later lines continue it).
        let mut keys: Vec<(usize, String, usize, bool)> = Vec::new();
        for i in item.line..item.end {
            let text = &self.lines[i].text;
            if i == item.line {
                if !dash_alone {
                    let (key, after) = key_at(text, key_indent)?;
                    keys.push((i, key, after, false));
                }
            } else if is_trivia(text) {
                continue;
            } else if indent_of(text) == key_indent {
                let (key, after) = key_at(text, key_indent)?;
                keys.push((i, key, after, false));
            } else if indent_of(text) > key_indent {
                keys.last_mut()?.3 = true;
            } else {
                return None;
            }
        }
        let simple =
            |(line, _, after, continued): &(usize, String, usize, bool)| -> Option<InlineScalar> {
                if *continued {
                    return None;
                }
                inline_scalar(&self.lines[*line].text, *after)
            };
        if let Some(auth) = keys.iter().find(|k| k.1 == "auth") {
            let scalar = simple(auth)?;
            let text = &self.lines[auth.0].text;
            let new = format!(
                "{}{}{}",
                &text[..scalar.start],
                render_scalar(handler, scalar.quote),
                &text[scalar.end..]
            );
            return Some((auth.0, 1, vec![new]));
        }
        let channel = keys.iter().find(|k| k.1 == "channel")?;
        simple(channel)?;
        Some((
            channel.0 + 1,
            0,
            vec![format!(
                "{}auth: {}",
                " ".repeat(key_indent),
                render_scalar(handler, Quote::Plain)
            )],
        ))
    }

    fn remove_channel_entries(
        &mut self,
        pattern: &str,
        changes: &mut Vec<String>,
    ) -> Result<(), CondarcError> {
        let entries = self.entries();
        let remove: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| entry_str(e, "channel") == Some(pattern))
            .map(|(n, _)| n)
            .collect();
        if remove.is_empty() {
            return Ok(());
        }
        let kept: Vec<Value> = entries
            .iter()
            .enumerate()
            .filter(|(n, _)| !remove.contains(n))
            .map(|(_, e)| e.clone())
            .collect();
        changes.push(format!("channel_settings: remove the entry for {pattern}"));
        let Some(block) = self.block(CHANNEL_SETTINGS) else {
            return Ok(());
        };
        if kept.is_empty() {
            changes.push("channel_settings: remove the key, no entry is left".to_owned());
            self.wanted_channel_settings = None;
            let indent = self.items(&block).map_or(CONDA_INDENT, |(i, _)| i);
            self.rewrite_block(&block, None, indent);
            return Ok(());
        }
        self.wanted_channel_settings = Some(Value::Sequence(kept.clone()));
        match self
            .items(&block)
            .filter(|(_, items)| items.len() == entries.len())
        {
            Some((indent, items)) => {
                for &n in &remove {
                    let item = items[n];
                    let last = (item.line..item.end)
                        .rev()
                        .find(|&i| !is_trivia(&self.lines[i].text))
                        .unwrap_or(item.line);
                    let kept_lines = self.comments_as_lines(item.line, last, indent);
                    self.splice(item.line, last + 1 - item.line, kept_lines);
                }
            }
            None => {
                let indent = CONDA_INDENT;
                let rendered =
                    render_entries(&kept, indent).ok_or_else(|| CondarcError::UnsafeEdit {
                        path: self.path.clone(),
                        key: CHANNEL_SETTINGS,
                        reason: "an entry holds nested values".to_owned(),
                    })?;
                self.rewrite_block(&block, Some(rendered), indent);
            }
        }
        Ok(())
    }

    // ----- default_channels -----

    /// Gives `default_channels` the value `wanted` (`None`: remove the key).
    fn set_default_channels(
        &mut self,
        wanted: Option<&[String]>,
        changes: &mut Vec<String>,
    ) -> Result<(), CondarcError> {
        let current = self.value.get(DEFAULT_CHANNELS).and_then(string_list);
        let present = self.value.get(DEFAULT_CHANNELS).is_some();
        let Some(wanted) = wanted else {
            if present {
                changes.push("default_channels: remove the key, as in the backup".to_owned());
                self.wanted_default_channels = None;
                if let Some(block) = self.block(DEFAULT_CHANNELS) {
                    let indent = self.items(&block).map_or(CONDA_INDENT, |(i, _)| i);
                    self.rewrite_block(&block, None, indent);
                }
            }
            return Ok(());
        };
        if current.as_deref() == Some(wanted) {
            return Ok(());
        }
        changes.push(format!(
            "default_channels: set to {} (was {})",
            wanted.join(", "),
            match &current {
                Some(list) if !list.is_empty() => list.join(", "),
                Some(_) => "empty".to_owned(),
                None => "not set".to_owned(),
            }
        ));
        self.wanted_default_channels = Some(Value::Sequence(
            wanted.iter().map(|s| Value::from(s.as_str())).collect(),
        ));
        let Some(block) = self.block(DEFAULT_CHANNELS) else {
            let lines = std::iter::once(format!("{DEFAULT_CHANNELS}:"))
                .chain(wanted.iter().map(|c| {
                    format!(
                        "{}- {}",
                        " ".repeat(CONDA_INDENT),
                        render_scalar(c, Quote::Plain)
                    )
                }))
                .collect();
            self.append_key(lines);
            return Ok(());
        };
        if let Some((indent, items)) = self.items(&block) {
            let scalars: Option<Vec<InlineScalar>> = items
                .iter()
                .map(|item| {
                    let only_line =
                        (item.line + 1..item.end).all(|i| is_trivia(&self.lines[i].text));
                    let text = &self.lines[item.line].text;
                    (only_line && text[indent..].starts_with("- "))
                        .then(|| inline_scalar(text, indent + 2))
                        .flatten()
                })
                .collect();
            if let Some(scalars) = scalars {
                self.edit_items_in_place(indent, &items, &scalars, wanted);
                return Ok(());
            }
        }
        let indent = self.items(&block).map_or(CONDA_INDENT, |(i, _)| i);
        let rendered = wanted
            .iter()
            .map(|c| format!("{}- {}", " ".repeat(indent), render_scalar(c, Quote::Plain)))
            .collect();
        self.rewrite_block(&block, Some(rendered), indent);
        Ok(())
    }

    /// Item k gets wanted value k in its own quoting, keeping its comment; extra items go
    /// (their comments stay, on lines of their own); missing ones follow the last item.
    fn edit_items_in_place(
        &mut self,
        indent: usize,
        items: &[Item],
        scalars: &[InlineScalar],
        wanted: &[String],
    ) {
        for (n, (item, scalar)) in items.iter().zip(scalars).enumerate() {
            let text = self.lines[item.line].text.clone();
            match wanted.get(n) {
                Some(value) if *value == scalar.value => {}
                Some(value) => {
                    let new = format!(
                        "{}{}{}",
                        &text[..scalar.start],
                        render_scalar(value, scalar.quote),
                        &text[scalar.end..]
                    );
                    self.splice(item.line, 1, vec![new]);
                }
                None => {
                    let kept = self.comments_as_lines(item.line, item.line, indent);
                    self.splice(item.line, 1, kept);
                }
            }
        }
        if wanted.len() > items.len() {
            let quote = scalars.last().map_or(Quote::Plain, |s| s.quote);
            let lines = wanted[items.len()..]
                .iter()
                .map(|c| format!("{}- {}", " ".repeat(indent), render_scalar(c, quote)))
                .collect();
            let at = items.last().map_or(0, |item| item.line + 1);
            self.splice(at, 0, lines);
        }
    }

    // ----- shared -----

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

    /// Applies the splices, verifies the result, and builds the plan.
    fn finish(
        mut self,
        path: &Path,
        original: Option<&str>,
        changes: Vec<String>,
    ) -> Result<Plan, CondarcError> {
        let source = original.unwrap_or("");
        if changes.is_empty() {
            return Ok(Plan {
                updated: source.to_owned(),
                changes,
                diff: String::new(),
                changed: false,
            });
        }
        let mut splices: Vec<_> = std::mem::take(&mut self.splices)
            .into_iter()
            .enumerate()
            .collect();
        // Bottom-up, so earlier line numbers stay valid; at one line, removals first, and
        // inserts in reverse so that they end up in the order they were planned.
        let appended = |i: &usize| self.key_appends.contains(i);
        splices.sort_by(|(i, a), (j, b)| {
            b.0.cmp(&a.0)
                .then(b.1.cmp(&a.1))
                .then(appended(j).cmp(&appended(i)))
                .then(j.cmp(i))
        });
        let splices: Vec<_> = splices.into_iter().map(|(_, s)| s).collect();
        let mut lines = self.lines.clone();
        let appends_at_end = splices
            .iter()
            .any(|(at, remove, _)| *at == lines.len() && *remove == 0);
        let ends_without_newline = lines.last().is_some_and(|l| l.eol.is_empty());
        if let Some(last) = lines.last_mut() {
            last.eol = self.eol.to_owned();
        }
        for (at, remove, insert) in splices {
            let new = insert.into_iter().map(|text| Line {
                text,
                eol: self.eol.to_owned(),
            });
            lines.splice(at..at + remove, new);
        }
        // A file that ended without a newline still does, unless we appended to it.
        if ends_without_newline
            && !appends_at_end
            && let Some(last) = lines.last_mut()
        {
            last.eol.clear();
        }
        let updated = join_lines(&lines);
        self.verify(path, &updated)?;
        let name = path.display().to_string();
        let old_header = if original.is_some() {
            format!("a/{name}")
        } else {
            "/dev/null".to_owned()
        };
        let diff = similar::TextDiff::from_lines(source, &updated)
            .unified_diff()
            .context_radius(3)
            .header(&old_header, &format!("b/{name}"))
            .to_string();
        Ok(Plan {
            changed: updated != source,
            updated,
            changes,
            diff,
        })
    }

    /// The safety net: the new text parses, every other key is unchanged, ours have exactly
    /// the wanted values, top-level key order is kept and no comment went missing.
    fn verify(&self, path: &Path, updated: &str) -> Result<(), CondarcError> {
        let unsafe_edit = |reason: String| CondarcError::UnsafeEdit {
            path: path.to_owned(),
            key: CHANNEL_SETTINGS,
            reason,
        };
        let new_lines = split_lines(updated);
        let new = parse_mapping(path, updated, &new_lines)
            .map_err(|e| unsafe_edit(format!("the edited text would not parse: {e}")))?;
        for (key, value) in &self.value {
            if is_ours(key) {
                continue;
            }
            if new.get(key) != Some(value) {
                return Err(unsafe_edit(format!(
                    "the value of `{}` would change",
                    key_name(key)
                )));
            }
        }
        for (key, wanted) in [
            (CHANNEL_SETTINGS, &self.wanted_channel_settings),
            (DEFAULT_CHANNELS, &self.wanted_default_channels),
        ] {
            if new.get(key) != wanted.as_ref() {
                return Err(CondarcError::UnsafeEdit {
                    path: path.to_owned(),
                    key: if key == CHANNEL_SETTINGS {
                        CHANNEL_SETTINGS
                    } else {
                        DEFAULT_CHANNELS
                    },
                    reason: "the edit would not give it the intended value".to_owned(),
                });
            }
        }
        let old_order: Vec<&Value> = self.value.keys().filter(|k| new.contains_key(*k)).collect();
        let new_order: Vec<&Value> = new.keys().filter(|k| self.value.contains_key(*k)).collect();
        if old_order != new_order {
            return Err(unsafe_edit(
                "the order of the top-level keys would change".to_owned(),
            ));
        }
        let mut remaining: Vec<&str> = new_lines
            .iter()
            .filter_map(|l| comment_of(&l.text))
            .map(str::trim_end)
            .collect();
        for comment in self
            .lines
            .iter()
            .filter_map(|l| comment_of(&l.text))
            .map(str::trim_end)
        {
            match remaining.iter().position(|c| *c == comment) {
                Some(i) => {
                    remaining.swap_remove(i);
                }
                None => {
                    return Err(unsafe_edit(format!(
                        "the comment `{comment}` would be lost"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn is_ours(key: &Value) -> bool {
    matches!(key.as_str(), Some(CHANNEL_SETTINGS | DEFAULT_CHANNELS))
}

fn key_name(key: &Value) -> String {
    key.as_str()
        .map_or_else(|| format!("{key:?}"), str::to_owned)
}

fn item_kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "a list with an empty item",
        Value::Bool(_) => "a list with a boolean item",
        Value::Number(_) => "a list with a number item",
        Value::String(_) => "a list with a plain string item",
        Value::Sequence(_) => "a list with a nested list",
        Value::Mapping(_) => "a list with a mapping item",
        Value::Tagged(_) => "a list with a tagged item",
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Parses the whole file; an empty or comments-only file is an empty mapping.
/// yaml_serde reports a duplicate key at the start of the document; for a top-level key, the second
/// occurrence is the line to fix (1-based).
fn duplicate_key_line(problem: &str, lines: &[Line]) -> Option<usize> {
    let key = problem
        .strip_prefix("duplicate entry with key \"")?
        .strip_suffix('"')?;
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| indent_of(&l.text) == 0 && !is_trivia(&l.text))
        .filter(|(_, l)| key_at(&l.text, 0).is_some_and(|(k, _)| k == key))
        .nth(1)
        .map(|(i, _)| i + 1)
}

fn parse_mapping(path: &Path, source: &str, lines: &[Line]) -> Result<Mapping, CondarcError> {
    let value: Value = yaml_serde::from_str(source).map_err(|e| {
        let mut problem = e.to_string();
        // The message repeats the location, which the error states on its own.
        if let Some(at) = problem.rfind(" at line ") {
            problem.truncate(at);
        }
        let (line, column) = duplicate_key_line(&problem, lines)
            .map(|line| (line, 1))
            .or_else(|| e.location().map(|l| (l.line(), l.column())))
            .unwrap_or((1, 1));
        CondarcError::Malformed {
            path: path.to_owned(),
            line,
            column,
            problem,
        }
    })?;
    match value {
        Value::Mapping(map) => Ok(map),
        Value::Null => Ok(Mapping::new()),
        other => {
            let first = lines
                .iter()
                .position(|l| !is_trivia(&l.text) && !is_document_marker(&l.text))
                .unwrap_or(0);
            Err(CondarcError::WrongType {
                path: path.to_owned(),
                key: "the top level".to_owned(),
                line: first + 1,
                column: lines.get(first).map_or(0, |l| indent_of(&l.text)) + 1,
                expected: "a mapping of settings (key: value)",
                found: kind_of(&other),
            })
        }
    }
}

/// A new entry, `channel` before `auth`, with the list item at `indent` and its keys at
/// `key_indent`.
fn render_entry_lines(
    indent: usize,
    key_indent: usize,
    pattern: &str,
    handler: &str,
) -> Vec<String> {
    let gap = " ".repeat(key_indent.saturating_sub(indent + 1).max(1));
    vec![
        format!(
            "{}-{gap}channel: {}",
            " ".repeat(indent),
            render_scalar(pattern, Quote::Plain)
        ),
        format!(
            "{}auth: {}",
            " ".repeat(indent + 1 + gap.len()),
            render_scalar(handler, Quote::Plain)
        ),
    ]
}

/// Block-style lines for whole entries, keys in their order; `None` when a value is nested.
fn render_entries(entries: &[Value], indent: usize) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    for entry in entries {
        let map = entry.as_mapping()?;
        for (n, (key, value)) in map.iter().enumerate() {
            let key = render_scalar(key.as_str()?, Quote::Plain);
            let value = match value {
                Value::String(s) => render_scalar(s, Quote::Plain),
                Value::Bool(_) | Value::Number(_) | Value::Null => {
                    yaml_serde::to_string(value).ok()?.trim_end().to_owned()
                }
                _ => return None,
            };
            let lead = if n == 0 {
                format!("{}- ", " ".repeat(indent))
            } else {
                " ".repeat(indent + 2)
            };
            lines.push(format!("{lead}{key}: {value}"));
        }
        if map.is_empty() {
            lines.push(format!("{}- {{}}", " ".repeat(indent)));
        }
    }
    Some(lines)
}
