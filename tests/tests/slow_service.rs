//! A service that stalls (the emulator stopped with SIGSTOP, or slow answers): commands answer or
//! give up within their deadline and say what they waited for; on a terminal a progress line
//! shows the request, its attempt and the time, and steps print as they complete; `--json` and
//! piped output carry no progress; and a service that did not answer is never taken for one
//! that refused.

mod pty;

use std::process::Output;
use std::time::{Duration, Instant};

use anacondad_tests::harness::{DaemonProcess, TestHome, doctor_check, kill};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use pty::Terminal;
use serde_json::{Value, json};

/// The exit status of a command whose service did not answer in time (client/src/exit.rs).
const EXIT_SERVICE_TIMEOUT: i32 = 10;

/// How long one expected piece of output may take: generous, for a loaded 2-core machine.
const EXPECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The emulator, a home whose commands wait `deadline_secs` for the service, and its daemon.
struct World {
    home: TestHome,
    emulator: EmulatorProcess,
    _daemon: DaemonProcess,
}

impl World {
    fn with_deadline(deadline_secs: Option<u64>) -> Self {
        let emulator = spawn_emulator(&[]);
        let mut home = TestHome::against(&emulator);
        if let Some(secs) = deadline_secs {
            home = home.with_env("ANACONDAD_COMMAND_TIMEOUT_SECS", secs.to_string());
        }
        let daemon = home.start_daemon();
        home.login_with_api_key(&emulator.mint_api_key());
        Self {
            home,
            emulator,
            _daemon: daemon,
        }
    }

    /// The service stops answering (its connections are accepted, nothing comes back) until
    /// the returned guard is dropped.
    fn stall(&self) -> Stalled {
        kill(self.emulator.pid(), "STOP");
        Stalled(self.emulator.pid())
    }

    fn run(&self, args: &[&str]) -> Output {
        self.home.run_ctl(args)
    }

    fn pty(&self, args: &[&str]) -> Terminal {
        Terminal::spawn(&self.home, args, EXPECT_TIMEOUT)
    }
}

/// Resumes the stopped emulator when dropped.
struct Stalled(u32);

impl Stalled {
    fn resume(self) {}
}

