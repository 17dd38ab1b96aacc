//! `anacondactl doctor [--json] [--fix]`: every check conda's access depends on, in reading
//! order, each `ok`, `warn` or `fail` with one line of evidence and the command that fixes it.
//! The checks that need the store or the network come from the daemon (`Diagnose`); this
//! side adds what only the CLI can see (reaching the daemon, the versions, the service units)
//! and conda's configuration from `CheckCondarc`. `--fix` applies only conda's configuration,
//! through the same plan and question as `token install`.

use anacondad_proto::v1::{
    CheckCondarcRequest, CheckCondarcResponse, CheckState, CondarcState, DiagnoseRequest,
    PlanCondarcRequest, StatusRequest,
};

use super::{Output, condarc, condarc_target, service};
use crate::cli::DoctorArgs;
use crate::connection::{DaemonClient, Target};
use crate::exit::{CliError, ExitKind};
use crate::json::commands::{Check, DoctorReport};
use crate::json::service::Installed;
use crate::progress::{Progress, RequestId};
use crate::prompt::Prompter;

/// The fix `--fix` applies itself.
const CONDARC_FIX: &str = "anacondactl condarc apply";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ok,
    Warn,
    Fail,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone)]
struct Row {
    id: String,
    section: String,
    state: State,
    evidence: String,
    fix: String,
    /// `--fix` can repair it (conda's configuration).
    fixable: bool,
}

impl Row {
    fn new(
        id: impl Into<String>,
        section: &str,
        state: State,
        evidence: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            section: section.to_owned(),
            state,
            evidence: evidence.into(),
            fix: String::new(),
            fixable: false,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }

