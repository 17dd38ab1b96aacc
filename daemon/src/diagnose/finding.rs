//! [`Finding`]: the one shape of every `doctor` check, the daemon's and (on the wire) the
//! CLI's own, and the helpers the checks share.

use std::time::Duration;

use jiff::Timestamp;

/// The fix `doctor --fix` applies itself.
pub const CONDARC_FIX: &str = "anacondactl condarc apply";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One finding: what was checked (`id`, stable; `section`, its heading), how it stands, one
/// line of evidence and what fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: String,
    pub section: String,
    pub level: Level,
    pub evidence: String,
    /// The command or step that fixes it; empty when nothing needs doing.
    pub fix: String,
    /// `doctor --fix` repairs it (conda's configuration).
    pub fixable: bool,
}

impl Finding {
    pub fn new(
        id: impl Into<String>,
        section: &str,
        level: Level,
        evidence: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            section: section.to_owned(),
            level,
            evidence: evidence.into(),
            fix: String::new(),
            fixable: false,
        }
    }

    /// The finding with `fix` as the command or step that fixes it.
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }

    /// The finding as one `doctor --fix` repairs ([`CONDARC_FIX`]).
    pub fn fixable(mut self) -> Self {
        self.fix = CONDARC_FIX.to_owned();
        self.fixable = true;
        self
    }
}

/// The finding of a check that did not finish within the diagnosis's `limit`.
pub fn timed_out(id: &str, section: &str, limit: Duration) -> Finding {
    Finding::new(
        id,
        section,
        Level::Warn,
        format!("not checked (timed out after {} s)", limit.as_secs()),
    )
    .fix("the service or the network is slow or silent: run `anacondactl doctor` again later")
}

/// A date as the evidence shows it.
pub fn date(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M UTC").to_string()
}
