//! A FIFO (or another special file) where a `.condarc`, the state file or the keyring file
//! belongs is refused at once with an error naming the path, instead of hanging; and a daemon
//! that never becomes ready is not left behind by the CLI.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use anacondad_tests::harness::{TestHome, json_output, process_alive, wait_until_dead};
use anacondad_tests::spawn_emulator;

/// Far more than any of these commands needs, far less than "for ever".
const PROMPT: Duration = Duration::from_secs(15);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn mkfifo(path: &Path) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mkfifo");
}

#[test]
fn a_fifo_at_condarc_is_reported_by_status_check_and_install_instead_of_hanging() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let condarc = home.path().join(".condarc");
    mkfifo(&condarc);
    home.login_with_api_key(&emu.mint_api_key());

    let status = home.run_ctl_within(&["--json", "daemon", "status"], PROMPT);
    let status = json_output(&status);
    let shown = status.to_string();
    assert!(
        shown.contains(".condarc") && shown.contains("FIFO"),
        "status names the file and what it is: {shown}"
    );

    let check = home.run_ctl_within(&["condarc", "check"], PROMPT);
    assert!(!check.status.success());
    let err = text(&check.stderr);
    assert!(
        err.contains(&condarc.display().to_string()) && err.contains("FIFO"),
        "{err}"
    );
    assert!(err.contains("move it aside"), "says what to do: {err}");

    let install = home.run_ctl_within(&["token", "install", "--org", "acme", "--yes"], PROMPT);
    assert!(!install.status.success());
    let err = text(&install.stderr);
    assert!(
        err.contains(&condarc.display().to_string()) && err.contains("FIFO"),
        "{err}"
    );
}

#[test]
fn a_fifo_state_file_stops_the_daemon_at_start_with_a_clear_error_and_nothing_is_left_running() {
    let home = TestHome::new().with_env("ANACONDAD_STORAGE", "file");
    let state = home.state_dir().join("state.json");
    mkfifo(&state);

    let out = home.run_ctl_within(&["daemon", "status"], PROMPT);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&state.display().to_string()) && err.contains("FIFO"),
        "{err}"
    );
    assert!(home.daemon_pid().is_none_or(|pid| !process_alive(pid)));
}

#[test]
fn a_fifo_keyring_file_is_refused_when_a_secret_is_stored() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let keyring = home.path().join(".anaconda/keyring");
    mkfifo(&keyring);
    let out = home.run_ctl_within(&["token", "list"], PROMPT);
    let err = text(&out.stderr) + &text(&out.stdout);
    assert!(
        err.contains(&keyring.display().to_string()) && err.contains("FIFO"),
        "{err}"
    );
}

#[test]
fn a_daemon_that_never_becomes_ready_is_stopped_by_the_cli() {
    let home = TestHome::new();
    let fake = home.path().join("stuck-anacondad");
    let pid_file = home.path().join("stuck.pid");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho $$ > {}\nexec sleep 600\n",
            pid_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = home.with_env("ANACONDAD_BIN", &fake);

    let out = home.run_ctl_within(&["daemon", "status"], PROMPT);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(
        err.contains("did not become ready") && err.contains("stopped"),
        "{err}"
    );
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until_dead(pid, Duration::from_secs(5));
}

#[test]
fn the_state_directory_the_cli_creates_is_private() {
    let home = TestHome::new().with_env("ANACONDAD_STORAGE", "file");
    json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    let mode = std::fs::metadata(home.state_dir())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "{mode:o}");
}

#[test]
fn a_fifo_or_a_huge_file_as_our_config_stops_the_daemon_at_start_instead_of_hanging() {
    let home = TestHome::new().with_env("ANACONDAD_STORAGE", "file");
    let config = home.path().join("config/anacondad/config.toml");
    mkfifo(&config);
    let out = home.run_ctl_within(&["daemon", "status"], PROMPT);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&config.display().to_string()) && err.contains("FIFO"),
        "{err}"
    );
    std::fs::remove_file(&config).unwrap();
    let comment = format!("# {}\n", "x".repeat(1024));
    std::fs::write(&config, comment.repeat(5 * 1024)).unwrap();
    let out = home.run_ctl_within(&["daemon", "status"], PROMPT);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("larger than 4 MiB"), "{err}");
}

#[test]
fn a_fifo_as_the_ca_bundle_stops_the_daemon_at_start_and_a_device_in_anaconda_auths_file_is_left_out()
 {
    let emu = spawn_emulator(&[]);
    let bundle = tempfile::tempdir().unwrap();
    let fifo = bundle.path().join("ca.pem");
    mkfifo(&fifo);
    let home = TestHome::against(&emu).with_env("ANACONDAD_CA_BUNDLE", &fifo);
    let out = home.run_ctl_within(&["daemon", "status"], PROMPT);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&fifo.display().to_string()) && err.contains("FIFO"),
        "{err}"
    );
    assert!(home.daemon_pid().is_none_or(|pid| !process_alive(pid)));

    // anaconda-auth's ssl_verify naming a device that never ends: its file is left out.
    let home = TestHome::against(&emu);
    let theirs = home.path().join(".anaconda/config.toml");
    std::fs::create_dir_all(theirs.parent().unwrap()).unwrap();
    std::fs::write(&theirs, "[plugin.auth]\nssl_verify = \"/dev/zero\"\n").unwrap();
    let status = home.run_ctl_within(&["daemon", "status"], PROMPT);
    assert!(status.status.success(), "{}", text(&status.stderr));
    let said = text(&status.stdout);
    assert!(
        said.contains("left out") && said.contains("/dev/zero") && said.contains("device"),
        "{said}"
    );
}
