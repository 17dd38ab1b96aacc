//! Transcripts of `anacondactl token install`: the real CLI in a pseudo-terminal (answering its
//! prompts) or without one, against the real daemon and the emulator over HTTP.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anacondad_tests::harness::{DaemonProcess, TestHome};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use expectrl::process::unix::WaitStatus;
use expectrl::{Eof, Expect, Session};
use serde_json::{Value, json};

/// How long one expected piece of output may take: generous, for a loaded 2-core machine.
const EXPECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The keys a terminal sends for the down arrow and for Enter in raw mode.
const DOWN_ARROW: &str = "\x1b[B";
const ENTER: &str = "\r";
const ESCAPE: &str = "\x1b";
const CTRL_C: &str = "\x03";

/// What a terminal is sent to hide the cursor and to show it again.
const HIDE_CURSOR: &str = "\x1b[?25l";
const SHOW_CURSOR: &str = "\x1b[?25h";

/// The key hint under the organisation menu.
const KEY_HINT: &str = "Esc or q to cancel";

/// What every successful, fully configured install ends with.
const SUCCESS: &str =
    "Success! Your token has been installed and validated, and conda has been configured.";

/// One org with a business subscription, for the auto-selection transcript.
const ONE_ORG_SEED: &str = r#"{
  "users": [{"username": "demo", "email": "demo@example.com"}],
  "organizations": [{"name": "umbrella", "title": "Umbrella Corporation", "members": ["demo"]}],
  "subscriptions": [{"org": "umbrella", "product_code": "commercial_business"}]
}"#;

/// Only a starter subscription: no organization may get a repo token.
const STARTER_ONLY_SEED: &str = r#"{
  "users": [{"username": "demo", "email": "demo@example.com"}],
  "organizations": [{"name": "initech", "title": "Initech", "members": ["demo"]}],
  "subscriptions": [{"org": "initech", "product_code": "commercial_starter"}]
}"#;

/// A hand-written `.condarc` whose comments must survive (or stay untouched).
const COMMENTED_CONDARC: &str = "\
# my conda settings, keep these comments
channels:
  - defaults   # the usual
  - conda-forge

# solver choice
solver: libmamba
";

/// The emulator, a temporary home and a daemon pointed at the emulator, all stopped on drop.
struct World {
    home: TestHome,
    emulator: EmulatorProcess,
    _daemon: DaemonProcess,
    http: reqwest::blocking::Client,
}

impl World {
    /// The emulator's demo world: `acme` and `globex` may get a repo token, `initech` may not.
    fn demo() -> Self {
        Self::around(spawn_emulator(&["--device-interval", "1"]))
    }

    /// An emulator that starts from `seed` (the `--state` JSON format).
    fn seeded(seed: &str) -> Self {
        let seed_file = tempfile::NamedTempFile::new().expect("a seed file");
        std::fs::write(seed_file.path(), seed).expect("write the seed");
        Self::around(spawn_emulator(&[
            "--device-interval",
            "1",
            "--state",
            seed_file.path().to_str().expect("a UTF-8 temp path"),
        ]))
    }

    /// A home against `emulator` (file store; the keychain has its own tests), its daemon
    /// started.
    fn around(emulator: EmulatorProcess) -> Self {
        let home = TestHome::against(&emulator);
        let daemon = home.start_daemon();
        anacondad_tests::install_crypto_provider();
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(EXPECT_TIMEOUT)
            .build()
            .expect("an HTTP client");
        Self {
            home,
            emulator,
            _daemon: daemon,
            http,
        }
    }

    fn base(&self) -> &str {
        &self.emulator.base_url
    }

    fn condarc(&self) -> PathBuf {
        self.home.path().join(".condarc")
    }

    /// `anacondactl <args>` without a terminal: standard input is empty.
    fn run(&self, args: &[&str]) -> Output {
        self.home
            .ctl()
            .args(args)
            .output()
            .expect("anacondactl runs")
    }

