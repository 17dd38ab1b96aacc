//! Turning daemon answers into what a person reads, or into JSON.

use anacondad_proto::v1::{
    CondarcState, CondarcStatus, LoginState, LoginStatus, StatusResponse, StorageBackend,
    StorageStatus, TokenState, TokenSummary, WatchResponse,
};
use std::borrow::Cow;

/// Whether `c` can steer a terminal or reorder what is shown: C0 controls (ESC starts cursor
/// moves, colours and OSC 8 links), DEL, C1 controls (U+009B is a one-character CSI), and the
/// bidirectional and line-separator marks that make text read differently from its bytes.
fn is_steering(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

fn neutralise(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| is_steering(c) && !(keep_newlines && c == '\n');
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            // Visible, and also a valid escape inside a JSON string.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for the terminal: every character that could move the cursor, change colours, make a
/// link or reorder the line is shown as a visible `\uXXXX` instead; line breaks stay. Everything
/// the CLI prints goes through this (the `outln!`/`errln!` macros), because much of it came
/// from outside: the service's names, titles, device URI and code, and error reasons.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    neutralise(text, true)
}

/// One field from outside (a username, an org title, a user code) on one line: like
/// [`terminal_safe`], and a line break in it is shown as `\u000a` too, so it cannot forge
/// a line of our own.
pub fn one_line(text: &str) -> Cow<'_, str> {
    neutralise(text, false)
}

/// `2026-12-01 10:00:00 UTC`, or `never`/`unknown` for 0.
pub fn time(unix: i64) -> String {
    if unix == 0 {
        return "unknown".to_owned();
    }
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| unix.to_string())
}

/// A duration as `3d 4h`, `5m 2s`, `40s`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// The tool an export serves, as `anacondactl export --for` names it.
pub fn export_tool(e: &anacondad_proto::v1::ExportStatus) -> &'static str {
    use anacondad_proto::v1::ExportTarget;
    match e.target() {
        ExportTarget::Rattler => "pixi",
        ExportTarget::Mamba => "mamba",
        ExportTarget::Unspecified => "unknown",
    }
}

/// One line per export, then one per entry, indented by `indent`.
pub fn export_lines(e: &anacondad_proto::v1::ExportStatus, indent: &str) -> String {
    let state = if e.enabled { "on" } else { "off" };
    let written = if e.last_written_at == 0 {
        "never written".to_owned()
    } else {
        format!("last written {}", time(e.last_written_at))
    };
    let mut out = format!(
        "{indent}{} ({state}): {}, {written}\n",
        export_tool(e),
        terminal_safe(&e.location)
    );
    for x in &e.entries {
        out.push_str(&format!(
            "{indent}  {} {} ({})\n",
            terminal_safe(&x.key),
            x.kind,
            x.credential
        ));
    }
    if !e.last_error.is_empty() {
        out.push_str(&format!(
            "{indent}  error: {}\n",
            terminal_safe(&e.last_error)
        ));
    }
    out
}

pub fn storage_line(s: Option<&StorageStatus>) -> String {
    match s {
        None => "not known yet".to_owned(),
        Some(s) => {
            let what = match s.backend() {
                StorageBackend::System => "OS keychain",
                StorageBackend::File => "file",
                StorageBackend::Memory => "memory (test only)",
                StorageBackend::Unspecified => "not chosen yet",
            };
            let mut line = what.to_owned();
            if !s.location.is_empty() {
                line.push_str(&format!(" ({})", s.location));
            }
            line
        }
    }
}

pub fn login_line(l: Option<&LoginStatus>) -> String {
    let Some(l) = l else {
        return "not known yet".to_owned();
    };
    match l.state() {
        LoginState::LoggedIn | LoginState::Expiring => {
            let mut line = if l.username.is_empty() {
                format!("logged in to {}", one_line(&l.domain))
            } else {
                format!(
                    "logged in to {} as {}",
                    one_line(&l.domain),
                    one_line(&l.username)
                )
            };
            if l.api_key_expires_at != 0 {
                line.push_str(&format!(", API key expires {}", time(l.api_key_expires_at)));
            }
            if l.api_key_from_environment {
                line.push_str(" (API key from ANACONDA_AUTH_API_KEY)");
            }
            line
        }
        LoginState::LoginRequired => {
            format!("login required for {}: run `anacondactl login`", l.domain)
        }
        LoginState::StoreUnreadable => format!(
            "not known for {}: the credential store cannot be read (see the warning above)",
            l.domain
        ),
        LoginState::LoggedOut | LoginState::Unspecified => {
            format!("not logged in to {}", l.domain)
        }
    }
}

/// How a state reads at a glance: green, yellow or red on a terminal that takes colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Warn,
    Fail,
}

