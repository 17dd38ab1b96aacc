//! Advice must never cost the user a token: after a partial success the advice is `condarc
//! apply` or a re-check, never a reissue; `token install` checks `.condarc` before it asks or
//! reissues anything; `token refresh` asks first; the reissue question says whose token would
//! be revoked and offers to keep a valid one and just configure conda. And conda's file: a
//! flow-style `channels` list is edited, each cause is reported once, a parse error alone.

mod pty;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use anacondad_tests::harness::{DaemonProcess, TestHome};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use pty::Terminal;
use serde_json::Value;

/// A prompt was needed and there is no terminal (client/src/exit.rs).
const EXIT_NEEDS_ANSWER: i32 = 4;

const EXPECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The sentence conda's missing `defaults` is reported with (daemon/src/conda_setup/view.rs).
const NO_DEFAULTS: &str = "defaults is not in effect";

struct World {
    home: TestHome,
    emulator: EmulatorProcess,
    _daemon: DaemonProcess,
}

impl World {
    fn logged_in() -> Self {
        let emulator = spawn_emulator(&[]);
        let home = TestHome::against(&emulator);
        let daemon = home.start_daemon();
        home.login_with_api_key(&emulator.mint_api_key());
        Self {
            home,
            emulator,
            _daemon: daemon,
        }
    }

    fn condarc(&self) -> PathBuf {
        self.home.path().join(".condarc")
    }

    fn run(&self, args: &[&str]) -> Output {
        self.home.run_ctl(args)
    }

    /// The org's current token on the service.
    fn service_token(&self, org: &str) -> Option<String> {
        self.emulator.org_token(org)
    }

