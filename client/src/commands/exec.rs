//! `anacondactl exec -- CMD [ARGS...]`: runs CMD with the API key (by default a short-lived
//! `repo:read` key minted for it) and each asked organisation's token in its environment,
//! hides those values in its standard output and error, passes standard input, SIGINT and
//! SIGTERM on to it, revokes the key minted for it when it ends, and exits with its status.

use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::Output;
use crate::ci_args::ExecArgs;
use crate::connection::Target;
use crate::exit::CliError;
use crate::mask::Masker;

/// A shell's status for a command that was found but could not be run.
const EXIT_CANNOT_RUN: i32 = 126;
/// A shell's status for a command that was not found.
const EXIT_NOT_FOUND: i32 = 127;

pub async fn run(args: ExecArgs, target: &Target, out: Output) -> Result<(), CliError> {
    let client = target.connect_or_start().await?;
    let handed = super::env::hand_out(&client, &args.hand_out, !args.account_key).await?;
    let outcome = run_child(&args, &handed.variables).await;
    if let Some(id) = &handed.minted_id {
        // The key was minted for this command alone: it must not outlive it.
        if let Err(e) = super::keys::revoke(&client, Some(id), false).await {
            out.warn(format!(
                "the key minted for the command ({id}) could not be revoked: {e}; it lapses \
                 at its expiry, or run `anacondactl api-key --revoke {id}`"
            ));
        }
    }
    let code = outcome?;
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

/// Runs the command to its end; answers its exit code (128 + the signal that ended it).
async fn run_child(
    args: &ExecArgs,
    variables: &[(String, zeroize::Zeroizing<String>)],
) -> Result<i32, CliError> {
    let (program, rest) = args
        .command
        .split_first()
        .expect("clap requires the command");
    let mut command = tokio::process::Command::new(program);
    command
        .args(rest)
        .envs(variables.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::inherit());
    let mask = !args.no_mask;
    if mask {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    // Listening before the command starts, so a signal sent once it runs is never missed.
    let signals = Signals::listen()
        .map_err(|e| CliError::failed(format!("cannot listen for signals: {e}")))?;
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let shown = program.to_string_lossy();
            crate::errln!("anacondactl: cannot run {shown}: {e}");
            return Ok(if e.kind() == std::io::ErrorKind::NotFound {
                EXIT_NOT_FOUND
            } else {
                EXIT_CANNOT_RUN
            });
        }
    };
    let secrets: Vec<&str> = variables.iter().map(|(_, v)| v.as_str()).collect();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let pumps = async {
        tokio::join!(
            pump(stdout, tokio::io::stdout(), Masker::new(&secrets)),
            pump(stderr, tokio::io::stderr(), Masker::new(&secrets)),
        )
    };
    let pid = child.id();
    let (status, _) = tokio::join!(signals.forward_until_exit(&mut child, pid), pumps);
    let status = status.map_err(|e| CliError::failed(format!("waiting for the command: {e}")))?;
    Ok(exit_code(status))
}

/// Copies `from` to `to` through `masker`, until `from` ends.
async fn pump(
    from: Option<impl AsyncRead + Unpin>,
    mut to: impl AsyncWrite + Unpin,
    mut masker: Masker,
) {
    let Some(mut from) = from else { return };
    let mut buffer = vec![0u8; 8192];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let shown = masker.push(&buffer[..n]);
        if to.write_all(&shown).await.is_err() || to.flush().await.is_err() {
            return;
        }
    }
    let _ = to.write_all(&masker.finish()).await;
    let _ = to.flush().await;
}

/// SIGINT and SIGTERM, received here and passed on to the command.
#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn forward_until_exit(
        mut self,
        child: &mut tokio::process::Child,
        pid: Option<u32>,
    ) -> std::io::Result<ExitStatus> {
        let forward = |sig: rustix::process::Signal| {
            if let Some(pid) = pid
                .and_then(|p| i32::try_from(p).ok())
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(pid, sig);
            }
        };
        loop {
            tokio::select! {
                status = child.wait() => return status,
                _ = self.interrupt.recv() => forward(rustix::process::Signal::INT),
                _ = self.terminate.recv() => forward(rustix::process::Signal::TERM),
            }
        }
    }
}

/// Ctrl-C reaches every process of the console on Windows: there is nothing to forward.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn listen() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn forward_until_exit(
        self,
        child: &mut tokio::process::Child,
        _pid: Option<u32>,
    ) -> std::io::Result<ExitStatus> {
        child.wait().await
    }
}

/// The status a shell would report: the exit code, or 128 + the signal that ended it.
fn exit_code(status: ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    status.code().unwrap_or(1)
}
