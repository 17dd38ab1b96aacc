//! conda's configuration, from `condarc check`'s own check (`Site::check_conda`) with
//! the caller's environment: our file (`conda.condarc`), the org channels the credential
//! cannot read (`conda.channel.<org>.<name>`), the condas found and whether each loads the
//! handler (`conda.found`, `conda.handler.<prefix>`), `defaults` in `channels`
//! (`conda.defaults`), and the entries that fail or take our URLs (`conda.entry.<channel>`,
//! `conda.shadowing[.<channel>]`).

use std::time::Duration;

use super::finding::{CONDARC_FIX, Finding, Level, timed_out};
use crate::channels::UnreadableChannel;
use crate::conda_setup::CondaView;
use crate::conda_setup::view::{ANACONDA_AUTH_HANDLER, found_by_label};
use crate::condarc_text::{ANACONDAD_AUTH_HANDLER, CondarcState};
use crate::sites::CondaCheck;

const S: &str = "conda";

/// `conda.check`: the check itself failed (`condarc check` says why at more length).
pub fn failed(error: &crate::error::Error) -> Finding {
    Finding::new("conda.check", S, Level::Fail, error.to_string()).fix("anacondactl condarc check")
}

/// Every finding of a check, in reading order; `limit` is the diagnosis's, for channels not
/// checked in time.
pub fn findings(check: &CondaCheck, limit: Duration) -> Vec<Finding> {
    let mut out = vec![condarc(check)];
    match &check.unreadable {
        Some(lost) => out.extend(lost.iter().map(unreadable)),
        None => out.push(timed_out("conda.channels", S, limit)),
    }
    let view = &check.conda;
    if view.installations.is_empty() {
        out.push(
            Finding::new(
                "conda.found",
                S,
                Level::Warn,
                "no conda found (CONDA_EXE, PATH, CONDA_PREFIX, the usual locations)",
            )
            .fix("install conda, or activate it so CONDA_EXE is set"),
        );
    }
    out.extend(handlers(view));
    out.push(defaults(view));
    if view.shadowing.is_empty() {
        out.push(Finding::new(
            "conda.shadowing",
            S,
            Level::Ok,
            "no channel_settings entry takes our repository's URLs",
        ));
    }
    out.extend(view.unknown_credential_types.iter().map(|problem| {
        Finding::new(
            format!("conda.entry.{}", problem.channel),
            S,
            Level::Fail,
            problem.finding(),
        )
        .fix(format!(
            "set credential_type in the entry `{}` of {} to api-key or repo-token, or remove it",
            problem.channel, problem.source
        ))
    }));
    let path = check.path.display().to_string();
    for entry in &view.shadowing {
        let auth = match entry.auth.as_deref().filter(|a| !a.is_empty()) {
            Some(auth) => format!("auth {auth}"),
            None => "no auth".to_owned(),
        };
        let ours_source = entry
            .ours_source
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let evidence = format!(
            "{} uses the channel_settings entry `{}` ({auth}) from {} instead of ours (`{}` in \
             {ours_source})",
            entry.url, entry.channel, entry.source, entry.ours
        );
        let found = Finding::new(
            format!("conda.shadowing.{}", entry.channel),
            S,
            Level::Fail,
            evidence,
        );
        let source = entry.source.to_string();
        out.push(if source == path {
            found.fixable()
        } else {
            found.fix(format!(
                "remove the entry `{}` from {source}",
                entry.channel
            ))
        });
    }
    out
}

