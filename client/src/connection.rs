//! The CLI's connection to the daemon: connect, start it when it is not running, and hand out
//! the per-service clients.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anacondad_proto::v1::{
    account_service_client::AccountServiceClient, condarc_service_client::CondarcServiceClient,
    credential_service_client::CredentialServiceClient, daemon_service_client::DaemonServiceClient,
    token_service_client::TokenServiceClient,
};
use anacondad_proto::{ConnectError, DaemonChannel, MAX_MESSAGE_BYTES, ProtocolStamp};

use crate::exit::{CliError, ExitKind};
use crate::launch::Launcher;

/// A connected daemon.
#[derive(Debug, Clone)]
pub struct DaemonClient {
    channel: DaemonChannel,
    socket: PathBuf,
}

/// How commands find the daemon.
#[derive(Debug, Clone)]
pub struct Target {
    pub socket: PathBuf,
    pub uid: u32,
    /// The site every request names (`--at`); `None`: the daemon's default site.
    pub site: Option<String>,
    pub launcher: Launcher,
}

impl Target {
    /// Connects; when nothing listens, starts the daemon and connects to it. A daemon older
    /// than the installed one is replaced when it is idle (see `upgrade`).
    pub async fn connect_or_start(&self) -> Result<DaemonClient, CliError> {
        let client = self.connect_or_start_installed().await?;
        match crate::upgrade::stop_if_outdated(self, client).await {
            crate::upgrade::Outcome::Kept(client) => Ok(client),
            crate::upgrade::Outcome::Stopped { from, to } => {
                if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                    crate::errln!(
                        "note: restarted the daemon (anacondad {from} was running, {to} is \
                         installed)"
                    );
                }
                self.connect_or_start_installed().await
            }
        }
    }

    async fn connect_or_start_installed(&self) -> Result<DaemonClient, CliError> {
        match self.connect().await {
            Err(e) if e.kind == ExitKind::Daemon && self.is_not_running().await => {
                self.launcher.start(&self.socket).map_err(|e| {
                    CliError::new(
                        e.kind,
                        format!(
                            "the anacondad daemon is not running and could not be started ({}): \
                             once that is fixed, start it with `anacondactl daemon start` and \
                             see `anacondactl daemon status`",
                            e.message
                        ),
                    )
                })?;
                self.connect().await
            }
            other => other,
        }
    }

    /// Connects to a running daemon only.
    pub async fn connect(&self) -> Result<DaemonClient, CliError> {
        let stamp = match &self.site {
            Some(site) => ProtocolStamp::at(site)
                .map_err(|e| CliError::new(ExitKind::Usage, e.to_string()))?,
            None => ProtocolStamp::default(),
        };
        anacondad_proto::connect_stamped(&self.socket, self.uid, stamp)
            .await
            .map(|channel| DaemonClient {
                channel,
                socket: self.socket.clone(),
            })
            .map_err(|e| connect_error(&e))
    }

    async fn is_not_running(&self) -> bool {
        matches!(
            anacondad_proto::connect(&self.socket, self.uid).await,
            Err(e) if e.is_not_running()
        )
    }

    /// The pid the daemon serving our socket wrote into its lock, if it can be read.
    pub fn daemon_pid(&self) -> Option<u32> {
        let lock = anacondad_proto::socket::lock_path(&self.socket);
        std::fs::read_to_string(lock).ok()?.trim().parse().ok()
    }

    /// Waits until the daemon serving our socket has exited: its lock is free and, when its
    /// pid is known, the process is gone (it lets go of the lock before its last threads end).
    pub fn wait_until_stopped(&self, pid: Option<u32>, timeout: Duration) -> Result<(), CliError> {
        let lock = anacondad_proto::socket::lock_path(&self.socket);
        let deadline = Instant::now() + timeout;
        loop {
            if lock_is_free(&lock) && pid.is_none_or(|pid| !process_runs(pid)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(CliError::new(
                    ExitKind::Daemon,
                    format!(
                        "the daemon did not stop within {} s; its pid is in {}",
                        timeout.as_secs(),
                        lock.display()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Target {
    /// The error for a daemon that took longer than `waited` to answer: it names the pid
    /// holding the socket's lock and, where the system says so, that the process is stopped.
    pub fn unresponsive(&self, waited: Duration) -> CliError {
        let lock = anacondad_proto::socket::lock_path(&self.socket);
        let pid = std::fs::read_to_string(&lock)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok());
        let waited = format!("{} ms", waited.as_millis());
        let message = match pid {
            Some(pid) if process_is_stopped(pid) => format!(
                "the daemon (pid {pid}) did not answer within {waited}: it is stopped (SIGSTOP \
                 or a debugger); resume it with `kill -CONT {pid}`, or end it with `kill {pid}` \
                 and the next command starts a new one"
            ),
            Some(pid) => format!(
                "the daemon (pid {pid}) did not answer within {waited}: it is hung or \
                 overloaded; see its log, or end it with `kill {pid}` and the next command \
                 starts a new one"
            ),
            None => format!(
                "the daemon at {} did not answer within {waited}; see `anacondactl daemon \
                 status`",
                self.socket.display()
            ),
        };
        CliError::new(ExitKind::Unresponsive, message)
    }
}

/// True when the process is in the stopped state (`T` in `/proc/<pid>/stat`; Linux only, so
/// elsewhere this says nothing).
fn process_is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state letter follows the parenthesised command name.
            let (_, rest) = stat.rsplit_once(')')?;
            rest.split_whitespace().next().map(|state| state == "T")
        })
        .unwrap_or(false)
}

/// Whether any thread of the process `pid` still runs. (An exiting process shows its main
/// thread as a zombie while its other threads are still closing its files.)
fn process_runs(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        return tasks.filter_map(Result::ok).any(|task| {
            std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
                // The state letter follows the parenthesised command name.
                let state = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next());
                !matches!(state, Some("Z" | "X"))
            })
        });
    }
    #[cfg(unix)]
    {
        let Some(pid) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return false;
        };
        // Signal 0: only asks whether the process exists.
        rustix::process::test_kill_process(pid).is_ok()
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        false
    }
}

