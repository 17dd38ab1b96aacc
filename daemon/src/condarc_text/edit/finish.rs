//! Applying the planned splices, and the check that the edited text says exactly what was
//! intended and nothing else changed.

use std::path::Path;

use yaml_serde::Value;

use super::validate::parse_mapping;
use super::{CHANNEL_SETTINGS, CHANNELS, DEFAULT_CHANNELS, Doc};
use crate::condarc_text::text::{Line, comment_of, join_lines, split_lines};
use crate::condarc_text::{CondarcError, PlannedEdit};

impl Doc {
    /// Applies the splices, verifies the result, and builds the plan.
    pub(super) fn finish(
        mut self,
        path: &Path,
        original: Option<&str>,
        changes: Vec<String>,
    ) -> Result<PlannedEdit, CondarcError> {
        let source = original.unwrap_or("");
        if changes.is_empty() {
            return Ok(PlannedEdit {
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
        Ok(PlannedEdit {
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
            (CHANNELS, &self.wanted_channels),
        ] {
            if new.get(key) != wanted.as_ref() {
                return Err(CondarcError::UnsafeEdit {
                    path: path.to_owned(),
                    key,
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
            .chain(self.dropped_comments.iter().map(String::as_str))
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
    matches!(
        key.as_str(),
        Some(CHANNEL_SETTINGS | DEFAULT_CHANNELS | CHANNELS)
    )
}

fn key_name(key: &Value) -> String {
    key.as_str()
        .map_or_else(|| format!("{key:?}"), str::to_owned)
}
