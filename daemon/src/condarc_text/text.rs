//! Line-level view of a `.condarc`: just enough YAML structure (top-level keys, block list
//! items, single-line scalars, comments) to edit two keys in place without touching any other
//! byte. Every edit built on this is re-parsed and compared before it is accepted.

/// One physical line: its text without the terminator, and the terminator it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) text: String,
    pub(crate) eol: String,
}

/// Splits `source` into lines that keep their own terminators, so a file with CRLF (or mixed)
/// line endings is written back exactly as it came.
pub(crate) fn split_lines(source: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut rest = source;
    while !rest.is_empty() {
        let (line, eol, next) = match rest.find('\n') {
            Some(i) if i > 0 && rest.as_bytes()[i - 1] == b'\r' => {
                (&rest[..i - 1], "\r\n", &rest[i + 1..])
            }
            Some(i) => (&rest[..i], "\n", &rest[i + 1..]),
            None => (rest, "", ""),
        };
        lines.push(Line {
            text: line.to_owned(),
            eol: eol.to_owned(),
        });
        rest = next;
    }
    lines
}

pub(crate) fn join_lines(lines: &[Line]) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(&line.text);
        out.push_str(&line.eol);
    }
    out
}

/// The terminator new lines get: CRLF when the file mostly uses it, else LF.
pub(crate) fn dominant_eol(lines: &[Line]) -> &'static str {
    let crlf = lines.iter().filter(|l| l.eol == "\r\n").count();
    let lf = lines.iter().filter(|l| l.eol == "\n").count();
    if crlf > lf { "\r\n" } else { "\n" }
}

pub(crate) fn indent_of(text: &str) -> usize {
    text.len() - text.trim_start_matches(' ').len()
}

/// Blank, or only a comment.
pub(crate) fn is_trivia(text: &str) -> bool {
    let t = text.trim_start_matches([' ', '\t']);
    t.is_empty() || t.starts_with('#')
}

pub(crate) fn is_document_marker(text: &str) -> bool {
    let starts = |m: &str| {
        text.starts_with(m)
            && text[m.len()..]
                .chars()
                .next()
                .is_none_or(|c| c == ' ' || c == '\t')
    };
    starts("---") || starts("...")
}

/// A scalar written on one line: where it sits and how it was quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quote {
    Plain,
    Single,
    Double,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InlineScalar {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) quote: Quote,
    /// The unquoted value (escapes in double quotes are only the common ones; the result is
    /// re-parsed anyway, so an unusual escape can only make an edit refuse, never go wrong).
    pub(crate) value: String,
}

/// Reads a single-line scalar starting at byte `from` of `text`; succeeds only when the rest
/// of the line after it is blank or a comment.
pub(crate) fn inline_scalar(text: &str, from: usize) -> Option<InlineScalar> {
    let bytes = text.as_bytes();
    let mut start = from;
    while start < bytes.len() && bytes[start] == b' ' {
        start += 1;
    }
    if start >= bytes.len() {
        return None;
    }
    let (end, quote, value) = match bytes[start] {
        b'\'' => {
            let mut i = start + 1;
            let mut value = String::new();
            loop {
                let c = text[i..].chars().next()?;
                if c == '\'' {
                    if text[i + 1..].starts_with('\'') {
                        value.push('\'');
                        i += 2;
                        continue;
                    }
                    break (i + 1, Quote::Single, value);
                }
                value.push(c);
                i += c.len_utf8();
            }
        }
        b'"' => {
            let mut i = start + 1;
            let mut value = String::new();
            loop {
                let c = text[i..].chars().next()?;
                match c {
                    '"' => break (i + 1, Quote::Double, value),
                    '\\' => {
                        let e = text[i + 1..].chars().next()?;
                        value.push(match e {
                            '"' => '"',
                            '\\' => '\\',
                            '/' => '/',
                            _ => return None,
                        });
                        i += 1 + e.len_utf8();
                    }
                    _ => {
                        value.push(c);
                        i += c.len_utf8();
                    }
                }
            }
        }
        b'[' | b'{' | b'&' | b'*' | b'!' | b'|' | b'>' | b'@' | b'`' | b'%' | b'#' | b',' => {
            return None;
        }
        _ => {
            let rest = &text[start..];
            let cut = comment_start(rest).unwrap_or(rest.len());
            let value = rest[..cut].trim_end_matches([' ', '\t']);
            if value.is_empty() || value.contains(": ") || value.ends_with(':') {
                return None;
            }
            (start + value.len(), Quote::Plain, value.to_owned())
        }
    };
    let tail = text[end..].trim_start_matches([' ', '\t']);
    if !(tail.is_empty()
        || tail.starts_with('#') && end < text.len() && text[end..].starts_with([' ', '\t']))
    {
        return None;
    }
    Some(InlineScalar {
        start,
        end,
        quote,
        value,
    })
}

