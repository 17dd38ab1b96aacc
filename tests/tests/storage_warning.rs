//! The warning that secrets fell back to the file store: said once per daemon start by the
//! commands that report storage, always by `daemon status`, and short.

use anacondad_tests::harness::TestHome;

/// A home whose daemon finds no Secret Service (its session bus does not exist), with the
/// default `storage = auto`, so secrets go to the file.
fn home_without_a_keychain() -> TestHome {
    let home = TestHome::new();
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
fn the_file_fallback_warning_is_printed_by_the_first_command_only_and_by_every_status() {
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
        warning.len() < 400,
        "{} characters: {warning}",
        warning.len()
    );

    let second = stderr_of(&home, &["token", "list"]);
    assert!(
        warning_lines(&second).is_empty(),
        "the same daemon does not repeat it: {second}"
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

    // A new daemon says it again, once.
    stderr_of(&home, &["daemon", "stop"]);
    let after_restart = stderr_of(&home, &["token", "list"]);
    assert_eq!(
        warning_lines(&after_restart).len(),
        1,
        "a new daemon start warns again: {after_restart}"
    );
    assert!(warning_lines(&stderr_of(&home, &["token", "list"])).is_empty());
}