    /// Logs in non-interactively with an API key minted for the demo user.
    fn login(&self) {
        self.home.login_with_api_key(&self.emulator.mint_api_key());
    }

    fn control_post(&self, path: &str, body: Value) -> Value {
        self.emulator.post(path, body)
    }

    /// The org's current token on the service, or `None` when it has none.
    fn current_token(&self, org: &str) -> Option<String> {
        self.emulator.org_token(org)
    }

    /// Issues a token for `org` on the service, as if it had been installed elsewhere before.
    fn issue_token(&self, org: &str) -> String {
        let issued = self.control_post(&format!("/_emulator/orgs/{org}/token"), json!({}));
        issued["token"].as_str().expect("a token").to_owned()
    }

    /// The HTTP status of the default channel's repodata fetched with `authorization`.
    fn repodata_status(&self, authorization: &str) -> u16 {
        self.http
            .get(self.repodata_url())
            .header("Authorization", authorization)
            .send()
            .expect("the emulator answers")
            .status()
            .as_u16()
    }

    fn repodata_url(&self) -> String {
        format!("{}/repo/main/noarch/repodata.json", self.base())
    }

    /// Runs `anacondactl <args>` in a pseudo-terminal.
    fn pty(&self, args: &[&str]) -> Transcript {
        self.pty_with(args, &[])
    }

    /// [`World::pty`] with `env` added to the environment.
    fn pty_with(&self, args: &[&str], env: &[(&str, &str)]) -> Transcript {
        let mut cmd = Command::new(anacondad_tests::harness::bin("anacondactl"));
        cmd.args(args);
        self.spawn_in_pty(cmd, &args.join(" "), env)
    }

    /// `sh -c SCRIPT` in a pseudo-terminal, `$ANACONDACTL` naming the CLI: for pipelines.
    fn pty_shell(&self, script: &str) -> Transcript {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        let cli = anacondad_tests::harness::bin("anacondactl");
        let cli = cli.to_str().expect("a UTF-8 path");
        self.spawn_in_pty(cmd, script, &[("ANACONDACTL", cli)])
    }

    fn spawn_in_pty(&self, mut cmd: Command, what: &str, env: &[(&str, &str)]) -> Transcript {
        cmd.env_clear()
            .envs(self.home.env())
            // The menu is drawn only on a terminal that says what it is.
            .env("TERM", "xterm")
            .envs(env.iter().copied());
        let mut session = Session::spawn(cmd).expect("anacondactl starts in a pty");
        session.set_expect_timeout(Some(EXPECT_TIMEOUT));
        Transcript {
            session,
            seen: Vec::new(),
            args: what.to_owned(),
        }
    }
}

/// A CLI run in a pseudo-terminal, and everything it has printed so far.
struct Transcript {
    session: expectrl::session::OsSession,
    seen: Vec<u8>,
    args: String,
}

impl Transcript {
    /// Waits for `text` in the output; fails with the transcript so far when it does not come.
    fn expect(&mut self, text: &str) {
        match self.session.expect(text) {
            Ok(found) => self.seen.extend_from_slice(found.as_bytes()),
            Err(e) => {
                self.drain();
                panic!(
                    "`anacondactl {}` did not print {text:?} ({e}); the transcript:\n{}",
                    self.args,
                    self.text()
                );
            }
        }
    }

    /// Types `keys` on the terminal.
    fn send(&mut self, keys: &str) {
        self.session.send(keys).expect("write to the pty");
    }

