//! The `channels` edits for organisation channels: add channel URLs (before `defaults` unless
//! asked otherwise) and take them out again. An entry the user wrote differently (a trailing
//! `/`, the `/t/<token>/` form, another case of the host) counts as the same channel, so it is
//! never added twice. Removing what was added gives back the file as it was: the lines added
//! go, and a `channels` key the add created goes with its last item.

use yaml_serde::Value;

use super::channels::DEFAULTS;
use super::{CHANNELS, CONDA_INDENT, Doc};
use crate::condarc_text::CondarcError;

/// Where added channels go in `channels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelPosition {
    /// Just before `defaults` (conda searches them first), else at the end.
    #[default]
    BeforeDefaults,
    /// First of all.
    Top,
    /// Last of all, after `defaults` too.
    Bottom,
}

/// The form two `channels` entries are compared in: for a URL, scheme and host in lower case,
/// no `/t/<token>` segments, no trailing `/`; anything else (`defaults`, `conda-forge`) as it
/// is written, trimmed.
pub fn channel_key(entry: &str) -> String {
    let entry = entry.trim();
    let Ok(url) = url::Url::parse(entry) else {
        return entry.trim_end_matches('/').to_owned();
    };
    if url.host_str().is_none() {
        return entry.to_owned();
    }
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let segments = match segments.as_slice() {
        ["t", _token, rest @ ..] => rest.to_vec(),
        all => all.to_vec(),
    };
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{}://{}{port}/{}",
        url.scheme(),
        url.host_str().unwrap_or_default().to_ascii_lowercase(),
        segments.join("/")
    )
}

impl Doc {
    pub(super) fn channel_entries(&self) -> Result<Vec<Value>, CondarcError> {
        self.check_list(
            &self.path.clone(),
            CHANNELS,
            "a list of channel names or URLs",
            Value::is_string,
        )?;
        Ok(match self.value.get(CHANNELS) {
            Some(Value::Sequence(items)) => items.clone(),
            _ => Vec::new(),
        })
    }

