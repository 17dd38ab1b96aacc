//! `anacondactl condarc show|check|apply`, and the condarc step of `token install`.

use anacondad_proto::v1::{
    ApplyCondarcRequest, ApplyCondarcResponse, CheckCondarcRequest, CondarcState,
    PlanCondarcRequest,
};

use super::{Output, condarc_target};
use crate::cli::{CondarcArgs, CondarcCommand};
use crate::connection::{DaemonClient, Target};
use crate::exit::{CliError, ExitKind};
use crate::json;
use crate::prompt::Prompter;
use crate::render;

pub async fn run(cmd: CondarcCommand, target: &Target, out: Output) -> Result<(), CliError> {
    let client = target.connect_or_start().await?;
    match cmd {
        CondarcCommand::Show(args) => {
            let plan = client
                .condarc()
                .plan_condarc(PlanCondarcRequest {
                    target: Some(condarc_target(&args)),
                })
                .await?
                .into_inner();
            if out.json {
                out.print_json(&json::commands::CondarcPlan::from(&plan));
            } else if plan.changes {
                crate::out!("{}", plan.diff);
                if !plan.diff.ends_with('\n') {
                    crate::outln!();
                }
            } else {
                crate::outln!("{} is already configured: nothing to change.", plan.path);
            }
            Ok(())
        }
        CondarcCommand::Check(args) => {
            let report = client
                .condarc()
                .check_condarc(CheckCondarcRequest {
                    target: Some(condarc_target(&args)),
                })
                .await?
                .into_inner();
            let status = report.status.clone().unwrap_or_default();
            let conda = report.conda.clone().unwrap_or_default();
            if out.json {
                out.print_json(&json::commands::CondarcCheck {
                    status: json::daemon::Condarc::of(Some(&status)),
                    findings: report.findings.clone(),
                    notes: report.notes.clone(),
                    conda: json::daemon::CondaView::of(report.conda.as_ref()),
                });
            } else {
                // Each cause once: the findings are listed, so the status line leaves them out.
                let mut findings: Vec<&String> = Vec::new();
                for finding in &report.findings {
                    if !findings.contains(&finding) {
                        findings.push(finding);
                    }
                }
                let line = if findings.is_empty() {
                    render::condarc_line(Some(&status))
                } else {
                    render::condarc_line(Some(&anacondad_proto::v1::CondarcStatus {
                        detail: String::new(),
                        ..status.clone()
                    }))
                };
                crate::outln!("{line}");
                for finding in findings {
                    crate::outln!("  - {finding}");
                }
                for note in &report.notes {
                    crate::outln!("  {note}");
                }
                for line in render::conda_view_lines(&conda) {
                    crate::outln!("{line}");
                }
            }
            if status.state() == CondarcState::Configured && conda.findings.is_empty() {
                Ok(())
            } else if status.state() == CondarcState::Configured {
                Err(CliError::new(
                    ExitKind::Drift,
                    format!(
                        "{} is configured, but conda does not use it as it is: see {} above",
                        status.path,
                        if conda.findings.len() == 1 {
                            "the finding"
                        } else {
                            "the findings"
                        }
                    ),
                ))
            } else if status.state() == CondarcState::Malformed {
                Err(CliError::new(
                    ExitKind::Drift,
                    format!(
                        "{} does not parse: correct it where the finding above says",
                        status.path
                    ),
                ))
            } else {
                Err(CliError::new(
                    ExitKind::Drift,
                    format!(
                        "{} is not configured as anacondad would: run `anacondactl condarc show` \
                         to see the change, `anacondactl condarc apply` to make it",
                        status.path
                    ),
                ))
            }
        }
        CondarcCommand::Apply { condarc } => {
            let applied = apply(&client, &condarc).await?;
            // What still keeps conda from using the file, if anything.
            let findings = client
                .condarc()
                .check_condarc(CheckCondarcRequest {
                    target: Some(condarc_target(&condarc)),
                })
                .await
                .map(|r| r.into_inner().conda.unwrap_or_default().findings)
                .unwrap_or_default();
            if out.json {
                out.print_json(&json::commands::CondarcApply {
                    applied: json::commands::CondarcApplied::from(&applied),
                    conda_findings: findings.clone(),
                });
            } else {
                print_applied(&applied, findings.is_empty());
            }
            for line in &findings {
                out.warn(line);
            }
            Ok(())
        }
    }
}

pub async fn apply(
    client: &DaemonClient,
    args: &CondarcArgs,
) -> Result<ApplyCondarcResponse, CliError> {
    Ok(client
        .condarc()
        .apply_condarc(ApplyCondarcRequest {
            target: Some(condarc_target(args)),
        })
        .await?
        .into_inner())
}

/// Shows `summary`, the lines of a planned edit of `path`, and asks before it is made (`yes`
/// answers); when the answer is no, says that `path` was left unchanged.
pub fn confirm_edit(
    out: Output,
    path: &str,
    summary: &[String],
    yes: bool,
    prompter: Prompter,
) -> Result<bool, CliError> {
    for line in summary {
        out.say(format!("  {line}"));
    }
    let proceed = yes
        || prompter.confirm(
            "Proceed?",
            "editing .condarc needs your confirmation",
            "--yes",
        )?;
    if !proceed {
        out.say(format!("{path} was left unchanged."));
    }
    Ok(proceed)
}

/// `in_use`: nothing keeps conda from using the file (else the warnings that follow say what).
pub fn print_applied(applied: &ApplyCondarcResponse, in_use: bool) {
    if !applied.backup_path.is_empty() {
        crate::outln!("Backing up config to {}", applied.backup_path);
    }
    if applied.changed {
        for line in &applied.summary {
            crate::outln!("  {line}");
        }
        if in_use {
            crate::outln!("{} is configured.", applied.path);
        } else {
            crate::outln!(
                "{} is written, but conda does not use it as it is:",
                applied.path
            );
        }
    } else if in_use {
        crate::outln!("{} is already configured: nothing changed.", applied.path);
    } else {
        crate::outln!(
            "{} is as anacondad writes it, but conda does not use it as it is:",
            applied.path
        );
    }
}
