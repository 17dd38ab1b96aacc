//! The daemon of a CI job, over the real CLI and daemon against the emulator: one that
//! `anacondactl` starts without a terminal stops by itself once idle and leaves nothing secret
//! in the home; and the sources of a job's settings anaconda-auth also reads (a `.env` file in
//! the working directory, `ANACONDA_AUTH_KEYRING`), named by `config show`.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use anacondad_tests::harness::{TestHome, files_holding, json_output, wait_until_dead};
use anacondad_tests::spawn_emulator;

/// The idle delay these tests give a job's daemon (`ANACONDAD_IDLE_EXIT_SECS`).
const IDLE_SECS: &str = "1";
/// How long a daemon idle for [`IDLE_SECS`] may take to be gone.
const GONE_WITHIN: Duration = Duration::from_secs(30);

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

/// Whether another process holds the lock file at `lock` (a missing file is free).
fn lock_is_held(lock: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new().write(true).open(lock) else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

#[test]
fn a_jobs_daemon_stops_by_itself_when_idle_leaving_no_socket_and_no_secret_in_the_home() {
    let emu = spawn_emulator(&[]);
    let secrets = tempfile::tempdir().unwrap();
    let account_key = emu.mint_api_key();
    std::fs::write(secrets.path().join("ANACONDA_AUTH_API_KEY"), &account_key).unwrap();
    let home = TestHome::against(&emu)
        .with_env("ANACONDAD_STORAGE", "memory")
        .with_env("ANACONDA_SECRETS_DIR", secrets.path())
        .with_env("ANACONDAD_IDLE_EXIT_SECS", IDLE_SECS);

    ok(&home.run_ctl(&["token", "install", "--org", "acme", "--yes"]));
    let token = emu.org_token("acme").expect("acme has a token");
    let pid = home.daemon_pid().expect("anacondactl started a daemon");
    let lock = anacondad_proto::socket::lock_path(&home.socket());
    assert!(lock_is_held(&lock), "the daemon holds its lock");

    wait_until_dead(pid, GONE_WITHIN);
    assert!(!home.socket().exists(), "the socket went with the daemon");
    assert!(!lock_is_held(&lock), "the lock went with the daemon");
    for secret in [&token, &account_key] {
        assert_eq!(
            files_holding(home.path(), secret),
            Vec::<std::path::PathBuf>::new()
        );
    }
}

#[test]
fn config_show_says_whether_the_daemon_exits_when_idle_and_who_said_so() {
    let emu = spawn_emulator(&[]);
    let job = TestHome::against(&emu);
    let shown = json_output(&job.run_ctl(&["--json", "config", "show"]));
    let row = &shown["daemon"]["exit_when_idle"];
    assert_eq!(row["value"], "yes", "{shown}");
    assert_eq!(row["source"], "flag", "{shown}");
    assert_eq!(row["from"], "--exit-when-idle", "{shown}");
    let text = ok(&job.run_ctl(&["config", "show"]));
    assert!(
        text.lines().any(|l| l.contains("exit_when_idle")
            && l.contains("yes")
            && l.contains("flag (--exit-when-idle)")),
        "{text}"
    );

    let by_hand = TestHome::against(&emu);
    let _daemon = by_hand.start_daemon();
    let shown = json_output(&by_hand.run_ctl(&["--json", "config", "show"]));
    assert_eq!(shown["daemon"]["exit_when_idle"]["value"], "no", "{shown}");
    assert_eq!(shown["daemon"]["exit_when_idle"]["source"], "default");
}
