//! A `.env` file as anaconda-auth reads it (anaconda-cli-base 0.9.1 sets pydantic-settings'
//! `env_file=".env"`: the file `.env` in the working directory, read with python-dotenv):
//! `KEY=value` statements, `export ` before a key, `#` comments, single- or double-quoted
//! values (which may span lines; `\n`, `\"`, ... decoded in double quotes, `\'` and `\\` in
//! single ones), unquoted values up to the line's end less a ` # comment`, and `${NAME}` or
//! `${NAME:-default}` expanded from the statements before it, then the environment. Keys are
//! matched without regard to case, as pydantic-settings does. A statement python-dotenv cannot
//! parse is left out, the rest of the file read, as there; here each one is a warning naming
//! the file and its line.
//!
//! Only the keys of anaconda-auth's settings (`ANACONDA_AUTH_*`) are taken from the file:
//! `CONDA_TOKEN_REPO_URL`, `ANACONDA_CONFIG_TOML` and `ANACONDA_SECRETS_DIR` are read from the
//! environment alone, there too. In anaconda-auth's order of sources the file comes below the
//! environment and the secrets directory and above `~/.anaconda/config.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::EnvSnapshot;
use super::layer::Layer;
use super::origin::Source;

/// The file's name, in the directory the daemon started in.
pub const FILE_NAME: &str = ".env";
/// The prefix of anaconda-auth's settings, the only keys read from the file.
const PREFIX: &str = "ANACONDA_AUTH_";

/// What a `.env` file says: its statements (keys in upper case, later ones winning) and the
/// statements that could not be parsed.
#[derive(Debug, Default)]
pub struct DotEnv {
    pub path: PathBuf,
    pub values: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

impl DotEnv {
    /// The file `.env` in `dir`, when there is one (a file that cannot be read is a warning).
    pub fn read(dir: &Path, env: &EnvSnapshot) -> Option<Self> {
        let path = dir.join(FILE_NAME);
        match crate::fsutil::read_regular_text(&path) {
            Ok(Some(text)) => Some(Self::parse(&path, &text, env)),
            Ok(None) => None,
            Err(e) => Some(Self {
                warnings: vec![format!(
                    "{} was left out: it cannot be read ({e})",
                    Source::DotEnv(path.clone())
                )],
                path,
                ..Self::default()
            }),
        }
    }

    /// `text` as the file at `path`; `env` is what `${NAME}` falls back to.
    pub fn parse(path: &Path, text: &str, env: &EnvSnapshot) -> Self {
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        let mut said: BTreeMap<String, String> = BTreeMap::new();
        let mut warnings = Vec::new();
        let mut reader = Reader::new(text);
        while let Some(statement) = reader.statement() {
            match statement {
                Statement::Binding { key, value } => {
                    let value = expand(&value, &said, env);
                    said.insert(key.clone(), value.clone());
                    values.insert(key.to_ascii_uppercase(), value);
                }
                Statement::Nothing => {}
                Statement::Malformed { line, text } => warnings.push(format!(
                    "{} line {line} cannot be parsed and was left out, as anaconda-auth leaves \
                     it out: {:?}; write it as KEY=value (quote a value with spaces or #)",
                    Source::DotEnv(path.to_path_buf()),
                    text.trim_end()
                )),
            }
        }
        Self {
            path: path.to_path_buf(),
            values,
            warnings,
        }
    }

