//! `anacondactl channels list|add|remove`, and the channel step of `token install`: an
//! organisation's channels, and putting them into (or out of) conda's `channels`.

use anacondad_proto::v1::{
    ChannelPlacement, EditChannelsRequest, EditChannelsResponse, ListChannelsRequest, OrgChannel,
    PlanCondarcRequest,
};
use serde::Serialize;

use super::{Output, condarc_target};
use crate::cli::{ChannelEditArgs, ChannelPosition, ChannelsCommand, CondarcArgs, InstallArgs};
use crate::connection::{DaemonClient, Target};
use crate::exit::CliError;
use crate::prompt::Prompter;

/// One channel in `--json` output; `url` is what conda, pixi and environment files take.
#[derive(Debug, Serialize)]
struct ChannelJson {
    org: String,
    name: String,
    url: String,
    privacy: String,
    description: String,
    in_conda: bool,
    shared: bool,
    artifact_count: u64,
}

impl From<&OrgChannel> for ChannelJson {
    fn from(c: &OrgChannel) -> Self {
        ChannelJson {
            org: c.org.clone(),
            name: c.name.clone(),
            url: c.url.clone(),
            privacy: c.privacy.clone(),
            description: c.description.clone(),
            in_conda: c.in_conda,
            shared: c.shared,
            artifact_count: c.artifact_count,
        }
    }
}

/// `channels list --json`.
#[derive(Debug, Serialize)]
struct ListJson {
    channels: Vec<ChannelJson>,
    /// The organisations looked at, those without channels too.
    orgs: Vec<String>,
}

/// `channels add|remove --json`.
#[derive(Debug, Serialize)]
struct EditJson {
    path: String,
    changed: bool,
    backup_path: Option<String>,
    changes: Vec<String>,
    diff: String,
    /// conda's channels afterwards, in the order it searches them.
    conda_channels: Vec<String>,
    selected: Vec<ChannelJson>,
}

impl From<&EditChannelsResponse> for EditJson {
    fn from(r: &EditChannelsResponse) -> Self {
        EditJson {
            path: r.path.clone(),
            changed: r.changed,
            backup_path: Some(r.backup_path.clone()).filter(|b| !b.is_empty()),
            changes: r.summary.clone(),
            diff: r.diff.clone(),
            conda_channels: r.channels.clone(),
            selected: r.selected.iter().map(ChannelJson::from).collect(),
        }
    }
}

fn print_serialized<T: Serialize>(out: Output, value: &T) {
    out.print_json(&serde_json::to_value(value).unwrap_or_default());
}

pub async fn run(
    cmd: ChannelsCommand,
    target: &Target,
    out: Output,
    prompter: Prompter,
) -> Result<(), CliError> {
    let client = target.connect_or_start().await?;
    match cmd {
        ChannelsCommand::List { org, condarc } => {
            list(&client, org.as_deref(), &condarc, out).await
        }
        ChannelsCommand::Add(args) => edit(&client, args, false, out, prompter).await,
        ChannelsCommand::Remove(args) => edit(&client, args, true, out, prompter).await,
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
        print_serialized(
            out,
            &ListJson {
                channels: answer.channels.iter().map(ChannelJson::from).collect(),
                orgs: answer.orgs.clone(),
            },
        );
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
            print_serialized(out, &EditJson::from(&plan));
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
            print_searched(out, &plan.channels);
        }
        return Ok(());
    }
    out.say(format!("Changing conda's channels in {}", plan.path));
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
        return Ok(());
    }
    let done = client.channels().edit_channels(request).await?.into_inner();
    if out.json {
        print_serialized(out, &EditJson::from(&done));
        return Ok(());
    }
    if !done.backup_path.is_empty() {
        crate::outln!("Backing up config to {}", done.backup_path);
    }
    crate::outln!("Updated {}.", done.path);
    print_searched(out, &done.channels);
    Ok(())
}

/// "conda now searches": the channels in the order conda searches them.
fn print_searched(out: Output, channels: &[String]) {
    if channels.is_empty() {
        out.say("conda now searches no channels.");
        return;
    }
    out.say("conda now searches, in this order:");
    for c in channels {
        out.say(format!("  {}", crate::render::terminal_safe(c)));
    }
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
/// The token is installed whatever happens here, so a failure is a warning with the command
/// that finishes the job.
pub async fn after_token_install(
    client: &DaemonClient,
    org: &str,
    args: &InstallArgs,
    out: Output,
    prompter: Prompter,
) -> Result<(), CliError> {
    let later = format!("add them later with `anacondactl channels add --org {org} --all`");
    let given = args.channels.as_deref().map(parse_choice);
    if given == Some(Choice::None) {
        return searched_now(client, &args.condarc, out).await;
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
            out.warn(format!(
                "could not list the channels of {org}: {}; {later}",
                CliError::from(status).message
            ));
            return searched_now(client, &args.condarc, out).await;
        }
    };
    let channels = listing.channels;
    if channels.is_empty() {
        out.say(format!("{org} has no channels to add."));
        return searched_now(client, &args.condarc, out).await;
    }
    let names: Vec<String> = match given {
        Some(Choice::All) => channels.iter().map(|c| c.name.clone()).collect(),
        Some(Choice::Names(names)) => names,
        Some(Choice::None) => Vec::new(),
        None if args.yes || !prompter.is_interactive() => {
            out.say(format!(
                "{org} has {} channel(s) ({}); {later}, or pass --channels.",
                channels.len(),
                names_of(&channels)
            ));
            Vec::new()
        }
        None => pick(org, &channels, prompter)?,
    };
    if names.is_empty() {
        return searched_now(client, &args.condarc, out).await;
    }
    let request = EditChannelsRequest {
        org: org.to_owned(),
        names,
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
            print_searched(out, &done.channels);
            Ok(())
        }
        Err(status) => Err(CliError::failed(format!(
            "your token for {org} is installed, but its channels were not added: {}; {later}",
            CliError::from(status).message
        ))),
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

/// What conda searches now, when no channel was added.
async fn searched_now(
    client: &DaemonClient,
    condarc: &CondarcArgs,
    out: Output,
) -> Result<(), CliError> {
    if let Ok(plan) = client
        .condarc()
        .plan_condarc(PlanCondarcRequest {
            target: Some(condarc_target(condarc)),
        })
        .await
    {
        let channels = plan.into_inner().conda.unwrap_or_default().channels;
        print_searched(out, &channels);
    }
    Ok(())
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
    fn the_channels_flag_reads_all_none_or_names() {
        assert_eq!(parse_choice("all"), Choice::All);
        assert_eq!(parse_choice("none"), Choice::None);
        assert_eq!(
            parse_choice("internal, tools"),
            Choice::Names(vec!["internal".into(), "tools".into()])
        );
    }
}
