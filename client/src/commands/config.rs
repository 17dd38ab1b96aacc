//! `anacondactl config show`, `anacondactl sites list|show|add|remove`, and the offer to let
//! anaconda-auth use the daemon's keychain record (`login`, `token install`). The daemon
//! answers and edits; this prints and asks.

use anacondad_proto::v1::{
    AddSiteRequest, AlignAuthStorageRequest, AuthStorageAlignment, ConfigValue, ListSitesRequest,
    RemoveSiteRequest, ShowConfigRequest, SiteInfo,
};

use super::Output;
use crate::cli::{ConfigCommand, SitesCommand};
use crate::connection::{DaemonClient, Target};
use crate::exit::CliError;
use crate::json;
use crate::prompt::Prompter;
use crate::render::one_line;

fn value_lines(values: &[ConfigValue]) -> Vec<String> {
    let width = values.iter().map(|v| v.key.len()).max().unwrap_or(0);
    values
        .iter()
        .map(|v| {
            let shown = if v.value.is_empty() {
                "(none)"
            } else {
                v.value.as_str()
            };
            format!(
                "  {:width$}  {}  [{}]",
                v.key,
                one_line(shown),
                one_line(&v.source_text)
            )
        })
        .collect()
}

pub async fn show(
    cmd: ConfigCommand,
    at: Option<&str>,
    target: &Target,
    out: Output,
) -> Result<(), CliError> {
    let ConfigCommand::Show = cmd;
    let client = target.connect_or_start().await?;
    let answer = client
        .daemon()
        .show_config(ShowConfigRequest {
            site: at.unwrap_or_default().to_owned(),
        })
        .await?
        .into_inner();
    if out.json {
        let sites = answer
            .sites
            .iter()
            .map(|s| json::commands::SiteConfig {
                name: s.name.clone(),
                default: s.is_default,
                selected_by: at.is_some().then_some("flag (--at)"),
                configured_in: s.configured_in.clone(),
                values: json::commands::ConfigValues::of(&s.values),
            })
            .collect();
        out.print_json(&json::commands::ConfigShow {
            daemon: json::commands::ConfigValues::of(&answer.daemon),
            sites,
        });
        return Ok(());
    }
    crate::outln!("anacondad");
    for line in value_lines(&answer.daemon) {
        crate::outln!("{line}");
    }
    for site in &answer.sites {
        let mut notes = Vec::new();
        if site.is_default {
            notes.push("default".to_owned());
        }
        if at.is_some() {
            notes.push("chosen by flag (--at)".to_owned());
        }
        if site.configured_in.is_empty() {
            notes.push("implicit: no [sites] configured".to_owned());
        } else {
            notes.push(format!("configured in {}", site.configured_in.join("; ")));
        }
        crate::outln!(
            "\nsite {} ({})",
            one_line(&site.name),
            one_line(&notes.join(", "))
        );
        for line in value_lines(&site.values) {
            crate::outln!("{line}");
        }
    }
    Ok(())
}

fn where_configured(s: &SiteInfo) -> String {
    if s.configured_in.is_empty() {
        "implicit (no [sites] configured)".to_owned()
    } else {
        s.configured_in.join("; ")
    }
}

/// The sites the daemon serves, and the file that configures them.
async fn list_sites(target: &Target) -> Result<anacondad_proto::v1::ListSitesResponse, CliError> {
    let client = target.connect_or_start().await?;
    Ok(client
        .daemon()
        .list_sites(ListSitesRequest {})
        .await?
        .into_inner())
}

pub async fn sites(cmd: SitesCommand, target: &Target, out: Output) -> Result<(), CliError> {
    match cmd {
        SitesCommand::List => {
            let answer = list_sites(target).await?;
            if out.json {
                out.print_json(&json::commands::SiteList {
                    sites: answer
                        .sites
                        .iter()
                        .map(json::commands::Site::from)
                        .collect(),
                    config_file: json::text(&answer.config_file),
                });
                return Ok(());
            }
            for s in &answer.sites {
                crate::outln!(
                    "{} {}  {}  {}  [{}]",
                    if s.is_default { "*" } else { " " },
                    one_line(&s.name),
                    one_line(&s.domain),
                    one_line(&s.repo_url),
                    one_line(&where_configured(s))
                );
            }
            Ok(())
        }
        SitesCommand::Show { name } => {
            let answer = list_sites(target).await?;
            let wanted = answer
                .sites
                .iter()
                .find(|s| s.name == name)
                .or_else(|| answer.sites.iter().find(|s| s.domain == name));
            let Some(s) = wanted else {
                let known: Vec<&str> = answer.sites.iter().map(|s| s.name.as_str()).collect();
                return Err(CliError::failed(format!(
                    "no site {name} is configured; the sites are {}: `anacondactl sites add \
                     {name} --domain DOMAIN` adds it",
                    known.join(", ")
                )));
            };
            if out.json {
                out.print_json(&json::commands::Site::from(s));
                return Ok(());
            }
            crate::outln!("name:              {}", one_line(&s.name));
            crate::outln!("domain:            {}", one_line(&s.domain));
            crate::outln!("repository:        {}", one_line(&s.repo_url));
            if !s.extra_repo_urls.is_empty() {
                crate::outln!(
                    "also covers:       {}",
                    one_line(&s.extra_repo_urls.join(", "))
                );
            }
            crate::outln!(
                "default:           {}",
                if s.is_default { "yes" } else { "no" }
            );
            crate::outln!("configured in:     {}", one_line(&where_configured(s)));
            crate::outln!(
                "credentials:       {}",
                if s.holds_credentials {
                    "stored"
                } else {
                    "none stored"
                }
            );
            Ok(())
        }
        SitesCommand::Add {
            name,
            domain,
            repo_urls,
        } => {
            let request = AddSiteRequest {
                name: name.clone(),
                domain,
                repo_urls,
            };
            let client = target.connect_or_start().await?;
            let answer = client.daemon().add_site(request).await?.into_inner();
            let restarted = super::daemon::stop(target).await?;
            if out.json {
                out.print_json(&json::commands::SiteAdded::new(&answer, restarted));
                return Ok(());
            }
            for added in answer.added.iter().filter(|a| **a != name) {
                crate::outln!(
                    "Wrote [sites.{added}] into {} too: it is the site served so far, and stays \
                     the default (default_site = \"{}\").",
                    answer.path,
                    answer.default_site
                );
            }
            crate::outln!("Added [sites.{name}] to {}.", answer.path);
            say_restarted(restarted);
            Ok(())
        }
        SitesCommand::Remove { name, force } => {
            let client = target.connect_or_start().await?;
            let request = RemoveSiteRequest {
                name: name.clone(),
                force,
            };
            let answer = client.daemon().remove_site(request).await?.into_inner();
            let restarted = super::daemon::stop(target).await?;
            if out.json {
                let removed = json::commands::SiteRemoved {
                    path: answer.path,
                    removed: name,
                    daemon_restarted: restarted,
                };
                out.print_json(&removed);
                return Ok(());
            }
            crate::outln!("Removed [sites.{name}] from {}.", answer.path);
            say_restarted(restarted);
            Ok(())
        }
    }
}

