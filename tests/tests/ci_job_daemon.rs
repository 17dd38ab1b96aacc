//! The daemon of a CI job, over the real CLI and daemon against the emulator: one that
//! `anacondactl` starts without a terminal stops by itself once idle and leaves nothing secret
//! in the home; and the sources of a job's settings anaconda-auth also reads (a `.env` file in
//! the working directory, `ANACONDA_AUTH_KEYRING`), named by `config show`.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use anacondad_tests::harness::stdout_of_success as ok;
use anacondad_tests::harness::{TestHome, files_holding, json_output, wait_until_dead};
use anacondad_tests::spawn_emulator;

/// The idle delay these tests give a job's daemon (`ANACONDAD_IDLE_EXIT_SECS`).
const IDLE_SECS: &str = "1";
/// How long a daemon idle for [`IDLE_SECS`] may take to be gone.
const GONE_WITHIN: Duration = Duration::from_secs(30);

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

/// A job's directory with a `.env` file of `text`.
fn job_dir_with_dotenv(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), text).unwrap();
    dir
}

/// `anacondactl <args>` run in `dir`, as a job's step runs there.
fn run_in(home: &TestHome, dir: &Path, args: &[&str]) -> Output {
    home.ctl()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("anacondactl runs")
}

#[test]
fn a_job_with_only_a_dotenv_file_holding_the_key_gets_an_org_token_and_config_show_names_the_file()
{
    let emu = spawn_emulator(&[]);
    let key = emu.mint_api_key();
    let job = job_dir_with_dotenv(&format!(
        "# the job's settings\nexport ANACONDA_AUTH_API_KEY=\"{key}\"\n"
    ));
    let dotenv = job.path().join(".env");
    let home = TestHome::against(&emu).with_env("ANACONDAD_STORAGE", "memory");

    ok(&run_in(
        &home,
        job.path(),
        &["token", "install", "--org", "acme", "--yes"],
    ));
    let token = emu.org_token("acme").expect("acme has a token");
    assert_eq!(
        ok(&run_in(
            &home,
            job.path(),
            &["token", "show", "--org", "acme"]
        )),
        format!("{token}\n")
    );

    let text = ok(&run_in(&home, job.path(), &["config", "show"]));
    assert!(
        text.lines()
            .any(|l| l.contains("api_key") && l.contains(&format!(".env ({})", dotenv.display()))),
        "{text}"
    );
    assert!(!text.contains(&key));
    let shown = json_output(&run_in(&home, job.path(), &["--json", "config", "show"]));
    let api_key = &shown["sites"][0]["values"]["api_key"];
    assert_eq!(api_key["source"], "dotenv", "{shown}");
    assert_eq!(api_key["from"], dotenv.display().to_string(), "{shown}");
}

#[test]
fn a_malformed_dotenv_statement_is_named_by_file_and_line_and_the_rest_is_read() {
    let emu = spawn_emulator(&[]);
    let key = emu.mint_api_key();
    let job = job_dir_with_dotenv(&format!(
        "ANACONDA_AUTH_API_KEY={key}\nANACONDA_AUTH_SSL_VERIFY=\"unterminated\n"
    ));
    let dotenv = job.path().join(".env");
    let home = TestHome::against(&emu).with_env("ANACONDAD_STORAGE", "memory");

    let out = run_in(&home, job.path(), &["config", "show"]);
    let text = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            ".env ({}) line 2 cannot be parsed",
            dotenv.display()
        )),
        "{stderr}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("api_key") && l.contains(".env (")),
        "the statements that parse are read:\n{text}"
    );
}

#[test]
fn the_keyring_in_anaconda_auth_keyring_gives_the_key_and_config_show_names_it() {
    let emu = spawn_emulator(&[]);
    let key = emu.mint_api_key();
    let domain = emu.base_url.trim_start_matches("http://").to_owned();
    let home = TestHome::against(&emu)
        .with_env("ANACONDAD_STORAGE", "memory")
        .with_env(
            "ANACONDA_AUTH_KEYRING",
            anacondad::config::auth_keyring::keyring_json(&domain, &key),
        );

    let text = ok(&home.run_ctl(&["config", "show"]));
    assert!(
        text.lines().any(|l| l.contains("api_key")
            && l.contains("keyring in ANACONDA_AUTH_KEYRING (environment)")),
        "{text}"
    );
    let shown = json_output(&home.run_ctl(&["--json", "config", "show"]));
    assert_eq!(
        shown["sites"][0]["values"]["api_key"]["source"], "auth-keyring",
        "{shown}"
    );
    ok(&home.run_ctl(&["token", "install", "--org", "acme", "--yes"]));
    assert!(emu.org_token("acme").is_some());
}
