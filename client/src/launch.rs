//! Starting the daemon when a command needs it: spawned detached (its own session on Unix; no
//! console and its own process group on Windows), with its log in the platform's log
//! directory, and waited for until it says it is ready (or fails, or takes too long).

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader};
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
#[cfg(windows)]
use std::os::windows::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::exit::{CliError, ExitKind};

/// Win32 process creation flags (`winbase.h`).
#[cfg(windows)]
const DETACHED_PROCESS: u32 = 0x0000_0008;
#[cfg(windows)]
const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;

/// How long a freshly started daemon may take to accept calls.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// What it takes to start the daemon.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// The `anacondad` executable.
    pub daemon_bin: PathBuf,
    /// Where the started daemon's stderr goes.
    pub log_file: PathBuf,
    /// Start it with `--exit-when-idle`: the command runs in a job ([`started_for_a_job`]).
    pub exit_when_idle: bool,
}

/// Whether a daemon this command starts is a job's, to stop by itself once idle: the command
/// has no terminal (none of standard input, output and error is one), or `CI` says it runs in
/// a CI job (GitHub Actions, GitLab CI and most others set `CI=true`). Not when
/// `ANACONDAD_EXIT_WHEN_IDLE` is set: the daemon reads that itself, and it wins.
pub fn started_for_a_job(env: impl Fn(&str) -> Option<String>) -> bool {
    use std::io::IsTerminal;
    if env("ANACONDAD_EXIT_WHEN_IDLE").is_some_and(|v| !v.is_empty()) {
        return false;
    }
    let ci = env("CI").is_some_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        !v.is_empty() && v != "0" && v != "false" && v != "no"
    });
    let no_terminal = !std::io::stdin().is_terminal()
        && !std::io::stdout().is_terminal()
        && !std::io::stderr().is_terminal();
    ci || no_terminal
}

impl Launcher {
    /// Starts `anacondad` on `socket` and waits until it is ready. The daemon inherits this
    /// process's environment and working directory (where it reads a `.env` file).
    pub fn start(&self, socket: &Path) -> Result<u32, CliError> {
        if let Some(dir) = self.log_file.parent() {
            // The state directory: private, like the state file and log it holds.
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            builder.mode(0o700);
            builder.create(dir).map_err(|e| {
                CliError::new(
                    ExitKind::Daemon,
                    format!("cannot create the log directory {}: {e}", dir.display()),
                )
            })?;
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        options.mode(0o600);
        let log = options.open(&self.log_file).map_err(|e| {
            CliError::new(
                ExitKind::Daemon,
                format!(
                    "cannot open the daemon log {}: {e}",
                    self.log_file.display()
                ),
            )
        })?;
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let mut command = Command::new(&self.daemon_bin);
        command
            .arg("--foreground")
            .arg("--spawned")
            .arg("--socket")
            .arg(socket)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        if self.exit_when_idle {
            command.arg("--exit-when-idle");
        }
        // No fork or setsid on Windows: the daemon starts without a console (so closing ours
        // does not end it) and in its own process group (so our Ctrl-C does not reach it).
        #[cfg(windows)]
        command.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP);
        let mut child = command.spawn().map_err(|e| {
            CliError::new(
                ExitKind::Daemon,
                format!(
                    "cannot start the daemon {}: {e}; install anacondad next to anacondactl \
                         or set ANACONDAD_BIN",
                    self.daemon_bin.display()
                ),
            )
        })?;
        let stdout = child.stdout.take().ok_or_else(|| {
            CliError::new(ExitKind::Daemon, "the daemon's output could not be read")
        })?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // `warning <text>` lines (what the daemon's configuration left out) come before
            // `ready`; anything else is the answer.
            let mut reader = BufReader::new(stdout);
            let mut warnings = Vec::new();
            let result = loop {
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(n) if n > 0 && line.starts_with("warning ") => {
                        warnings.push(line["warning ".len()..].trim_end().to_owned());
                    }
                    other => break other.map(|_| line),
                }
            };
            let _receiver_gone_is_fine = tx.send(result.map(|line| (line, warnings)));
        });
        match rx.recv_timeout(READY_TIMEOUT) {
            Ok(Ok((line, warnings))) if line.starts_with("ready ") => {
                for warning in warnings {
                    crate::errln!("warning: the daemon started, but {warning}");
                }
                Ok(child.id())
            }
            Ok(_) => {
                let status = child.wait().ok();
                let tail = log_tail(&self.log_file, log_start);
                Err(CliError::new(
                    ExitKind::Daemon,
                    format!(
                        "the daemon exited at start{}: {}",
                        status
                            .and_then(|s| s.code())
                            .map(|c| format!(" (exit code {c})"))
                            .unwrap_or_default(),
                        if tail.is_empty() {
                            format!("see {}", self.log_file.display())
                        } else {
                            tail
                        }
                    ),
                ))
            }
            Err(_) => {
                // A daemon stuck before binding would otherwise stay behind, one per command.
                let pid = child.id();
                let _already_gone_is_fine = child.kill();
                let _reaped = child.wait();
                let tail = log_tail(&self.log_file, log_start);
                Err(CliError::new(
                    ExitKind::Daemon,
                    format!(
                        "the daemon (pid {pid}) did not become ready within {} s and was stopped{}; see its log {}",
                        READY_TIMEOUT.as_secs(),
                        if tail.is_empty() {
                            String::new()
                        } else {
                            format!(" (it last said: {tail})")
                        },
                        self.log_file.display()
                    ),
                ))
            }
        }
    }
}

/// The last error line the daemon logged since `from`, without the log prefix.
fn log_tail(path: &Path, from: u64) -> String {
    let Ok(text) = fs::read(path) else {
        return String::new();
    };
    let start = usize::try_from(from).unwrap_or(0).min(text.len());
    let text = String::from_utf8_lossy(&text[start..]);
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("anacondad: "))
        .unwrap_or_else(|| text.lines().last().unwrap_or_default())
        .trim()
        .to_owned()
}