/// Whether states are coloured: only on a terminal, and not when `NO_COLOR` is set to
/// anything but the empty string (no-color.org) or the terminal is `dumb`.
pub fn colour_wanted(
    is_terminal: bool,
    no_color: Option<&std::ffi::OsStr>,
    term: Option<&std::ffi::OsStr>,
) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
}

/// `text` in the colour of `tone` when `colour` is on; `text` must already be safe for the
/// terminal (the escape sequences added here are the only ones).
pub fn paint(text: &str, tone: Tone, colour: bool) -> String {
    if !colour {
        return text.to_owned();
    }
    let code = match tone {
        Tone::Ok => "32",
        Tone::Warn => "33",
        Tone::Fail => "1;31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The tone of a token's state in `token list`.
pub fn token_tone(t: &TokenSummary) -> Tone {
    match t.state() {
        TokenState::Valid => Tone::Ok,
        TokenState::RefreshDue | TokenState::Unknown | TokenState::Unspecified => Tone::Warn,
        TokenState::Expired | TokenState::Rejected | TokenState::Replaced => Tone::Fail,
    }
}

pub fn token_state(t: &TokenSummary) -> &'static str {
    match t.state() {
        TokenState::Valid => "valid",
        TokenState::RefreshDue => "renewal due",
        TokenState::Expired => "expired",
        TokenState::Rejected => "rejected",
        TokenState::Replaced => "replaced",
        TokenState::Unknown | TokenState::Unspecified => "unknown",
    }
}

/// When the token is reissued next, or that it is not (turned off, or replaced).
pub fn next_renewal(t: &TokenSummary) -> String {
    if !t.auto_renew {
        "off".to_owned()
    } else if t.state() == TokenState::Replaced {
        "none".to_owned()
    } else {
        time(t.next_refresh_at)
    }
}

/// What went wrong with a token and what to run, when something did.
pub fn token_problem(t: &TokenSummary) -> Option<String> {
    match t.state() {
        TokenState::Replaced | TokenState::Rejected | TokenState::Expired
            if !t.last_error.is_empty() =>
        {
            Some(format!("{}: {}", t.org, one_line(&t.last_error)))
        }
        _ => None,
    }
}

pub fn condarc_line(c: Option<&CondarcStatus>) -> String {
    let Some(c) = c else {
        return "not known yet".to_owned();
    };
    let state = match c.state() {
        CondarcState::Configured => "configured",
        CondarcState::NotConfigured => "not configured",
        CondarcState::Drifted => "changed since anacondad configured it",
        CondarcState::Malformed => "malformed",
        CondarcState::Unspecified => "unknown",
    };
    let mut line = format!("{} {state}", c.path);
    if !c.detail.is_empty() {
        line.push_str(&format!(": {}", c.detail));
    }
    line
}

fn event_kind(event: &WatchResponse) -> String {
    crate::json::enum_name(event.kind().as_str_name(), "EVENT_KIND_")
}

/// One event as a line: time, kind, org, message.
pub fn event_line(event: &WatchResponse) -> String {
    let org = if event.org.is_empty() {
        String::new()
    } else {
        format!(" [{}]", event.org)
    };
    format!(
        "{} {}{org}: {}",
        time(event.at),
        event_kind(event),
        event.message
    )
}

/// The human form of `daemon status`.
pub fn status_text(s: &StatusResponse) -> String {
    let mut out = format!(
        "anacondad {} (protocol {}), pid {}, up {}\n",
        s.daemon_version,
        s.protocol_version,
        s.pid,
        duration(s.uptime_seconds)
    );
    out.push_str(&format!("  socket:  {}\n", s.socket_path));
    out.push_str(&format!(
        "  storage: {}\n",
        storage_line(s.storage.as_ref())
    ));
    if let Some(storage) = &s.storage {
        if !storage.warning.is_empty() {
            out.push_str(&format!("  warning: {}\n", storage.warning));
        }
        for notice in &storage.notices {
            out.push_str(&format!("  note:    {notice}\n"));
        }
    }
    if s.sites.len() > 1 {
        out.push_str(&format!("  site:    {}\n", s.site));
    }
    out.push_str(&format!("  login:   {}\n", login_line(s.login.as_ref())));
    let unreadable = s
        .login
        .as_ref()
        .is_some_and(|l| l.state() == LoginState::StoreUnreadable);
    if s.tokens.is_empty() && unreadable {
        out.push_str("  tokens:  not known (the credential store cannot be read)\n");
    } else if s.tokens.is_empty() {
        out.push_str("  tokens:  none\n");
    } else {
        out.push_str("  tokens:\n");
        for t in &s.tokens {
            out.push_str(&format!(
                "    {} {} {}, expires {}, next renewal {}\n",
                t.org,
                t.masked_token,
                token_state(t),
                time(t.expires_at),
                next_renewal(t)
            ));
            if let Some(problem) = token_problem(t) {
                out.push_str(&format!("      {problem}\n"));
            } else if t.auto_renew && t.next_refresh_at != 0 {
                out.push_str(&format!(
                    "      renewal revokes this token elsewhere; turn it off with \
                     `anacondactl token auto-renew --org {} off`\n",
                    t.org
                ));
            }
        }
    }
    out.push_str(&format!(
        "  condarc: {}\n",
        condarc_line(s.condarc.as_ref())
    ));
    if !s.exports.is_empty() {
        out.push_str("  exports:\n");
        for e in &s.exports {
            out.push_str(&export_lines(e, "    "));
        }
    }
    if s.sites.len() > 1 {
        out.push_str("  sites:\n");
        for site in &s.sites {
            let tokens = match site.tokens.len() {
                0 => "no token".to_owned(),
                1 => format!("the token of {}", site.tokens[0].org),
                n => format!("{n} tokens"),
            };
            out.push_str(&format!(
                "    {}{}: {} ({}), {}, {tokens}\n",
                site.name,
                if site.is_default { " (default)" } else { "" },
                site.domain,
                site.repo_url,
                login_line(site.login.as_ref()),
            ));
        }
    }
    for notice in &s.notices {
        out.push_str(&format!("  note:    {}\n", one_line(notice)));
    }
    if !s.last_error.is_empty() {
        out.push_str(&format!("  last error: {}\n", s.last_error));
    }
    out
}

/// The condas found and whether each can load the handler, one line each, then what keeps
/// conda from using our settings.
pub fn conda_view_lines(v: &anacondad_proto::v1::CondaView) -> Vec<String> {
    let mut lines = Vec::new();
    if v.installations.is_empty() {
        lines.push(format!(
            "no conda installation found (cannot tell whether conda loads `{}`)",
            v.auth_handler
        ));
    }
    for i in &v.installations {
        let can = match v.auth_handler.as_str() {
            "anacondad" => i.has_anacondad_plugin,
            "anaconda-auth" => i.has_anaconda_auth,
            _ => false,
        };
        let version = if i.conda_version.is_empty() {
            String::new()
        } else {
            format!(" {}", i.conda_version)
        };
        lines.push(format!(
            "conda{version} at {} (found by {}): {} `{}`",
            i.prefix,
            i.found_by.join(", "),
            if can { "can use" } else { "cannot use" },
            v.auth_handler
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_c1_controls_are_shown_not_sent() {
        let hostile = "ev\u{1b}]8;;https://evil.example\u{7}il\u{1b}]8;;\u{7} \u{9b}2J\u{7f}\r";
        let shown = terminal_safe(hostile);
        assert!(!shown.chars().any(is_steering), "{shown:?}");
        assert_eq!(
            shown,
            "ev\\u001b]8;;https://evil.example\\u0007il\\u001b]8;;\\u0007 \\u009b2J\\u007f\\u000d"
        );
    }

    #[test]
    fn line_breaks_stay_in_text_but_not_in_a_field() {
        assert_eq!(terminal_safe("a\nb"), "a\nb");
        assert_eq!(one_line("a\nb"), "a\\u000ab");
        assert_eq!(terminal_safe("a\tb"), "a\\u0009b");
    }

    #[test]
    fn plain_text_and_unicode_pass_unchanged() {
        assert!(matches!(
            terminal_safe("Zoë Ünal <zoe@example.com> 東京"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn bidi_overrides_are_neutralised() {
        assert_eq!(one_line("a\u{202e}b"), "a\\u202eb");
    }

    #[test]
    fn a_login_without_a_username_names_no_one() {
        let line = login_line(Some(&LoginStatus {
            state: LoginState::LoggedIn.into(),
            domain: "anaconda.com".into(),
            ..Default::default()
        }));
        assert_eq!(line, "logged in to anaconda.com");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        let xterm = Some(OsStr::new("xterm"));
        assert!(colour_wanted(true, None, xterm));
        assert!(colour_wanted(true, Some(OsStr::new("")), xterm));
        assert!(!colour_wanted(true, Some(OsStr::new("1")), xterm));
        assert!(!colour_wanted(false, None, xterm));
        assert!(!colour_wanted(true, None, Some(OsStr::new("dumb"))));
        assert_eq!(paint("ok", Tone::Ok, false), "ok");
        assert_eq!(paint("ok", Tone::Ok, true), "\x1b[32mok\x1b[0m");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(125), "2m 5s");
        assert_eq!(duration(7300), "2h 1m");
        assert_eq!(duration(90000), "1d 1h");
    }

    #[test]
    fn zero_times_are_unknown() {
        assert_eq!(time(0), "unknown");
        assert_eq!(time(86400), "1970-01-02 00:00:00 UTC");
    }
}
