//! What a site's name, domain and repository URLs may be, checked before anything is written
//! or reissued for them: a name becomes a TOML key and a label in messages, a domain the key of
//! the site's store record and state, a URL the place credentials are sent. A value the URL
//! parser would rewrite (a line break it drops, a `..` it folds) is refused rather than
//! silently used as something else.

use url::Url;

/// Longest site name.
const MAX_NAME_CHARS: usize = 64;
/// Longest host name (RFC 1035), and longest label in it.
const MAX_HOST_CHARS: usize = 253;
const MAX_LABEL_CHARS: usize = 63;
/// Longest repository URL.
const MAX_URL_CHARS: usize = 2048;

/// Why `name` cannot name a site, or `Ok`: letters, digits, `.`, `-`, `_` and `:` (a site
/// named after its `host:port`), not starting with `.`, at most 64 of them.
pub fn check_site_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a site name: use letters, digits, `.`, `-`, `_` or `:` (at most \
             {MAX_NAME_CHARS}, not starting with `.`)",
            shown(name)
        ))
    }
}

/// Why `domain` cannot be a site's domain, or `Ok`: `host[:port]`, optionally after `http://`
/// or `https://` and before one `/`; a host of DNS labels (or an IP address).
pub fn check_domain(domain: &str) -> Result<(), String> {
    let refused = |why: &str| {
        Err(format!(
            "{} is not a domain ({why}): write host[:port], e.g. anaconda.com or \
             https://anaconda.example:8443",
            shown(domain)
        ))
    };
    let raw = domain.trim();
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return refused("it holds a space or a control character");
    }
    let rest = match raw.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            rest
        }
        Some(_) => return refused("only http:// or https:// may come before the host"),
        None => raw,
    };
    let netloc = rest.strip_suffix('/').unwrap_or(rest);
    if netloc.contains(['/', '\\', '?', '#', '@']) {
        return refused("only the host and port count: no path, query or user");
    }
    let (host, port) = match netloc.rsplit_once(':') {
        Some((bare, _)) if !bare.ends_with(']') && bare.contains(':') => (netloc, None),
        Some((host, port)) => (host, Some(port)),
        None => (netloc, None),
    };
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p != 0)
    {
        return refused("the port is not a number from 1 to 65535");
    }
    if host.starts_with('[') && host.ends_with(']') {
        return match host[1..host.len() - 1].parse::<std::net::Ipv6Addr>() {
            Ok(_) => Ok(()),
            Err(_) => refused("not an IPv6 address"),
        };
    }
    if host.is_empty() || host.len() > MAX_HOST_CHARS {
        return refused(&format!("a host name has 1 to {MAX_HOST_CHARS} characters"));
    }
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_CHARS
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if !labels_ok {
        return refused("a host name is labels of letters, digits and `-` between dots");
    }
    Ok(())
}

/// Why `url` cannot be a repository URL, or `Ok`: an http(s) URL that reads the same once
/// parsed (up to the case of scheme and host, and a trailing `/`).
pub fn check_url(url: &str) -> Result<(), String> {
    // Surrounding blanks are trimmed wherever a URL is read; inner ones are refused below.
    let url = url.trim();
    let refused = |why: String| Err(format!("{} is not a usable URL ({why})", shown(url)));
    if url.chars().count() > MAX_URL_CHARS {
        return refused(format!("longer than {MAX_URL_CHARS} characters"));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return refused("it holds a space or a control character".to_owned());
    }
    let parsed = match Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => return refused(e.to_string()),
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return refused("only http and https are served".to_owned());
    }
    let same = |a: &str, b: &str| {
        a.trim_end_matches('/')
            .eq_ignore_ascii_case(b.trim_end_matches('/'))
    };
    if !same(parsed.as_str(), url) {
        return refused(format!(
            "it reads as {} once parsed: write it that way if that is what you mean",
            shown(parsed.as_str())
        ));
    }
    Ok(())
}

/// Everything `sites add` is given, checked before anything is written.
pub fn check_site(name: &str, domain: &str, repo_urls: &[String]) -> Result<(), String> {
    check_site_name(name)?;
    check_domain(domain)?;
    repo_urls.iter().try_for_each(|url| check_url(url))
}

/// `text` quoted, with control characters escaped and cut to a readable length.
fn shown(text: &str) -> String {
    const SHOWN_CHARS: usize = 80;
    let cut: String = text.chars().take(SHOWN_CHARS).collect();
    let more = if text.chars().count() > SHOWN_CHARS {
        "..."
    } else {
        ""
    };
    format!("{:?}{more}", cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_names_are_letters_digits_dots_dashes_and_underscores() {
        for ok in ["work", "anaconda.com", "team_2-eu", "127.0.0.1:8080"] {
            assert_eq!(check_site_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "../../x",
            "a/b",
            "",
            ".hidden",
            "a b",
            "x\ny",
            &"n".repeat(65),
        ] {
            let err = check_site_name(bad).unwrap_err();
            assert!(err.contains("not a site name"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_domain_is_a_host_and_port_and_nothing_more() {
        for ok in [
            "anaconda.com",
            "https://anaconda.example:8443",
            "http://127.0.0.1:8080/",
            "HTTPS://Anaconda.COM",
            "[::1]:8443",
            "localhost",
        ] {
            assert_eq!(check_domain(ok), Ok(()), "{ok}");
        }
        let long = format!("{}.example", "a".repeat(5000));
        for bad in [
            "h:1/../../etc",
            long.as_str(),
            "anaconda.com/path",
            "ftp://anaconda.com",
            "user@anaconda.com",
            "anaconda.com:0",
            "anaconda.com:99999",
            "ana conda.com",
            "anacon\nda.com",
            "-bad-.com",
            "a..b",
            "",
        ] {
            let err = check_domain(bad).unwrap_err();
            assert!(err.contains("is not a domain"), "{bad}: {err}");
            assert!(err.len() < 400, "{err}");
        }
    }

    #[test]
    fn a_url_the_parser_would_rewrite_is_refused() {
        for ok in [
            "https://repo.example/repo/",
            "https://repo.example/repo",
            "http://127.0.0.1:8080/repo/",
            "https://Repo.Example/repo/",
        ] {
            assert_eq!(check_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "https://repo.example/re\npo/",
            "https://repo.example/re\tpo/",
            "https://repo.example/a/../../etc/",
            "https://repo.example/a b/",
            "https://repo.example\\repo\\",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        let err = check_url("https://repo.example/x/../y/").unwrap_err();
        assert!(err.contains("https://repo.example/y/"), "{err}");
    }
}