    /// Reads the rest of the output, waits for the exit and checks its code; returns the whole
    /// transcript.
    fn finish(mut self, expected_code: i32) -> String {
        // The pty's end (EIO on Linux once the CLI has exited) reads as EOF.
        match self.session.expect(Eof) {
            Ok(rest) => self.seen.extend_from_slice(rest.as_bytes()),
            Err(e) => {
                self.drain();
                panic!(
                    "`anacondactl {}` did not finish ({e}); the transcript:\n{}",
                    self.args,
                    self.text()
                );
            }
        }
        let status = self
            .session
            .get_process()
            .wait()
            .expect("wait for anacondactl");
        let text = self.text();
        match status {
            WaitStatus::Exited(_, code) => assert_eq!(
                code, expected_code,
                "`anacondactl {}` exited {code}, expected {expected_code}; the transcript:\n{text}",
                self.args
            ),
            other => panic!(
                "`anacondactl {}` ended with {other:?}; the transcript:\n{text}",
                self.args
            ),
        }
        text
    }

    /// Reads the rest of the output and waits for the exit, whatever its code (for `doctor`,
    /// whose checks of this machine may fail).
    fn finish_whatever_code(mut self) {
        if let Err(e) = self.session.expect(Eof) {
            self.drain();
            panic!(
                "`anacondactl {}` did not finish ({e}); the transcript:\n{}",
                self.args,
                self.text()
            );
        }
        self.session
            .get_process()
            .wait()
            .expect("wait for anacondactl");
    }

    /// Takes what is already buffered or readable, without waiting.
    fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = self.session.try_read(&mut buf) {
            self.seen.extend_from_slice(&buf[..n]);
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }
}

fn assert_exit(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "`anacondactl {what}` exit status; stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The parsed `.condarc` at `path`.
fn read_yaml(path: &Path) -> serde_yaml::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML ({e}):\n{text}", path.display()))
}

/// Checks that `.condarc` routes the emulator's host to anacondad and sets its default channels.
fn assert_configured_for(condarc: &serde_yaml::Value, base: &str) {
    let settings = condarc["channel_settings"]
        .as_sequence()
        .unwrap_or_else(|| panic!("no channel_settings list in {condarc:?}"));
    assert!(
        settings.iter().any(|entry| {
            entry["channel"].as_str() == Some(&format!("{base}/*"))
                && entry["auth"].as_str() == Some("anacondad")
        }),
        "no anacondad entry for {base}/* in {settings:?}"
    );
    let defaults: Vec<&str> = condarc["default_channels"]
        .as_sequence()
        .unwrap_or_else(|| panic!("no default_channels list in {condarc:?}"))
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert_eq!(
        defaults,
        [
            format!("{base}/repo/main"),
            format!("{base}/repo/r"),
            format!("{base}/repo/msys2"),
        ]
    );
}

/// The installed orgs as `token list --json` reports them.
fn listed_orgs(world: &World) -> Vec<String> {
    let output = world.run(&["--json", "token", "list"]);
    assert_exit(&output, 0, "--json token list");
    let list: Value = serde_json::from_slice(&output.stdout).expect("token list --json is JSON");
    list["tokens"]
        .as_array()
        .expect("a tokens array")
        .iter()
        .map(|t| t["org"].as_str().expect("an org").to_owned())
        .collect()
}

#[test]
fn several_orgs_are_offered_in_a_menu_and_the_second_one_gets_a_working_token() {
    let world = World::demo();
    world.login();

    let mut t = world.pty(&["token", "install"]);
    t.expect("Please select an organization");
    t.expect("Acme Corporation (acme)");
    t.expect("Globex Corporation (globex)");
    t.send(DOWN_ARROW);
    // The highlight moves before Enter is pressed, as a user would see it.
    t.expect("> Globex Corporation (globex)");
    t.send(ENTER);
    t.expect("Please select an organization: Globex Corporation (globex)");
    t.expect("Your conda token has been installed and expires");
    t.expect("Configuring your .condarc file");
    t.expect("Prepared to set default channels in .condarc.");
    t.expect("Proceed? [y/n] (n): ");
    t.send("y\n");
    t.expect(SUCCESS);
    let text = t.finish(0);
    assert!(
        !text.contains("An existing token already exists"),
        "no token existed, yet the reissue was announced:\n{text}"
    );
    assert!(
        !text.contains("Backing up config"),
        "there was no .condarc to back up:\n{text}"
    );

    let issued = world
        .current_token("globex")
        .expect("globex got a token on the service");
    assert_eq!(world.current_token("acme"), None, "acme was not picked");
    assert_configured_for(&read_yaml(&world.condarc()), world.base());
    assert_eq!(listed_orgs(&world), ["globex"]);
    let list = world.run(&["token", "list"]);
    assert_exit(&list, 0, "token list");
    assert!(stdout(&list).contains("globex"), "{}", stdout(&list));
    assert!(
        !stdout(&list).contains(&issued),
        "token list shows the whole token"
    );

    let credential = world.run(&["credential", "get", &world.repodata_url()]);
    assert_exit(&credential, 0, "credential get");
    let header = stdout(&credential).trim().to_owned();
    assert_eq!(header, format!("token {issued}"));
    assert_eq!(world.repodata_status(&header), 200);
}

