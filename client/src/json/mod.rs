//! The JSON that `anacondactl --json` prints: the contract scripts and the conda plugin parse,
//! described field by field in `docs/json.md`. Every object the CLI prints is one of the
//! `Serialize` types of this module, so the shape is written once and read here.
//!
//! Three rules hold for every type:
//! - times are RFC 3339 strings in UTC (`2026-12-01T10:00:00Z`), or `null` when unknown;
//! - a value that is absent is `null`, never an empty string;
//! - a failure under `--json` is an [`ErrorJson`] on standard output (and the usual line for
//!   people on standard error), whatever the command; a command that printed its answer before
//!   failing (`doctor` with a failing check, `condarc check` with drift) prints only that
//!   answer, and its exit status says it failed: standard output holds one JSON document.

pub mod channels;
pub mod commands;
pub mod daemon;
pub mod keyring;
pub mod keys;
pub mod service;

use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::exit::CliError;

/// A Unix time as RFC 3339 in UTC; `None` (null) for 0, which the wire uses for "unknown".
pub fn time(unix: i64) -> Option<String> {
    if unix == 0 {
        return None;
    }
    jiff::Timestamp::from_second(unix)
        .ok()
        .map(|t| t.to_string())
}

/// `None` (null) for an empty string: the wire's way of saying "absent".
pub fn text(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// The enum value's wire name without its prefix, in lower case
/// (`TOKEN_STATE_REFRESH_DUE` -> `refresh_due`).
pub fn enum_name(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
}

/// What every command prints under `--json` when it fails, instead of its answer.
#[derive(Debug, Serialize)]
pub struct ErrorJson {
    /// What happened and what to run next: the same sentence as without `--json`.
    pub error: String,
    /// Why, as a code to branch on: the daemon's reason when it gave one (`login_required`,
    /// `no_token_for_org`, ...), else the kind of failure (`daemon_unavailable`, ...). The
    /// codes are listed in `docs/json.md`.
    pub reason: String,
    /// The process's exit status (`anacondactl --help` lists them).
    pub exit_code: u8,
}

impl From<&CliError> for ErrorJson {
    fn from(e: &CliError) -> Self {
        Self {
            error: e.message.clone(),
            reason: e.reason_code(),
            exit_code: e.code(),
        }
    }
}

/// Whether this process has printed a JSON answer.
static ANSWERED: AtomicBool = AtomicBool::new(false);

/// Whether this process has printed a JSON answer already (then a failure adds none).
pub fn answered() -> bool {
    ANSWERED.load(Ordering::Relaxed)
}

/// Prints `value` as pretty JSON on standard output.
pub fn print<T: Serialize + ?Sized>(value: &T) {
    ANSWERED.store(true, Ordering::Relaxed);
    crate::outln!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Prints `value` as one line of JSON (`daemon watch --json` prints one per event).
pub fn print_line<T: Serialize + ?Sized>(value: &T) {
    ANSWERED.store(true, Ordering::Relaxed);
    crate::outln!("{}", serde_json::to_string(value).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_and_unknown_ones_null() {
        assert_eq!(time(86400).as_deref(), Some("1970-01-02T00:00:00Z"));
        assert_eq!(time(0), None);
    }

    #[test]
    fn empty_text_is_absent() {
        assert_eq!(text(""), None);
        assert_eq!(text("x").as_deref(), Some("x"));
    }
}
