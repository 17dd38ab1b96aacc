//! A LaunchAgent in `~/Library/LaunchAgents/`, loaded into the GUI session.

use std::path::{Path, PathBuf};

use super::files::{ManagedFile, install_files, remove_ours};
use super::report::{ManagerCommand, Report};
use super::{Install, MARKER, ServiceEnv, stop_on_demand_daemon};
use crate::exit::CliError;
use crate::json::service::{Installed, Manager, Placement, ServiceStatus, UnitStatus};

const TEMPLATE: &str = include_str!("../../../../packaging/launchd/com.anaconda.anacondad.plist");
const LABEL: &str = "com.anaconda.anacondad";

fn plist_path(env: &ServiceEnv) -> PathBuf {
    env.home
        .join("Library/LaunchAgents")
        .join(format!("{LABEL}.plist"))
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The template with the binary and home filled in (launchd expands neither `~` nor
/// `$HOME`) and the marker after the document type.
pub(super) fn render(env: &ServiceEnv, daemon: &Path) -> String {
    let filled = TEMPLATE
        .replace("@ANACONDAD@", &xml_escape(&daemon.display().to_string()))
        .replace("@HOME@", &xml_escape(&env.home.display().to_string()));
    match filled.split_once("<plist ") {
        Some((head, rest)) => format!("{head}<!-- {MARKER} -->\n<plist {rest}"),
        None => filled,
    }
}

fn file(env: &ServiceEnv, daemon: &Path) -> ManagedFile {
    ManagedFile {
        path: plist_path(env),
        contents: render(env, daemon),
    }
}

fn service_target(env: &ServiceEnv) -> String {
    format!("gui/{}/{LABEL}", env.uid)
}

fn bootout(env: &ServiceEnv) -> ManagerCommand {
    ManagerCommand::new("launchctl", &["bootout", &service_target(env)])
}

/// What `launchctl print` says of the agent, or `None` when it is not loaded.
fn loaded(env: &ServiceEnv) -> Option<String> {
    ManagerCommand::new("launchctl", &["print", &service_target(env)])
        .run()
        .ok()
}

fn placement(env: &ServiceEnv) -> Placement {
    Placement::Launchd {
        plist: plist_path(env).display().to_string(),
    }
}

pub(super) async fn install(
    request: &Install<'_>,
    report: &mut Report,
) -> Result<Placement, CliError> {
    let env = request.env;
    let changed = install_files(&[file(env, request.daemon)], request.force, report)?;
    if !report.dry_run {
        // Where the agent's daemon logs (StandardErrorPath).
        let logs = env.home.join("Library/Logs");
        std::fs::create_dir_all(&logs)
            .map_err(|e| CliError::failed(format!("cannot create {}: {e}", logs.display())))?;
    }
    if changed || loaded(env).is_none() {
        // bootstrap refuses a label that is loaded already: unload an older copy first.
        report.run_tolerant(&bootout(env));
        // The agent's daemon would exit 3 (socket taken) and retry every 30 s.
        stop_on_demand_daemon(request.target, report).await?;
        let path = plist_path(env).display().to_string();
        let domain = format!("gui/{}", env.uid);
        report.run(&ManagerCommand::new(
            "launchctl",
            &["bootstrap", &domain, &path],
        ))?;
    } else {
        report.say(format!("{LABEL} is already loaded"));
    }
    Ok(placement(env))
}

pub(super) fn uninstall(env: &ServiceEnv, report: &mut Report) -> Result<Placement, CliError> {
    let files = [file(env, Path::new("/usr/local/bin/anacondad"))];
    if files[0].is_ours() {
        report.run_tolerant(&bootout(env));
    }
    remove_ours(&files, report)?;
    Ok(placement(env))
}

pub(super) fn status(env: &ServiceEnv) -> ServiceStatus {
    let file = file(env, Path::new("/usr/local/bin/anacondad"));
    let printed = loaded(env);
    let installed = match file.found() {
        // The contents depend on the binary's path; only the marker matters here.
        Installed::Outdated => Installed::Installed,
        other => other,
    };
    let active = match &printed {
        Some(text) if text.contains("state = running") => "running",
        Some(_) => "loaded, not running",
        None => "not loaded",
    };
    ServiceStatus {
        manager: Manager::Launchd,
        unreachable: None,
        units: vec![UnitStatus {
            name: LABEL.to_owned(),
            path: file.path.display().to_string(),
            installed,
            packaged_at: None,
            enabled: if printed.is_some() {
                "loaded"
            } else {
                "not loaded"
            }
            .to_owned(),
            active: active.to_owned(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::super::sample_env as env;
    use super::*;

    #[test]
    fn the_launch_agent_is_filled_in_and_marked() {
        let plist = render(&env(), Path::new("/opt/a&b/anacondad"));
        assert!(
            plist.contains("<string>/opt/a&amp;b/anacondad</string>"),
            "{plist}"
        );
        assert!(
            plist.contains("/home/u/Library/Logs/anacondad.log"),
            "{plist}"
        );
        assert!(!plist.contains('@'), "{plist}");
        assert!(
            plist.contains(&format!("<!-- {MARKER} -->\n<plist ")),
            "{plist}"
        );
    }
}