/// Byte offset of a comment in the unquoted tail of a plain line: a `#` at the start or after
/// a space or tab (`http://h/#x` is not a comment).
fn comment_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len())
        .find(|&i| bytes[i] == b'#' && (i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t'))
}

/// The comment on a line, if any, found by a small scanner that skips quoted text. Used both to
/// move comments and to check that an edit kept every comment of the original.
pub(crate) fn comment_of(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut prev_blank = true;
    while i < bytes.len() {
        match bytes[i] {
            b'#' if prev_blank => return Some(&text[i..]),
            b'\''
                if prev_blank
                    || matches!(bytes.get(i.wrapping_sub(1)), Some(b'[' | b'{' | b',')) =>
            {
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == b'\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'"' if prev_blank
                || matches!(bytes.get(i.wrapping_sub(1)), Some(b'[' | b'{' | b',')) =>
            {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        prev_blank = matches!(bytes.get(i), Some(b' ' | b'\t'));
        i += 1;
    }
    None
}

/// `key:` at byte `at` of `text`: returns the key (unquoted) and the offset just after the
/// colon. Only plain and simply quoted keys are recognised.
pub(crate) fn key_at(text: &str, at: usize) -> Option<(String, usize)> {
    let rest = text.get(at..)?;
    let (key, after) = if rest.starts_with(['"', '\'']) {
        inline_key_quoted(rest)?
    } else {
        let colon = find_key_colon(rest)?;
        (
            rest[..colon].trim_end_matches([' ', '\t']).to_owned(),
            colon,
        )
    };
    let after_colon = rest[after..].strip_prefix(':')?;
    if !(after_colon.is_empty() || after_colon.starts_with([' ', '\t'])) {
        return None;
    }
    if key.is_empty() || key.starts_with(['#', '[', '{', '?', '&', '*', '!', '|', '>']) {
        return None;
    }
    Some((key, at + after + 1))
}

fn inline_key_quoted(rest: &str) -> Option<(String, usize)> {
    let q = rest.as_bytes()[0];
    let mut i = 1;
    let mut key = String::new();
    let bytes = rest.as_bytes();
    while i < bytes.len() {
        if bytes[i] == q {
            if q == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                key.push('\'');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            return Some((key, j));
        }
        if q == b'"' && bytes[i] == b'\\' {
            return None;
        }
        let c = rest[i..].chars().next()?;
        key.push(c);
        i += c.len_utf8();
    }
    None
}

fn find_key_colon(rest: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    for i in 0..bytes.len() {
        match bytes[i] {
            b'#' if i == 0 || bytes[i - 1] == b' ' => return None,
            b':' if bytes.get(i + 1).is_none_or(|b| *b == b' ' || *b == b'\t') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Writes `value` as a scalar in the given style, falling back to double quotes when the plain
/// form would read differently.
pub(crate) fn render_scalar(value: &str, quote: Quote) -> String {
    match quote {
        Quote::Single => format!("'{}'", value.replace('\'', "''")),
        Quote::Double => format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")),
        Quote::Plain if plain_is_safe(value) => value.to_owned(),
        Quote::Plain => render_scalar(value, Quote::Double),
    }
}

fn plain_is_safe(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:/?&=+%@*$!()".contains(c))
        && !value.starts_with(['-', '?', ':', '*', '&', '!', '%', '@'])
        && !value.ends_with(':')
        && !value.contains(": ")
        && !matches!(
            value.to_ascii_lowercase().as_str(),
            "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "~"
        )
        && value.parse::<f64>().is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_missing_final_newline_round_trip() {
        let source = "a: 1\r\nb: 2\nc: 3";
        assert_eq!(join_lines(&split_lines(source)), source);
    }

    #[test]
    fn comments_inside_quotes_and_urls_are_not_comments() {
        assert_eq!(comment_of("  - 'a # b'  # real"), Some("# real"));
        assert_eq!(comment_of("  - http://h/#frag"), None);
        assert_eq!(comment_of("# whole"), Some("# whole"));
        assert_eq!(comment_of("key: \"x # y\""), None);
    }

    #[test]
    fn inline_scalars_keep_their_quoting() {
        let s = inline_scalar("  - 'https://x/main'  # c", 4).unwrap();
        assert_eq!(
            (s.quote, s.value.as_str()),
            (Quote::Single, "https://x/main")
        );
        assert_eq!(inline_scalar("auth: [a]", 5), None);
        let p = inline_scalar("auth: anaconda-auth # c", 5).unwrap();
        assert_eq!(&"auth: anaconda-auth # c"[p.start..p.end], "anaconda-auth");
    }

    #[test]
    fn keys_are_found_plain_and_quoted() {
        assert_eq!(
            key_at("default_channels:", 0),
            Some(("default_channels".into(), 17))
        );
        assert_eq!(key_at("'auth': x", 0).map(|k| k.0), Some("auth".into()));
        assert_eq!(key_at("- item", 0), None);
        assert_eq!(key_at("http://x", 0), None);
    }

    #[test]
    fn risky_plain_values_get_quoted() {
        assert_eq!(
            render_scalar("https://repo.anaconda.cloud/*", Quote::Plain),
            "https://repo.anaconda.cloud/*"
        );
        assert_eq!(render_scalar("yes", Quote::Plain), "\"yes\"");
        assert_eq!(render_scalar("it's", Quote::Single), "'it''s'");
    }
}