fn say_restarted(stopped: bool) {
    if stopped {
        crate::outln!(
            "The daemon was stopped so that it reads the change; the next anacondactl command \
             (or conda) starts it again."
        );
    } else {
        crate::outln!("The daemon serves the change from its next start.");
    }
}

/// What the command that offers the alignment does with conda.
#[derive(Debug, Clone, Copy)]
pub struct CondaUse<'a> {
    /// It configures conda (`token install` without `--no-condarc`).
    pub configures: bool,
    /// With this handler (`--auth-handler`), else the daemon's.
    pub auth_handler: Option<&'a str>,
}

/// When anaconda-auth reads its keyring file while the daemon writes the keychain, offers (one
/// question; `yes` answers it) to set `preferred_token_storage = "system"` in anaconda-auth's
/// config.toml. Declining costs anaconda-auth the daemon's tokens; with conda's handler
/// `anaconda-auth` it is required, and declining fails.
pub async fn offer_alignment(
    client: &DaemonClient,
    conda: CondaUse<'_>,
    yes: bool,
    out: Output,
    prompter: Prompter,
) -> Result<(), CliError> {
    let request = AlignAuthStorageRequest {
        apply: false,
        auth_handler: conda.auth_handler.unwrap_or_default().to_owned(),
        configures_conda: conda.configures,
    };
    let plan = client
        .daemon()
        .align_auth_storage(request.clone())
        .await?
        .into_inner();
    let loses = "anaconda-auth (its `anaconda` command and its conda handler) will not see the \
                 credentials the daemon stores";
    let required_why = "conda is to use anaconda-auth's handler (--auth-handler anaconda-auth), \
                        which reads only anaconda-auth's own store";
    match plan.state() {
        AuthStorageAlignment::Needed => {}
        AuthStorageAlignment::Blocked if plan.required => {
            return Err(CliError::failed(format!(
                "{required_why}, and it cannot read the daemon's: {}. Or use the daemon's \
                 handler: --auth-handler anacondad",
                plan.reason
            )));
        }
        AuthStorageAlignment::Blocked => {
            out.warn(format!("{loses}: {}", plan.reason));
            return Ok(());
        }
        _ => return Ok(()),
    }
    out.say(format!(
        "anaconda-auth is in use here, but {}.\nSetting preferred_token_storage = \"system\" \
         in {} lets it use the daemon's keychain record:\n{}",
        plan.reason,
        plan.path,
        plan.diff.trim_end()
    ));
    let question = format!("Set preferred_token_storage = \"system\" in {}?", plan.path);
    let agreed = if yes {
        true
    } else if prompter.is_interactive() {
        prompter.confirm(&question, "", "--yes")?
    } else if plan.required {
        return Err(CliError::new(
            crate::exit::ExitKind::NeedsAnswer,
            format!(
                "{required_why}; the change above needs confirming, and there is no terminal to \
                 ask on: pass --yes, or use --auth-handler anacondad"
            ),
        ));
    } else {
        // Not "run again with --yes": for `token install` that would reissue the token.
        out.warn(format!(
            "{loses}; there is no terminal to ask on. To make the change, add \
             preferred_token_storage = \"system\" under [plugin.auth] in {}",
            plan.path
        ));
        return Ok(());
    };
    if !agreed {
        if plan.required {
            return Err(CliError::failed(format!(
                "{required_why}: without the change it finds no credential. Answer yes (or pass \
                 --yes), or use the daemon's handler: --auth-handler anacondad"
            )));
        }
        out.warn(format!(
            "{loses}; to make the change later, add preferred_token_storage = \"system\" under \
             [plugin.auth] in {}",
            plan.path
        ));
        return Ok(());
    }
    let done = client
        .daemon()
        .align_auth_storage(AlignAuthStorageRequest {
            apply: true,
            ..request
        })
        .await?
        .into_inner();
    if done.applied {
        out.say(format!(
            "Set preferred_token_storage = \"system\" in {}: anaconda-auth now uses the \
             daemon's keychain record.",
            done.path
        ));
    }
    Ok(())
}