#[test]
fn a_single_org_is_selected_without_asking() {
    let world = World::seeded(ONE_ORG_SEED);
    world.login();

    let mut t = world.pty(&["token", "install"]);
    t.expect("Only one organization found, automatically selecting: umbrella");
    t.expect("Your conda token has been installed and expires");
    t.expect("Proceed? [y/n] (n): ");
    t.send("y\n");
    t.expect(SUCCESS);
    let text = t.finish(0);
    assert!(
        !text.contains("Please select an organization"),
        "a menu was shown for one org:\n{text}"
    );
    assert!(world.current_token("umbrella").is_some());
    assert_eq!(listed_orgs(&world), ["umbrella"]);
}

#[test]
fn no_eligible_org_fails_saying_none_was_found() {
    let world = World::seeded(STARTER_ONLY_SEED);
    world.login();

    let mut t = world.pty(&["token", "install"]);
    t.expect("No organizations found.");
    let text = t.finish(1);
    assert!(!text.contains("installed and expires"), "{text}");
    assert_eq!(world.current_token("initech"), None);
    assert!(!world.condarc().exists(), ".condarc was written");
}

#[test]
fn agreeing_to_reissue_revokes_the_previous_token() {
    let world = World::demo();
    world.login();
    let previous = world.issue_token("acme");
    assert_eq!(world.repodata_status(&format!("token {previous}")), 200);

    let mut t = world.pty(&["token", "install"]);
    t.expect("Please select an organization");
    t.expect("Globex Corporation (globex)");
    // Enter takes the highlighted first row: acme.
    t.send(ENTER);
    t.expect("Please select an organization: Acme Corporation (acme)");
    t.expect(
        "An existing token already exists for the organization acme: a token issued elsewhere",
    );
    t.expect(
        "Reissuing a new token will revoke and deactivate any existing token access. This \
         action can't be undone.",
    );
    t.expect("Proceed? [y/n] (n): ");
    t.send("y\n");
    t.expect("Your conda token has been installed and expires");
    t.expect("Proceed? [y/n] (n): ");
    t.send("y\n");
    t.expect(SUCCESS);
    // The channel picker: Enter takes the highlighted first row, all of acme's channels.
    t.expect("Add the channels of acme to conda's channels?");
    t.expect("All 2 channels (internal, tools)");
    t.send(ENTER);
    t.expect("conda now searches, in this order:");
    t.finish(0);
    let condarc = std::fs::read_to_string(world.condarc()).unwrap();
    assert!(
        condarc.contains(&format!("  - {}/repo/acme/internal\n", world.base())),
        "{condarc}"
    );

    let current = world.current_token("acme").expect("acme has a token");
    assert_ne!(current, previous, "the token was not reissued");
    assert_eq!(
        world.repodata_status(&format!("token {previous}")),
        401,
        "the previous token still works after the reissue"
    );
    assert_eq!(world.repodata_status(&format!("token {current}")), 200);
    let credential = world.run(&["credential", "get", &world.repodata_url()]);
    assert_exit(&credential, 0, "credential get");
    assert_eq!(stdout(&credential).trim(), format!("token {current}"));
}

