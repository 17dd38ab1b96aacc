//! The questions `token install` asks: which organisation, and whether to reissue the token
//! an organisation already has.

use anacondad_proto::v1::{
    GetTokenStatusRequest, ListOrganizationsRequest, TokenState, TokenSummary,
};

use super::tracked::tracked;
use crate::cli::InstallArgs;
use crate::commands::Output;
use crate::connection::DaemonClient;
use crate::exit::CliError;
use crate::prompt::Prompter;
use crate::render;

/// Without `--org`: the menu of the user's eligible organisations (the daemon checks a given
/// `--org` itself).
pub(super) async fn choose_org(
    client: &DaemonClient,
    out: Output,
    prompter: Prompter,
) -> Result<String, CliError> {
    let orgs = tracked(
        client,
        out.json,
        "Asking the service for your organizations",
        ListOrganizationsRequest {},
        |mut tokens, request| async move { tokens.list_organizations(request).await },
    )
    .await?
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
pub(super) enum Reissue {
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
pub(super) async fn confirm_reissue(
    client: &DaemonClient,
    org: &str,
    args: &InstallArgs,
    out: Output,
    prompter: Prompter,
) -> Result<Reissue, CliError> {
    let status = tracked(
        client,
        out.json,
        &format!("Looking at the token of {org}"),
        GetTokenStatusRequest {
            org: org.to_owned(),
        },
        |mut tokens, request| async move { tokens.get_token_status(request).await },
    )
    .await?;
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
