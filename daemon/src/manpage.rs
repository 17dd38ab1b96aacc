//! anacondad.1: clap's synopsis, description and options from the same definition as
//! `--help`, and the sections a manual page has that `--help` does not: EXAMPLES, FILES,
//! ENVIRONMENT, EXIT STATUS and SEE ALSO.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, italic, roman};

/// A term and what it means: one `.TP` paragraph.
type Item = (&'static str, &'static str);

const DAEMON_EXIT_STATUS: &[Item] = &[
    (
        "0",
        "Stopped cleanly (SIGTERM, SIGINT or anacondactl daemon stop).",
    ),
    ("1", "Failed; the message says why."),
    ("2", "Bad usage."),
    ("3", "Another anacondad already serves the socket."),
];

const DAEMON_FILES: &[Item] = &[
    (
        "$XDG_CONFIG_HOME/anacondad/config.toml",
        "The configuration (storage, sites, renewal, proxy).",
    ),
    (
        "$XDG_STATE_HOME/anacondad/",
        "The state file (non-secret facts: expiry, next renewal), mode 0600; and the log of \
         a daemon started by anacondactl, anacondad.log.",
    ),
    (
        "~/.anaconda/keyring",
        "The keyring file, when there is no OS keychain.",
    ),
    (
        "~/.condarc",
        "conda's user configuration, watched for changes.",
    ),
    (
        "$XDG_RUNTIME_DIR/anacondad/anacondad.sock",
        "The socket (directory 0700, socket 0600).",
    ),
];

const DAEMON_ENVIRONMENT: &[Item] = &[
    ("ANACONDAD_SOCKET", "The socket, as --socket."),
    (
        "ANACONDAD_CONFIG",
        "The configuration file [default: $XDG_CONFIG_HOME/anacondad/config.toml].",
    ),
    (
        "ANACONDAD_STORAGE",
        "Where secrets go: auto (the OS keychain, else the keyring file), system or file.",
    ),
    (
        "ANACONDAD_DOMAIN, ANACONDAD_DEFAULT_SITE",
        "The site to serve, and the default one of several.",
    ),
    (
        "ANACONDAD_PROXY, ANACONDAD_CA_BUNDLE, ANACONDAD_SSL_VERIFY",
        "How to reach the service.",
    ),
    (
        "ANACONDA_AUTH_DOMAIN, ANACONDA_AUTH_API_KEY, ANACONDA_AUTH_SSL_VERIFY, \
         CONDA_TOKEN_REPO_URL",
        "anaconda-auth's variables, honoured too.",
    ),
    ("RUST_LOG", "The log's detail, e.g. anacondad=debug."),
];

const DAEMON_EXAMPLES: &[Item] = &[
    (
        "anacondactl daemon start",
        "Most users never start anacondad by hand: anacondactl starts it when needed.",
    ),
    (
        "anacondactl service install",
        "Start it at login (systemd user units, a launchd agent).",
    ),
    (
        "anacondad --foreground",
        "Run it in this terminal, logging to standard error.",
    ),
];

/// Writes `anacondad.1` for `daemon` (the binary's own definition) into `dir`; returns its path.
pub fn write(daemon: clap::Command, dir: &Path) -> std::io::Result<PathBuf> {
    let man = Man::new(daemon);
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    let mut roff = Roff::default();
    for (heading, items) in [
        ("EXAMPLES", DAEMON_EXAMPLES),
        ("FILES", DAEMON_FILES),
        ("ENVIRONMENT", DAEMON_ENVIRONMENT),
        ("EXIT STATUS", DAEMON_EXIT_STATUS),
    ] {
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
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman("anacondactl(1)")]);
    roff.to_writer(&mut page)?;
    man.render_version_section(&mut page)?;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(man.get_filename());
    let mut file = std::fs::File::create(&path)?;
    file.write_all(&page)?;
    file.flush()?;
    Ok(path)
}