    fn fixable(mut self) -> Self {
        self.fix = CONDARC_FIX.to_owned();
        self.fixable = true;
        self
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
    let failed: Vec<&Row> = rows.iter().filter(|r| r.state == State::Fail).collect();
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

/// Every row, and the daemon client when the daemon could be reached.
async fn collect(
    args: &DoctorArgs,
    target: &Target,
    out: Output,
) -> (Vec<Row>, Option<DaemonClient>) {
    let mut rows = Vec::new();
    let client = daemon_rows(target, &mut rows, out).await;
    let mut conda_check = None;
    if let Some(client) = &client {
        match client
            .condarc()
            .check_condarc(CheckCondarcRequest {
                target: Some(condarc_target(&args.condarc)),
            })
            .await
        {
            Ok(answer) => conda_check = Some(answer.into_inner()),
            Err(status) => rows.push(
                Row::new(
                    "conda.check",
                    "conda",
                    State::Fail,
                    CliError::from(status).message,
                )
                .fix("anacondactl condarc check"),
            ),
        }
    }
    if let Some(check) = &conda_check {
        anaconda_auth_installed(check, &mut rows);
    }
    if let Some(client) = &client {
        let env = super::doctor_clients::Environment::from_process();
        for found in super::doctor_clients::findings(client, &env).await {
            let state = if found.ok { State::Ok } else { State::Warn };
            rows.push(Row::new(found.id, "clients", state, found.evidence).fix(found.fix));
        }
    }
    unit_rows(target, &mut rows);
    if let Some(check) = &conda_check {
        conda_rows(check, &mut rows);
    }
    (rows, client)
}

/// The daemon: reachable (started on demand if need be), its version and who started it,
/// then its own checks.
async fn daemon_rows(target: &Target, rows: &mut Vec<Row>, out: Output) -> Option<DaemonClient> {
    const S: &str = "daemon";
    let socket = target.socket.display().to_string();
    let (client, how) = match target.connect().await {
        Ok(client) => (client, "running"),
        Err(e) if e.kind == ExitKind::Daemon => match target.connect_or_start().await {
            Ok(client) => (client, "was not running; started on demand"),
            Err(e) => {
                rows.push(
                    Row::new("daemon.reachable", S, State::Fail, e.message)
                        .fix("anacondactl daemon run (shows why it does not start)"),
                );
                return None;
            }
        },
        Err(e) => {
            rows.push(
                Row::new("daemon.reachable", S, State::Fail, e.message)
                    .fix("anacondactl daemon stop"),
            );
            return None;
        }
    };
    let status = match client.daemon().status(StatusRequest {}).await {
        Ok(status) => status.into_inner(),
        Err(e) => {
            rows.push(
                Row::new(
                    "daemon.reachable",
                    S,
                    State::Fail,
                    CliError::from(e).message,
                )
                .fix("anacondactl daemon stop"),
            );
            return None;
        }
    };
    rows.push(Row::new(
        "daemon.reachable",
        S,
        State::Ok,
        format!("{how} at {socket} (pid {})", status.pid),
    ));
    let ours = env!("CARGO_PKG_VERSION");
    let versions = format!(
        "anacondactl {ours}, anacondad {} (protocol {})",
        status.daemon_version, status.protocol_version
    );
    if status.daemon_version == ours && status.protocol_version == anacondad_proto::PROTOCOL_VERSION
    {
        rows.push(Row::new("daemon.version", S, State::Ok, versions));
    } else {
        rows.push(
            Row::new(
                "daemon.version",
                S,
                State::Warn,
                format!("{versions}: the running daemon is another version"),
            )
            .fix("anacondactl daemon stop (the next command starts the installed one)"),
        );
    }
    let id = RequestId::new();
    let diagnosed = Progress::new(out.json)
        .during(
            &client,
            &id,
            "Checking the store, the service and each token",
            client.daemon().diagnose(id.request(DiagnoseRequest {})),
        )
        .await;
    match diagnosed {
        Ok(answer) => {
            let answer = answer.into_inner();
            rows.push(Row::new(
                "daemon.started_by",
                S,
                State::Ok,
                format!("started by {}", answer.started_by),
            ));
            for check in answer.checks {
                let state = match check.state() {
                    CheckState::Ok => State::Ok,
                    CheckState::Warn => State::Warn,
                    CheckState::Fail | CheckState::Unspecified => State::Fail,
                };
                rows.push(Row::new(check.id, &check.section, state, check.evidence).fix(check.fix));
            }
        }
        Err(e) => rows.push(
            Row::new("daemon.diagnose", S, State::Fail, CliError::from(e).message)
                .fix("anacondactl daemon stop (the next command starts the installed one)"),
        ),
    }
    Some(client)
}

/// Whether anaconda-auth is installed in a conda found (the daemon said which store it reads).
fn anaconda_auth_installed(check: &CheckCondarcResponse, rows: &mut Vec<Row>) {
    let Some(view) = &check.conda else {
        return;
    };
    let with: Vec<String> = view
        .installations
        .iter()
        .filter(|i| i.has_anaconda_auth)
        .map(|i| format!("{} in {}", version_or(&i.anaconda_auth_version), i.prefix))
        .collect();
    let row = if with.is_empty() {
        let needed = view.auth_handler == "anaconda-auth";
        Row::new(
            "anaconda_auth.installed",
            "anaconda-auth",
            if needed { State::Fail } else { State::Ok },
            if needed {
                "not installed in any conda found, but conda is configured to use its handler"
            } else {
                "not installed in any conda found (only needed with --auth-handler anaconda-auth)"
            },
        )
    } else {
        Row::new(
            "anaconda_auth.installed",
            "anaconda-auth",
            State::Ok,
            format!("installed: {}", with.join("; ")),
        )
    };
    rows.push(if row.state == State::Fail {
        row.fix("conda install -n base anaconda-auth, or `anacondactl condarc apply --auth-handler anacondad`")
    } else {
        row
    });
}

fn version_or(version: &str) -> String {
    if version.is_empty() {
        "anaconda-auth".to_owned()
    } else {
        format!("anaconda-auth {version}")
    }
}

/// The service manager's units: installed, enabled, active.
fn unit_rows(target: &Target, rows: &mut Vec<Row>) {
    const S: &str = "service units";
    let status = match service::status(target.uid) {
        Ok(status) => status,
        Err(e) => {
            rows.push(Row::new("units", S, State::Warn, e.message));
            return;
        }
    };
    let manager = status.manager.as_str();
    if let Some(reason) = &status.unreachable {
        rows.push(Row::new(
            "units",
            S,
            State::Warn,
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
        let row = if unit.installed == Installed::Absent {
            Row::new(
                id,
                S,
                State::Warn,
                format!("{evidence}: not installed, so the daemon starts on demand only"),
            )
            .fix("anacondactl service install")
        } else if unit.installed == Installed::Outdated
            || (unit.installed == Installed::Installed && not_enabled)
        {
            Row::new(id, S, State::Warn, evidence).fix("anacondactl service install")
        } else {
            Row::new(id, S, State::Ok, evidence)
        };
        rows.push(row);
    }
}

/// conda's configuration: our file, each conda found, `defaults` in channels, shadowing.
fn conda_rows(check: &CheckCondarcResponse, rows: &mut Vec<Row>) {
    const S: &str = "conda";
    let status = check.status.clone().unwrap_or_default();
    let path = status.path.clone();
    match status.state() {
        CondarcState::Configured => rows.push(Row::new(
            "conda.condarc",
            S,
            State::Ok,
            format!("{path} has our settings"),
        )),
        CondarcState::Malformed => rows.push(
            Row::new(
                "conda.condarc",
                S,
                State::Fail,
                format!("{path} does not parse: {}", status.detail),
            )
            .fix(format!(
                "correct {path} at the place named, then `{CONDARC_FIX}`"
            )),
        ),
        _ => {
            // conda's own findings (defaults not in effect, shadowing, plugins) have rows of
            // their own below: one cause, one row.
            let of_conda = check
                .conda
                .as_ref()
                .map(|view| view.findings.clone())
                .unwrap_or_default();
            let of_file: Vec<&String> = check
                .findings
                .iter()
                .filter(|f| !of_conda.contains(f))
                .collect();
            let only_conda = of_file.is_empty() && !check.findings.is_empty();
            if only_conda {
                rows.push(Row::new(
                    "conda.condarc",
                    S,
                    State::Ok,
                    format!("{path} has our settings; what keeps conda from using them is below"),
                ));
            } else {
                let what = if of_file.is_empty() {
                    "our settings are missing".to_owned()
                } else {
                    of_file
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                rows.push(
                    Row::new("conda.condarc", S, State::Fail, format!("{path}: {what}")).fixable(),
                );
            }
        }
    }
    for org in &status.orgs_without_token {
        rows.push(
            Row::new(
                format!("conda.org.{org}"),
                S,
                State::Warn,
                format!("conda's channels name the organisation {org}, which has no token"),
            )
            .fix(format!("anacondactl token install --org {org}")),
        );
    }
    for lost in &check.unreadable_channels {
        rows.push(
            Row::new(
                format!("conda.channel.{}.{}", lost.org, lost.name),
                S,
                State::Fail,
                lost.finding.clone(),
            )
            .fix(format!(
                "anacondactl channels remove --org {} {}",
                lost.org, lost.name
            )),
        );
    }
    let Some(view) = &check.conda else {
        return;
    };
    if view.installations.is_empty() {
        rows.push(
            Row::new(
                "conda.found",
                S,
                State::Warn,
                "no conda found (CONDA_EXE, PATH, CONDA_PREFIX, the usual locations)",
            )
            .fix("install conda, or activate it so CONDA_EXE is set"),
        );
    }
    let handler = if view.auth_handler.is_empty() {
        "anacondad"
    } else {
        view.auth_handler.as_str()
    };
    for install in &view.installations {
        let version = if install.conda_version.is_empty() {
            "conda".to_owned()
        } else {
            format!("conda {}", install.conda_version)
        };
        let loads = match handler {
            "anaconda-auth" => install.has_anaconda_auth,
            _ => install.has_anacondad_plugin,
        };
        let evidence = format!(
            "{version} at {} (found by {})",
            install.prefix,
            install.found_by.join(", ")
        );
        let id = format!("conda.handler.{}", install.prefix);
        rows.push(if loads {
            Row::new(
                id,
                S,
                State::Ok,
                format!("{evidence} loads the {handler} handler"),
            )
        } else {
            let fix = if handler == "anaconda-auth" {
                format!("{} -m pip install anaconda-auth", install.python)
            } else {
                install.plugin_install_command.clone()
            };
            Row::new(
                id,
                S,
                State::Fail,
                format!(
                    "{evidence} cannot load the {handler} handler: its requests get no credentials"
                ),
            )
            .fix(fix)
        });
    }
    if view.defaults_in_effect {
        rows.push(Row::new(
            "conda.defaults",
            S,
            State::Ok,
            format!("`defaults` is in channels ({})", view.channels.join(", ")),
        ));
    } else {
        let searched = if view.channels.is_empty() {
            "none".to_owned()
        } else {
            view.channels.join(", ")
        };
        rows.push(
            Row::new(
                "conda.defaults",
                S,
                State::Fail,
                format!(
                    "`defaults` is not in channels, so the repository's default channels are not searched (channels: {searched})"
                ),
            )
            .fixable(),
        );
    }
    if view.shadowing_entries.is_empty() {
        rows.push(Row::new(
            "conda.shadowing",
            S,
            State::Ok,
            "no channel_settings entry takes our repository's URLs",
        ));
    }
    for problem in &view.entry_problems {
        rows.push(
            Row::new(
                format!("conda.entry.{}", problem.channel),
                S,
                State::Fail,
                problem.finding.clone(),
            )
            .fix(format!(
                "set credential_type in the entry `{}` of {} to api-key or repo-token, or remove it",
                problem.channel, problem.source
            )),
        );
    }
    for entry in &view.shadowing_entries {
        let auth = if entry.auth.is_empty() {
            "no auth".to_owned()
        } else {
            format!("auth {}", entry.auth)
        };
        let evidence = format!(
            "{} uses the channel_settings entry `{}` ({auth}) from {} instead of ours (`{}` in {})",
            entry.url, entry.channel, entry.source, entry.ours, entry.ours_source
        );
        let row = Row::new(
            format!("conda.shadowing.{}", entry.channel),
            S,
            State::Fail,
            evidence,
        );
        rows.push(if entry.source == path {
            row.fixable()
        } else {
            row.fix(format!(
                "remove the entry `{}` from {}",
                entry.channel, entry.source
            ))
        });
    }
}

/// Applies conda's configuration when a fixable check failed: the plan, the question (unless
/// `--yes`), the edit. Returns what changed; nothing is written when nothing needs fixing.
async fn fix(
    client: &DaemonClient,
    args: &DoctorArgs,
    rows: &[Row],
    out: Output,
    prompter: Prompter,
) -> Result<Vec<String>, CliError> {
    let needed = rows.iter().any(|r| r.fixable && r.state != State::Ok);
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
    for line in &plan.summary {
        out.say(format!("  {line}"));
    }
    let proceed = args.yes
        || prompter.confirm(
            "Proceed?",
            "editing .condarc needs your confirmation",
            "--yes",
        )?;
    if !proceed {
        out.say(format!("{} was left unchanged.", plan.path));
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

fn counts(rows: &[Row]) -> (usize, usize, usize) {
    let n = |s| rows.iter().filter(|r| r.state == s).count();
    (n(State::Ok), n(State::Warn), n(State::Fail))
}

fn report_json(rows: &[Row], fixed: &[String]) -> DoctorReport {
    let (ok, warn, fail) = counts(rows);
    DoctorReport {
        checks: rows
            .iter()
            .map(|r| Check {
                id: r.id.clone(),
                section: r.section.clone(),
                state: r.state.as_str(),
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

fn report_text(rows: &[Row], fixed: &[String], colour: bool) -> String {
    use crate::render::{Tone, paint};
    let mut text = String::new();
    let mut section = "";
    for row in rows {
        if row.section != section {
            section = &row.section;
            text.push_str(&format!("{}\n", crate::render::one_line(section)));
        }
        let mark = match row.state {
            State::Ok => paint("ok  ", Tone::Ok, colour),
            State::Warn => paint("warn", Tone::Warn, colour),
            State::Fail => paint("FAIL", Tone::Fail, colour),
        };
        text.push_str(&format!(
            "  {mark}  {}\n",
            crate::render::one_line(&row.evidence)
        ));
        if row.state != State::Ok && !row.fix.is_empty() {
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
