//! The `channel_settings` edits: give the repository's entry our auth handler and, when asked,
//! a `credential_type` (in place where the layout allows), add the entry, or remove it.

use yaml_serde::{Mapping, Value};

use super::{CHANNEL_SETTINGS, CONDA_INDENT, Doc, Item, entry_str};
use crate::condarc_text::CondarcError;
use crate::condarc_text::text::{
    InlineScalar, Quote, comment_of, indent_of, inline_scalar, is_trivia, key_at, render_scalar,
};

impl Doc {
    /// Gives the entry for `pattern` `auth: handler` and, when `credential_type` is set, that
    /// `credential_type` (an entry's other keys, and a `credential_type` not asked for, stay);
    /// with `at_bottom`, the last entry for `pattern` is flagged `#!bottom` (see
    /// `CondarcSettings::entry_at_bottom`).
    pub(super) fn set_channel_auth(
        &mut self,
        pattern: &str,
        handler: &str,
        credential_type: Option<&str>,
        at_bottom: bool,
        changes: &mut Vec<String>,
    ) -> Result<(), CondarcError> {
        let wanted: Vec<(&str, &str)> = std::iter::once(("auth", handler))
            .chain(credential_type.map(|t| ("credential_type", t)))
            .collect();
        let mut entries = self.entries();
        let mut matched = Vec::new();
        for (n, entry) in entries.iter_mut().enumerate() {
            if entry_str(entry, "channel") != Some(pattern) {
                continue;
            }
            let mut differs = Vec::new();
            for &(key, value) in &wanted {
                let current = entry_str(entry, key).map(str::to_owned);
                if current.as_deref() == Some(value) {
                    continue;
                }
                differs.push((key, value));
                let verb = if key == "auth" { "uses" } else { "has" };
                changes.push(match &current {
                    Some(old) => format!(
                        "channel_settings: the entry for {pattern} now {verb} {key} `{value}` instead of `{old}`"
                    ),
                    None => format!("channel_settings: the entry for {pattern} gets {key} `{value}`"),
                });
                if let Some(map) = entry.as_mapping_mut() {
                    map.insert(Value::from(key), Value::from(value));
                }
            }
            if !differs.is_empty() {
                matched.push((n, differs));
            }
        }
        let any_entry = self
            .entries()
            .iter()
            .any(|e| entry_str(e, "channel") == Some(pattern));
        let last_ours = entries
            .iter()
            .rposition(|e| entry_str(e, "channel") == Some(pattern));
        let flag_missing = at_bottom
            && last_ours.is_some_and(|n| {
                let listed = self
                    .block(CHANNEL_SETTINGS)
                    .and_then(|block| self.items(&block))
                    .filter(|(_, items)| items.len() == entries.len());
                !listed.is_some_and(|(indent, items)| self.flagged_bottom(items[n], indent))
            });
        if any_entry && matched.is_empty() && !flag_missing {
            return Ok(());
        }
        if flag_missing {
            changes.push(format!(
                "channel_settings: flag the entry for {pattern} `#!bottom`, so that conda puts \
                 it after the entries of the files it reads before this one"
            ));
        }
        let mut new_entry = Mapping::new();
        new_entry.insert(Value::from("channel"), Value::from(pattern));
        for &(key, value) in &wanted {
            new_entry.insert(Value::from(key), Value::from(value));
        }
        if !any_entry {
            entries.push(Value::Mapping(new_entry));
            let with = wanted
                .iter()
                .map(|(key, value)| format!("{key} `{value}`"))
                .collect::<Vec<_>>()
                .join(" and ");
            let flagged = if at_bottom {
                ", flagged `#!bottom`"
            } else {
                ""
            };
            changes.push(format!(
                "channel_settings: add an entry for {pattern} with {with}{flagged}"
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
                    &wanted,
                    at_bottom,
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
            for (n, differs) in &matched {
                match self.entry_keys_splices(items[*n], indent, differs) {
                    Some(s) => in_place.extend(s),
                    None => ok = false,
                }
            }
            if ok
                && flag_missing
                && let Some(n) = last_ours
            {
                ok = self.flag_bottom_splice(items[n], indent, &mut in_place)?;
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
                        render_entry_lines(indent, key_indent, pattern, &wanted, at_bottom),
                    );
                }
                return Ok(());
            }
        }
        let indent = self.items(&block).map_or(CONDA_INDENT, |(i, _)| i);
        let flagged = if at_bottom {
            entries
                .iter()
                .rposition(|e| entry_str(e, "channel") == Some(pattern))
        } else {
            None
        };
        let rendered = self.rendered_entries(&entries, indent, flagged)?;
        self.rewrite_block(&block, Some(rendered), indent);
        Ok(())
    }

