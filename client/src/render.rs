//! Turning daemon answers into what a person reads, or into JSON.

use anacondad_proto::v1::{
    CondarcState, CondarcStatus, LoginState, LoginStatus, StatusResponse, StorageBackend,
    StorageStatus, TokenState, TokenSummary, WatchResponse,
};
use serde_json::{Value, json};

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

fn json_time(unix: i64) -> Value {
    if unix == 0 {
        Value::Null
    } else {
        json!(
            jiff::Timestamp::from_second(unix)
                .map(|t| t.to_string())
                .unwrap_or_default()
        )
    }
}

fn enum_name(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

pub fn storage_json(s: Option<&StorageStatus>) -> Value {
    match s {
        None => Value::Null,
        Some(s) => json!({
            "backend": enum_name(s.backend().as_str_name(), "STORAGE_BACKEND_"),
            "location": s.location,
            "warning": s.warning,
            "warning_is_new": s.warning_is_new,
            "configured": s.configured,
            "notices": s.notices,
        }),
    }
}

pub fn login_json(l: Option<&LoginStatus>) -> Value {
    match l {
        None => Value::Null,
        Some(l) => json!({
            "state": enum_name(l.state().as_str_name(), "LOGIN_STATE_"),
            "domain": l.domain,
            "username": l.username,
            "api_key_expires_at": json_time(l.api_key_expires_at),
            "api_key_from_environment": l.api_key_from_environment,
            "can_renew": l.can_renew,
        }),
    }
}

pub fn token_json(t: &TokenSummary) -> Value {
    json!({
        "org": t.org,
        "channel_url": t.channel_url,
        "token": t.masked_token,
        "token_id": t.token_id,
        "issued_at": json_time(t.issued_at),
        "expires_at": json_time(t.expires_at),
        "next_refresh_at": json_time(t.next_refresh_at),
        "last_validated_at": json_time(t.last_validated_at),
        "state": enum_name(t.state().as_str_name(), "TOKEN_STATE_"),
        "last_error": t.last_error,
    })
}

pub fn condarc_json(c: Option<&CondarcStatus>) -> Value {
    match c {
        None => Value::Null,
        Some(c) => json!({
            "state": enum_name(c.state().as_str_name(), "CONDARC_STATE_"),
            "path": c.path,
            "detail": c.detail,
            "orgs_without_token": c.orgs_without_token,
        }),
    }
}

pub fn status_json(s: &StatusResponse) -> Value {
    json!({
        "daemon_version": s.daemon_version,
        "protocol_version": s.protocol_version,
        "pid": s.pid,
        "uptime_seconds": s.uptime_seconds,
        "socket": s.socket_path,
        "repo_url": s.repo_url,
        "storage": storage_json(s.storage.as_ref()),
        "login": login_json(s.login.as_ref()),
        "tokens": s.tokens.iter().map(token_json).collect::<Vec<_>>(),
        "condarc": condarc_json(s.condarc.as_ref()),
        "last_error": s.last_error,
    })
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
            let mut line = format!("logged in to {} as {}", l.domain, l.username);
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
        LoginState::LoggedOut | LoginState::Unspecified => {
            format!("not logged in to {}", l.domain)
        }
    }
}

pub fn token_state(t: &TokenSummary) -> &'static str {
    match t.state() {
        TokenState::Valid => "valid",
        TokenState::RefreshDue => "renewal due",
        TokenState::Expired => "expired",
        TokenState::Rejected => "rejected",
        TokenState::Unknown | TokenState::Unspecified => "unknown",
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
    enum_name(event.kind().as_str_name(), "EVENT_KIND_")
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

/// One event as a JSON object (one per line with `daemon watch --json`).
pub fn event_json(event: &WatchResponse) -> Value {
    json!({
        "at": json_time(event.at),
        "kind": event_kind(event),
        "org": event.org,
        "path": event.path,
        "message": event.message,
    })
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
    out.push_str(&format!("  login:   {}\n", login_line(s.login.as_ref())));
    if s.tokens.is_empty() {
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
                time(t.next_refresh_at)
            ));
        }
    }
    out.push_str(&format!(
        "  condarc: {}\n",
        condarc_line(s.condarc.as_ref())
    ));
    if !s.last_error.is_empty() {
        out.push_str(&format!("  last error: {}\n", s.last_error));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(json_time(0), Value::Null);
    }
}
