//! `anacondactl daemon status|start|stop|run`.

use std::io::Write;
use std::time::Duration;

use anacondad_proto::v1::{CheckCondarcRequest, ShutdownRequest, StatusRequest, WatchRequest};

use super::Output;
use crate::cli::{CondarcArgs, DaemonCommand};
use crate::connection::Target;
use crate::exit::{CliError, ExitKind};
use crate::json;
use crate::render;

/// How long `daemon stop` waits for the daemon to exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(cmd: DaemonCommand, target: &Target, out: Output) -> Result<(), CliError> {
    match cmd {
        DaemonCommand::Status => {
            let client = target.connect_or_start().await?;
            let status = client.daemon().status(StatusRequest {}).await?.into_inner();
            // Which condas can use the handler: conda's view with this shell's variables.
            let conda = client
                .condarc()
                .check_condarc(CheckCondarcRequest {
                    target: Some(super::condarc_target(&CondarcArgs::default())),
                })
                .await
                .ok()
                .and_then(|r| r.into_inner().conda);
            if out.json {
                out.print_json(&json::daemon::DaemonStatus {
                    status: json::daemon::Status::from(&status),
                    conda: json::daemon::CondaView::of(conda.as_ref()),
                });
            } else {
                crate::out!("{}", render::status_text(&status));
                if let Some(conda) = &conda {
                    for line in render::conda_view_lines(conda) {
                        crate::outln!("  {line}");
                    }
                }
            }
            Ok(())
        }
        DaemonCommand::Start => {
            // Started on purpose: it keeps running, terminal or not.
            let mut target = target.clone();
            target.launcher.exit_when_idle = false;
            let (already, client) = match target.connect().await {
                Ok(client) => (true, client),
                Err(_) => (false, target.connect_or_start().await?),
            };
            let status = client.daemon().status(StatusRequest {}).await?.into_inner();
            if out.json {
                out.print_json(&json::commands::DaemonStarted {
                    already_running: already,
                    pid: status.pid,
                    socket: status.socket_path.clone(),
                });
            } else if already {
                crate::outln!(
                    "anacondad is already running (pid {}) at {}",
                    status.pid,
                    status.socket_path
                );
            } else {
                crate::outln!(
                    "anacondad started (pid {}) at {}",
                    status.pid,
                    status.socket_path
                );
            }
            Ok(())
        }
        DaemonCommand::Stop => {
            let stopped = stop(target).await?;
            if out.json {
                out.print_json(&json::commands::DaemonStopped {
                    stopped,
                    running: false,
                });
            } else if stopped {
                crate::outln!("anacondad stopped");
            } else {
                crate::outln!("anacondad is not running at {}", target.socket.display());
            }
            Ok(())
        }
        DaemonCommand::Watch => {
            let client = target.connect_or_start().await?;
            let mut events = client.daemon().watch(WatchRequest {}).await?.into_inner();
            // The daemon subscribed before it answered: from here on nothing is missed.
            crate::errln!(
                "watching the events of anacondad at {}; Ctrl-C stops",
                client.socket().display()
            );
            while let Some(event) = events.message().await? {
                if out.json {
                    json::print_line(&json::daemon::Event::from(&event));
                } else {
                    crate::outln!("{}", render::event_line(&event));
                }
                let _ = std::io::stdout().flush();
            }
            Ok(())
        }
        DaemonCommand::Run => {
            let _ = std::io::stdout().flush();
            let status = std::process::Command::new(&target.launcher.daemon_bin)
                .arg("--foreground")
                .arg("--socket")
                .arg(&target.socket)
                .status()
                .map_err(|e| {
                    CliError::new(
                        ExitKind::Daemon,
                        format!("cannot run {}: {e}", target.launcher.daemon_bin.display()),
                    )
                })?;
            if status.success() {
                Ok(())
            } else {
                Err(CliError::new(
                    ExitKind::Daemon,
                    format!("anacondad exited with {status}"),
                ))
            }
        }
    }
}

/// Stops the daemon serving `target` and waits until it has exited; `false` when none runs.
pub async fn stop(target: &Target) -> Result<bool, CliError> {
    let client = match target.connect().await {
        Ok(client) => client,
        Err(e) if e.kind == ExitKind::Daemon => return Ok(false),
        Err(e) => return Err(e),
    };
    let pid = target.daemon_pid();
    client.daemon().shutdown(ShutdownRequest::default()).await?;
    let waiter = target.clone();
    tokio::task::spawn_blocking(move || waiter.wait_until_stopped(pid, STOP_TIMEOUT))
        .await
        .map_err(|e| CliError::failed(format!("waiting for the daemon failed: {e}")))??;
    Ok(true)
}