/// `conda.condarc`: our file, as far as its own findings go (conda's have findings of their
/// own below: one cause, one finding).
fn condarc(check: &CondaCheck) -> Finding {
    const ID: &str = "conda.condarc";
    let path = check.path.display();
    let report = &check.report;
    match report.state {
        CondarcState::Configured => {
            let mut said = format!("{path} has our settings");
            for note in &report.notes {
                said.push_str("; ");
                said.push_str(note);
            }
            Finding::new(ID, S, Level::Ok, said)
        }
        CondarcState::Malformed => Finding::new(
            ID,
            S,
            Level::Fail,
            format!(
                "{path} does not parse: {}",
                report
                    .findings
                    .first()
                    .map(String::as_str)
                    .unwrap_or_default()
            ),
        )
        .fix(format!(
            "correct {path} at the place named, then `{CONDARC_FIX}`"
        )),
        CondarcState::NotConfigured | CondarcState::Drifted => {
            let of_conda = conda_findings(check);
            let of_file: Vec<&str> = report
                .findings
                .iter()
                .filter(|f| !of_conda.contains(f))
                .map(String::as_str)
                .collect();
            if of_file.is_empty() && !report.findings.is_empty() {
                Finding::new(
                    ID,
                    S,
                    Level::Ok,
                    format!("{path} has our settings; what keeps conda from using them is below"),
                )
            } else {
                let what = if of_file.is_empty() {
                    "our settings are missing".to_owned()
                } else {
                    of_file.join("; ")
                };
                Finding::new(ID, S, Level::Fail, format!("{path}: {what}")).fixable()
            }
        }
    }
}

/// What keeps conda from using our settings, as `condarc check` lists it in conda's view:
/// conda's own findings and the unreadable channels.
fn conda_findings(check: &CondaCheck) -> Vec<String> {
    let mut of_conda = check.conda.findings();
    of_conda.extend(
        check
            .unreadable
            .iter()
            .flatten()
            .map(UnreadableChannel::finding),
    );
    of_conda
}

fn unreadable(lost: &UnreadableChannel) -> Finding {
    Finding::new(
        format!("conda.channel.{}.{}", lost.org, lost.name),
        S,
        Level::Fail,
        lost.finding(),
    )
    .fix(format!(
        "anacondactl channels remove --org {} {}",
        lost.org, lost.name
    ))
}

/// `conda.handler.<prefix>`: whether each conda found loads the handler our entry names.
fn handlers(view: &CondaView) -> Vec<Finding> {
    let handler = if view.auth_handler.is_empty() {
        ANACONDAD_AUTH_HANDLER
    } else {
        view.auth_handler.as_str()
    };
    view.installations
        .iter()
        .map(|install| {
            let version = match install.conda_version.as_deref() {
                None | Some("") => "conda".to_owned(),
                Some(v) => format!("conda {v}"),
            };
            let loads = match handler {
                ANACONDA_AUTH_HANDLER => install.anaconda_auth.is_some(),
                _ => install.has_anacondad_plugin,
            };
            let found_by: Vec<String> = install.found_by.iter().map(found_by_label).collect();
            let prefix = install.prefix.display();
            let evidence = format!("{version} at {prefix} (found by {})", found_by.join(", "));
            let id = format!("conda.handler.{prefix}");
            if loads {
                return Finding::new(
                    id,
                    S,
                    Level::Ok,
                    format!("{evidence} loads the {handler} handler"),
                );
            }
            let fix = if handler == ANACONDA_AUTH_HANDLER {
                format!("{} -m pip install anaconda-auth", install.python.display())
            } else {
                install.plugin_install_command()
            };
            Finding::new(
                id,
                S,
                Level::Fail,
                format!(
                    "{evidence} cannot load the {handler} handler: its requests get no credentials"
                ),
            )
            .fix(fix)
        })
        .collect()
}

/// `conda.defaults`: whether `defaults` is among the channels conda searches.
fn defaults(view: &CondaView) -> Finding {
    if view.defaults_in_effect {
        return Finding::new(
            "conda.defaults",
            S,
            Level::Ok,
            format!("`defaults` is in channels ({})", view.channels.join(", ")),
        );
    }
    let searched = if view.channels.is_empty() {
        "none".to_owned()
    } else {
        view.channels.join(", ")
    };
    Finding::new(
        "conda.defaults",
        S,
        Level::Fail,
        format!(
            "`defaults` is not in channels, so the repository's default channels are not \
             searched (channels: {searched})"
        ),
    )
    .fixable()
}
