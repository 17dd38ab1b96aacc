//! `anacondactl token install|list|uninstall|refresh`: Anaconda's one-command token workflow.

use anacondad_proto::v1::{
    ErrorReason, GetTokenStatusRequest, InstallTokenRequest, InstallTokenResponse,
    ListOrganizationsRequest, ListTokensRequest, PlanCondarcRequest, RefreshTokenRequest,
    SetAutoRenewRequest, TokenState, TokenSummary, UninstallTokenRequest,
};

use super::account::warn_storage;
use super::{Output, condarc, condarc_target};
use crate::cli::{InstallArgs, TokenCommand, UninstallArgs};
use crate::connection::{DaemonClient, Target};
use crate::exit::{CliError, ExitKind, reason};
use crate::json;
use crate::progress::{Progress, RequestId};
use crate::prompt::Prompter;
use crate::render;

pub async fn run(
    cmd: TokenCommand,
    target: &Target,
    out: Output,
    prompter: Prompter,
) -> Result<(), CliError> {
    let client = target.connect_or_start().await?;
    match cmd {
        TokenCommand::Install(args) => install(&client, args, out, prompter).await,
        TokenCommand::List => list(&client, out).await,
        TokenCommand::Show(args) => super::keys::token_show(&args.org, &client, out).await,
        TokenCommand::AutoRenew { org, state } => auto_renew(&client, &org, &state, out).await,
        TokenCommand::Uninstall(args) => uninstall(&client, args, out).await,
        TokenCommand::Refresh { org, yes } => refresh(&client, &org, yes, out, prompter).await,
    }
}

/// `token refresh`: asks first, as install does (`--yes` answers), then reissues.
async fn refresh(
    client: &DaemonClient,
    org: &str,
    yes: bool,
    out: Output,
    prompter: Prompter,
) -> Result<(), CliError> {
    if !yes {
        out.say(format!(
            "Reissuing the token of {org} makes a new one and revokes the current one on every \
             machine and CI job that uses it. This can't be undone."
        ));
        let what = format!(
            "reissuing the token of {org} revokes the current one and needs your confirmation"
        );
        if !prompter.confirm("Proceed?", &what, "--yes")? {
            out.say(format!(
                "Nothing changed: the token of {org} was left as it was."
            ));
            return Ok(());
        }
    }
    let id = RequestId::new();
    let answer = Progress::new(out.json)
        .during(
            client,
            &id,
            &format!("Reissuing the token of {org}"),
            client
                .tokens()
                .refresh_token(id.request(RefreshTokenRequest {
                    org: org.to_owned(),
                })),
        )
        .await?
        .into_inner();
    let token = answer.token.unwrap_or_default();
    let validation = answer.validation.unwrap_or_default();
    if out.json {
        out.print_json(&json::commands::TokenStored {
            token: json::daemon::Token::from(&token),
            validated: validation.ok,
            validation_error: json::text(&validation.error),
        });
    } else {
        crate::outln!(
            "A new token for {org} is installed and expires {}.",
            render::time(token.expires_at)
        );
    }
    warn_storage(out, answer.storage.as_ref());
    if validation.ok {
        Ok(())
    } else {
        Err(validation_failed(org, &validation.error, ""))
    }
}

/// The token is stored but the repository gave no yes: the advice re-checks (and names what
/// is left to do), never a reissue, which would revoke the token just stored.
fn validation_failed(org: &str, reason: &str, then: &str) -> CliError {
    CliError::failed(format!(
        "the new token of {org} is stored, but the repository did not confirm it: {reason}. \
         `anacondactl token list` checks it again once the repository answers{then}"
    ))
}

/// The token the user gave: `-` reads standard input.
fn given_token(args: &InstallArgs) -> Result<Option<String>, CliError> {
    match args.token.as_deref() {
        None => Ok(None),
        Some("-") => super::read_secret_from_stdin(
            "token",
            "anacondactl token install - --org ORG < token.txt",
        )
        .map(Some),
        Some(token) => Ok(Some(token.to_owned())),
    }
}

