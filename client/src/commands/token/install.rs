//! `token install`: the flow from the checks made before anything changes to the token
//! stored, conda configured and the organisation's channels added.

use anacondad_proto::v1::{ErrorReason, InstallTokenRequest, InstallTokenResponse};

use super::conda::{configure_conda, install_json, plan_condarc};
use super::questions::{Reissue, choose_org, confirm_reissue};
use super::tracked::tracked;
use crate::cli::InstallArgs;
use crate::commands::Output;
use crate::commands::account::warn_storage;
use crate::connection::DaemonClient;
use crate::exit::{CliError, ExitKind, reason};
use crate::prompt::Prompter;
use crate::render;

/// The token is stored but the repository gave no yes: the advice re-checks (and names what
/// is left to do), never a reissue, which would revoke the token just stored.
pub(super) fn validation_failed(org: &str, reason: &str, then: &str) -> CliError {
    CliError::failed(format!(
        "the new token of {org} is stored, but the repository did not confirm it: {reason}. \
         `anacondactl token list` checks it again once the repository answers{then}"
    ))
}

/// The token the user gave: `-` reads standard input.
fn given_token(args: &InstallArgs) -> Result<Option<String>, CliError> {
    match args.token.as_deref() {
        None => Ok(None),
        Some("-") => crate::commands::read_secret_from_stdin(
            "token",
            "anacondactl token install - --org ORG < token.txt",
        )
        .map(Some),
        Some(token) => Ok(Some(token.to_owned())),
    }
}

pub(super) async fn install(
    client: &DaemonClient,
    args: InstallArgs,
    out: Output,
    prompter: Prompter,
) -> Result<(), CliError> {
    let given = given_token(&args)?;
    // Before anything is asked or reissued: the edit of conda's file must be one that can be
    // made (the file parses, can be written, is laid out so the editor can change it).
    if !args.no_condarc {
        check_condarc_first(client, &args).await?;
    }
    // Before anything is reissued: a required alignment that is refused stops here.
    let conda = crate::commands::config::CondaUse {
        configures: !args.no_condarc,
        auth_handler: args.condarc.auth_handler.as_deref(),
    };
    crate::commands::config::offer_alignment(client, conda, args.yes, out, prompter)
        .await
        .map_err(|e| said_at_interrupt(e, "nothing was changed"))?;
    let org = match (&given, &args.org) {
        (_, Some(org)) => org.clone(),
        (Some(_), None) => {
            return Err(CliError::failed(
                "a token given on the command line needs its organization: add --org ORG",
            ));
        }
        (None, None) => choose_org(client, out, prompter)
            .await
            .map_err(|e| said_at_interrupt(e, "nothing was changed"))?,
    };
    let mut request = InstallTokenRequest {
        org: org.clone(),
        confirm_reissue: false,
        token: given.unwrap_or_default(),
        skip_validation: false,
    };
    let answer = loop {
        let sent = tracked(
            client,
            out.json,
            &format!("Installing the token of {org}"),
            request.clone(),
            |mut tokens, request| async move { tokens.install_token(request).await },
        )
        .await;
        match sent {
            Ok(answer) => break answer,
            Err(status) if reason(&status) == Some(ErrorReason::ConfirmationRequired) => {
                let choice = confirm_reissue(client, &org, &args, out, prompter)
                    .await
                    .map_err(|e| {
                        said_at_interrupt(
                            e,
                            &format!("nothing was changed: the existing token of {org} stays"),
                        )
                    })?;
                match choice {
                    Reissue::Confirmed => request.confirm_reissue = true,
                    Reissue::KeepAndConfigure(token) => {
                        let kept = InstallTokenResponse {
                            token: Some(token),
                            reissued: false,
                            validation: None,
                            storage: None,
                        };
                        return configure_conda_and_channels(
                            client,
                            &args,
                            &kept,
                            &org,
                            &format!("Your token for {org} was kept as it was"),
                            &format!("your token for {org} was kept as it was"),
                            out,
                            prompter,
                        )
                        .await;
                    }
                    Reissue::Declined => return Ok(()),
                }
            }
            Err(status) => return Err(status.into()),
        }
    };
    let token = answer.token.clone().unwrap_or_default();
    let validation = answer.validation.clone().unwrap_or_default();
    let expiry = if token.expires_at == 0 {
        String::new()
    } else {
        format!(" and expires {}", render::time(token.expires_at))
    };
    out.say(format!(
        "Your conda token has been installed{expiry}. To view your token(s), you can use \
         anacondactl token list"
    ));
    warn_storage(out, answer.storage.as_ref());
    if !validation.ok {
        if out.json {
            out.print_json(&install_json(&answer, None));
        }
        let then = if args.no_condarc {
            ""
        } else {
            "; `anacondactl condarc apply` then configures conda"
        };
        return Err(validation_failed(&org, &validation.error, then));
    }
    if args.no_condarc {
        if out.json {
            out.print_json(&install_json(&answer, None));
        } else {
            crate::outln!("Success! Your token has been installed and validated.");
        }
        return Ok(());
    }
    configure_conda_and_channels(
        client,
        &args,
        &answer,
        &org,
        "Your token has been installed and validated",
        &format!("your token for {org} is installed{expiry}"),
        out,
        prompter,
    )
    .await
}

/// The steps after the token is in place, whether new or kept: conda's configuration, then the
/// org's channels. `done` starts the success line; `held` says, after Ctrl-C, what is kept.
#[allow(clippy::too_many_arguments)]
async fn configure_conda_and_channels(
    client: &DaemonClient,
    args: &InstallArgs,
    answer: &InstallTokenResponse,
    org: &str,
    done: &str,
    held: &str,
    out: Output,
    prompter: Prompter,
) -> Result<(), CliError> {
    let applied = configure_conda(client, args, answer, done, out, prompter)
        .await
        .map_err(|e| {
            said_at_interrupt(
                e,
                &format!(
                    "{held}, but conda was not configured; run `anacondactl condarc apply` to \
                     configure it"
                ),
            )
        })?;
    let (step, failure) =
        crate::commands::channels::after_token_install(client, org, args, out, prompter)
            .await
            .map_err(|e| {
                said_at_interrupt(
                    e,
                    &format!(
                        "{held} and conda configured, but no channel of {org} was added; run \
                         `anacondactl channels add --org {org} --all` to add them"
                    ),
                )
            })?;
    if out.json {
        let mut installed = install_json(answer, applied.as_ref());
        installed.channels = Some(step);
        out.print_json(&installed);
    }
    failure.map_or(Ok(()), Err)
}

/// Ctrl-C at a question: what was done by then, and what to run next.
pub(super) fn said_at_interrupt(e: CliError, done: &str) -> CliError {
    if e.kind == ExitKind::Interrupted {
        CliError::new(ExitKind::Interrupted, format!("interrupted: {done}"))
    } else {
        e
    }
}

/// Stops `token install` before anything is asked or reissued when conda's file cannot take
/// the edit: it does not parse, cannot be written, or is laid out so the editor cannot change
/// it (each message names the line or the command that fixes it).
async fn check_condarc_first(client: &DaemonClient, args: &InstallArgs) -> Result<(), CliError> {
    let nothing_done = "Nothing was reissued or changed: once that is fixed, run the install \
                        again (or pass --no-condarc to install the token without configuring \
                        conda)";
    let plan = plan_condarc(client, args, &format!(". {nothing_done}")).await?;
    if plan.cannot_write.is_empty() {
        return Ok(());
    }
    Err(CliError::failed(format!(
        "{}. {nothing_done}",
        plan.cannot_write
    )))
}