fn lock_is_free(lock: &Path) -> bool {
    match std::fs::File::open(lock) {
        Ok(file) => file.try_lock().is_ok(),
        Err(_) => true,
    }
}

fn connect_error(e: &ConnectError) -> CliError {
    let hint = match e {
        ConnectError::NotRunning { .. } => {
            "start it with `anacondactl daemon start` (any command that needs it starts it)"
        }
        ConnectError::ForeignPeer { .. } | ConnectError::UnsafeDirectory(_) => {
            "this socket is not safe to use"
        }
        ConnectError::Io { .. } => "check the socket path (--socket, ANACONDAD_SOCKET)",
    };
    CliError::new(ExitKind::Daemon, format!("{e}; {hint}"))
}

impl DaemonClient {
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn daemon(&self) -> DaemonServiceClient<DaemonChannel> {
        DaemonServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn account(&self) -> AccountServiceClient<DaemonChannel> {
        AccountServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn tokens(&self) -> TokenServiceClient<DaemonChannel> {
        TokenServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn channels(
        &self,
    ) -> anacondad_proto::v1::channel_service_client::ChannelServiceClient<DaemonChannel> {
        anacondad_proto::v1::channel_service_client::ChannelServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn condarc(&self) -> CondarcServiceClient<DaemonChannel> {
        CondarcServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn export(
        &self,
    ) -> anacondad_proto::v1::export_service_client::ExportServiceClient<DaemonChannel> {
        anacondad_proto::v1::export_service_client::ExportServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn keyring(
        &self,
    ) -> anacondad_proto::v1::keyring_service_client::KeyringServiceClient<DaemonChannel> {
        anacondad_proto::v1::keyring_service_client::KeyringServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn credentials(&self) -> CredentialServiceClient<DaemonChannel> {
        CredentialServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub fn keys(&self) -> anacondad_proto::v1::key_service_client::KeyServiceClient<DaemonChannel> {
        anacondad_proto::v1::key_service_client::KeyServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }
}
