//! The conda step of `token install`: the edit of `.condarc` once the token is in place, and
//! the install's JSON answer.

use anacondad_proto::v1::{InstallTokenResponse, PlanCondarcRequest, PlanCondarcResponse};

use crate::cli::InstallArgs;
use crate::commands::{Output, condarc, condarc_target};
use crate::connection::DaemonClient;
use crate::exit::CliError;
use crate::json;
use crate::prompt::Prompter;

/// The conda step after the token is in place; `done` says how it got there ("Your token has
/// been installed and validated"). Any failure here leaves a working token, so the advice is
/// `anacondactl condarc apply`, never a reissue. Under `--json` a failure prints the install's
/// answer; on success the caller prints it, with what was applied (`None`: nothing written).
pub(super) async fn configure_conda(
    client: &DaemonClient,
    args: &InstallArgs,
    answer: &InstallTokenResponse,
    done: &str,
    out: Output,
    prompter: Prompter,
) -> Result<Option<anacondad_proto::v1::ApplyCondarcResponse>, CliError> {
    let org = answer
        .token
        .as_ref()
        .map(|t| t.org.clone())
        .unwrap_or_default();
    let finish_later =
        "your token is installed; configure conda later with `anacondactl condarc apply`";
    let plan = plan_condarc(client, args, &format!("; {finish_later}")).await?;
    let conda = plan.conda.clone().unwrap_or_default();
    if let Some(refusal) = handler_refusal(&org, &conda) {
        if out.json {
            out.print_json(&install_json(answer, None));
        }
        return Err(refusal);
    }
    if !plan.changes {
        if !out.json {
            crate::outln!("Your .condarc ({}) is already configured.", plan.path);
            crate::outln!("Success! {done}, and conda has been configured.");
        }
        return Ok(None);
    }
    out.say("Configuring your .condarc file");
    for line in &plan.summary {
        out.say(format!("  {line}"));
    }
    out.say("Prepared to set default channels in .condarc.");
    for line in &conda.findings {
        out.warn(line);
    }
    if conda.installations.is_empty() {
        out.warn(format!(
            "no conda installation was found ($CONDA_EXE, conda on PATH, $CONDA_PREFIX, \
             ~/miniconda3, ~/anaconda3, ~/miniforge3, /opt/conda), so nothing shows that conda \
             can load the `{}` auth handler; `anacondactl condarc check` in a shell where \
             conda runs tells",
            conda.auth_handler
        ));
    }
    if !args.yes && !prompter.is_interactive() {
        // Not "pass --yes": running the install again would reissue the token just stored.
        if out.json {
            out.print_json(&install_json(answer, None));
        }
        return Err(CliError::new(
            crate::exit::ExitKind::NeedsAnswer,
            format!(
                "{done}, but .condarc was left unchanged: editing it needs your confirmation, \
                 and there is no terminal to ask on. Configure conda with `anacondactl condarc \
                 apply`"
            ),
        ));
    }
    let proceed = args.yes
        || prompter.confirm(
            "Proceed?",
            "editing .condarc needs your confirmation",
            "--yes (or --no-condarc to leave it alone)",
        )?;
    if !proceed {
        if !out.json {
            crate::outln!(
                "{done}; .condarc was left unchanged. Configure conda later with `anacondactl \
                 condarc apply`."
            );
        }
        return Ok(None);
    }
    let applied = condarc::apply(client, &args.condarc)
        .await
        .map_err(|e| CliError::new(e.kind, format!("{}; {finish_later}", e.message)))?;
    if !out.json {
        if !applied.backup_path.is_empty() {
            crate::outln!("Backing up config to {}", applied.backup_path);
        }
        crate::outln!("Success! {done}, and conda has been configured.");
    }
    Ok(Some(applied))
}

/// The plan of the edit `token install` makes to conda's file; a failure to plan says `then`
/// after the reason (what was done, what to run next).
pub(super) async fn plan_condarc(
    client: &DaemonClient,
    args: &InstallArgs,
    then: &str,
) -> Result<PlanCondarcResponse, CliError> {
    Ok(client
        .condarc()
        .plan_condarc(PlanCondarcRequest {
            target: Some(condarc_target(&args.condarc)),
        })
        .await
        .map_err(|e| {
            let e = CliError::from(e);
            CliError::new(e.kind, format!("{}{then}", e.message))
        })?
        .into_inner())
}

/// When condas were found and none of them can load our handler, `auth: anacondad` would make
/// conda send no credential at all: the refusal, with the command that installs the plugin into
/// each of them and anaconda-auth's handler where it is installed. With no conda found there
/// is nothing to check against, and the plan's findings say so.
fn handler_refusal(org: &str, conda: &anacondad_proto::v1::CondaView) -> Option<CliError> {
    if conda.auth_handler != "anacondad" || conda.handler_loadable || conda.installations.is_empty()
    {
        return None;
    }
    let mut message = format!(
        "Your token for {org} is installed, but .condarc was left unchanged: no conda found \
         can load the `anacondad` auth handler (conda treats an unknown handler as no \
         authentication), so conda would send no credential."
    );
    for install in &conda.installations {
        message.push_str(&format!(
            "\n  conda at {}: install the plugin with `{}`",
            install.prefix, install.plugin_install_command
        ));
        if install.has_anaconda_auth {
            message.push_str(
                "; or, since anaconda-auth is installed there, use its handler: \
                 `anacondactl condarc apply --auth-handler anaconda-auth`",
            );
        }
    }
    message.push_str("\nOnce the plugin is installed, run `anacondactl condarc apply`.");
    Some(CliError::failed(message))
}

pub(super) fn install_json(
    answer: &InstallTokenResponse,
    applied: Option<&anacondad_proto::v1::ApplyCondarcResponse>,
) -> json::commands::TokenInstalled {
    json::commands::TokenInstalled::new(answer, applied)
}