    /// Whether a block-style entry is flagged `#!bottom` as conda reads it: the comment right
    /// after the dash, with the keys on the lines below.
    pub(super) fn flagged_bottom(&self, item: Item, indent: usize) -> bool {
        let text = &self.lines[item.line].text;
        text.get(indent + 1..)
            .map(str::trim)
            .is_some_and(is_bottom_flag)
    }

    /// Adds the splice that flags one block-style entry `#!bottom`: its first key moves to a
    /// line of its own below `- #!bottom` (merged with a splice already planned for that
    /// line). `Ok(false)` when the entry's layout is not one to edit in place; refused when
    /// a comment already sits where the flag must go.
    fn flag_bottom_splice(
        &self,
        item: Item,
        indent: usize,
        splices: &mut Vec<(usize, usize, Vec<String>)>,
    ) -> Result<bool, CondarcError> {
        let Some(key_indent) = self.item_key_indent(item, indent) else {
            return Ok(false);
        };
        let planned = splices
            .iter()
            .position(|(at, remove, lines)| *at == item.line && *remove == 1 && lines.len() == 1);
        let text = match planned {
            Some(i) => splices[i].2[0].clone(),
            None => self.lines[item.line].text.clone(),
        };
        let Some(rest) = text.get(indent + 1..).map(str::trim_start) else {
            return Ok(false);
        };
        if rest.is_empty() || rest.starts_with('#') {
            return Err(CondarcError::UnsafeEdit {
                path: self.path.clone(),
                key: CHANNEL_SETTINGS,
                reason: "a comment is where the entry's `#!bottom` flag must go (right after \
                         its dash)"
                    .to_owned(),
            });
        }
        if rest.starts_with('{') {
            return Ok(false);
        }
        let lines = vec![
            format!("{}- {BOTTOM_FLAG}", " ".repeat(indent)),
            format!("{}{rest}", " ".repeat(key_indent)),
        ];
        match planned {
            Some(i) => splices[i].2 = lines,
            None => splices.push((item.line, 1, lines)),
        }
        Ok(true)
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

    /// The splices that give one block-style entry the `wanted` keys (those it lacks or holds
    /// with another value), editing only their values
    /// (or adding the missing ones after `auth`, else after `channel`); `None` when the entry's
    /// layout is beyond what can be edited in place.
    fn entry_keys_splices(
        &self,
        item: Item,
        indent: usize,
        wanted: &[(&str, &str)],
    ) -> Option<Vec<(usize, usize, Vec<String>)>> {
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
        let mut splices = Vec::new();
        let mut missing = Vec::new();
        for &(key, value) in wanted {
            let Some(found) = keys.iter().find(|k| k.1 == key) else {
                missing.push(format!(
                    "{}{key}: {}",
                    " ".repeat(key_indent),
                    render_scalar(value, Quote::Plain)
                ));
                continue;
            };
            let scalar = simple(found)?;
            let text = &self.lines[found.0].text;
            let new = format!(
                "{}{}{}",
                &text[..scalar.start],
                render_scalar(value, scalar.quote),
                &text[scalar.end..]
            );
            splices.push((found.0, 1, vec![new]));
        }
        if !missing.is_empty() {
            let anchor = keys
                .iter()
                .find(|k| k.1 == "auth")
                .or_else(|| keys.iter().find(|k| k.1 == "channel"))?;
            simple(anchor)?;
            splices.push((anchor.0 + 1, 0, missing));
        }
        Some(splices)
    }

    pub(super) fn remove_channel_entries(
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
                    let mut kept_lines = self.comments_as_lines(item.line, last, indent);
                    // The entry's own flag goes with it: left on a line of its own, conda
                    // could read it as the next entry's.
                    if self.flagged_bottom(item, indent)
                        && let Some(flag) = comment_of(&self.lines[item.line].text)
                    {
                        let flag = flag.trim_end().to_owned();
                        if let Some(at) = kept_lines.iter().position(|l| l.trim() == flag) {
                            kept_lines.remove(at);
                        }
                        self.dropped_comments.push(flag);
                    }
                    self.splice(item.line, last + 1 - item.line, kept_lines);
                }
            }
            None => {
                let indent = CONDA_INDENT;
                let rendered = self.rendered_entries(&kept, indent, None)?;
                self.rewrite_block(&block, Some(rendered), indent);
            }
        }
        Ok(())
    }

    /// Block-style lines for whole entries; an entry with nested values cannot be written
    /// back safely, so the edit is refused.
    fn rendered_entries(
        &self,
        entries: &[Value],
        indent: usize,
        flagged: Option<usize>,
    ) -> Result<Vec<String>, CondarcError> {
        render_entries(entries, indent, flagged).ok_or_else(|| CondarcError::UnsafeEdit {
            path: self.path.clone(),
            key: CHANNEL_SETTINGS,
            reason: "an entry holds nested values".to_owned(),
        })
    }
}

