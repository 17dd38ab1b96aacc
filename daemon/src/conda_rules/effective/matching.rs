//! Which `channel_settings` entry conda uses for a URL: the channel a URL belongs to, and
//! conda's exact-name and glob rules.

use super::ChannelSetting;

/// The channel a URL belongs to, as conda's `split_conda_url_easy_parts` cuts it: the first
/// platform segment (`/linux-64`, `/noarch`, ...) removed, then the last segment when it is a
/// package or repodata file (`.conda`, `.tar.bz2`, `.json`, `.json.zst`). Other files stay part
/// of the "channel": conda names `.../linux-64/repodata_shards.msgpack.zst` the channel
/// `.../repodata_shards.msgpack.zst`, so the exact-name rule misses sharded repodata.
pub(super) fn channel_base(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let (origin, path) = match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('/') {
            Some((host, path)) => (format!("{scheme}://{host}"), path),
            None => (format!("{scheme}://{rest}"), ""),
        },
        None => (String::new(), url),
    };
    let mut segments: Vec<&str> = path.split('/').collect();
    if let Some(at) = segments.iter().position(|s| is_subdir(s)) {
        segments.remove(at);
    }
    let mut path = segments.join("/").trim_end_matches('/').to_string();
    let is_file = [".conda", ".tar.bz2", ".json", ".json.zst"]
        .iter()
        .any(|ext| path.ends_with(ext));
    if is_file && let Some((dir, _)) = path.rsplit_once('/') {
        path = dir.to_string();
    }
    if origin.is_empty() {
        path
    } else if path.is_empty() {
        origin
    } else {
        format!("{origin}/{path}")
    }
}

fn is_subdir(segment: &str) -> bool {
    segment == "noarch"
        || [
            "linux-",
            "osx-",
            "win-",
            "zos-",
            "freebsd-",
            "emscripten-",
            "wasi-",
        ]
        .iter()
        .any(|p| segment.starts_with(p))
}

/// The path of a URL without its leading `/`, or the text itself when it is no URL.
pub(super) fn path_of(url: &str) -> String {
    match url.split_once("://") {
        Some((_, rest)) => rest
            .split_once('/')
            .map(|(_, path)| path.trim_end_matches('/').to_string())
            .unwrap_or_default(),
        None => url.trim_matches('/').to_string(),
    }
}

/// conda's rule (`get_session`): the exact canonical name, or a glob over `host[:port]/path`
/// with the same scheme (a pattern without a scheme matches nothing).
pub(super) fn setting_matches(setting: &ChannelSetting, url: &str, canonical: &str) -> bool {
    let channel = setting.channel();
    if channel == canonical {
        return true;
    }
    let (Some((url_scheme, url_rest)), Some((pattern_scheme, pattern_rest))) =
        (split_scheme(url), split_scheme(channel))
    else {
        return false;
    };
    if url_scheme != pattern_scheme {
        return false;
    }
    fnmatch(url_rest, pattern_rest)
}

/// `(scheme, netloc + path)` as Python's `urlparse` splits them (query and fragment dropped).
fn split_scheme(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    Some((scheme.to_ascii_lowercase(), rest))
}

/// Python's `fnmatch.fnmatch` on POSIX (case-sensitive): `*` any run (including `/`), `?` one
/// character, `[seq]` / `[!seq]` a set.
pub fn fnmatch(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let pattern: Vec<char> = pattern.chars().collect();
    fn matches(t: &[char], p: &[char]) -> bool {
        let (mut ti, mut pi) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            if pi < p.len() {
                match p[pi] {
                    '*' => {
                        star = Some((pi, ti));
                        pi += 1;
                        continue;
                    }
                    '?' => {
                        ti += 1;
                        pi += 1;
                        continue;
                    }
                    '[' => {
                        if let Some((matched, next)) = class(&p[pi..], t[ti]) {
                            if matched {
                                ti += 1;
                                pi += next;
                                continue;
                            }
                        } else if t[ti] == '[' {
                            ti += 1;
                            pi += 1;
                            continue;
                        }
                    }
                    c if c == t[ti] => {
                        ti += 1;
                        pi += 1;
                        continue;
                    }
                    _ => {}
                }
            }
            match star {
                Some((spi, sti)) => {
                    pi = spi + 1;
                    ti = sti + 1;
                    star = Some((spi, sti + 1));
                }
                None => return false,
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }
    /// A `[...]` set at the start of `p`: whether `c` is in it and the set's length; `None`
    /// when the `[` opens no set (then it is a literal, as in Python).
    fn class(p: &[char], c: char) -> Option<(bool, usize)> {
        let mut i = 1;
        let negate = i < p.len() && p[i] == '!';
        if negate {
            i += 1;
        }
        let start = i;
        let mut found = false;
        while i < p.len() && (p[i] != ']' || i == start) {
            if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
                if p[i] <= c && c <= p[i + 2] {
                    found = true;
                }
                i += 3;
            } else {
                if p[i] == c {
                    found = true;
                }
                i += 1;
            }
        }
        if i >= p.len() {
            return None;
        }
        Some((found != negate, i + 1))
    }
    matches(&text, &pattern)
}