    /// Installs `org`'s token here without touching conda; returns it.
    fn install_here(&self, org: &str) -> String {
        let out = self.run(&["token", "install", "--org", org, "--yes", "--no-condarc"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        self.service_token(org).expect("a token was issued")
    }

    fn pty(&self, args: &[&str]) -> Terminal {
        Terminal::spawn(&self.home, args, EXPECT_TIMEOUT)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn all_output(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// The advice after an install whose conda step could not ask is `condarc apply`, not a
/// re-run with `--yes` (which would reissue the token just installed).
#[test]
fn without_a_terminal_the_conda_step_advises_condarc_apply_not_yes() {
    let world = World::logged_in();
    let out = world.run(&["token", "install", "--org", "acme"]);
    assert_eq!(
        out.status.code(),
        Some(EXIT_NEEDS_ANSWER),
        "{}",
        all_output(&out)
    );
    let err = text(&out.stderr);
    assert!(err.contains("`anacondactl condarc apply`"), "{err}");
    assert!(!err.contains("--yes"), "{err}");
    assert!(world.service_token("acme").is_some());
}

#[test]
fn a_malformed_condarc_stops_install_before_anything_is_reissued() {
    let world = World::logged_in();
    let before = world.install_here("acme");
    std::fs::write(world.condarc(), "channels: [conda-forge\nfoo: : :\n").unwrap();

    let out = world.run(&["token", "install", "--org", "acme", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let err = text(&out.stderr);
    assert!(err.contains("line 2, column 4"), "{err}");
    assert!(err.contains("Nothing was reissued"), "{err}");
    assert_eq!(world.service_token("acme"), Some(before));
}

#[test]
fn a_read_only_condarc_stops_install_before_anything_is_asked_or_reissued() {
    let world = World::logged_in();
    let before = world.install_here("acme");
    std::fs::write(world.condarc(), "channels:\n  - conda-forge\n").unwrap();
    std::fs::set_permissions(world.condarc(), std::fs::Permissions::from_mode(0o444)).unwrap();

    // On a terminal: no question comes before the refusal.
    let mut t = world.pty(&["token", "install", "--org", "acme"]);
    t.expect("is read-only");
    t.expect("Nothing was reissued");
    let shown = t.finish(1);
    assert!(
        !shown.contains("[y/n]") && !shown.contains("[c/y/n]"),
        "{shown}"
    );
    assert_eq!(world.service_token("acme"), Some(before));
}

#[test]
fn a_flow_list_install_cannot_edit_stops_it_naming_the_line_to_change() {
    let world = World::logged_in();
    let before = world.install_here("acme");
    std::fs::write(world.condarc(), "channels: [conda-forge,\n  bioconda]\n").unwrap();

    let out = world.run(&["token", "install", "--org", "acme", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("`channels: [conda-forge, bioconda, defaults]`"),
        "{err}"
    );
    assert!(err.contains("Nothing was reissued"), "{err}");
    assert_eq!(world.service_token("acme"), Some(before));
}

#[test]
fn token_refresh_asks_first_and_a_no_leaves_the_token_as_it_was() {
    let world = World::logged_in();
    let before = world.install_here("acme");

    let mut t = world.pty(&["token", "refresh", "--org", "acme"]);
    t.expect("revokes the current one on every machine");
    t.expect("Proceed? [y/n] (n): ");
    t.send("perhaps\n");
    t.expect("Please answer y (yes) or n (no).");
    t.send("n\n");
    t.expect("Nothing changed: the token of acme was left as it was.");
    let shown = t.finish(0);
    assert!(!shown.contains("anacondactl:"), "{shown}");
    assert_eq!(
        world.service_token("acme").as_deref(),
        Some(before.as_str())
    );

    let piped = world.run(&["token", "refresh", "--org", "acme"]);
    assert_eq!(
        piped.status.code(),
        Some(EXIT_NEEDS_ANSWER),
        "{}",
        all_output(&piped)
    );
    assert!(text(&piped.stderr).contains("--yes"));
    assert_eq!(
        world.service_token("acme").as_deref(),
        Some(before.as_str())
    );

    let confirmed = world.run(&["token", "refresh", "--org", "acme", "--yes"]);
    assert_eq!(
        confirmed.status.code(),
        Some(0),
        "{}",
        all_output(&confirmed)
    );
    assert_ne!(
        world.service_token("acme").as_deref(),
        Some(before.as_str())
    );
}

#[test]
fn the_reissue_question_names_this_machines_valid_token_and_offers_to_just_configure_conda() {
    let world = World::logged_in();
    let before = world.install_here("acme");

    let mut t = world.pty(&["token", "install", "--org", "acme"]);
    t.expect(
        "An existing token already exists for the organization acme: your token on this machine (",
    );
    t.expect("), valid until ");
    t.expect("[c/y/n] (c): ");
    t.send("sure\n");
    t.expect("Please answer c (configure) or y (yes) or n (no).");
    t.expect("[c/y/n] (c): ");
    // Enter keeps the token and configures conda.
    t.send("\n");
    t.expect("Configuring your .condarc file");
    t.expect("Proceed? [y/n] (n): ");
    t.send("y\n");
    t.expect("Success! Your token for acme was kept as it was, and conda has been configured.");
    // A kept token gets the same channel step as a new one: Enter takes all of acme's.
    t.expect("Add the channels of acme to conda's channels?");
    t.expect("All 2 channels (internal, tools)");
    t.send("\r");
    t.expect("conda now searches, in this order:");
    t.finish(0);

    assert_eq!(world.service_token("acme"), Some(before));
    let condarc = std::fs::read_to_string(world.condarc()).unwrap();
    assert!(condarc.contains("/repo/acme/internal\n"), "{condarc}");
    let check = world.run(&["condarc", "check"]);
    assert!(
        text(&check.stdout).contains("configured"),
        "{}",
        all_output(&check)
    );
}

#[test]
fn without_a_terminal_the_reissue_question_names_condarc_apply_for_a_valid_token_here() {
    let world = World::logged_in();
    let before = world.install_here("acme");
    let out = world.run(&["token", "install", "--org", "acme"]);
    assert_eq!(
        out.status.code(),
        Some(EXIT_NEEDS_ANSWER),
        "{}",
        all_output(&out)
    );
    assert!(
        text(&out.stderr).contains("`anacondactl condarc apply`"),
        "{}",
        all_output(&out)
    );
    assert_eq!(world.service_token("acme"), Some(before));
}

#[test]
fn condarc_apply_adds_defaults_to_a_flow_style_channels_list_and_check_then_passes() {
    let world = World::logged_in();
    std::fs::write(world.condarc(), "channels: [conda-forge]  # mine\n").unwrap();
    let out = world.run(&["condarc", "apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let written = std::fs::read_to_string(world.condarc()).unwrap();
    assert!(
        written.starts_with("channels: [conda-forge, defaults]  # mine\n"),
        "{written}"
    );
    let check = world.run(&["condarc", "check"]);
    assert_eq!(check.status.code(), Some(0), "{}", all_output(&check));
    assert!(!all_output(&check).contains(NO_DEFAULTS));
}

#[test]
fn condarc_check_reports_a_missing_defaults_once() {
    let world = World::logged_in();
    let base = &world.emulator.base_url;
    std::fs::write(
        world.condarc(),
        format!(
            "channels:\n  - conda-forge\nchannel_settings:\n  - channel: {base}/*\n    auth: \
             anacondad\ndefault_channels:\n  - {base}/repo/main\n  - {base}/repo/r\n  - \
             {base}/repo/msys2\n"
        ),
    )
    .unwrap();
    let check = world.run(&["condarc", "check"]);
    assert_eq!(check.status.code(), Some(6), "{}", all_output(&check));
    let shown = all_output(&check);
    assert_eq!(shown.matches(NO_DEFAULTS).count(), 1, "{shown}");
}

#[test]
fn condarc_check_of_a_malformed_file_reports_the_parse_error_alone() {
    let world = World::logged_in();
    std::fs::write(world.condarc(), "channels: [conda-forge\nfoo: : :\n").unwrap();
    let check = world.run(&["condarc", "check"]);
    assert_eq!(check.status.code(), Some(6), "{}", all_output(&check));
    let shown = all_output(&check);
    assert_eq!(shown.matches("is not valid YAML").count(), 1, "{shown}");
    assert!(!shown.contains("channels are []"), "{shown}");
}

#[test]
fn doctor_reports_a_missing_defaults_as_one_failure() {
    let world = World::logged_in();
    world.install_here("acme");
    let base = &world.emulator.base_url;
    std::fs::write(
        world.condarc(),
        format!(
            "channels:\n  - conda-forge\nchannel_settings:\n  - channel: {base}/*\n    auth: \
             anacondad\ndefault_channels:\n  - {base}/repo/main\n  - {base}/repo/r\n  - \
             {base}/repo/msys2\n"
        ),
    )
    .unwrap();
    let out = world.run(&["doctor", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).expect("doctor's JSON");
    let failed: Vec<&Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "fail")
        .collect();
    let ids: Vec<&str> = failed.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids, ["conda.defaults"], "{report:#}");
}