/// The flag comment conda reads as `ParameterFlag.bottom`.
pub(super) const BOTTOM_FLAG: &str = "#!bottom";

/// Whether a comment is conda's `#!bottom` (`ParameterFlag.from_string` strips `#` and `!`).
pub(super) fn is_bottom_flag(comment: &str) -> bool {
    comment.starts_with('#') && comment.trim_matches(|c| c == '#' || c == '!') == "bottom"
}

/// A new entry, `channel` before `auth`, with the list item at `indent` and its keys at
/// `key_indent`; flagged `#!bottom` on the dash's line when `at_bottom`.
fn render_entry_lines(
    indent: usize,
    key_indent: usize,
    pattern: &str,
    keys: &[(&str, &str)],
    at_bottom: bool,
) -> Vec<String> {
    let gap = " ".repeat(key_indent.saturating_sub(indent + 1).max(1));
    let channel = format!("channel: {}", render_scalar(pattern, Quote::Plain));
    let first = if at_bottom {
        vec![
            format!("{}- {BOTTOM_FLAG}", " ".repeat(indent)),
            format!("{}{channel}", " ".repeat(indent + 1 + gap.len())),
        ]
    } else {
        vec![format!("{}-{gap}{channel}", " ".repeat(indent))]
    };
    first
        .into_iter()
        .chain(keys.iter().map(|(key, value)| {
            format!(
                "{}{key}: {}",
                " ".repeat(indent + 1 + gap.len()),
                render_scalar(value, Quote::Plain)
            )
        }))
        .collect()
}

/// Block-style lines for whole entries, keys in their order, the entry `flagged` flagged
/// `#!bottom`; `None` when a value is nested.
fn render_entries(entries: &[Value], indent: usize, flagged: Option<usize>) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    for (at, entry) in entries.iter().enumerate() {
        let map = entry.as_mapping()?;
        if flagged == Some(at) && !map.is_empty() {
            lines.push(format!("{}- {BOTTOM_FLAG}", " ".repeat(indent)));
        }
        for (n, (key, value)) in map.iter().enumerate() {
            let key = render_scalar(key.as_str()?, Quote::Plain);
            let value = match value {
                Value::String(s) => render_scalar(s, Quote::Plain),
                Value::Bool(_) | Value::Number(_) | Value::Null => {
                    yaml_serde::to_string(value).ok()?.trim_end().to_owned()
                }
                _ => return None,
            };
            let lead = if n == 0 && flagged != Some(at) {
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