#[test]
fn declining_the_reissue_changes_nothing() {
    let world = World::demo();
    world.login();
    let previous = world.issue_token("acme");

    let mut t = world.pty(&["token", "install", "--org", "acme"]);
    t.expect(
        "An existing token already exists for the organization acme: a token issued elsewhere",
    );
    t.expect("Proceed? [y/n] (n): ");
    // An answer that is neither yes nor no is asked again.
    t.send("maybe\n");
    t.expect("Please answer y (yes) or n (no).");
    t.expect("Proceed? [y/n] (n): ");
    // Enter takes the default, which is no.
    t.send("\n");
    t.expect("Nothing changed");
    // Declining is the user's choice, not a failure: no error line, exit 0.
    let text = t.finish(0);
    assert!(!text.contains("has been installed"), "{text}");
    assert!(!text.contains("anacondactl:"), "{text}");

    assert_eq!(
        world.current_token("acme").as_deref(),
        Some(previous.as_str())
    );
    assert_eq!(world.repodata_status(&format!("token {previous}")), 200);
    assert!(listed_orgs(&world).is_empty());
    assert!(!world.condarc().exists(), ".condarc was written");
}

#[test]
fn declining_the_condarc_step_installs_the_token_and_leaves_condarc_byte_identical() {
    let world = World::demo();
    world.login();
    std::fs::write(world.condarc(), COMMENTED_CONDARC).unwrap();

    let mut t = world.pty(&["token", "install", "--org", "globex"]);
    t.expect("Your conda token has been installed and expires");
    t.expect("Configuring your .condarc file");
    t.expect("Proceed? [y/n] (n): ");
    t.send("n\n");
    t.expect(".condarc was left unchanged");
    let text = t.finish(0);
    assert!(
        !text.contains("conda has been configured"),
        "declining still claims conda was configured:\n{text}"
    );
    assert!(!text.contains("Backing up config"), "{text}");

    assert_eq!(
        std::fs::read_to_string(world.condarc()).unwrap(),
        COMMENTED_CONDARC
    );
    assert!(!world.home.path().join(".condarc.bak").exists());
    assert_eq!(listed_orgs(&world), ["globex"]);
    let token = world.current_token("globex").expect("globex has a token");
    assert_eq!(world.repodata_status(&format!("token {token}")), 200);
}

#[test]
fn configuring_an_existing_condarc_backs_it_up_first() {
    let world = World::demo();
    world.login();
    std::fs::write(world.condarc(), COMMENTED_CONDARC).unwrap();
    let backup = world.home.path().join(".condarc.bak");

    let mut t = world.pty(&["token", "install", "--org", "acme", "--channels", "none"]);
    t.expect("Proceed? [y/n] (n): ");
    t.send("y\n");
    t.expect(&format!("Backing up config to {}", backup.display()));
    t.expect(SUCCESS);
    t.finish(0);

    assert_eq!(std::fs::read_to_string(&backup).unwrap(), COMMENTED_CONDARC);
    let written = std::fs::read_to_string(world.condarc()).unwrap();
    for kept in [
        "# my conda settings, keep these comments",
        "  - defaults   # the usual",
        "# solver choice",
        "solver: libmamba",
    ] {
        assert!(written.contains(kept), "{kept:?} was lost:\n{written}");
    }
    assert_configured_for(&read_yaml(&world.condarc()), world.base());
}

#[test]
fn without_a_terminal_several_orgs_need_the_org_flag() {
    let world = World::demo();
    world.login();

    let output = world.run(&["token", "install"]);
    assert_exit(&output, 4, "token install");
    assert!(stderr(&output).contains("--org"), "{}", stderr(&output));
    assert_eq!(world.current_token("acme"), None);
    assert_eq!(world.current_token("globex"), None);
}

