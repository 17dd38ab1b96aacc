//! `anacondactl doctor [--json] [--fix]`: every check conda's access depends on, in reading
//! order, each `ok`, `warn` or `fail` with one line of evidence and the command that fixes it.
//! The daemon makes the checks (`Diagnose`, with conda as this shell runs it) and says which
//! ones `--fix` repairs; this side adds only what the daemon cannot see (reaching it, the
//! versions, the service units) and renders them all. `--fix` applies only conda's
//! configuration, through the same plan and question as `token install`.

use anacondad_proto::v1::{Check, CheckState, DiagnoseRequest, PlanCondarcRequest, StatusRequest};

use super::{Output, condarc, condarc_target, service};
use crate::cli::DoctorArgs;
use crate::connection::{DaemonClient, Target};
use crate::exit::{CliError, ExitKind};
use crate::json::commands::DoctorReport;
use crate::json::service::Installed;
use crate::progress::{Progress, RequestId};
use crate::prompt::Prompter;

/// A check of this side's own.
fn row(
    id: impl Into<String>,
    section: &str,
    state: CheckState,
    evidence: impl Into<String>,
) -> Check {
    Check {
        id: id.into(),
        section: section.to_owned(),
        state: state.into(),
        evidence: evidence.into(),
        ..Check::default()
    }
}

/// `check` with `fix` as what fixes it.
fn with_fix(mut check: Check, fix: impl Into<String>) -> Check {
    check.fix = fix.into();
    check
}

/// A check's state as the report counts it: one the daemon left unspecified counts as failed.
fn state(check: &Check) -> CheckState {
    match check.state() {
        CheckState::Unspecified => CheckState::Fail,
        known => known,
    }
}

pub async fn run(
    args: DoctorArgs,
    target: &Target,
    out: Output,
    prompter: Prompter,
) -> Result<(), CliError> {
    let (mut rows, client) = collect(&args, target, out).await;
    let mut fixed = Vec::new();
    if args.fix {
        if let Some(client) = &client {
            fixed = fix(client, &args, &rows, out, prompter).await?;
            if !fixed.is_empty() {
                rows = collect(&args, target, out).await.0;
            }
        } else {
            out.say("nothing can be fixed while the daemon cannot be reached");
        }
    }
    let failed: Vec<&Check> = rows
        .iter()
        .filter(|r| state(r) == CheckState::Fail)
        .collect();
    if out.json {
        out.print_json(&report_json(&rows, &fixed));
    } else {
        // Each piece from outside is made safe in report_text; the colours are its own.
        print!("{}", report_text(&rows, &fixed, out.colour));
    }
    if failed.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = failed.iter().map(|r| r.id.as_str()).collect();
    Err(CliError::new(
        ExitKind::DoctorFailed,
        format!(
            "{} check(s) failed ({}); each names the command that fixes it",
            failed.len(),
            ids.join(", ")
        ),
    ))
}

/// Every check in reading order: the daemon and its checks, the service units, conda's; and
/// the daemon client when the daemon could be reached.
async fn collect(
    args: &DoctorArgs,
    target: &Target,
    out: Output,
) -> (Vec<Check>, Option<DaemonClient>) {
    let mut rows = Vec::new();
    let (client, conda) = daemon_rows(args, target, &mut rows, out).await;
    if let Some(client) = &client {
        let env = super::doctor_clients::Environment::from_process();
        for found in super::doctor_clients::findings(client, &env).await {
            let state = if found.ok {
                CheckState::Ok
            } else {
                CheckState::Warn
            };
            rows.push(with_fix(
                row(found.id, "clients", state, found.evidence),
                found.fix,
            ));
        }
    }
    unit_rows(target, &mut rows);
    rows.extend(conda);
    (rows, client)
}