async fn install(
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
    let conda = super::config::CondaUse {
        configures: !args.no_condarc,
        auth_handler: args.condarc.auth_handler.as_deref(),
    };
    super::config::offer_alignment(client, conda, args.yes, out, prompter)
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
    let progress = Progress::new(out.json);
    let answer = loop {
        let id = RequestId::new();
        let sent = progress
            .during(
                client,
                &id,
                &format!("Installing the token of {org}"),
                client.tokens().install_token(id.request(request.clone())),
            )
            .await;
        match sent {
            Ok(answer) => break answer.into_inner(),
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
                        let done = format!("Your token for {org} was kept as it was");
                        let applied = configure_conda(client, &args, &kept, &done, out, prompter)
                            .await
                            .map_err(|e| {
                                said_at_interrupt(
                                    e,
                                    &format!(
                                        "your token for {org} was kept as it was, but conda was \
                                         not configured; run `anacondactl condarc apply` to \
                                         configure it"
                                    ),
                                )
                            })?;
                        if out.json {
                            out.print_json(&install_json(&kept, applied.as_ref()));
                        }
                        return Ok(());
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
    let done = "Your token has been installed and validated";
    let applied = configure_conda(client, &args, &answer, done, out, prompter)
        .await
        .map_err(|e| {
            said_at_interrupt(
                e,
                &format!(
                    "your token for {org} is installed{expiry}, but conda was not configured; \
                     run `anacondactl condarc apply` to configure it"
                ),
            )
        })?;
    let (step, failure) = super::channels::after_token_install(client, &org, &args, out, prompter)
        .await
        .map_err(|e| {
            said_at_interrupt(
                e,
                &format!(
                    "your token for {org} is installed{expiry} and conda configured, but no \
                     channel of {org} was added; run `anacondactl channels add --org {org} --all` \
                     to add them"
                ),
            )
        })?;
    if out.json {
        let mut installed = install_json(&answer, applied.as_ref());
        installed.channels = Some(step);
        out.print_json(&installed);
    }
    failure.map_or(Ok(()), Err)
}

/// Ctrl-C at a question: what was done by then, and what to run next.
fn said_at_interrupt(e: CliError, done: &str) -> CliError {
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
    let plan = client
        .condarc()
        .plan_condarc(PlanCondarcRequest {
            target: Some(condarc_target(&args.condarc)),
        })
        .await
        .map_err(|e| {
            let e = CliError::from(e);
            CliError::new(e.kind, format!("{}. {nothing_done}", e.message))
        })?
        .into_inner();
    if plan.cannot_write.is_empty() {
        return Ok(());
    }
    Err(CliError::failed(format!(
        "{}. {nothing_done}",
        plan.cannot_write
    )))
}

/// Without `--org`: the menu of the user's eligible organisations (the daemon checks a given
/// `--org` itself).
async fn choose_org(
    client: &DaemonClient,
    out: Output,
    prompter: Prompter,
) -> Result<String, CliError> {
    let id = RequestId::new();
    let orgs = Progress::new(out.json)
        .during(
            client,
            &id,
            "Asking the service for your organizations",
            client
                .tokens()
                .list_organizations(id.request(ListOrganizationsRequest {})),
        )
        .await?
        .into_inner()
        .organizations;
    match orgs.as_slice() {
        [] => Err(CliError::failed(
            "No organizations found. A repo token needs an organization with a business \
             subscription; check your subscriptions on anaconda.com, or install a token you \
             received with `anacondactl token install TOKEN --org ORG`",
        )),
        [only] => {
            out.say(format!(
                "Only one organization found, automatically selecting: {}",
                only.name
            ));
            Ok(only.name.clone())
        }
        several => {
            let rows: Vec<String> = several
                .iter()
                .map(|o| format!("{} ({})", o.title, o.name))
                .collect();
            let names: Vec<&str> = several.iter().map(|o| o.name.as_str()).collect();
            let picked = prompter.select(
                "Please select an organization",
                &rows,
                &format!("you have several organizations ({})", names.join(", ")),
                "--org ORG",
            )?;
            Ok(several[picked].name.clone())
        }
    }
}

/// What the user chose when the org already has a token.
#[derive(Debug)]
enum Reissue {
    Confirmed,
    /// The token on this machine is the org's current one and valid: keep it, configure conda.
    KeepAndConfigure(TokenSummary),
    /// Nothing is done; the user was told what was left as it was.
    Declined,
}

/// The daemon said the org has a token that a reissue would revoke: say whose it is (this
/// machine's and until when, or one issued elsewhere), and go on only with `--yes` or the
/// user's answer. When the token here is valid, keeping it and just configuring conda is
/// offered first.
async fn confirm_reissue(
    client: &DaemonClient,
    org: &str,
    args: &InstallArgs,
    out: Output,
    prompter: Prompter,
) -> Result<Reissue, CliError> {
    let id = RequestId::new();
    let status = Progress::new(out.json)
        .during(
            client,
            &id,
            &format!("Looking at the token of {org}"),
            client
                .tokens()
                .get_token_status(id.request(GetTokenStatusRequest {
                    org: org.to_owned(),
                })),
        )
        .await?
        .into_inner();
    let here = status.local.filter(|local| {
        !local.token_id.is_empty()
            && local.token_id == status.service_token_id
            && matches!(local.state(), TokenState::Valid | TokenState::RefreshDue)
    });
    // Anaconda's own words first, then whose token it is.
    let whose = match &here {
        Some(local) => format!(
            "your token on this machine ({}), valid until {}",
            local.masked_token,
            render::time(local.expires_at)
        ),
        None => format!(
            "a token issued elsewhere (another machine, a CI job or the website), valid until {}",
            render::time(status.service_expires_at)
        ),
    };
    out.say(format!(
        "An existing token already exists for the organization {org}: {whose}."
    ));
    out.say(
        "Reissuing a new token will revoke and deactivate any existing token access. This \
         action can't be undone.",
    );
    if args.yes {
        return Ok(Reissue::Confirmed);
    }
    let what =
        format!("reissuing the token of {org} revokes the current one and needs your confirmation");
    let declined = || {
        out.say(format!(
            "Nothing changed: the token of {org} and your conda configuration were left as they \
             were."
        ));
        Ok(Reissue::Declined)
    };
    match here {
        Some(local) => {
            let choice = prompter.choose(
                "Keep it and just configure conda (c), reissue (y), or leave everything as it \
                 is (n)? [c/y/n] (c): ",
                &[('c', "configure"), ('y', "yes"), ('n', "no")],
                'c',
                &what,
                "--yes to reissue, or run `anacondactl condarc apply` to configure conda with \
                 the token this machine has",
            )?;
            match choice {
                'c' => Ok(Reissue::KeepAndConfigure(local)),
                'y' => Ok(Reissue::Confirmed),
                _ => declined(),
            }
        }
        None => {
            if prompter.confirm("Proceed?", &what, "--yes")? {
                Ok(Reissue::Confirmed)
            } else {
                declined()
            }
        }
    }
}

/// The conda step after the token is in place; `done` says how it got there ("Your token has
/// been installed and validated"). Any failure here leaves a working token, so the advice is
/// `anacondactl condarc apply`, never a reissue. Under `--json` a failure prints the install's
/// answer; on success the caller prints it, with what was applied (`None`: nothing written).
async fn configure_conda(
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
    let plan = client
        .condarc()
        .plan_condarc(PlanCondarcRequest {
            target: Some(condarc_target(&args.condarc)),
        })
        .await
        .map_err(|e| {
            let e = CliError::from(e);
            CliError::new(e.kind, format!("{}; {finish_later}", e.message))
        })?
        .into_inner();
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

fn install_json(
    answer: &InstallTokenResponse,
    applied: Option<&anacondad_proto::v1::ApplyCondarcResponse>,
) -> json::commands::TokenInstalled {
    json::commands::TokenInstalled::new(answer, applied)
}

async fn auto_renew(
    client: &DaemonClient,
    org: &str,
    state: &str,
    out: Output,
) -> Result<(), CliError> {
    let on = state == "on";
    let answer = client
        .tokens()
        .set_auto_renew(SetAutoRenewRequest {
            org: org.to_owned(),
            on,
        })
        .await?
        .into_inner();
    let token = answer.token.unwrap_or_default();
    if out.json {
        out.print_json(&json::commands::AutoRenew {
            token: json::daemon::Token::from(&token),
        });
    } else if on {
        crate::outln!(
            "The token of {org} is reissued automatically again; next renewal {}.",
            render::time(token.next_refresh_at)
        );
    } else {
        crate::outln!(
            "The token of {org} is no longer reissued automatically; it expires {}. Renew it \
             with `anacondactl token refresh --org {org}`.",
            render::time(token.expires_at)
        );
    }
    Ok(())
}

async fn list(client: &DaemonClient, out: Output) -> Result<(), CliError> {
    let id = RequestId::new();
    let answer = Progress::new(out.json)
        .during(
            client,
            &id,
            "Checking each token with the service",
            client
                .tokens()
                .list_tokens(id.request(ListTokensRequest {})),
        )
        .await?
        .into_inner();
    if out.json {
        out.print_json(&json::commands::TokenList {
            tokens: json::daemon::tokens(&answer.tokens),
            storage: json::daemon::Storage::of(answer.storage.as_ref()),
            exports: json::daemon::exports(&answer.exports),
        });
        return Ok(());
    }
    if answer.tokens.is_empty() {
        crate::outln!("No tokens installed. Get one with `anacondactl token install`.");
    } else {
        let rows: Vec<[String; 6]> = answer
            .tokens
            .iter()
            .map(|t| {
                [
                    t.org.clone(),
                    t.channel_url.clone(),
                    t.masked_token.clone(),
                    render::time(t.expires_at),
                    render::next_renewal(t),
                    render::token_state(t).to_owned(),
                ]
            })
            .collect();
        print_table(
            &[
                "ORG",
                "CHANNEL",
                "TOKEN",
                "EXPIRES",
                "NEXT RENEWAL",
                "STATE",
            ],
            &rows,
            |row, state| {
                render::paint(
                    &render::one_line(state),
                    render::token_tone(&answer.tokens[row]),
                    out.colour,
                )
            },
        );
        for t in &answer.tokens {
            if let Some(line) = render::token_problem(t) {
                crate::outln!("{line}");
            }
        }
    }
    if !answer.exports.is_empty() {
        crate::outln!("Exported to:");
        for e in &answer.exports {
            crate::out!("{}", render::export_lines(e, "  "));
        }
    }
    warn_storage(out, answer.storage.as_ref());
    Ok(())
}

/// The rows under the header, columns aligned; `last` gives the shown form of row `i`'s last
/// cell (its colour), which needs no padding.
fn print_table<const N: usize>(
    header: &[&str; N],
    rows: &[[String; N]],
    last: impl Fn(usize, &str) -> String,
) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{:<w$}", render::one_line(c)))
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("{}", line(&header[..]).trim_end());
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        let (shown_last, first) = cells.split_last().unwrap_or((&"", &[]));
        // Each cell is made safe by `line` and `last`; the colour codes are our own.
        println!("{}  {}", line(first), last(i, shown_last));
    }
}

async fn uninstall(
    client: &DaemonClient,
    args: UninstallArgs,
    out: Output,
) -> Result<(), CliError> {
    let answer = client
        .tokens()
        .uninstall_token(UninstallTokenRequest {
            org: args.org.clone().unwrap_or_default(),
            all: args.all,
            condarc: Some(condarc_target(&args.condarc)),
            keep_condarc: args.keep_condarc,
            restore_default_channels: args.restore_condarc,
        })
        .await?
        .into_inner();
    if out.json {
        out.print_json(&json::commands::TokensUninstalled::from(&answer));
        return Ok(());
    }
    if answer.removed_orgs.is_empty() {
        crate::outln!("No tokens were installed.");
    } else {
        crate::outln!(
            "Removed the token(s) of {}.",
            answer.removed_orgs.join(", ")
        );
    }
    if answer.condarc_changed {
        crate::outln!("Updated {}:", answer.condarc_path);
        for line in &answer.condarc_changes {
            crate::outln!("  {line}");
        }
    }
    Ok(())
}