#[test]
fn without_a_terminal_a_reissue_needs_the_yes_flag() {
    let world = World::demo();
    world.login();
    let previous = world.issue_token("acme");

    let output = world.run(&["token", "install", "--org", "acme"]);
    assert_exit(&output, 4, "token install --org acme");
    assert!(stderr(&output).contains("--yes"), "{}", stderr(&output));
    assert_eq!(
        world.current_token("acme").as_deref(),
        Some(previous.as_str())
    );
    assert_eq!(world.repodata_status(&format!("token {previous}")), 200);
}

#[test]
fn org_and_yes_install_and_configure_without_a_terminal() {
    let world = World::demo();
    world.login();

    let output = world.run(&["token", "install", "--org", "acme", "--yes"]);
    assert_exit(&output, 0, "token install --org acme --yes");
    assert!(stdout(&output).contains(SUCCESS), "{}", stdout(&output));
    assert_configured_for(&read_yaml(&world.condarc()), world.base());
    assert_eq!(listed_orgs(&world), ["acme"]);
    let credential = world.run(&["credential", "get", &world.repodata_url()]);
    assert_exit(&credential, 0, "credential get");
    assert_eq!(world.repodata_status(stdout(&credential).trim()), 200);
}

#[test]
fn no_condarc_leaves_conda_unconfigured() {
    let world = World::demo();
    world.login();

    let output = world.run(&["token", "install", "--org", "acme", "--no-condarc"]);
    assert_exit(&output, 0, "token install --org acme --no-condarc");
    assert!(
        !stdout(&output).contains("conda has been configured"),
        "{}",
        stdout(&output)
    );
    assert!(!world.condarc().exists(), ".condarc was written");
    assert_eq!(listed_orgs(&world), ["acme"]);
}

#[test]
fn a_given_token_installs_without_login_and_is_only_ever_shown_masked() {
    let world = World::demo();
    let given = world.issue_token("acme");

    let install = world.run(&["token", "install", &given, "--org", "acme", "--yes"]);
    assert_exit(&install, 0, "token install TOKEN --org acme --yes");
    let list = world.run(&["token", "list"]);
    assert_exit(&list, 0, "token list");
    assert!(stdout(&list).contains("acme"), "{}", stdout(&list));
    let last4 = &given[given.len() - 4..];
    assert!(
        stdout(&list).contains(&format!("****{last4}")),
        "token list does not show the masked token:\n{}",
        stdout(&list)
    );
    for (what, output) in [("install", &install), ("list", &list)] {
        for text in [stdout(output), stderr(output)] {
            assert!(
                !text.contains(&given),
                "`token {what}` printed the whole token"
            );
        }
    }
    assert_eq!(
        world.current_token("acme").as_deref(),
        Some(given.as_str()),
        "installing a given token must not reissue it"
    );
    let credential = world.run(&["credential", "get", &world.repodata_url()]);
    assert_exit(&credential, 0, "credential get");
    assert_eq!(stdout(&credential).trim(), format!("token {given}"));
}

/// Whether the cursor was hidden and shown again after the last time it was hidden.
fn cursor_shown_at_the_end(text: &str) -> bool {
    match text.rfind(HIDE_CURSOR) {
        Some(hidden) => text[hidden..].contains(SHOW_CURSOR),
        None => true,
    }
}

#[test]
fn the_organization_menu_shows_its_keys_and_escape_cancels_it_with_the_cursor_back() {
    let world = World::demo();
    world.login();

    let mut t = world.pty(&["token", "install"]);
    t.expect("Please select an organization");
    t.expect(KEY_HINT);
    t.send(ESCAPE);
    t.expect("nothing was chosen");
    let text = t.finish(1);
    assert!(
        text.contains(HIDE_CURSOR),
        "the menu hides the cursor:\n{text:?}"
    );
    assert!(
        cursor_shown_at_the_end(&text),
        "the cursor stays hidden:\n{text:?}"
    );
    assert_eq!(world.current_token("acme"), None);
    assert_eq!(world.current_token("globex"), None);
    assert!(!world.condarc().exists(), ".condarc was written");
}

