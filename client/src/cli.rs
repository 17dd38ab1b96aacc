//! The command line: every command, flag and its help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit::EXIT_CODES_HELP;

#[derive(Debug, Parser)]
#[command(
    name = "anacondactl",
    version = anacondad_proto::build_version(),
    about = "Get, keep and use your Anaconda credentials (talks to the anacondad daemon)",
    before_help = START_HERE,
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    /// The daemon's socket [default: $XDG_RUNTIME_DIR/anacondad/anacondad.sock].
    #[arg(long, global = true, env = "ANACONDAD_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// The site to act on, by name or domain (`anacondactl sites list`) [default: the default
    /// site; for `credential get`, the site whose repository the URL is under].
    #[arg(long, global = true, value_name = "SITE")]
    pub at: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// The first commands a new user runs, at the top of `anacondactl --help`.
pub const START_HERE: &str = "Start here: `anacondactl login`, then `anacondactl token install` \
    (gets your organization's token and configures conda); `anacondactl doctor` checks it all.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in to Anaconda (device code by default; works on headless machines).
    Login(LoginArgs),
    /// Forget the API key (installed repo tokens stay).
    Logout(crate::ci_args::LogoutArgs),
    /// Show who you are logged in as.
    Whoami,
    /// Organisation repo tokens: install, list, show, uninstall, refresh, auto-renew.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The credential conda sends for a URL (used by the conda plugin).
    #[command(subcommand)]
    Credential(CredentialCommand),
    /// conda's configuration: show the planned change, check it, apply it.
    #[command(subcommand)]
    Condarc(CondarcCommand),
    /// Your organisations' channels: list them, add them to conda's channels, take them out.
    #[command(subcommand)]
    Channels(ChannelsCommand),
    /// Keep pixi's (rattler's) or mamba's own credential store current with the daemon's
    /// credential: written now and after every install, renewal, uninstall and logout.
    Export(ExportArgs),
    /// What the Python keyring backend of the conda plugin asks (anaconda-auth, pip, uv).
    #[command(subcommand, hide = true)]
    Keyring(crate::commands::keyring::KeyringCommand),
    /// Start, stop and inspect the daemon.
    #[command(subcommand)]
    Daemon(DaemonCommand),
    /// The configuration the daemon runs with: every value and where it came from.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The Anaconda sites the daemon serves: list, show, add, remove.
    #[command(subcommand)]
    Sites(SitesCommand),
    /// Check everything conda's access to Anaconda depends on, each with its evidence and the
    /// command that fixes it; exits 9 when a check fails.
    Doctor(DoctorArgs),
    /// Make the daemon start by itself at login: systemd user units (Linux), a launchd agent
    /// (macOS), a start-up entry (Windows).
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Print the API key for a script (a warning on a terminal); `--mint` a short-lived one
    /// with only the scopes asked for, `--list` and `--revoke` those.
    ApiKey(crate::ci_args::ApiKeyArgs),
    /// Run a command with the API key and organisation tokens in its environment, masked in
    /// its output; a key minted for it is revoked when it ends.
    Exec(crate::ci_args::ExecArgs),
    /// Print the API key and organisation tokens as shell, dotenv or GitHub Actions lines.
    Env(crate::ci_args::EnvArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (anacondactl.1, one per subcommand, and anacondad.1 from the
    /// daemon binary) into DIR; packaging runs it on the built binaries, so the pages always
    /// match their definitions.
    #[command(hide = true)]
    Manpages {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Apply the safe fixes (conda's configuration), asking first as `token install` does.
    #[arg(long)]
    pub fix: bool,
    /// With --fix: answer yes instead of asking.
    #[arg(long, short = 'y', requires = "fix")]
    pub yes: bool,
    #[command(flatten)]
    pub condarc: CondarcArgs,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Log in in a browser on this machine (authorization code with a loopback redirect).
    #[arg(long, conflicts_with = "api_key_stdin")]
    pub browser: bool,
    /// Read an API key from standard input instead of logging in (CI, headless machines).
    #[arg(long)]
    pub api_key_stdin: bool,
    /// Log in again even when the stored API key still works.
    #[arg(long)]
    pub force: bool,
    /// Do not try to open a browser; only print the URL.
    #[arg(long)]
    pub no_browser: bool,
    /// Answer yes to every question (letting anaconda-auth use the daemon's keychain record).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every value the running daemon uses (of every site, or of --at SITE) and where it came
    /// from: default, anacondad's or anaconda-auth's config.toml, a variable, a flag. Secrets
    /// are redacted.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum SitesCommand {
    /// The sites the daemon serves, the default marked.
    List,
    /// One site: its domain, repositories, where it is configured.
    Show {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Add `[sites.NAME]` to anacondad's config.toml (comments and layout kept) and restart
    /// the daemon so it serves it.
    Add {
        #[arg(value_name = "NAME")]
        name: String,
        /// The site's domain (API and login host), e.g. `anaconda.example.com`.
        #[arg(long, value_name = "DOMAIN")]
        domain: String,
        /// The site's repository; repeat for further URLs its credentials answer for
        /// [default: https://<domain>/repo/, for anaconda.com repo.anaconda.cloud].
        #[arg(long = "repo-url", value_name = "URL")]
        repo_urls: Vec<String>,
    },
    /// Remove `[sites.NAME]` from anacondad's config.toml and restart the daemon.
    Remove {
        #[arg(value_name = "NAME")]
        name: String,
        /// Remove it even though credentials are stored for it (they stay stored).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The tool: `pixi` (any rattler-based tool), `mamba` (mamba, micromamba), or `pip`, `uv`
    /// (Anaconda's wheels index, or a Package Security Manager's PyPI channel with `--at SITE
    /// --channel NAME`; the key from keyring: no secret in their configuration).
    #[arg(long = "for", value_name = "TOOL", value_parser = ["pixi", "rattler", "mamba", "micromamba", "pip", "uv"])]
    pub tool: String,
    /// pip, uv: the PyPI channel under the site's repository [default: `anaconda-wheels`,
    /// Anaconda's wheels index; a Package Security Manager's site needs one].
    #[arg(long, value_name = "NAME")]
    pub channel: Option<String>,
    /// pip: how pip reaches keyring [default: `import` when the `keyring` on PATH is in pip's
    /// own environment, `subprocess` when it is elsewhere]. Both work with `pip --no-input`;
    /// `auto` does not.
    #[arg(long, value_name = "PROVIDER", value_parser = ["import", "subprocess", "auto"])]
    pub keyring_provider: Option<String>,
    /// Show what would be written, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop exporting, and remove the entries the daemon wrote (others stay).
    #[arg(long)]
    pub off: bool,
}

/// Which `.condarc` and which handler name.
#[derive(Debug, Args, Clone, Default)]
pub struct CondarcArgs {
    /// The conda configuration file to edit [default: ~/.condarc].
    #[arg(long, value_name = "PATH")]
    pub condarc: Option<PathBuf>,
    /// The conda auth handler to configure: `anacondad`, or `anaconda-auth` to keep the
    /// existing conda plugin.
    #[arg(long, value_name = "NAME")]
    pub auth_handler: Option<String>,
    /// Also write `credential_type: TYPE` into the entry: the credential conda is sent first
    /// for the repository's URLs, whatever `credential_preference` says [default: leave the
    /// entry's as it is].
    #[arg(long, value_enum, value_name = "TYPE")]
    pub credential_type: Option<CredentialType>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Get a repo token for an organisation, store it, check it, and configure conda.
    Install(InstallArgs),
    /// Show the installed tokens (masked), their expiry and next renewal.
    List,
    /// Print an organisation's token for a script (a warning on a terminal).
    Show(crate::ci_args::TokenShowArgs),
    /// Remove a token (and our conda settings once no token is left).
    Uninstall(UninstallArgs),
    /// Reissue an organisation's token now (revokes the current one everywhere); asks first.
    Refresh {
        #[arg(long, value_name = "ORG")]
        org: String,
        /// Reissue without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Turn the scheduled reissue of an organisation's token on or off (a reissue revokes the
    /// token on every other machine and CI job that uses it).
    AutoRenew {
        #[arg(long, value_name = "ORG")]
        org: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// A token you already have (e.g. from an e-mail), with --org; `-` reads it from standard
    /// input (safer: arguments are visible to other processes and kept in shell history).
    #[arg(value_name = "TOKEN")]
    pub token: Option<String>,
    /// The organisation (its short name); asked for when there are several.
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// Answer yes to every question (reissuing an existing token, editing .condarc).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Do not touch conda's configuration.
    #[arg(long)]
    pub no_condarc: bool,
    /// Which of the organisation's channels to add to conda's channels once the token is
    /// stored: `all`, `none`, or names separated by commas [default: asked on a terminal
    /// (all / choose / none); `none` without one or with --yes].
    #[arg(long, value_name = "all|none|NAME,...", conflicts_with = "no_condarc")]
    pub channels: Option<String>,
    #[command(flatten)]
    pub condarc: CondarcArgs,
}

#[derive(Debug, Subcommand)]
pub enum ChannelsCommand {
    /// The organisation's channels (every organisation's without --org): name, the URL conda
    /// uses, privacy, and whether conda already searches it. With --json, each channel's `url`
    /// is what a pixi.toml `channels` list or an environment file's `channels:` takes.
    List {
        #[arg(long, value_name = "ORG")]
        org: Option<String>,
        #[command(flatten)]
        condarc: CondarcArgs,
    },
    /// Add channels to conda's `channels` (before `defaults` unless --position says otherwise),
    /// after showing the change and asking.
    Add(ChannelEditArgs),
    /// Take channels out of conda's `channels` (in whatever form they were written), after
    /// showing the change and asking.
    Remove(ChannelEditArgs),
}

/// Where `channels add` puts the channels in conda's `channels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChannelPosition {
    /// Just before `defaults` (so conda searches them first), else at the end.
    BeforeDefaults,
    /// First of all.
    Top,
    /// Last of all, after `defaults` too.
    Bottom,
}

#[derive(Debug, Args)]
pub struct ChannelEditArgs {
    /// Channel names, or ORG/CHANNEL.
    #[arg(value_name = "NAME", required_unless_present = "all")]
    pub names: Vec<String>,
    /// The organisation [default: from ORG/CHANNEL, or the one org with a token].
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// Every channel of the organisation (remove: every one conda's file names).
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
    /// Where added channels go.
    #[arg(long, value_enum, default_value = "before-defaults")]
    pub position: ChannelPosition,
    /// Make the change without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub condarc: CondarcArgs,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    #[arg(
        long,
        value_name = "ORG",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub org: Option<String>,
    /// Remove every installed token.
    #[arg(long)]
    pub all: bool,
    /// Leave .condarc alone even when no token remains.
    #[arg(long)]
    pub keep_condarc: bool,
    /// Also restore default_channels from the backup made before anacondad first edited it.
    #[arg(long, conflicts_with = "keep_condarc")]
    pub restore_condarc: bool,
    #[command(flatten)]
    pub condarc: CondarcArgs,
}

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Print the Authorization header value for URL.
    Get {
        url: String,
        #[command(flatten)]
        deadline: Deadline,
        #[command(flatten)]
        entry: EntryArgs,
        /// Answer for this URL too, on the same connection and within the same deadline
        /// (repeatable): the other URLs a caller is about to ask for, such as every channel a
        /// conda command will search. The answers are in `--json`'s `also`; URL's own answer
        /// decides the exit status.
        #[arg(long, value_name = "URL")]
        also: Vec<String>,
    },
    /// Report that the repository refused the credential for URL; prints the one to retry
    /// with (a newer token, or the other kind), or why there is none.
    Rejected {
        url: String,
        #[command(flatten)]
        deadline: Deadline,
        /// The HTTP status the repository answered (401 or 403).
        #[arg(long)]
        status: u32,
        /// The kind of credential that was refused.
        #[arg(long, value_enum)]
        kind: RejectedKind,
        /// Hex SHA-256 of the refused header value (tells the daemon whether it already holds
        /// a newer credential).
        #[arg(long, value_name = "HEX")]
        header_sha256: Option<String>,
        #[command(flatten)]
        entry: EntryArgs,
    },
}

/// What the conda `channel_settings` entry of the request says (the keys anaconda-auth reads).
#[derive(Debug, Clone, Default, Args)]
pub struct EntryArgs {
    /// The entry's `credential_type`: the credential sent first (the other one still answers
    /// after a refusal).
    #[arg(long, value_enum, value_name = "TYPE")]
    pub credential_type: Option<CredentialType>,
    /// The entry's `auth_domain`: the site whose credential answers (its domain).
    #[arg(long, value_name = "DOMAIN")]
    pub auth_domain: Option<String>,
}

/// anaconda-auth's names of the two credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CredentialType {
    #[value(name = "repo-token")]
    RepoToken,
    #[value(name = "api-key")]
    ApiKey,
}

/// How long a credential lookup may take in all, starting the daemon included. conda waits on
/// every lookup, so a daemon that is hung (or stopped with SIGSTOP) must cost seconds, not a
/// stalled conda.
#[derive(Debug, Clone, Copy, Args)]
pub struct Deadline {
    /// Give up after this many milliseconds (connecting, starting the daemon and its answer).
    #[arg(
        long = "timeout-ms",
        env = "ANACONDACTL_CREDENTIAL_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = DEFAULT_CREDENTIAL_TIMEOUT_MS,
        value_parser = clap::value_parser!(u64).range(1..),
    )]
    pub timeout_ms: u64,
}

/// A running daemon answers in about 2 ms and one started on demand is ready within 2 s
/// (`launch::READY_TIMEOUT`); 5 s leaves room for both and for a slow first keychain read, and
/// bounds what a hung daemon costs a conda command (the plugin remembers the failure).
pub const DEFAULT_CREDENTIAL_TIMEOUT_MS: u64 = 5000;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RejectedKind {
    /// Spelled as `--credential-type` spells it; `repo_token` (the JSON `kind`) is accepted too.
    #[value(name = "repo-token", alias = "repo_token")]
    RepoToken,
    #[value(name = "api-key", alias = "api_key")]
    ApiKey,
}

#[derive(Debug, Subcommand)]
pub enum CondarcCommand {
    /// Show what `apply` would change, as a diff.
    Show(CondarcArgs),
    /// Check that conda is configured; exits 6 when it is not.
    Check(CondarcArgs),
    /// Write the settings (after a backup to <file>.bak).
    Apply {
        #[command(flatten)]
        condarc: CondarcArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Show the daemon's status (starts it when it is not running).
    Status,
    /// Start the daemon in the background (nothing happens when it runs already).
    Start,
    /// Stop the daemon and wait until it has exited.
    Stop,
    /// Run the daemon in the foreground of this terminal, logging to stderr.
    Run,
    /// Print the daemon's events as they happen (renewals, conda configuration drift, logins)
    /// until interrupted; with --json one JSON object per line.
    Watch,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Write the service files for the installed anacondad and enable them; a second run
    /// changes nothing. Files that anacondactl did not write are left alone (see --force).
    Install {
        /// Print the files and commands, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Replace service files that anacondactl did not write.
        #[arg(long)]
        force: bool,
    },
    /// Disable and remove exactly what `service install` wrote.
    Uninstall {
        /// Print what would be removed and run, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Whether each unit is installed, enabled and active.
    Status,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_token_help_names_exactly_the_token_commands() {
        let cli = Cli::command();
        let token = cli.find_subcommand("token").expect("token");
        let about = token.get_about().expect("an about").to_string();
        let (_, listed) = about.split_once(':').expect("a list after the colon");
        let mut named: Vec<&str> = listed
            .trim_end_matches('.')
            .split(',')
            .map(str::trim)
            .collect();
        let mut commands: Vec<&str> = token
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(clap::Command::get_name)
            .collect();
        named.sort_unstable();
        commands.sort_unstable();
        assert_eq!(named, commands, "{about}");
    }

    #[test]
    fn the_help_says_where_to_start() {
        let help = Cli::command().render_help().to_string();
        let start = help.find("Start here").expect("a start here");
        assert!(help[start..].contains("anacondactl login"), "{help}");
        assert!(
            help[start..].contains("anacondactl token install"),
            "{help}"
        );
    }

    fn rejected_kind(args: &[&str]) -> Result<RejectedKind, clap::Error> {
        let mut argv = vec![
            "anacondactl",
            "credential",
            "rejected",
            "https://repo.example/x",
        ];
        argv.extend_from_slice(&["--status", "401", "--kind"]);
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Credential(CredentialCommand::Rejected { kind, .. }) => Ok(kind),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn the_refused_kind_is_spelled_as_credential_type_spells_it_and_the_json_kind_still_parses() {
        for spelled in ["repo-token", "repo_token"] {
            assert!(matches!(
                rejected_kind(&[spelled]),
                Ok(RejectedKind::RepoToken)
            ));
        }
        for spelled in ["api-key", "api_key"] {
            assert!(matches!(
                rejected_kind(&[spelled]),
                Ok(RejectedKind::ApiKey)
            ));
        }
        assert!(rejected_kind(&["token"]).is_err());
        let help = Cli::command()
            .find_subcommand_mut("credential")
            .and_then(|c| c.find_subcommand_mut("rejected"))
            .expect("credential rejected")
            .render_long_help()
            .to_string();
        assert!(
            help.contains("repo-token") && !help.contains("repo_token, "),
            "{help}"
        );
    }
}
