//! After an upgrade the running daemon is still the old build: the next command that finds it
//! replaces it. The daemon writes its version beside the socket's lock before it serves
//! (`version_path`), so the check costs a file read; only when that version is older than
//! ours does the CLI ask the installed `anacondad` its version (it may be another install's),
//! and only when that one is newer than the running daemon does it ask the daemon to stop
//! when idle. A daemon in the middle of a reissue, or of another command, answers that it is
//! busy and keeps serving: the command goes on with it (one protocol, so nothing fails) and a
//! later command tries again. Credentials, settings and the renewal schedule are in the
//! keychain, `config.toml` and the state file, which the new daemon reads as the old one left
//! them.

use std::cmp::Ordering;
use std::process::{Command, Stdio};
use std::time::Duration;

use anacondad_proto::v1::ShutdownRequest;

use crate::connection::{DaemonClient, Target};

/// How long the old daemon may take to answer the stop request, and then to exit.
const STOP_ASK_TIMEOUT: Duration = Duration::from_secs(2);
const STOP_WAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// What became of the daemon a command connected to.
#[derive(Debug)]
pub enum Outcome {
    /// Kept: as new as ours (or newer), or busy.
    Kept(DaemonClient),
    /// Stopped, to be started again from the installed binary; `from` was its version.
    Stopped { from: String, to: String },
}

/// The version the daemon serving `target`'s socket wrote, if it wrote one.
pub fn running_version(target: &Target) -> Option<String> {
    let path = anacondad_proto::socket::version_path(&target.socket);
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Stops the connected daemon when it is older than the installed one and idle.
pub async fn stop_if_outdated(target: &Target, client: DaemonClient) -> Outcome {
    let Some(running) = running_version(target) else {
        return Outcome::Kept(client);
    };
    if compare_versions(&running, anacondad_proto::build_version()) != Ordering::Less {
        return Outcome::Kept(client);
    }
    let Some(installed) = installed_version(target) else {
        return Outcome::Kept(client);
    };
    if compare_versions(&running, &installed) != Ordering::Less {
        return Outcome::Kept(client);
    }
    let pid = target.daemon_pid();
    let asked = tokio::time::timeout(
        STOP_ASK_TIMEOUT,
        client
            .daemon()
            .shutdown(ShutdownRequest { when_idle: true }),
    )
    .await;
    match asked {
        Ok(Ok(answer)) if !answer.get_ref().busy => {}
        // Busy, or no answer: this command goes on with the running daemon.
        _ => return Outcome::Kept(client),
    }
    drop(client);
    if target.wait_until_stopped(pid, STOP_WAIT_TIMEOUT).is_err() {
        // It said it stops; the reconnect below finds whichever daemon serves by then.
    }
    Outcome::Stopped {
        from: running,
        to: installed,
    }
}

/// `anacondad --version` of the binary the CLI starts (`ANACONDAD_BIN`, else beside us).
fn installed_version(target: &Target) -> Option<String> {
    let out = Command::new(&target.launcher.daemon_bin)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // `anacondad 0.2.0`
    text.split_whitespace()
        .nth(1)
        .map(str::to_owned)
        .filter(|_| out.status.success())
}

/// Orders two versions `MAJOR.MINOR.PATCH[-PRE][+BUILD]` as semver does: numbers by value, a
/// pre-release before its release; the build suffix is ignored. A part that is not a number
/// sorts after every number, so nothing unparsable ever counts as older.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parse = |v: &str| {
        let v = v.split('+').next().unwrap_or_default();
        let (release, pre) = match v.split_once('-') {
            Some((r, p)) => (r.to_owned(), Some(p.to_owned())),
            None => (v.to_owned(), None),
        };
        let numbers: Vec<u64> = release
            .split('.')
            .map(|n| n.parse().unwrap_or(u64::MAX))
            .collect();
        (numbers, pre)
    };
    let (a_numbers, a_pre) = parse(a);
    let (b_numbers, b_pre) = parse(b);
    a_numbers
        .cmp(&b_numbers)
        .then_with(|| match (a_pre, b_pre) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => a.cmp(&b),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_as_semver_does() {
        assert_eq!(compare_versions("0.1.0", "0.2.0"), Ordering::Less);
        assert_eq!(compare_versions("0.10.0", "0.9.1"), Ordering::Greater);
        assert_eq!(compare_versions("1.0.0-rc.1", "1.0.0"), Ordering::Less);
        assert_eq!(compare_versions("1.0.0+abc", "1.0.0"), Ordering::Equal);
        assert_eq!(compare_versions("0.1.0", "0.1.0"), Ordering::Equal);
        // Garbage is never older than a real version.
        assert_eq!(compare_versions("x.y", "0.1.0"), Ordering::Greater);
    }
}
