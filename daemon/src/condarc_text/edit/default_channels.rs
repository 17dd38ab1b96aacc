//! The `default_channels` edit: give the key a list of channels, item by item in place where
//! the layout allows (each item keeps its quoting and comment), or remove it.

use yaml_serde::Value;

use super::{CONDA_INDENT, DEFAULT_CHANNELS, Doc, Item, string_list};
use crate::condarc_text::CondarcError;
use crate::condarc_text::text::{InlineScalar, Quote, inline_scalar, is_trivia, render_scalar};

impl Doc {
    /// Gives `default_channels` the value `wanted` (`None`: remove the key).
    pub(super) fn set_default_channels(
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
}
