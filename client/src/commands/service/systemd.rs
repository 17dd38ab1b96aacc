//! systemd user units in `$XDG_CONFIG_HOME/systemd/user/`: the shipped socket and service
//! units, the service's `ExecStart=` pointed at the installed binary.

use std::path::{Path, PathBuf};

use super::files::{ManagedFile, install_files, remove_ours};
use super::report::{ManagerCommand, Report};
use super::{Install, MARKER, ServiceEnv, stop_on_demand_daemon};
use crate::exit::CliError;
use crate::json::service::{Installed, Manager, Placement, ServiceStatus, UnitStatus};

const SOCKET_UNIT: &str = include_str!("../../../../packaging/systemd/anacondad.socket");
const SERVICE_UNIT: &str = include_str!("../../../../packaging/systemd/anacondad.service");
/// The `ExecStart=` line of the shipped service unit, replaced by the installed binary's path.
const SHIPPED_EXEC_START: &str = "ExecStart=/usr/bin/anacondad --foreground";
const UNITS: [&str; 2] = ["anacondad.socket", "anacondad.service"];
/// Where the `.deb` puts the shipped units (a user's own units take precedence).
const PACKAGED_UNIT_DIR: &str = "/usr/lib/systemd/user";

fn unit_dir(env: &ServiceEnv) -> PathBuf {
    env.config_home.join("systemd/user")
}

fn systemctl(args: &[&str]) -> ManagerCommand {
    let mut all = vec!["--user"];
    all.extend_from_slice(args);
    ManagerCommand::new("systemctl", &all)
}