    /// The file's `ANACONDA_AUTH_*` keys as an environment of their own.
    pub fn anaconda_auth_keys(&self) -> EnvSnapshot {
        self.values
            .iter()
            .filter(|(key, _)| key.starts_with(PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The file's site keys and keyring path as a layer, each value said by the file.
pub fn layer(dotenv: &DotEnv, home: &Path) -> Layer {
    let source = Source::DotEnv(dotenv.path.clone());
    super::variables::clients_said(&dotenv.anaconda_auth_keys(), home, &|_| source.clone())
}

/// `${NAME}` and `${NAME:-default}` in `value`, from the statements before it, then `env`.
fn expand(value: &str, said: &BTreeMap<String, String>, env: &EnvSnapshot) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        let inner = &rest[start + 2..start + 2 + len];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        out.push_str(&rest[..start]);
        let found = said
            .get(name)
            .map(String::as_str)
            .or_else(|| env.map().get(name).map(String::as_str));
        out.push_str(found.or(default).unwrap_or_default());
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    out
}

enum Statement {
    Binding {
        key: String,
        value: String,
    },
    /// A comment, a blank, or a key without `=` (python-dotenv gives it no value).
    Nothing,
    Malformed {
        line: usize,
        text: String,
    },
}

/// python-dotenv's parser, over the file's text.
struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.strip_prefix('\u{feff}').unwrap_or(text),
            at: 0,
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn line_at(&self, at: usize) -> usize {
        1 + self.text[..at]
            .bytes()
            .enumerate()
            .filter(|&(i, b)| {
                b == b'\n' || (b == b'\r' && self.text.as_bytes().get(i + 1) != Some(&b'\n'))
            })
            .count()
    }

    /// Skips characters while `keep` holds; answers what it skipped.
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c| !keep(c)).unwrap_or(rest.len());
        self.at += len;
        &rest[..len]
    }

    fn statement(&mut self) -> Option<Statement> {
        let mark = self.at;
        self.take_while(char::is_whitespace);
        if self.rest().is_empty() {
            return None;
        }
        let start = self.at;
        match self.binding() {
            Some(statement) => Some(statement),
            None => {
                self.at = start;
                let line = self.take_while(|c| c != '\n' && c != '\r');
                let text = line.to_owned();
                if self.rest().starts_with("\r\n") {
                    self.at += 2;
                } else if !self.rest().is_empty() {
                    self.at += 1;
                }
                let _ = mark;
                Some(Statement::Malformed {
                    line: self.line_at(start),
                    text,
                })
            }
        }
    }

    /// One `KEY=value` statement; `None` when it does not parse.
    fn binding(&mut self) -> Option<Statement> {
        let blank = |c: char| c != '\n' && c != '\r' && c.is_whitespace();
        if let Some(after) = self.rest().strip_prefix("export")
            && after.starts_with(blank)
        {
            self.at += "export".len();
            self.take_while(blank);
        }
        let key = if self.rest().starts_with('#') {
            None
        } else if let Some(quoted) = self.rest().strip_prefix('\'') {
            let end = quoted.find('\'').filter(|&n| n > 0)?;
            self.at += end + 2;
            Some(quoted[..end].to_owned())
        } else {
            let key = self.take_while(|c| c != '=' && c != '#' && !c.is_whitespace());
            if key.is_empty() {
                return None;
            }
            Some(key.to_owned())
        };
        self.take_while(blank);
        let mut value = None;
        if key.is_some() && self.rest().starts_with('=') {
            self.at += 1;
            let spaced = !self.take_while(blank).is_empty();
            value = Some(if spaced && self.rest().starts_with('#') {
                String::new()
            } else {
                self.value()?
            });
        }
        // An optional comment, then the line's end.
        self.take_while(blank);
        if self.rest().starts_with('#') {
            self.take_while(|c| c != '\n' && c != '\r');
        }
        self.take_while(blank);
        if self.rest().starts_with("\r\n") {
            self.at += 2;
        } else if self.rest().starts_with(['\n', '\r']) {
            self.at += 1;
        } else if !self.rest().is_empty() {
            return None;
        }
        Some(match (key, value) {
            (Some(key), Some(value)) => Statement::Binding { key, value },
            _ => Statement::Nothing,
        })
    }

