//! Reading and checking a `.condarc`: the YAML must parse to a mapping, and our two keys must
//! have the types conda expects, with errors that point at the line and column to fix.

use std::path::Path;

use yaml_serde::{Mapping, Value};

use super::{CHANNEL_SETTINGS, DEFAULT_CHANNELS, Doc};
use crate::condarc_text::CondarcError;
use crate::condarc_text::text::{Line, indent_of, is_document_marker, is_trivia, key_at};

impl Doc {
    pub(super) fn check_types(&self, path: &Path) -> Result<(), CondarcError> {
        self.check_list(
            path,
            CHANNEL_SETTINGS,
            "a list of mappings (channel: ..., auth: ...)",
            Value::is_mapping,
        )?;
        self.check_list(
            path,
            DEFAULT_CHANNELS,
            "a list of channel URLs",
            Value::is_string,
        )
    }

    /// `key` is absent, empty, or a list whose every item passes `item_ok`; anything else is
    /// [`CondarcError::WrongType`] at the position of its value.
    pub(super) fn check_list(
        &self,
        path: &Path,
        key: &str,
        expected: &'static str,
        item_ok: fn(&Value) -> bool,
    ) -> Result<(), CondarcError> {
        let found = match self.value.get(key) {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Sequence(items)) => match items.iter().find(|e| !item_ok(e)) {
                Some(bad) => item_kind_of(bad),
                None => return Ok(()),
            },
            Some(other) => kind_of(other),
        };
        let (line, column) = self.value_position(key);
        Err(CondarcError::WrongType {
            path: path.to_owned(),
            key: key.to_owned(),
            line,
            column,
            expected,
            found,
        })
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

/// Parses the whole file; an empty or comments-only file is an empty mapping.
pub(super) fn parse_mapping(
    path: &Path,
    source: &str,
    lines: &[Line],
) -> Result<Mapping, CondarcError> {
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