/// The daemon: reachable (started on demand if need be), its version and who started it,
/// then its own checks; returns its client and conda's checks (read after the units).
async fn daemon_rows(
    args: &DoctorArgs,
    target: &Target,
    rows: &mut Vec<Check>,
    out: Output,
) -> (Option<DaemonClient>, Vec<Check>) {
    const S: &str = "daemon";
    let restart = "anacondactl daemon stop (the next command starts the installed one)";
    let socket = target.socket.display().to_string();
    let (client, how) = match target.connect().await {
        Ok(client) => (client, "running"),
        Err(e) if e.kind == ExitKind::Daemon => match target.connect_or_start().await {
            Ok(client) => (client, "was not running; started on demand"),
            Err(e) => {
                rows.push(with_fix(
                    row("daemon.reachable", S, CheckState::Fail, e.message),
                    "anacondactl daemon run (shows why it does not start)",
                ));
                return (None, Vec::new());
            }
        },
        Err(e) => {
            rows.push(with_fix(
                row("daemon.reachable", S, CheckState::Fail, e.message),
                "anacondactl daemon stop",
            ));
            return (None, Vec::new());
        }
    };
    let status = match client.daemon().status(StatusRequest {}).await {
        Ok(status) => status.into_inner(),
        Err(e) => {
            let message = CliError::from(e).message;
            rows.push(with_fix(
                row("daemon.reachable", S, CheckState::Fail, message),
                "anacondactl daemon stop",
            ));
            return (None, Vec::new());
        }
    };
    rows.push(row(
        "daemon.reachable",
        S,
        CheckState::Ok,
        format!("{how} at {socket} (pid {})", status.pid),
    ));
    let ours = anacondad_proto::build_version();
    let versions = format!(
        "anacondactl {ours}, anacondad {} (protocol {})",
        status.daemon_version, status.protocol_version
    );
    if status.daemon_version == ours && status.protocol_version == anacondad_proto::PROTOCOL_VERSION
    {
        rows.push(row("daemon.version", S, CheckState::Ok, versions));
    } else {
        let evidence = format!("{versions}: the running daemon is another version");
        rows.push(with_fix(
            row("daemon.version", S, CheckState::Warn, evidence),
            restart,
        ));
    }
    let id = RequestId::new();
    let request = DiagnoseRequest {
        condarc: Some(condarc_target(&args.condarc)),
    };
    let diagnosed = Progress::new(out.json)
        .during(
            &client,
            &id,
            "Checking the store, the service and each token",
            client.daemon().diagnose(id.request(request)),
        )
        .await;
    let answer = match diagnosed {
        Ok(answer) => answer.into_inner(),
        Err(e) => {
            let message = CliError::from(e).message;
            rows.push(with_fix(
                row("daemon.diagnose", S, CheckState::Fail, message),
                restart,
            ));
            return (Some(client), Vec::new());
        }
    };
    rows.push(row(
        "daemon.started_by",
        S,
        CheckState::Ok,
        format!("started by {}", answer.started_by),
    ));
    rows.extend(answer.checks);
    let conda = if answer.conda_checked {
        answer.conda_checks
    } else {
        let evidence = "the running daemon (another version) does not check conda's configuration";
        vec![with_fix(
            row("conda.check", "conda", CheckState::Warn, evidence),
            restart,
        )]
    };
    (Some(client), conda)
}

/// The service manager's units: installed, enabled, active.
fn unit_rows(target: &Target, rows: &mut Vec<Check>) {
    const S: &str = "service units";
    let status = match service::status(target.uid) {
        Ok(status) => status,
        Err(e) => {
            rows.push(row("units", S, CheckState::Warn, e.message));
            return;
        }
    };
    let manager = status.manager.as_str();
    if let Some(reason) = &status.unreachable {
        rows.push(row(
            "units",
            S,
            CheckState::Warn,
            format!("the {manager} user manager is not reachable ({reason}); anacondactl starts the daemon on demand"),
        ));
        return;
    }
    for unit in &status.units {
        let name = &unit.name;
        let installed = service::installed_text(unit.installed, unit.packaged_at.as_deref());
        let enabled = &unit.enabled;
        let active = &unit.active;
        let id = format!("units.{name}");
        let evidence = format!(
            "{name}: {installed}; enabled: {enabled}; active: {active} ({})",
            unit.path
        );
        let not_enabled = ["disabled", "not loaded", "no", "unknown", "not-found", ""]
            .contains(&enabled.as_str());
        let install = "anacondactl service install";
        rows.push(if unit.installed == Installed::Absent {
            let evidence =
                format!("{evidence}: not installed, so the daemon starts on demand only");
            with_fix(row(id, S, CheckState::Warn, evidence), install)
        } else if unit.installed == Installed::Outdated
            || (unit.installed == Installed::Installed && not_enabled)
        {
            with_fix(row(id, S, CheckState::Warn, evidence), install)
        } else {
            row(id, S, CheckState::Ok, evidence)
        });
    }
}