    fn value(&mut self) -> Option<String> {
        let rest = self.rest();
        match rest.chars().next() {
            Some(quote @ ('\'' | '"')) => {
                let body = &rest[1..];
                let mut escaped = false;
                let end = body.char_indices().find_map(|(i, c)| {
                    if escaped {
                        escaped = false;
                        None
                    } else if c == '\\' {
                        escaped = true;
                        None
                    } else {
                        (c == quote).then_some(i)
                    }
                })?;
                self.at += end + 2;
                Some(unescape(&body[..end], quote))
            }
            None | Some('\n' | '\r') => Some(String::new()),
            Some(_) => {
                let line = self.take_while(|c| c != '\n' && c != '\r');
                let value = match line.find(" #").or_else(|| line.find("\t#")) {
                    Some(comment) => &line[..comment],
                    None => line,
                };
                Some(value.trim_end().to_owned())
            }
        }
    }
}

/// The escapes python-dotenv decodes: in single quotes `\\` and `\'`; in double quotes those,
/// `\"` and `\a \b \f \n \r \t \v`.
fn unescape(body: &str, quote: char) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let decoded = match (quote, chars.peek().copied()) {
            (_, Some(e @ ('\\' | '\''))) => Some(e),
            ('"', Some('"')) => Some('"'),
            ('"', Some('a')) => Some('\u{7}'),
            ('"', Some('b')) => Some('\u{8}'),
            ('"', Some('f')) => Some('\u{c}'),
            ('"', Some('n')) => Some('\n'),
            ('"', Some('r')) => Some('\r'),
            ('"', Some('t')) => Some('\t'),
            ('"', Some('v')) => Some('\u{b}'),
            _ => None,
        };
        match decoded {
            Some(d) => {
                chars.next();
                out.push(d);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> DotEnv {
        let env: EnvSnapshot = [("HOME_DIR", "/home/me")].into_iter().collect();
        DotEnv::parse(Path::new("/job/.env"), text, &env)
    }

    #[test]
    fn statements_are_read_as_python_dotenv_reads_them() {
        let file = parsed(
            "# a comment\n\
             export ANACONDA_AUTH_API_KEY=abc # the key\n\
             anaconda_auth_domain = 'example.com'\n\
             QUOTED=\"a\\nb # not a comment\"\n\
             MULTI='one\ntwo'\n\
             EMPTY=\n\
             SPACED= # only a comment\n\
             BARE\n\
             PATH_ISH=${HOME_DIR}/x:${MISSING:-fallback}:${QUOTED}\n",
        );
        let v = |k: &str| file.values.get(k).map(String::as_str);
        assert_eq!(v("ANACONDA_AUTH_API_KEY"), Some("abc"));
        assert_eq!(v("ANACONDA_AUTH_DOMAIN"), Some("example.com"));
        assert_eq!(v("QUOTED"), Some("a\nb # not a comment"));
        assert_eq!(v("MULTI"), Some("one\ntwo"));
        assert_eq!(v("EMPTY"), Some(""));
        assert_eq!(v("SPACED"), Some(""));
        assert_eq!(v("BARE"), None);
        assert_eq!(
            v("PATH_ISH"),
            Some("/home/me/x:fallback:a\nb # not a comment")
        );
        assert!(file.warnings.is_empty(), "{:?}", file.warnings);
        let keys = file.anaconda_auth_keys();
        assert_eq!(keys.get("ANACONDA_AUTH_API_KEY"), Some("abc"));
        assert_eq!(keys.get("QUOTED"), None, "only anaconda-auth's keys");
    }

    #[test]
    fn a_statement_that_does_not_parse_is_named_by_file_and_line_and_the_rest_is_read() {
        let file = parsed("A=1\nB=\"unterminated\nC=3\nD E\nF=6\n");
        assert_eq!(file.values.get("A").map(String::as_str), Some("1"));
        assert_eq!(file.values.get("F").map(String::as_str), Some("6"));
        assert_eq!(file.values.get("B"), None);
        assert_eq!(file.warnings.len(), 2, "{:?}", file.warnings);
        assert!(
            file.warnings[0].contains(".env (/job/.env) line 2"),
            "{:?}",
            file.warnings
        );
        assert!(file.warnings[1].contains("line 4"), "{:?}", file.warnings);
    }
}
