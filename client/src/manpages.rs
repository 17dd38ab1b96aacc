//! The manual pages: clap's synopsis, description, options and subcommands from the same
//! definition as `--help`, and the sections a manual page has that `--help` does not:
//! EXAMPLES, FILES, ENVIRONMENT, EXIT STATUS and SEE ALSO.

use std::io::Write as _;
use std::path::Path;

use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

/// A term and what it means: one `.TP` paragraph.
type Item = (&'static str, &'static str);

/// What a page adds to clap's.
#[derive(Debug, Default)]
struct Extra {
    examples: &'static [Item],
    files: &'static [Item],
    environment: &'static [Item],
    exit_status: &'static [Item],
    see_also: &'static str,
}

const CLI_EXIT_STATUS: &[Item] = &[
    ("0", "Success."),
    (
        "1",
        "The operation failed; the message says why and what to run next.",
    ),
    ("2", "Bad usage."),
    ("3", "The daemon could not be reached or started."),
    (
        "4",
        "A question had to be asked but there is no terminal; the message names the flag \
         (--yes, --org) that answers it.",
    ),
    ("5", "Login required: run anacondactl login."),
    (
        "6",
        "condarc check found that conda is not configured as it should be.",
    ),
    (
        "7",
        "The CLI and the daemon speak different protocol versions.",
    ),
    (
        "8",
        "The daemon did not answer in time (hung or stopped); see credential get --timeout-ms.",
    ),
    ("9", "doctor found a failing check."),
    (
        "130",
        "Interrupted at a question (Ctrl-C); the message says what was done by then.",
    ),
];

const CLI_FILES: &[Item] = &[
    (
        "~/.condarc",
        "conda's user configuration; token install and condarc apply add a channel_settings \
         entry and default_channels, after a backup to ~/.condarc.bak.",
    ),
    (
        "$XDG_CONFIG_HOME/anacondad/config.toml",
        "the daemon's configuration (storage, sites, renewal); anacondactl config show lists \
         every value and where it came from.",
    ),
    (
        "~/.anaconda/keyring",
        "the keyring file, used when there is no OS keychain (storage = \"file\", or \"auto\" \
         without one); mode 0600.",
    ),
    (
        "$XDG_STATE_HOME/anacondad/anacondad.log",
        "the log of a daemon that anacondactl started.",
    ),
    (
        "$XDG_RUNTIME_DIR/anacondad/anacondad.sock",
        "the daemon's socket (else $TMPDIR/anacondad-UID/anacondad.sock).",
    ),
];

const CLI_ENVIRONMENT: &[Item] = &[
    ("ANACONDAD_SOCKET", "The daemon's socket, as --socket."),
    (
        "ANACONDAD_BIN",
        "The anacondad binary to start when no daemon runs [default: the one next to \
         anacondactl, else anacondad on PATH].",
    ),
    (
        "ANACONDA_AUTH_DOMAIN, CONDA_TOKEN_REPO_URL",
        "The site and repository, as anaconda-auth reads them; a command stops when they \
         differ from the running daemon's.",
    ),
    (
        "ANACONDACTL_CREDENTIAL_TIMEOUT_MS",
        "How long credential get may take, as --timeout-ms.",
    ),
    (
        "NO_COLOR",
        "When set to anything but the empty string, states (ok, warn, fail) are not coloured. \
         They never are when the output is not a terminal.",
    ),
    (
        "CONDARC, CONDA_*, PATH",
        "Passed to the daemon to find the condas and the configuration files conda reads.",
    ),
];

const CLI_EXAMPLES: &[Item] = &[
    (
        "anacondactl login",
        "Log in (device code; works on a machine without a browser).",
    ),
    (
        "anacondactl token install",
        "Pick an organization, get its repo token, store it and configure conda.",
    ),
    (
        "anacondactl token install --org acme --yes",
        "The same without questions (scripts, CI).",
    ),
    (
        "anacondactl token list",
        "The installed tokens, their expiry and next renewal.",
    ),
    (
        "anacondactl doctor",
        "Check everything conda's access depends on; each failure names its fix.",
    ),
    (
        "anacondactl token uninstall --org acme",
        "Remove the token; with the last one, conda's configuration is restored.",
    ),
];

const TOKEN_INSTALL_EXAMPLES: &[Item] = &[
    (
        "anacondactl token install",
        "Asks which organization (arrow keys, Enter; Esc or q cancels), then before \
         reissuing a token that exists and before editing .condarc.",
    ),
    (
        "anacondactl token install --org acme --yes",
        "No questions: reissues acme's token if it has one, and configures conda.",
    ),
    (
        "anacondactl token install - --org acme < token.txt",
        "Installs a token you were given, read from standard input.",
    ),
    (
        "anacondactl token install --org acme | tee install.log",
        "Output to a file; the questions are still asked on the terminal.",
    ),
];

/// Writes `anacondactl.1` and a page per visible subcommand (`anacondactl-token-install.1`)
/// into `dir`.
pub fn write_cli_pages(cli: clap::Command, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut cli = cli.disable_help_subcommand(true);
    cli.build();
    write_tree(&cli, dir)
}

fn write_tree(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_tree(sub, dir)?;
    }
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
    let extra = if name == "anacondactl" {
        Extra {
            examples: CLI_EXAMPLES,
            files: CLI_FILES,
            environment: CLI_ENVIRONMENT,
            exit_status: CLI_EXIT_STATUS,
            see_also: "anacondad(1), conda(1)",
        }
    } else {
        Extra {
            examples: if name == "anacondactl-token-install" {
                TOKEN_INSTALL_EXAMPLES
            } else {
                &[]
            },
            exit_status: CLI_EXIT_STATUS,
            see_also: "anacondactl(1), anacondad(1)",
            ..Extra::default()
        }
    };
    write_page(cmd.clone(), &extra, dir)
}

fn write_page(cmd: clap::Command, extra: &Extra, dir: &Path) -> std::io::Result<()> {
    let has_options = cmd.get_arguments().any(|a| !a.is_hide_set());
    let has_subcommands = cmd.get_subcommands().any(|s| !s.is_hide_set());
    let has_version = cmd.get_version().is_some() || cmd.get_long_version().is_some();
    let man = Man::new(cmd);
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    if has_options {
        man.render_options_section(&mut page)?;
    }
    if has_subcommands {
        man.render_subcommands_section(&mut page)?;
    }
    let mut roff = Roff::default();
    for (heading, items) in [
        ("EXAMPLES", extra.examples),
        ("FILES", extra.files),
        ("ENVIRONMENT", extra.environment),
        ("EXIT STATUS", extra.exit_status),
    ] {
        if items.is_empty() {
            continue;
        }
        roff.control("SH", [heading]);
        for (term, text) in items {
            roff.control("TP", []);
            let term = if heading == "EXAMPLES" {
                bold(*term)
            } else {
                italic(*term)
            };
            roff.text([term]);
            roff.text([roman(*text)]);
        }
    }
    if !extra.see_also.is_empty() {
        roff.control("SH", ["SEE ALSO"]);
        roff.text([roman(extra.see_also)]);
    }
    roff.to_writer(&mut page)?;
    if has_version {
        man.render_version_section(&mut page)?;
    }
    let mut file = std::fs::File::create(dir.join(man.get_filename()))?;
    file.write_all(&page)?;
    file.flush()
}
