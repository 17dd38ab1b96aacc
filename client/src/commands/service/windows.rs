//! A value in the user's `Run` registry key, set and read with `reg.exe`: Windows starts the
//! daemon at every logon.

use std::path::Path;

use super::report::{ManagerCommand, Report};
use crate::exit::CliError;
use crate::json::service::{Installed, Manager, Placement, ServiceStatus, UnitStatus};

const RUN_KEY: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";
const RUN_VALUE: &str = "anacondad";

/// The registry value's data: the quoted program and its argument.
pub(super) fn data(daemon: &Path) -> String {
    format!("\"{}\" --foreground", daemon.display())
}

fn entry() -> String {
    format!("{RUN_KEY}\\{RUN_VALUE}")
}

/// The value's data now, or `None` when there is none.
fn current() -> Option<String> {
    let out = ManagerCommand::new("reg", &["query", RUN_KEY, "/v", RUN_VALUE])
        .run()
        .ok()?;
    // `    anacondad    REG_SZ    "C:\...\anacondad.exe" --foreground`
    out.lines().find_map(|line| {
        let (_, rest) = line.split_once("REG_SZ")?;
        Some(rest.trim().to_owned())
    })
}

pub(super) fn install(
    daemon: &Path,
    force: bool,
    report: &mut Report,
) -> Result<Placement, CliError> {
    let wanted = data(daemon);
    let entry = entry();
    match current() {
        Some(now) if now == wanted => {
            report.say(format!("unchanged: {entry}"));
        }
        Some(now) if !force && !now.contains("anacondad") => {
            return Err(CliError::failed(format!(
                "{entry} holds `{now}`, not written by anacondactl: left untouched; pass \
                 --force to replace it"
            )));
        }
        _ => {
            let add = [
                "add", RUN_KEY, "/v", RUN_VALUE, "/t", "REG_SZ", "/d", &wanted, "/f",
            ];
            report.run(&ManagerCommand::new("reg", &add))?;
            report.say("anacondad starts at your next logon");
        }
    }
    Ok(Placement::WindowsRun { entry })
}

pub(super) fn uninstall(report: &mut Report) -> Result<Placement, CliError> {
    let entry = entry();
    match current() {
        Some(now) if now.contains("anacondad") => {
            report.run(&ManagerCommand::new(
                "reg",
                &["delete", RUN_KEY, "/v", RUN_VALUE, "/f"],
            ))?;
        }
        Some(now) => report.say(format!(
            "left alone (not written by anacondactl): {entry} = {now}"
        )),
        None => report.say(format!("no {entry} entry")),
    }
    Ok(Placement::WindowsRun { entry })
}

pub(super) fn status() -> ServiceStatus {
    let now = current();
    ServiceStatus {
        manager: Manager::WindowsRun,
        unreachable: None,
        units: vec![UnitStatus {
            name: RUN_VALUE.to_owned(),
            path: entry(),
            installed: if now.is_some() {
                Installed::Installed
            } else {
                Installed::Absent
            },
            packaged_at: None,
            enabled: if now.is_some() { "at logon" } else { "no" }.to_owned(),
            active: "see `anacondactl daemon status`".to_owned(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_windows_entry_quotes_the_program() {
        assert_eq!(
            data(Path::new(r"C:\Program Files\anacondad.exe")),
            r#""C:\Program Files\anacondad.exe" --foreground"#
        );
    }
}
