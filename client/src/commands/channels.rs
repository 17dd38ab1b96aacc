//! `anacondactl channels list|add|remove`, and the channel step of `token install`: an
//! organisation's channels, and putting them into (or out of) conda's `channels`.

use anacondad_proto::v1::{
    ChannelPlacement, EditChannelsRequest, ListChannelsRequest, OrgChannel, PlanCondarcRequest,
};

use super::{Output, condarc, condarc_target};
use crate::cli::{ChannelEditArgs, ChannelPosition, ChannelsCommand, CondarcArgs, InstallArgs};
use crate::connection::DaemonClient;
use crate::exit::CliError;
use crate::json::channels::{ChannelList, ChannelStep, ChannelsEdited};
use crate::prompt::Prompter;

pub async fn run(
    cmd: ChannelsCommand,
    client: &DaemonClient,
    out: Output,
    prompter: Prompter,
) -> Result<(), CliError> {
    match cmd {
        ChannelsCommand::List { org, condarc } => list(client, org.as_deref(), &condarc, out).await,
        ChannelsCommand::Add(args) => edit(client, args, false, out, prompter).await,
        ChannelsCommand::Remove(args) => edit(client, args, true, out, prompter).await,
    }
}

async fn list(
    client: &DaemonClient,
    org: Option<&str>,
    condarc: &CondarcArgs,
    out: Output,
) -> Result<(), CliError> {
    let answer = client
        .channels()
        .list_channels(ListChannelsRequest {
            org: org.unwrap_or_default().to_owned(),
            condarc: Some(condarc_target(condarc)),
        })
        .await?
        .into_inner();
    if out.json {
        out.print_json(&ChannelList::from(&answer));
        return Ok(());
    }
    let rows: Vec<[String; 5]> = answer
        .channels
        .iter()
        .map(|c| {
            [
                c.org.clone(),
                if c.shared {
                    format!("{} (shared)", c.name)
                } else {
                    c.name.clone()
                },
                c.privacy.clone(),
                if c.in_conda { "yes" } else { "no" }.to_owned(),
                c.url.clone(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        print_table(&["ORG", "CHANNEL", "PRIVACY", "IN CONDA", "URL"], &rows);
    }
    for org in &answer.orgs {
        if !answer.channels.iter().any(|c| &c.org == org) {
            crate::outln!("{} has no channels.", crate::render::terminal_safe(org));
        }
    }
    if answer.channels.iter().any(|c| !c.in_conda) {
        crate::outln!(
            "Add them to conda with `anacondactl channels add --org ORG NAME...` (or --all)."
        );
    }
    Ok(())
}

fn placement(position: ChannelPosition) -> ChannelPlacement {
    match position {
        ChannelPosition::BeforeDefaults => ChannelPlacement::Unspecified,
        ChannelPosition::Top => ChannelPlacement::Top,
        ChannelPosition::Bottom => ChannelPlacement::Bottom,
    }
}

async fn edit(
    client: &DaemonClient,
    args: ChannelEditArgs,
    remove: bool,
    out: Output,
    prompter: Prompter,
) -> Result<(), CliError> {
    let request = EditChannelsRequest {
        org: args.org.clone().unwrap_or_default(),
        names: args.names.clone(),
        all: args.all,
        remove,
        placement: placement(args.position).into(),
        condarc: Some(condarc_target(&args.condarc)),
    };
    let plan = client
        .channels()
        .plan_channels(request.clone())
        .await?
        .into_inner();
    if !plan.changed {
        if out.json {
            out.print_json(&ChannelsEdited::from(&plan));
        } else {
            crate::outln!(
                "{} already {}: nothing to change.",
                plan.path,
                if remove {
                    "names none of them"
                } else {
                    "has them"
                }
            );
            let defaults = default_channels(client, &args.condarc).await;
            print_searched(out, &plan.channels, &defaults);
        }
        return Ok(());
    }
    out.say(format!("Changing conda's channels in {}", plan.path));
    if !condarc::confirm_edit(out, &plan.path, &plan.summary, args.yes, prompter)? {
        return Ok(());
    }
    let done = client.channels().edit_channels(request).await?.into_inner();
    if out.json {
        out.print_json(&ChannelsEdited::from(&done));
        return Ok(());
    }
    if !done.backup_path.is_empty() {
        crate::outln!("Backing up config to {}", done.backup_path);
    }
    crate::outln!("Updated {}.", done.path);
    let defaults = default_channels(client, &args.condarc).await;
    print_searched(out, &done.channels, &defaults);
    Ok(())
}

/// What `defaults` stands for in the conda of `condarc` (its effective `default_channels`,
/// as the daemon reads conda's configuration); empty when the daemon cannot say.
async fn default_channels(client: &DaemonClient, condarc: &CondarcArgs) -> Vec<String> {
    conda_now(client, condarc)
        .await
        .map(|view| view.default_channels)
        .unwrap_or_default()
}

/// conda's configuration as it stands, as the daemon sees it.
async fn conda_now(
    client: &DaemonClient,
    condarc: &CondarcArgs,
) -> Option<anacondad_proto::v1::CondaView> {
    let plan = client
        .condarc()
        .plan_condarc(PlanCondarcRequest {
            target: Some(condarc_target(condarc)),
        })
        .await
        .ok()?;
    plan.into_inner().conda
}

/// "conda now searches": the channels in the order conda searches them, `defaults` followed by
/// the URLs it stands for (`defaults`).
fn print_searched(out: Output, channels: &[String], defaults: &[String]) {
    if channels.is_empty() {
        out.say("conda now searches no channels.");
        return;
    }
    out.say("conda now searches, in this order:");
    for line in searched_lines(channels, defaults) {
        out.say(line);
    }
}

/// The lines of [`print_searched`]: each channel indented, `defaults` with its URLs below it.
fn searched_lines(channels: &[String], defaults: &[String]) -> Vec<String> {
    let mut lines = Vec::new();
    for c in channels {
        let shown = crate::render::terminal_safe(c);
        if c == "defaults" && !defaults.is_empty() {
            lines.push(format!("  {shown}, which is:"));
            for url in defaults {
                lines.push(format!("    {}", crate::render::terminal_safe(url)));
            }
        } else {
            lines.push(format!("  {shown}"));
        }
    }
    lines
}

/// What `--channels` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Choice {
    All,
    None,
    Names(Vec<String>),
}

fn parse_choice(text: &str) -> Choice {
    match text.trim() {
        "all" => Choice::All,
        "none" | "" => Choice::None,
        names => Choice::Names(
            names
                .split(',')
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect(),
        ),
    }
}

/// The channel step of `token install`, once the token is stored and conda configured: the
/// org's channels are offered (all / choose / none; `--channels` for scripts; none without
/// a terminal or with `--yes`), the chosen ones added, and what conda now searches said.
/// The token is installed whatever happens here, so a failure to list the channels is a
/// warning with the command that finishes the job; a failure to add them is the second
/// value, for the caller to report after the step (which `--json` prints in full).
pub async fn after_token_install(
    client: &DaemonClient,
    org: &str,
    args: &InstallArgs,
    out: Output,
    prompter: Prompter,
) -> Result<(ChannelStep, Option<CliError>), CliError> {
    let later = format!("add them later with `anacondactl channels add --org {org} --all`");
    let given = args.channels.as_deref().map(parse_choice);
    let mut step = ChannelStep {
        choice: "none".to_owned(),
        ..ChannelStep::default()
    };
    if given == Some(Choice::None) {
        return Ok((searched_now(client, &args.condarc, out, step).await, None));
    }
    let listing = match client
        .channels()
        .list_channels(ListChannelsRequest {
            org: org.to_owned(),
            condarc: Some(condarc_target(&args.condarc)),
        })
        .await
    {
        Ok(answer) => answer.into_inner(),
        Err(status) => {
            let warning = format!(
                "could not list the channels of {org}: {}; {later}",
                CliError::from(status).message
            );
            out.warn(&warning);
            step.warning = Some(warning);
            return Ok((searched_now(client, &args.condarc, out, step).await, None));
        }
    };
    let channels = listing.channels;
    step.offered = channels.iter().map(Into::into).collect();
    if channels.is_empty() {
        out.say(format!("{org} has no channels to add."));
        return Ok((searched_now(client, &args.condarc, out, step).await, None));
    }
    let (choice, names): (&str, Vec<String>) = match given {
        Some(Choice::All) => ("all", channels.iter().map(|c| c.name.clone()).collect()),
        Some(Choice::Names(names)) => ("names", names),
        Some(Choice::None) => ("none", Vec::new()),
        None if args.yes || !prompter.is_interactive() => {
            out.say(format!(
                "{org} has {} channel(s) ({}); {later}, or pass --channels.",
                channels.len(),
                names_of(&channels)
            ));
            ("none", Vec::new())
        }
        None => ("picked", pick(org, &channels, prompter)?),
    };
    choice.clone_into(&mut step.choice);
    if names.is_empty() {
        return Ok((searched_now(client, &args.condarc, out, step).await, None));
    }
    let request = EditChannelsRequest {
        org: org.to_owned(),
        names: names.clone(),
        all: false,
        remove: false,
        placement: ChannelPlacement::Unspecified.into(),
        condarc: Some(condarc_target(&args.condarc)),
    };
    match client.channels().edit_channels(request).await {
        Ok(done) => {
            let done = done.into_inner();
            for line in &done.summary {
                out.say(format!("  {line}"));
            }
            step.added = names;
            step.edit = Some(ChannelsEdited::from(&done));
            Ok((searched_now(client, &args.condarc, out, step).await, None))
        }
        Err(status) => {
            let failure = CliError::failed(format!(
                "your token for {org} is installed, but its channels were not added: {}; {later}",
                CliError::from(status).message
            ));
            step.warning = Some(failure.message.clone());
            Ok((step, Some(failure)))
        }
    }
}

fn names_of(channels: &[OrgChannel]) -> String {
    channels
        .iter()
        .map(|c| crate::render::terminal_safe(&c.name).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The picker: all / choose / none, then the channels to tick when choosing.
fn pick(org: &str, channels: &[OrgChannel], prompter: Prompter) -> Result<Vec<String>, CliError> {
    let flag = "--channels all|none|NAME,...";
    let what = format!("adding the channels of {org} to conda needs a choice");
    let options = vec![
        format!("All {} channels ({})", channels.len(), names_of(channels)),
        "Choose which".to_owned(),
        "None".to_owned(),
    ];
    let answer = prompter.select(
        &format!("Add the channels of {org} to conda's channels?"),
        &options,
        &what,
        flag,
    )?;
    match answer {
        0 => Ok(channels.iter().map(|c| c.name.clone()).collect()),
        1 => {
            let rows: Vec<String> = channels
                .iter()
                .map(|c| {
                    let mut row = format!("{}  {}  {}", c.name, c.privacy, c.url);
                    if c.in_conda {
                        row.push_str("  (already searched)");
                    }
                    row
                })
                .collect();
            let picked = prompter.choose_many("Channels to add", &rows, &what, flag)?;
            Ok(picked
                .into_iter()
                .map(|i| channels[i].name.clone())
                .collect())
        }
        _ => Ok(Vec::new()),
    }
}

/// What conda searches now (its `channels`, and what `defaults` stands for), said and kept in
/// `step`.
async fn searched_now(
    client: &DaemonClient,
    condarc: &CondarcArgs,
    out: Output,
    mut step: ChannelStep,
) -> ChannelStep {
    if let Some(view) = conda_now(client, condarc).await {
        print_searched(out, &view.channels, &view.default_channels);
        step.conda_channels = view.channels;
        step.default_channels = view.default_channels;
    }
    step
}

fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(crate::render::terminal_safe(cell).chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    crate::outln!("{}", line(header.iter().map(|h| (*h).to_owned()).collect()));
    for row in rows {
        crate::outln!(
            "{}",
            line(
                row.iter()
                    .map(|c| crate::render::terminal_safe(c).into_owned())
                    .collect()
            )
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_is_followed_by_the_urls_it_stands_for() {
        let channels = [
            "https://r/repo/acme/internal".to_owned(),
            "defaults".to_owned(),
        ];
        let defaults = [
            "https://r/repo/main".to_owned(),
            "https://r/repo/r".to_owned(),
        ];
        assert_eq!(
            searched_lines(&channels, &defaults),
            [
                "  https://r/repo/acme/internal",
                "  defaults, which is:",
                "    https://r/repo/main",
                "    https://r/repo/r",
            ]
        );
        assert_eq!(searched_lines(&channels[1..], &[]), ["  defaults"]);
    }

    #[test]
    fn the_channels_flag_reads_all_none_or_names() {
        assert_eq!(parse_choice("all"), Choice::All);
        assert_eq!(parse_choice("none"), Choice::None);
        assert_eq!(
            parse_choice("internal, tools"),
            Choice::Names(vec!["internal".into(), "tools".into()])
        );
    }
}