#[test]
fn q_cancels_the_organization_menu() {
    let world = World::demo();
    world.login();

    let mut t = world.pty(&["token", "install"]);
    t.expect(KEY_HINT);
    t.send("q");
    t.expect("nothing was chosen");
    let text = t.finish(1);
    assert!(cursor_shown_at_the_end(&text), "{text:?}");
    assert_eq!(world.current_token("acme"), None);
}

#[test]
fn ctrl_c_at_the_organization_menu_gives_the_cursor_back_and_says_nothing_changed() {
    let world = World::demo();
    world.login();

    let mut t = world.pty(&["token", "install"]);
    t.expect("Globex Corporation (globex)");
    t.send(CTRL_C);
    t.expect("interrupted: nothing was changed");
    let text = t.finish(130);
    assert!(
        cursor_shown_at_the_end(&text),
        "the cursor stays hidden:\n{text:?}"
    );
    assert_eq!(world.current_token("acme"), None);
    assert_eq!(world.current_token("globex"), None);
}

#[test]
fn ctrl_c_at_the_condarc_question_after_the_reissue_says_what_was_done_and_what_to_run() {
    let world = World::demo();
    world.login();

    let mut t = world.pty(&["token", "install", "--org", "acme"]);
    t.expect("Your conda token has been installed and expires");
    t.expect("Proceed? [y/n] (n): ");
    t.send(CTRL_C);
    t.expect("interrupted: your token for acme is installed");
    t.expect("anacondactl condarc apply");
    t.finish(130);
    assert!(world.current_token("acme").is_some());
    assert_eq!(listed_orgs(&world), ["acme"]);
    assert!(!world.condarc().exists(), ".condarc was written");
}

#[test]
fn with_its_output_piped_install_still_asks_on_the_terminal() {
    let world = World::demo();
    world.login();
    let log = world.home.path().join("install.log");

    let mut t = world.pty_shell(&format!(
        "\"$ANACONDACTL\" token install --org acme --channels none | tee '{}'",
        log.display()
    ));
    t.expect("Proceed? [y/n] (n): ");
    t.send("y\n");
    t.expect(SUCCESS);
    t.finish(0);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains(SUCCESS), "{logged}");
    assert!(
        !logged.contains("Proceed?"),
        "the question went to the terminal, not into the log:\n{logged}"
    );
    assert_configured_for(&read_yaml(&world.condarc()), world.base());
}

#[test]
fn token_states_are_coloured_on_a_terminal_unless_no_color_is_set() {
    let world = World::demo();
    world.login();
    let install = world.run(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    assert_exit(&install, 0, "token install --org acme --yes --no-condarc");
    let green_valid = "\x1b[32mvalid\x1b[0m";

    let mut t = world.pty(&["token", "list"]);
    t.expect(green_valid);
    t.finish(0);

    let mut t = world.pty_with(&["token", "list"], &[("NO_COLOR", "1")]);
    t.expect("valid");
    let text = t.finish(0);
    assert!(!text.contains("\x1b["), "NO_COLOR is set:\n{text:?}");

    let piped = world.run(&["token", "list"]);
    assert_exit(&piped, 0, "token list");
    assert!(stdout(&piped).contains("valid"), "{}", stdout(&piped));
    assert!(
        !stdout(&piped).contains('\x1b'),
        "not a terminal: {:?}",
        stdout(&piped)
    );
}

#[test]
fn doctor_colours_its_states_on_a_terminal_only() {
    let world = World::demo();
    world.login();

    let mut t = world.pty(&["doctor"]);
    t.expect("\x1b[32mok  \x1b[0m");
    t.finish_whatever_code();

    let piped = world.run(&["doctor"]);
    assert!(stdout(&piped).contains("ok  "), "{}", stdout(&piped));
    assert!(
        !stdout(&piped).contains('\x1b'),
        "not a terminal: {:?}",
        stdout(&piped)
    );
}
