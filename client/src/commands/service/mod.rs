//! `anacondactl service install|uninstall|status`: makes the daemon start by itself, with the
//! service manager of the platform: systemd user units on Linux ([`systemd`]), a launchd agent
//! on macOS ([`launchd`]), a per-user Run entry on Windows ([`windows`]). Everything it writes
//! carries a marker, so a second install changes nothing, `uninstall` removes exactly that, and
//! files written by someone else are left alone unless `--force`.
//!
//! Every backend uses only `std` files and processes, so all three compile on every platform;
//! which one runs is chosen by `cfg!(target_os)`. What they share is in [`files`] (the files
//! they own) and [`report`] (the manager's commands and what each command did).

mod files;
mod launchd;
mod report;
mod systemd;
mod windows;

use std::path::{Path, PathBuf};

use anacondad_proto::dirs::UserDirs;

use super::Output;
use crate::cli::ServiceCommand;
use crate::connection::Target;
use crate::exit::CliError;
use crate::json::service::{Installed, Placement, ServiceStatus};
use report::Report;

/// Marks a file as written by `service install`; `uninstall` removes only files that carry it.
const MARKER: &str =
    "Written by `anacondactl service install`; `anacondactl service uninstall` removes it.";

/// What the command needs from the environment, read once: the user's directories by the
/// rule the daemon uses ([`UserDirs`]).
#[derive(Debug, Clone)]
struct ServiceEnv {
    home: PathBuf,
    /// `$XDG_CONFIG_HOME` (else `~/.config`): systemd reads user units below it.
    config_home: PathBuf,
    uid: u32,
}

impl ServiceEnv {
    fn from_process(uid: u32) -> Result<Self, CliError> {
        let dirs = UserDirs::from_process()
            .ok_or_else(|| CliError::failed("HOME is not set: set it to your home directory"))?;
        // systemd's rule, not ours: `XDG_CONFIG_HOME` when absolute, else `~/.config`.
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| dirs.home.join(".config"));
        Ok(Self {
            home: dirs.home,
            config_home,
            uid,
        })
    }
}

pub async fn run(cmd: ServiceCommand, target: &Target, out: Output) -> Result<(), CliError> {
    let env = ServiceEnv::from_process(target.uid)?;
    let backend = Backend::of_this_platform();
    match cmd {
        ServiceCommand::Install { dry_run, force } => {
            let daemon = installed_daemon(&target.launcher.daemon_bin)?;
            // Both go into what the manager reads, one setting per line.
            refuse_control_characters("the anacondad path", &daemon)?;
            refuse_control_characters("the home directory", &env.home)?;
            let mut report = Report::new(dry_run);
            let request = Install {
                env: &env,
                daemon: &daemon,
                force,
                target,
            };
            let placement = backend.install(&request, &mut report).await?;
            report.print(out, placement);
            Ok(())
        }
        ServiceCommand::Uninstall { dry_run } => {
            let mut report = Report::new(dry_run);
            let placement = backend.uninstall(&env, &mut report)?;
            report.print(out, placement);
            Ok(())
        }
        ServiceCommand::Status => {
            let status = backend.status(&env);
            if out.json {
                crate::json::print(&status);
            } else {
                crate::out!("{}", status_text(&status));
            }
            Ok(())
        }
    }
}

/// What `service status` reports, for `doctor`.
pub(super) fn status(uid: u32) -> Result<ServiceStatus, CliError> {
    let env = ServiceEnv::from_process(uid)?;
    Ok(Backend::of_this_platform().status(&env))
}

/// Refuses a path that would end a line (or carry any other control character) in a unit, a
/// plist or a registry value: a line break there writes settings of its own into the unit.
fn refuse_control_characters(what: &str, path: &Path) -> Result<(), CliError> {
    let text = path.to_string_lossy();
    match text.chars().find(|c| c.is_control()) {
        None => Ok(()),
        Some(c) => Err(CliError::failed(format!(
            "{what} {} contains the control character U+{:04X}, which cannot be written into a \
             service definition: move anacondad to a path without it (or set ANACONDAD_BIN)",
            crate::render::one_line(&text),
            u32::from(c)
        ))),
    }
}

/// The absolute path of the `anacondad` the service should run: the one the CLI would start
/// (`ANACONDAD_BIN`, else next to this executable), else the first on PATH.
fn installed_daemon(daemon_bin: &Path) -> Result<PathBuf, CliError> {
    let name = format!("anacondad{}", std::env::consts::EXE_SUFFIX);
    if daemon_bin.is_absolute() && daemon_bin.is_file() {
        return Ok(daemon_bin.to_path_buf());
    }
    let next_to_us = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)))
        .filter(|p| p.is_file());
    let on_path = || {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(&name))
                .find(|p| p.is_file())
                .and_then(|p| std::path::absolute(p).ok())
        })
    };
    next_to_us.or_else(on_path).ok_or_else(|| {
        CliError::failed(
            "anacondad is neither next to anacondactl nor on PATH: install it, or set \
             ANACONDAD_BIN=/absolute/path/to/anacondad",
        )
    })
}