impl Drop for Stalled {
    fn drop(&mut self) {
        kill(self.0, "CONT");
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

#[test]
fn whoami_on_a_terminal_shows_the_request_it_waits_for_and_gives_up_at_the_deadline() {
    let world = World::with_deadline(Some(4));
    let _stalled = world.stall();

    let started = Instant::now();
    let mut t = world.pty(&["whoami"]);
    t.expect("Asking the service who you are: waiting for the service, GET ");
    t.expect("/api/account (attempt 1 of 4, ");
    t.expect("of at most 4 s");
    t.expect("timed out after 4 s waiting for the service: GET ");
    t.expect("`anacondactl doctor` checks the network, then run the command again");
    t.expect("ANACONDAD_COMMAND_TIMEOUT_SECS");
    t.finish(EXIT_SERVICE_TIMEOUT);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "whoami took {:?}",
        started.elapsed()
    );
}

#[test]
fn read_only_commands_give_up_within_thirty_seconds_by_default() {
    let world = World::with_deadline(None);
    let _stalled = world.stall();

    // (`token list` answers sooner: it shows the stored facts when the service is silent.)
    let started = Instant::now();
    let out = world
        .home
        .run_ctl_within(&["whoami"], Duration::from_secs(45));
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(EXIT_SERVICE_TIMEOUT),
        "{}",
        text(&out.stderr)
    );
    assert!(took < Duration::from_secs(40), "whoami took {took:?}");
    assert!(
        text(&out.stderr).contains("timed out after 30 s waiting for the service"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn piped_and_json_output_carry_no_progress() {
    let world = World::with_deadline(Some(3));
    let _stalled = world.stall();

    let piped = world
        .home
        .run_ctl_within(&["whoami"], Duration::from_secs(20));
    assert_eq!(piped.status.code(), Some(EXIT_SERVICE_TIMEOUT));
    let err = text(&piped.stderr);
    assert!(!err.contains("waiting for the service,"), "{err}");
    assert!(!err.contains('\r'), "{err:?}");
    assert!(err.contains("timed out after 3 s"), "{err}");

    // On a terminal, `--json` shows no progress either: only the error.
    let mut t = world.pty(&["--json", "whoami"]);
    t.expect("timed out after 3 s");
    let shown = t.finish(EXIT_SERVICE_TIMEOUT);
    assert!(!shown.contains("waiting for the service,"), "{shown}");
}

#[test]
fn install_prints_each_step_as_it_completes_while_validation_waits() {
    let world = World::with_deadline(None);
    // The repository answers the token's check (`HEAD /t/<token>/...`) only after 4 s.
    world.emulator.post(
        "/_emulator/faults",
        json!({"path_prefix": "/t/", "method": "HEAD", "kind": "hang", "millis": 4000}),
    );

    let mut t = world.pty(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    t.expect("✓ checked that acme may have a repo token");
    t.expect("✓ reissued acme's token");
    t.expect("✓ stored the new token of acme");
    t.expect("waiting for the service, HEAD ");
    t.expect("Your conda token has been installed");
    t.expect("Success! Your token has been installed and validated.");
    t.finish(0);
}

#[test]
fn a_timeout_after_the_reissue_says_to_look_and_to_configure_conda_not_to_install_again() {
    let world = World::with_deadline(Some(3));
    world.emulator.post(
        "/_emulator/faults",
        json!({"path_prefix": "/t/", "method": "HEAD", "kind": "hang", "millis": 8000}),
    );

    let out = world.run(&["token", "install", "--org", "acme", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(EXIT_SERVICE_TIMEOUT),
        "{}",
        text(&out.stderr)
    );
    let err = text(&out.stderr);
    assert!(err.contains("Done before that: "), "{err}");
    assert!(err.contains("stored the new token of acme"), "{err}");
    assert!(err.contains("`anacondactl token list`"), "{err}");
    assert!(err.contains("`anacondactl condarc apply`"), "{err}");
    assert!(!err.contains("token install"), "{err}");
    assert!(!err.contains("token refresh"), "{err}");
    assert!(!err.contains("--yes"), "{err}");
}

#[test]
fn a_repository_that_does_not_answer_leaves_the_token_valid_not_rejected() {
    let world = World::with_deadline(None);
    // Every check of the new token fails with 503 (retried, then given up): no verdict.
    world.emulator.post(
        "/_emulator/faults",
        json!({"path_prefix": "/t/", "method": "HEAD", "kind": "status", "status": 503,
               "count": 50}),
    );
    let out = world.run(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("`anacondactl token list` checks it again"),
        "{err}"
    );
    assert!(!err.contains("token refresh"), "{err}");

    // The service is back.
    world.emulator.clear_faults();
    let list = json_of(&world.run(&["--json", "token", "list"]));
    let acme = &list["tokens"][0];
    assert_eq!(acme["org"], "acme", "{list:#}");
    assert_ne!(acme["state"], "rejected", "{list:#}");
    assert!(acme["last_error"].is_null(), "{list:#}");
    let status = json_of(&world.run(&["--json", "daemon", "status"]));
    assert_ne!(status["tokens"][0]["state"], "rejected", "{status:#}");
    assert!(status["last_error"].is_null(), "{status:#}");
}

/// `doctor --json` with the service stalled: its report, which must come well within doctor's
/// own deadline, and the stall (resumed when dropped).
fn doctor_while_stalled(world: &World) -> (Value, Stalled) {
    let stalled = world.stall();
    let started = Instant::now();
    let out = world
        .home
        .run_ctl_within(&["doctor", "--json"], Duration::from_secs(60));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(25), "doctor took {took:?}");
    (json_of(&out), stalled)
}

#[test]
fn doctor_against_a_silent_service_answers_within_its_deadline_marking_what_timed_out() {
    let world = World::with_deadline(None);
    for org in ["acme", "globex"] {
        let out = world.run(&["token", "install", "--org", org, "--yes", "--no-condarc"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let (report, stalled) = doctor_while_stalled(&world);
    let check = |id: &str| doctor_check(&report, id).clone();
    for id in [
        "service.reachable",
        "api_key.valid",
        "token.acme.valid",
        "token.globex.valid",
    ] {
        let found = check(id);
        assert_eq!(
            found["evidence"], "not checked (timed out after 15 s)",
            "{id}: {report:#}"
        );
    }
    // What needs no network is still said.
    assert_eq!(check("token.acme.renewal")["state"], "ok", "{report:#}");
    stalled.resume();
}

#[test]
fn doctor_against_a_silent_service_marks_conda_org_channels_not_checked_and_still_reads_conda() {
    let world = World::with_deadline(None);
    for args in [
        &["token", "install", "--org", "acme", "--yes"][..],
        &["channels", "add", "--org", "acme", "--all", "--yes"][..],
    ] {
        let out = world.run(args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let (report, stalled) = doctor_while_stalled(&world);
    let check = |id: &str| doctor_check(&report, id).clone();
    assert_eq!(
        check("conda.channels")["evidence"],
        "not checked (timed out after 15 s)",
        "{report:#}"
    );
    // conda's files need no network: what they say is still said.
    assert_eq!(check("conda.condarc")["state"], "ok", "{report:#}");
    assert_eq!(check("conda.defaults")["state"], "ok", "{report:#}");
    stalled.resume();
}