/// A word of `ExecStart=` for `path`: `%` doubled (systemd's specifier escape), quoted
/// when it has spaces, quotes or backslashes. A path with a control character never gets
/// here (`service install` refuses it).
pub(super) fn exec_word(path: &Path) -> String {
    let raw = path.display().to_string().replace('%', "%%");
    if raw.contains([' ', '\t', '"', '\'', '\\']) {
        format!("\"{}\"", raw.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        raw
    }
}

pub(super) fn files(env: &ServiceEnv, daemon: &Path) -> Vec<ManagedFile> {
    let dir = unit_dir(env);
    let marked = |unit: &str| format!("# {MARKER}\n{unit}");
    let service = SERVICE_UNIT.replace(
        SHIPPED_EXEC_START,
        &format!("ExecStart={} --foreground", exec_word(daemon)),
    );
    vec![
        ManagedFile {
            path: dir.join(UNITS[0]),
            contents: marked(SOCKET_UNIT),
        },
        ManagedFile {
            path: dir.join(UNITS[1]),
            contents: marked(&service),
        },
    ]
}

/// Why the user manager cannot be asked, or `None` when it can.
fn unreachable() -> Option<String> {
    systemctl(&["show-environment"]).run().err()
}

fn placement(env: &ServiceEnv, daemon: Option<&Path>, unreachable: Option<String>) -> Placement {
    Placement::Systemd {
        unit_dir: unit_dir(env).display().to_string(),
        exec_start: daemon.map(|d| d.display().to_string()),
        unreachable,
    }
}

pub(super) async fn install(
    request: &Install<'_>,
    report: &mut Report,
) -> Result<Placement, CliError> {
    let env = request.env;
    let changed = install_files(&files(env, request.daemon), request.force, report)?;
    let reload = systemctl(&["daemon-reload"]);
    let enable = systemctl(&["enable", "--now", UNITS[0]]);
    let unreachable = unreachable();
    match &unreachable {
        Some(reason) => {
            report.say(format!(
                "not enabled: no systemd user manager is reachable ({reason})"
            ));
            report.later = vec![reload.display(), enable.display()];
        }
        None => {
            let enabled = systemctl(&["is-enabled", UNITS[0]]).query();
            let active = systemctl(&["is-active", UNITS[0]]).query();
            let running =
                enabled.as_deref() == Some("enabled") && active.as_deref() == Some("active");
            if changed {
                report.run(&reload)?;
            }
            if changed || !running {
                stop_on_demand_daemon(request.target, report).await?;
                report.run(&enable)?;
                if !report.dry_run {
                    report.say(
                        "anacondad now starts on first use (anacondad.socket) and with every \
                         login session",
                    );
                }
            } else {
                report.say("anacondad.socket is already enabled and active");
            }
        }
    }
    Ok(placement(env, Some(request.daemon), unreachable))
}

pub(super) fn uninstall(env: &ServiceEnv, report: &mut Report) -> Result<Placement, CliError> {
    // The contents do not matter for removal, only the paths and the marker.
    let files = files(env, Path::new("/usr/bin/anacondad"));
    let ours: Vec<&str> = files
        .iter()
        .zip(UNITS)
        .filter(|(f, _)| f.is_ours())
        .map(|(_, unit)| unit)
        .collect();
    let unreachable = unreachable();
    if !ours.is_empty() {
        match &unreachable {
            None => {
                let mut args = vec!["disable", "--now"];
                args.extend(&ours);
                report.run(&systemctl(&args))?;
            }
            // What `disable` would remove: the links `enable` made to our files.
            Some(_) => remove_wants_links(env, &files, report)?,
        }
    }
    remove_ours(&files, report)?;
    if !ours.is_empty() && unreachable.is_none() {
        report.run(&systemctl(&["daemon-reload"]))?;
    }
    if ours.is_empty() {
        report.say(format!(
            "no unit written by anacondactl in {}",
            unit_dir(env).display()
        ));
    }
    Ok(placement(env, None, unreachable))
}

/// Removes `*.wants/` links to our unit files (made by `systemctl enable`) when no manager
/// can be asked to disable them.
fn remove_wants_links(
    env: &ServiceEnv,
    files: &[ManagedFile],
    report: &mut Report,
) -> Result<(), CliError> {
    let dir = unit_dir(env);
    for (wants, unit) in [
        ("sockets.target.wants", UNITS[0]),
        ("default.target.wants", UNITS[1]),
    ] {
        let link = dir.join(wants).join(unit);
        let points_at_ours = std::fs::read_link(&link).is_ok_and(|to| {
            files
                .iter()
                .any(|f| f.path == to || dir.join(&to) == f.path)
        });
        if !points_at_ours {
            continue;
        }
        if report.dry_run {
            report.say(format!("would remove {}", link.display()));
            continue;
        }
        std::fs::remove_file(&link)
            .map_err(|e| CliError::failed(format!("cannot remove {}: {e}", link.display())))?;
        report.say(format!("removed: {}", link.display()));
        report.changed = true;
    }
    Ok(())
}

pub(super) fn status(env: &ServiceEnv) -> ServiceStatus {
    let files = files(env, Path::new("/usr/bin/anacondad"));
    let unreachable = unreachable();
    let units = files
        .iter()
        .zip(UNITS)
        .map(|(file, unit)| {
            let ask = |verb: &str| match &unreachable {
                Some(_) => "unknown".to_owned(),
                None => systemctl(&[verb, unit])
                    .query()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "unknown".to_owned()),
            };
            // The contents depend on the binary's path; only the marker matters here.
            let packaged = Path::new(PACKAGED_UNIT_DIR).join(unit);
            let (installed, packaged_at) = match file.found() {
                Installed::Outdated => (Installed::Installed, None),
                Installed::Absent if packaged.is_file() => {
                    (Installed::Packaged, Some(packaged.display().to_string()))
                }
                other => (other, None),
            };
            UnitStatus {
                name: unit.to_owned(),
                path: file.path.display().to_string(),
                installed,
                packaged_at,
                enabled: ask("is-enabled"),
                active: ask("is-active"),
            }
        })
        .collect();
    ServiceStatus {
        manager: Manager::Systemd,
        unreachable,
        units,
    }
}

#[cfg(test)]
mod tests {
    use super::super::sample_env as env;
    use super::*;

    #[test]
    fn the_service_unit_runs_the_installed_binary_and_carries_the_marker() {
        let files = files(&env(), Path::new("/opt/conda/bin/anacondad"));
        assert_eq!(
            files[1].path,
            PathBuf::from("/home/u/.config/systemd/user/anacondad.service")
        );
        assert!(files[1].contents.starts_with(&format!("# {MARKER}\n")));
        assert!(
            files[1]
                .contents
                .contains("\nExecStart=/opt/conda/bin/anacondad --foreground\n")
        );
        assert!(!files[1].contents.contains("ExecStart=/usr/bin/"));
        assert!(
            SERVICE_UNIT.contains(SHIPPED_EXEC_START),
            "the shipped unit changed"
        );
    }

    #[test]
    fn exec_start_escapes_specifiers_and_quotes_spaces() {
        assert_eq!(exec_word(Path::new("/a/b")), "/a/b");
        assert_eq!(exec_word(Path::new("/a/100%")), "/a/100%%");
        assert_eq!(
            exec_word(Path::new("/my apps/anacondad")),
            "\"/my apps/anacondad\""
        );
    }
}