    /// Adds each of `urls` that `channels` does not hold in any form, at `position`, in the
    /// order given; creates the key when it is absent.
    pub(super) fn add_channel_urls(
        &mut self,
        urls: &[String],
        position: ChannelPosition,
        changes: &mut Vec<String>,
    ) -> Result<(), CondarcError> {
        let current = self.channel_entries()?;
        let mut held: Vec<String> = current
            .iter()
            .filter_map(Value::as_str)
            .map(channel_key)
            .collect();
        let mut new = Vec::new();
        for url in urls {
            let key = channel_key(url);
            if !held.contains(&key) {
                held.push(key);
                new.push(url.clone());
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        let defaults_at = current.iter().position(|c| c.as_str() == Some(DEFAULTS));
        let at = match (position, defaults_at) {
            (ChannelPosition::Top, _) => 0,
            (ChannelPosition::BeforeDefaults, Some(i)) => i,
            _ => current.len(),
        };
        let mut wanted = current.clone();
        wanted.splice(at..at, new.iter().map(|u| Value::from(u.as_str())));
        self.wanted_channels = Some(Value::Sequence(wanted));
        let place = match (position, defaults_at) {
            (ChannelPosition::Top, _) => " (searched first)",
            (ChannelPosition::BeforeDefaults, Some(_)) => " (searched before defaults)",
            _ => "",
        };
        for url in &new {
            changes.push(format!("channels: add {url}{place}"));
        }
        let item = |indent: usize, url: &str| format!("{}- {url}", " ".repeat(indent));
        let Some(block) = self.block(CHANNELS) else {
            let mut lines = vec![format!("{CHANNELS}:")];
            lines.extend(new.iter().map(|u| item(CONDA_INDENT, u)));
            self.append_key(lines);
            return Ok(());
        };
        if current.is_empty() {
            let items: Vec<String> = new.iter().map(|u| item(CONDA_INDENT, u)).collect();
            if block.inline_value {
                let key_line = self.lines[block.line].text.clone();
                let tail = &key_line[block.after_colon..];
                let value = super::comment_of(tail).map_or(tail, |c| &tail[..tail.len() - c.len()]);
                if !matches!(value.trim(), "[]" | "~" | "null") {
                    return Err(self.org_channels_refused());
                }
                let mut first = key_line[..block.after_colon].to_owned();
                if let Some(c) = super::comment_of(tail) {
                    first.push_str("  ");
                    first.push_str(c);
                }
                let mut lines = vec![first];
                lines.extend(items);
                self.splice(block.line, 1, lines);
            } else {
                self.rewrite_block(&block, Some(items), CONDA_INDENT);
            }
            return Ok(());
        }
        let Some((indent, items)) = self.items(&block) else {
            return Err(self.org_channels_refused());
        };
        let line = match items.get(at) {
            Some(item) => item.line,
            None => items.last().map_or(block.line + 1, |i| i.end),
        };
        self.splice(line, 0, new.iter().map(|u| item(indent, u)).collect());
        Ok(())
    }

    /// Takes out every `channels` entry that is one of `urls`: written exactly so when
    /// `exact`, else in any form ([`channel_key`]). The key goes when no entry is left.
    pub(super) fn remove_channel_urls(
        &mut self,
        urls: &[String],
        exact: bool,
        changes: &mut Vec<String>,
    ) -> Result<(), CondarcError> {
        let current = self.channel_entries()?;
        let matches = |entry: &Value| {
            entry.as_str().is_some_and(|e| {
                if exact {
                    urls.iter().any(|u| u.trim() == e.trim())
                } else {
                    urls.iter().any(|u| channel_key(u) == channel_key(e))
                }
            })
        };
        let gone: Vec<usize> = (0..current.len())
            .filter(|&i| matches(&current[i]))
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        let Some(block) = self.block(CHANNELS) else {
            return Err(self.org_channels_refused());
        };
        let Some((indent, items)) = self.items(&block) else {
            return Err(self.org_channels_refused());
        };
        let wanted: Vec<Value> = current.iter().filter(|e| !matches(e)).cloned().collect();
        for &i in &gone {
            changes.push(format!(
                "channels: remove {}",
                current[i].as_str().unwrap_or_default()
            ));
        }
        if wanted.is_empty() {
            self.wanted_channels = None;
            self.rewrite_block(&block, None, indent);
            return Ok(());
        }
        self.wanted_channels = Some(Value::Sequence(wanted));
        for &i in gone.iter().rev() {
            let item = items[i];
            let kept = self.comments_as_lines(item.line, item.end - 1, indent);
            self.splice(item.line, item.end - item.line, kept);
        }
        Ok(())
    }

    fn org_channels_refused(&self) -> CondarcError {
        CondarcError::UnsafeEdit {
            path: self.path.clone(),
            key: CHANNELS,
            reason: "it is not a block list (one `- channel` per line); change it by hand"
                .to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{add_channels_plan, remove_channels_plan};
    use super::*;

    const INTERNAL: &str = "https://repo.anaconda.cloud/repo/acme/internal";
    const TOOLS: &str = "https://repo.anaconda.cloud/repo/acme/tools";

    fn add(text: Option<&str>, urls: &[&str]) -> crate::condarc_text::PlannedEdit {
        let urls: Vec<String> = urls.iter().map(|u| (*u).to_owned()).collect();
        add_channels_plan(
            Path::new(".condarc"),
            text,
            &urls,
            ChannelPosition::BeforeDefaults,
        )
        .unwrap()
    }

    fn remove(text: &str, urls: &[&str]) -> crate::condarc_text::PlannedEdit {
        let urls: Vec<String> = urls.iter().map(|u| (*u).to_owned()).collect();
        remove_channels_plan(Path::new(".condarc"), Some(text), &urls, true).unwrap()
    }

    const SEEDED: &str =
        "# mine\nchannels:\n  - conda-forge  # first\n  - defaults\nssl_verify: true\n";

    #[test]
    fn org_channels_go_before_defaults_and_comments_stay() {
        let plan = add(Some(SEEDED), &[INTERNAL, TOOLS]);
        assert_eq!(
            plan.updated,
            format!(
                "# mine\nchannels:\n  - conda-forge  # first\n  - {INTERNAL}\n  - {TOOLS}\n  - defaults\nssl_verify: true\n"
            )
        );
    }

    #[test]
    fn adding_again_changes_nothing_and_removing_gives_the_file_back() {
        let once = add(Some(SEEDED), &[INTERNAL, TOOLS]);
        let twice = add(Some(&once.updated), &[INTERNAL, TOOLS]);
        assert!(!twice.changed);
        assert_eq!(twice.updated, once.updated);
        let removed = remove(&once.updated, &[INTERNAL, TOOLS]);
        assert_eq!(removed.updated, SEEDED);
    }

    #[test]
    fn a_channels_key_the_add_created_goes_with_the_remove() {
        let original = "ssl_verify: true\n";
        let added = add(Some(original), &[INTERNAL]);
        assert_eq!(
            added.updated,
            format!("ssl_verify: true\nchannels:\n  - {INTERNAL}\n")
        );
        assert_eq!(remove(&added.updated, &[INTERNAL]).updated, original);
    }

    #[test]
    fn an_entry_the_user_wrote_differently_is_not_added_again() {
        let text =
            "channels:\n  - https://repo.anaconda.cloud/t/tk-1/repo/acme/internal/\n  - defaults\n"
                .to_owned();
        let plan = add(Some(&text), &[INTERNAL, TOOLS]);
        assert_eq!(
            plan.updated,
            format!(
                "channels:\n  - https://repo.anaconda.cloud/t/tk-1/repo/acme/internal/\n  - {TOOLS}\n  - defaults\n"
            )
        );
        // An exact removal leaves the user's own form alone.
        let after = remove(&plan.updated, &[INTERNAL, TOOLS]);
        assert_eq!(after.updated, text);
    }

    #[test]
    fn a_malformed_file_is_refused_with_its_line() {
        let urls = vec![INTERNAL.to_owned()];
        let err = add_channels_plan(
            Path::new(".condarc"),
            Some("channels:\n  - defaults\n bad: [\n"),
            &urls,
            ChannelPosition::BeforeDefaults,
        )
        .unwrap_err();
        assert!(
            matches!(err, CondarcError::Malformed { line: 3, .. }),
            "{err}"
        );
        let err = add_channels_plan(
            Path::new(".condarc"),
            Some("channels:\n  - defaults\n  - {a: b}\n"),
            &urls,
            ChannelPosition::BeforeDefaults,
        )
        .unwrap_err();
        assert!(matches!(err, CondarcError::WrongType { .. }), "{err}");
    }

    #[test]
    fn a_trailing_slash_a_token_path_and_the_host_case_are_the_same_channel() {
        let ours = channel_key("https://repo.anaconda.cloud/repo/acme/internal");
        for written in [
            "https://repo.anaconda.cloud/repo/acme/internal/",
            "https://REPO.anaconda.cloud/repo/acme/internal",
            "https://repo.anaconda.cloud/t/tk-123/repo/acme/internal/",
        ] {
            assert_eq!(channel_key(written), ours, "{written}");
        }
        assert_ne!(
            channel_key("https://repo.anaconda.cloud/repo/acme/tools"),
            ours
        );
        assert_eq!(channel_key(" defaults "), "defaults");
    }
}
