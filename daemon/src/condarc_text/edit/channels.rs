//! The `channels` edit: add `defaults` at the end of the list, so that conda searches
//! `default_channels` at all (since conda 25.3 an empty `channels` no longer means
//! `defaults`). The user's channels keep their order and so their priority.

use yaml_serde::Value;

use super::{CHANNELS, CONDA_INDENT, Doc};
use crate::condarc_text::CondarcError;

/// conda's name for the channels of `default_channels`.
pub(crate) const DEFAULTS: &str = "defaults";

impl Doc {
    /// Adds `defaults` to `channels` unless it is there; creates the key when it is absent.
    pub(super) fn add_defaults_to_channels(
        &mut self,
        changes: &mut Vec<String>,
    ) -> Result<(), CondarcError> {
        let current = match self.value.get(CHANNELS) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Sequence(items)) => items.clone(),
            Some(_) => return Err(self.channels_refused("its value is not a list")),
        };
        if current.iter().any(|c| c.as_str() == Some(DEFAULTS)) {
            return Ok(());
        }
        let mut wanted = current.clone();
        wanted.push(Value::from(DEFAULTS));
        self.wanted_channels = Some(Value::Sequence(wanted));
        changes.push(if current.is_empty() {
            "channels: add defaults (conda searches default_channels only through it)".to_owned()
        } else {
            "channels: add defaults after your channels (conda searches default_channels only \
             through it)"
                .to_owned()
        });
        let item = |indent: usize| format!("{}- {DEFAULTS}", " ".repeat(indent));
        let Some(block) = self.block(CHANNELS) else {
            self.append_key(vec![format!("{CHANNELS}:"), item(CONDA_INDENT)]);
            return Ok(());
        };
        if current.is_empty() {
            if block.inline_value {
                // `channels: []` or `channels: ~`: the value is replaced by a block list.
                let key_line = self.lines[block.line].text.clone();
                let tail = &key_line[block.after_colon..];
                let value = super::comment_of(tail).map_or(tail, |c| &tail[..tail.len() - c.len()]);
                if !matches!(value.trim(), "[]" | "~" | "null") {
                    return Err(self.channels_refused(
                        "its value is laid out in a way the editor does not change",
                    ));
                }
                let mut first = key_line[..block.after_colon].to_owned();
                if let Some(c) = super::comment_of(tail) {
                    first.push_str("  ");
                    first.push_str(c);
                }
                self.splice(block.line, 1, vec![first, item(CONDA_INDENT)]);
            } else {
                self.rewrite_block(&block, Some(vec![item(CONDA_INDENT)]), CONDA_INDENT);
            }
            return Ok(());
        }
        if block.inline_value {
            // `channels: [conda-forge]`: `defaults` goes in before the closing bracket.
            let key_line = self.lines[block.line].text.clone();
            let Some(edited) = with_flow_item_added(&key_line, block.after_colon, DEFAULTS) else {
                return Err(self.channels_refused(&format!(
                    "line {} (`{}`) is not a one-line [a, b] list; write it as \
                     `{CHANNELS}: [{}, {DEFAULTS}]`",
                    block.line + 1,
                    key_line.trim(),
                    current
                        .iter()
                        .map(|c| c.as_str().unwrap_or("?"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            self.splice(block.line, 1, vec![edited]);
            return Ok(());
        }
        let Some((indent, items)) = self.items(&block) else {
            return Err(self.channels_refused("it is not a block list (one `- channel` per line)"));
        };
        let at = items.last().map_or(block.line + 1, |i| i.end);
        self.splice(at, 0, vec![item(indent)]);
        Ok(())
    }

    fn channels_refused(&self, reason: &str) -> CondarcError {
        // The reason names the line where it can; the file is re-parsed after every edit.
        CondarcError::UnsafeEdit {
            path: self.path.clone(),
            key: CHANNELS,
            reason: format!("{reason}; add `{DEFAULTS}` to it by hand"),
        }
    }
}

/// `line` (a key line whose value after byte `after_colon` is a one-line flow list such as
/// `[conda-forge]`, maybe followed by a comment) with `item` added as the list's last item;
/// `None` for any other layout (nested or multi-line flow collections).
fn with_flow_item_added(line: &str, after_colon: usize, item: &str) -> Option<String> {
    let tail = &line[after_colon..];
    let value_len = super::comment_of(tail).map_or(tail.len(), |c| tail.len() - c.len());
    let value = tail[..value_len].trim_end();
    let start = after_colon + (value.len() - value.trim_start().len());
    let list = value.trim_start();
    let inner = list.strip_prefix('[')?.strip_suffix(']')?;
    if inner.contains(['[', ']', '{', '}', '\n']) || inner.trim().is_empty() {
        return None;
    }
    // The byte just after the last item (before any space and the closing bracket).
    let last = start + 1 + inner.trim_end().len();
    let separator = if inner.trim_end().ends_with(',') {
        " "
    } else {
        ", "
    };
    Some(format!(
        "{}{separator}{item}{}",
        &line[..last],
        &line[last..]
    ))
}

impl Doc {
    /// Takes out the `defaults` that [`add_defaults_to_channels`](Self::add_defaults_to_channels)
    /// added, when `channels` is the backup's value plus that item at the end: the key goes
    /// when the backup had none, else the item's line. Anything else is left as it is.
    pub(super) fn remove_added_defaults(
        &mut self,
        backup: Option<&Value>,
        changes: &mut Vec<String>,
    ) {
        let before: Vec<Value> = match backup {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Sequence(items)) => items.clone(),
            Some(_) => return,
        };
        let Some(Value::Sequence(now)) = self.value.get(CHANNELS).cloned() else {
            return;
        };
        let mut expected = before.clone();
        expected.push(Value::from(DEFAULTS));
        if now != expected || before.iter().any(|c| c.as_str() == Some(DEFAULTS)) {
            return;
        }
        let Some(block) = self.block(CHANNELS) else {
            return;
        };
        let Some((indent, items)) = self.items(&block) else {
            return;
        };
        let Some(last) = items.last().copied() else {
            return;
        };
        if backup.is_none() {
            self.wanted_channels = None;
            self.rewrite_block(&block, None, indent);
        } else {
            self.wanted_channels = Some(Value::Sequence(before));
            let kept = self.comments_as_lines(last.line, last.end - 1, indent);
            self.splice(last.line, last.end - last.line, kept);
        }
        changes
            .push("channels: take out the defaults anacondad added, as in the backup".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use crate::condarc_text::{CondarcError, CondarcSettings, plan};

    fn adding_defaults() -> CondarcSettings {
        CondarcSettings {
            add_defaults_to_channels: true,
            ..CondarcSettings::new("https://repo.example/repo/")
        }
    }

    #[test]
    fn a_one_line_flow_list_gets_defaults_as_its_last_item_and_keeps_its_comment() {
        let edited = plan(
            Some("channels: [conda-forge]  # mine\n"),
            &adding_defaults(),
        )
        .unwrap();
        assert!(
            edited
                .updated
                .starts_with("channels: [conda-forge, defaults]  # mine\n"),
            "{}",
            edited.updated
        );
        let spaced = plan(Some("channels: [ a, b, ]\n"), &adding_defaults()).unwrap();
        assert!(
            spaced.updated.starts_with("channels: [ a, b, defaults ]\n"),
            "{}",
            spaced.updated
        );
    }

    #[test]
    fn a_flow_list_over_several_lines_is_refused_naming_the_line_to_change() {
        let refused = plan(
            Some("channels: [conda-forge,\n  bioconda]\n"),
            &adding_defaults(),
        )
        .unwrap_err();
        assert!(
            matches!(refused, CondarcError::UnsafeEdit { .. }),
            "{refused}"
        );
        let message = refused.to_string();
        assert!(
            message.contains("line 1 (`channels: [conda-forge,`)")
                && message.contains("`channels: [conda-forge, bioconda, defaults]`"),
            "{message}"
        );
    }
}