/// What `service install` works with.
struct Install<'a> {
    env: &'a ServiceEnv,
    /// The `anacondad` the service runs (checked for control characters).
    daemon: &'a Path,
    /// Replace files not written by anacondactl.
    force: bool,
    /// The daemon an on-demand start left running, which the service replaces.
    target: &'a Target,
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Systemd,
    Launchd,
    WindowsRun,
}

impl Backend {
    fn of_this_platform() -> Self {
        if cfg!(target_os = "macos") {
            Self::Launchd
        } else if cfg!(windows) {
            Self::WindowsRun
        } else {
            Self::Systemd
        }
    }

    async fn install(
        self,
        request: &Install<'_>,
        report: &mut Report,
    ) -> Result<Placement, CliError> {
        match self {
            Self::Systemd => systemd::install(request, report).await,
            Self::Launchd => launchd::install(request, report).await,
            Self::WindowsRun => windows::install(request.daemon, request.force, report),
        }
    }

    fn uninstall(self, env: &ServiceEnv, report: &mut Report) -> Result<Placement, CliError> {
        match self {
            Self::Systemd => systemd::uninstall(env, report),
            Self::Launchd => launchd::uninstall(env, report),
            Self::WindowsRun => windows::uninstall(report),
        }
    }

    fn status(self, env: &ServiceEnv) -> ServiceStatus {
        match self {
            Self::Systemd => systemd::status(env),
            Self::Launchd => launchd::status(env),
            Self::WindowsRun => windows::status(),
        }
    }
}

/// What `installed` says to a person.
pub(super) fn installed_text(installed: Installed, packaged_at: Option<&str>) -> String {
    match installed {
        Installed::Absent => "absent".to_owned(),
        Installed::Installed => "installed".to_owned(),
        Installed::Outdated => "installed (outdated: run `anacondactl service install`)".to_owned(),
        Installed::Foreign => "present, not written by anacondactl".to_owned(),
        Installed::Packaged => format!(
            "packaged ({}), not by anacondactl",
            packaged_at.unwrap_or_default()
        ),
    }
}

fn status_text(status: &ServiceStatus) -> String {
    let mut text = format!("service manager: {}", status.manager.as_str());
    if let Some(reason) = &status.unreachable {
        text.push_str(&format!(" (not reachable: {reason})"));
    }
    text.push('\n');
    for unit in &status.units {
        text.push_str(&format!(
            "  {}: {}; enabled: {}; active: {}\n    {}\n",
            unit.name,
            installed_text(unit.installed, unit.packaged_at.as_deref()),
            unit.enabled,
            unit.active,
            unit.path,
        ));
    }
    text
}

/// Stops a daemon that the CLI started on demand, so the service manager can take its socket
/// (a socket unit replaces the socket file, and the old daemon would run on, unreachable; a
/// launchd agent's daemon would find the socket taken).
async fn stop_on_demand_daemon(target: &Target, report: &mut Report) -> Result<(), CliError> {
    if target.connect().await.is_err() {
        return Ok(());
    }
    if report.dry_run {
        report.say(format!(
            "would stop the daemon running at {} (the service manager takes its socket)",
            target.socket.display()
        ));
        return Ok(());
    }
    if !super::daemon::stop(target).await? {
        return Ok(());
    }
    report.say(format!(
        "stopped the daemon running at {} so that the service manager takes its socket",
        target.socket.display()
    ));
    Ok(())
}

/// A user's environment for the backends' tests.
#[cfg(test)]
fn sample_env() -> ServiceEnv {
    ServiceEnv {
        home: PathBuf::from("/home/u"),
        config_home: PathBuf::from("/home/u/.config"),
        uid: 501,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_with_a_line_break_or_an_escape_is_refused_and_an_ordinary_one_is_not() {
        for hostile in [
            "/opt/a\nExecStartPre=/bin/sh",
            "/opt/a\rb",
            "/opt/\u{1b}[2J",
        ] {
            let e = refuse_control_characters("the anacondad path", Path::new(hostile))
                .expect_err(hostile);
            assert!(e.message.contains("control character"), "{}", e.message);
            assert!(!e.message.contains('\n'), "{}", e.message);
        }
        refuse_control_characters("the anacondad path", Path::new("/my apps/100%/anacondad"))
            .unwrap();
    }
}