/// Applies conda's configuration when a fixable check failed: the plan, the question (unless
/// `--yes`), the edit. Returns what changed; nothing is written when nothing needs fixing.
async fn fix(
    client: &DaemonClient,
    args: &DoctorArgs,
    rows: &[Check],
    out: Output,
    prompter: Prompter,
) -> Result<Vec<String>, CliError> {
    let needed = rows.iter().any(|r| r.fixable && state(r) != CheckState::Ok);
    if !needed {
        out.say("Nothing to fix.");
        return Ok(Vec::new());
    }
    let plan = client
        .condarc()
        .plan_condarc(PlanCondarcRequest {
            target: Some(condarc_target(&args.condarc)),
        })
        .await?
        .into_inner();
    if !plan.changes {
        out.say(format!(
            "{} already holds what anacondactl would write; the remaining findings need the fixes named below",
            plan.path
        ));
        return Ok(Vec::new());
    }
    out.say(format!("Fixing {}:", plan.path));
    if !condarc::confirm_edit(out, &plan.path, &plan.summary, args.yes, prompter)? {
        return Ok(Vec::new());
    }
    let applied = condarc::apply(client, &args.condarc).await?;
    if !applied.backup_path.is_empty() {
        out.say(format!("Backing up config to {}", applied.backup_path));
    }
    // Whether conda now uses the file is what the checks below, run again, say.
    out.say(format!("{} is written.", applied.path));
    Ok(applied.summary)
}

fn counts(rows: &[Check]) -> (usize, usize, usize) {
    let n = |s| rows.iter().filter(|r| state(r) == s).count();
    (n(CheckState::Ok), n(CheckState::Warn), n(CheckState::Fail))
}

fn report_json(rows: &[Check], fixed: &[String]) -> DoctorReport {
    let (ok, warn, fail) = counts(rows);
    DoctorReport {
        checks: rows
            .iter()
            .map(|r| crate::json::commands::Check {
                id: r.id.clone(),
                section: r.section.clone(),
                state: match state(r) {
                    CheckState::Ok => "ok",
                    CheckState::Warn => "warn",
                    CheckState::Fail | CheckState::Unspecified => "fail",
                },
                evidence: r.evidence.clone(),
                fix: crate::json::text(&r.fix),
                fixable: r.fixable,
            })
            .collect(),
        ok,
        warn,
        fail,
        fixed: fixed.to_vec(),
    }
}

fn report_text(rows: &[Check], fixed: &[String], colour: bool) -> String {
    use crate::render::{Tone, paint};
    let mut text = String::new();
    let mut section = "";
    for row in rows {
        if row.section != section {
            section = &row.section;
            text.push_str(&format!("{}\n", crate::render::one_line(section)));
        }
        let mark = match state(row) {
            CheckState::Ok => paint("ok  ", Tone::Ok, colour),
            CheckState::Warn => paint("warn", Tone::Warn, colour),
            CheckState::Fail | CheckState::Unspecified => paint("FAIL", Tone::Fail, colour),
        };
        text.push_str(&format!(
            "  {mark}  {}\n",
            crate::render::one_line(&row.evidence)
        ));
        if state(row) != CheckState::Ok && !row.fix.is_empty() {
            text.push_str(&format!(
                "        fix: {}{}\n",
                crate::render::one_line(&row.fix),
                if row.fixable {
                    " (or doctor --fix)"
                } else {
                    ""
                }
            ));
        }
    }
    if !fixed.is_empty() {
        text.push_str(&format!(
            "fixed: {}\n",
            crate::render::terminal_safe(&fixed.join("; "))
        ));
    }
    let (ok, warn, fail) = counts(rows);
    text.push_str(&format!("{ok} ok, {warn} warning(s), {fail} failure(s)\n"));
    text
}
