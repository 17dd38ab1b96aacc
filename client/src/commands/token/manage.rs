//! `token refresh|auto-renew|list|uninstall`: the tokens already installed.

use anacondad_proto::v1::{
    ListTokensRequest, RefreshTokenRequest, SetAutoRenewRequest, UninstallTokenRequest,
};

use super::install::validation_failed;
use super::tracked::tracked;
use crate::cli::UninstallArgs;
use crate::commands::account::warn_storage;
use crate::commands::{Output, condarc_target};
use crate::connection::DaemonClient;
use crate::exit::CliError;
use crate::json;
use crate::prompt::Prompter;
use crate::render;

/// `token refresh`: asks first, as install does (`--yes` answers), then reissues.
pub(super) async fn refresh(
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
    let answer = tracked(
        client,
        out.json,
        &format!("Reissuing the token of {org}"),
        RefreshTokenRequest {
            org: org.to_owned(),
        },
        |mut tokens, request| async move { tokens.refresh_token(request).await },
    )
    .await?;
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

pub(super) async fn auto_renew(
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

pub(super) async fn list(client: &DaemonClient, out: Output) -> Result<(), CliError> {
    let answer = tracked(
        client,
        out.json,
        "Checking each token with the service",
        ListTokensRequest {},
        |mut tokens, request| async move { tokens.list_tokens(request).await },
    )
    .await?;
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

pub(super) async fn uninstall(
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
