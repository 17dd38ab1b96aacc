//! The warning that secrets fell back to the file store: said by every command that reports
//! storage until the user chooses (`storage = "file"`, or a keychain that works), always by
//! `daemon status`, with the paths it concerns, and short.

use anacondad_tests::harness::TestHome;
use anacondad_tests::spawn_emulator;

/// A home whose daemon finds no Secret Service (its session bus does not exist), with the
/// default `storage = auto`, so secrets go to the file.
fn home_without_a_keychain() -> TestHome {
    without_a_keychain(TestHome::new())
}

fn without_a_keychain(home: TestHome) -> TestHome {
    let bus = format!("unix:path={}", home.path().join("no-bus").display());
    home.with_env("DBUS_SESSION_BUS_ADDRESS", bus)
}

fn stderr_of(home: &TestHome, args: &[&str]) -> String {
    let output = home.run_ctl(args);
    assert!(
        output.status.success(),
        "anacondactl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn warning_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("warning:") && l.contains("keyring"))
        .collect()
}

#[test]
fn the_file_fallback_warning_is_shown_on_a_natural_first_run_with_its_paths_until_the_user_chooses()
{
    let emu = spawn_emulator(&[]);
    // The emulator's site, with the default storage (`auto`).
    let home = without_a_keychain(
        TestHome::new()
            .with_env("ANACONDA_AUTH_DOMAIN", &emu.base_url)
            .with_env("CONDA_TOKEN_REPO_URL", emu.url("/repo/")),
    );

    // A new user's first try: a token before logging in, then the login it asks for.
    let install = home.run_ctl(&["token", "install", "--org", "acme", "--yes"]);
    assert_eq!(
        install.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let login = home.login_with_api_key(&emu.mint_api_key());
    let login_stderr = String::from_utf8_lossy(&login.stderr).into_owned();
    let said = warning_lines(&login_stderr);
    assert_eq!(said.len(), 1, "the login warns: {login_stderr}");
    let warning = said[0];
    let keyring = home.path().join(".anaconda/keyring");
    let config = home.path().join("config/anacondad/config.toml");
    let log = home.state_dir().join("anacondad.log");
    for path in [&keyring, &config, &log] {
        assert!(
            warning.contains(&path.display().to_string()),
            "{} is not named: {warning}",
            path.display()
        );
    }
    assert!(!warning.contains("the daemon log says why"), "{warning}");
    assert!(
        !warning.contains("ANACONDAD_STORAGE=memory"),
        "a desktop login hears nothing of jobs: {warning}"
    );

    // Until the user chooses, every command that reports storage says it again.
    for _ in 0..2 {
        let again = stderr_of(&home, &["token", "list"]);
        assert_eq!(warning_lines(&again).len(), 1, "{again}");
    }

    // Choosing the file silences it.
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    let before = std::fs::read_to_string(&config).unwrap_or_default();
    std::fs::write(&config, format!("storage = \"file\"\n{before}")).unwrap();
    stderr_of(&home, &["daemon", "stop"]);
    let chosen = stderr_of(&home, &["token", "list"]);
    assert!(warning_lines(&chosen).is_empty(), "{chosen}");
}

#[test]
fn the_file_fallback_warning_is_printed_by_every_command_and_by_every_status() {
    let home = home_without_a_keychain();

    let first = stderr_of(&home, &["token", "list"]);
    let said = warning_lines(&first);
    assert_eq!(said.len(), 1, "the first command warns once: {first}");
    let warning = said[0];
    assert!(warning.contains("storage = \"file\""), "{warning}");
    assert!(
        !warning.contains("zbus"),
        "the D-Bus error stays in the log: {warning}"
    );
    assert!(
        warning.len() < 600,
        "{} characters: {warning}",
        warning.len()
    );

    let second = stderr_of(&home, &["token", "list"]);
    assert_eq!(
        warning_lines(&second).len(),
        1,
        "until the user chooses, it is said again: {second}"
    );

    for _ in 0..2 {
        let status = home.run_ctl(&["daemon", "status"]);
        let text = String::from_utf8_lossy(&status.stdout);
        assert!(
            text.lines().any(|l| l
                .trim_start()
                .starts_with("warning: secrets are in the file")),
            "status always shows it:\n{text}"
        );
    }
    let json =
        anacondad_tests::harness::json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(json["storage"]["backend"], "file");
    assert!(
        json["storage"]["warning"]
            .as_str()
            .is_some_and(|w| w.contains("keyring")),
        "{json}"
    );

    // The long cause is in the daemon's log.
    let log = std::fs::read_to_string(home.state_dir().join("anacondad.log")).unwrap_or_default();
    assert!(
        log.contains("the OS keychain is not usable") && log.contains("cause"),
        "{log}"
    );

    // A new daemon says it too.
    stderr_of(&home, &["daemon", "stop"]);
    let after_restart = stderr_of(&home, &["token", "list"]);
    assert_eq!(
        warning_lines(&after_restart).len(),
        1,
        "a new daemon start warns again: {after_restart}"
    );
}

#[test]
fn a_job_with_a_key_from_outside_and_no_keychain_hears_of_memory_storage() {
    let emu = spawn_emulator(&[]);
    // The emulator's site with the default storage (`auto`), and the key in the environment.
    let home = without_a_keychain(
        TestHome::new()
            .with_env("ANACONDA_AUTH_DOMAIN", &emu.base_url)
            .with_env("CONDA_TOKEN_REPO_URL", emu.url("/repo/"))
            .with_env("ANACONDA_AUTH_API_KEY", emu.mint_api_key()),
    );
    let stderr = stderr_of(
        &home,
        &["token", "install", "--org", "acme", "--yes", "--no-condarc"],
    );
    let said = warning_lines(&stderr);
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(
        said[0].contains(
            "in a CI job or a container, ANACONDAD_STORAGE=memory keeps them off the disk"
        ),
        "{stderr}"
    );
}
