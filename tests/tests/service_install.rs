//! `anacondactl service install | uninstall | status` on Linux: the real CLI writes systemd user
//! units into a temporary `XDG_CONFIG_HOME`, and `systemd-analyze verify --user` checks them.
//!
//! No test here may reach the user manager of the machine (it reads the real
//! `~/.config/systemd/user`, not the temporary one), so `systemctl` is either absent from PATH or
//! a stand-in script that records its arguments and keeps an "enabled" flag: it stands in for
//! the enable step only; the unit files themselves are checked by systemd's own verifier.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anacondad_tests::harness::{TestHome, bin, json_output, process_alive, wait_until_dead};

const UNITS: [&str; 2] = ["anacondad.socket", "anacondad.service"];
const MARKER: &str = "Written by `anacondactl service install`";

/// A home whose PATH has no `systemctl` (only a directory with nothing in it).
fn home_without_systemctl() -> (TestHome, PathBuf) {
    let home = TestHome::new();
    let empty = home.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let home = home.with_env("PATH", &empty);
    let dir = home.path().join("config/systemd/user");
    (home, dir)
}

/// A home whose `systemctl` is a script that logs every call to `systemctl.log` and answers
/// `is-enabled` / `is-active` from a flag file that `enable` creates and `disable` removes.
fn home_with_a_recording_systemctl() -> (TestHome, PathBuf, PathBuf) {
    let home = TestHome::new();
    let stub_dir = home.path().join("stub-bin");
    std::fs::create_dir(&stub_dir).unwrap();
    let log = home.path().join("systemctl.log");
    let flag = home.path().join("socket-enabled");
    let script = format!(
        r#"#!/bin/sh
echo "$*" >> '{log}'
[ "$1" = --user ] || exit 9
case "$2" in
  show-environment|daemon-reload) exit 0 ;;
  enable) : > '{flag}'; exit 0 ;;
  disable) rm -f '{flag}'; exit 0 ;;
  is-enabled) if [ -e '{flag}' ]; then echo enabled; else echo disabled; exit 1; fi ;;
  is-active) if [ -e '{flag}' ]; then echo active; else echo inactive; exit 3; fi ;;
  *) echo "unexpected: $*" >&2; exit 9 ;;
esac
"#,
        log = log.display(),
        flag = flag.display()
    );
    let stub = stub_dir.join("systemctl");
    std::fs::write(&stub, script).unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    eprintln!(
        "note: systemctl is a recording stand-in here ({}), for the enable step only; the unit \
         files are checked by systemd-analyze verify in the other tests",
        stub.display()
    );
    let path = format!("{}:/usr/bin:/bin", stub_dir.display());
    let home = home.with_env("PATH", path);
    let dir = home.path().join("config/systemd/user");
    (home, dir, log)
}

fn ctl_ok(home: &TestHome, args: &[&str]) -> String {
    let output = home.run_ctl(args);
    assert!(
        output.status.success(),
        "anacondactl {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every file under `dir` (recursively, links included), relative, with its contents (or
/// link target).
fn snapshot(dir: &Path) -> Vec<(PathBuf, String)> {
    fn walk(root: &Path, dir: &Path, into: &mut Vec<(PathBuf, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.map(Result::unwrap) {
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            let kind = entry.file_type().unwrap();
            if kind.is_symlink() {
                let to = std::fs::read_link(&path).unwrap();
                into.push((relative, format!("-> {}", to.display())));
            } else if kind.is_dir() {
                walk(root, &path, into);
            } else {
                into.push((relative, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut all = Vec::new();
    walk(dir, dir, &mut all);
    all.sort();
    all
}

/// What `systemd-analyze verify --user` says about `units` (nothing means they are clean).
fn verify_complaints(units: &[PathBuf], runtime_dir: &Path) -> Vec<String> {
    let output = Command::new("systemd-analyze")
        .args(["verify", "--user", "--man=no", "--generators=no"])
        .args(units)
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .output()
        .expect("systemd-analyze (package systemd) is installed");
    let said = text(&output);
    let dir = units[0].parent().unwrap().display().to_string();
    let ours: Vec<String> = said
        .lines()
        .filter(|l| l.contains("anacondad") || l.contains(&dir))
        .map(str::to_owned)
        .collect();
    assert!(
        output.status.success() || !ours.is_empty(),
        "systemd-analyze verify failed: {said}"
    );
    ours
}

#[test]
fn install_writes_units_that_systemd_analyze_verify_accepts_and_says_how_to_enable_them() {
    let (home, dir) = home_without_systemctl();
    let said = ctl_ok(&home, &["service", "install"]);
    assert!(said.contains("not enabled"), "{said}");
    assert!(
        said.contains("systemctl --user enable --now anacondad.socket"),
        "the command to run later is printed: {said}"
    );

    let units: Vec<PathBuf> = UNITS.iter().map(|u| dir.join(u)).collect();
    for unit in &units {
        let contents = std::fs::read_to_string(unit).unwrap();
        assert!(contents.starts_with(&format!("# {MARKER}")), "{contents}");
        let mode = std::fs::metadata(unit).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{}", unit.display());
    }
    let service = std::fs::read_to_string(&units[1]).unwrap();
    assert!(
        service.contains(&format!(
            "\nExecStart={} --foreground\n",
            bin("anacondad").display()
        )),
        "the service runs the anacondad next to anacondactl:\n{service}"
    );

    let complaints = verify_complaints(&units, &home.runtime_dir());
    assert!(complaints.is_empty(), "{}", complaints.join("\n"));

    // The verifier does read what install wrote: a broken copy is caught.
    let broken_dir = home.path().join("broken");
    std::fs::create_dir(&broken_dir).unwrap();
    let broken: Vec<PathBuf> = UNITS.iter().map(|u| broken_dir.join(u)).collect();
    std::fs::copy(&units[0], &broken[0]).unwrap();
    std::fs::write(
        &broken[1],
        service.replace("Type=notify", "Type=notify\nRestrat=always"),
    )
    .unwrap();
    let complaints = verify_complaints(&broken, &home.runtime_dir());
    assert!(
        complaints.iter().any(|l| l.contains("Restrat")),
        "{complaints:?}"
    );
}

#[test]
fn a_second_install_changes_nothing_and_says_so() {
    let (home, dir) = home_without_systemctl();
    ctl_ok(&home, &["service", "install"]);
    let before = snapshot(&dir);
    let mtimes: Vec<_> = UNITS
        .iter()
        .map(|u| std::fs::metadata(dir.join(u)).unwrap().modified().unwrap())
        .collect();

    let said = ctl_ok(&home, &["service", "install"]);
    assert!(said.contains("Nothing changed."), "{said}");
    assert_eq!(
        snapshot(&dir),
        before,
        "byte-identical after the second run"
    );
    let after: Vec<_> = UNITS
        .iter()
        .map(|u| std::fs::metadata(dir.join(u)).unwrap().modified().unwrap())
        .collect();
    assert_eq!(after, mtimes, "the files were not even rewritten");

    let report = json_output(&home.run_ctl(&["--json", "service", "install"]));
    assert_eq!(report["changed"], false, "{report}");
    for file in report["files"].as_array().unwrap() {
        assert_eq!(file["action"], "unchanged", "{report}");
    }
}

#[test]
fn uninstall_removes_exactly_what_install_wrote() {
    let (home, dir) = home_without_systemctl();
    std::fs::create_dir_all(dir.join("default.target.wants")).unwrap();
    std::fs::write(
        dir.join("other.service"),
        "[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    let before = snapshot(&dir);

    ctl_ok(&home, &["service", "install"]);
    // What `systemctl --user enable` would have made.
    std::fs::create_dir_all(dir.join("sockets.target.wants")).unwrap();
    std::os::unix::fs::symlink(
        dir.join("anacondad.socket"),
        dir.join("sockets.target.wants/anacondad.socket"),
    )
    .unwrap();
    assert_ne!(snapshot(&dir), before);

    let said = ctl_ok(&home, &["service", "uninstall"]);
    assert!(said.contains("removed"), "{said}");
    assert_eq!(snapshot(&dir), before, "only the other unit is left");

    let again = ctl_ok(&home, &["service", "uninstall"]);
    assert!(again.contains("Nothing changed."), "{again}");
}

#[test]
fn a_unit_file_written_by_someone_else_is_refused_unless_forced_and_never_uninstalled() {
    let (home, dir) = home_without_systemctl();
    std::fs::create_dir_all(&dir).unwrap();
    let theirs = "[Service]\nExecStart=/opt/custom/anacondad --foreground\n";
    std::fs::write(dir.join("anacondad.service"), theirs).unwrap();

    let refused = home.run_ctl(&["service", "install"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(text(&refused).contains("--force"), "{}", text(&refused));
    assert_eq!(
        std::fs::read_to_string(dir.join("anacondad.service")).unwrap(),
        theirs
    );
    assert!(
        !dir.join("anacondad.socket").exists(),
        "nothing is written when one file is refused"
    );

    let said = ctl_ok(&home, &["service", "uninstall"]);
    assert!(said.contains("left alone"), "{said}");
    assert_eq!(
        std::fs::read_to_string(dir.join("anacondad.service")).unwrap(),
        theirs
    );

    ctl_ok(&home, &["service", "install", "--force"]);
    let ours = std::fs::read_to_string(dir.join("anacondad.service")).unwrap();
    assert!(ours.contains(MARKER), "{ours}");
}

#[test]
fn dry_runs_print_the_files_and_commands_and_write_nothing() {
    let (home, dir, log) = home_with_a_recording_systemctl();
    let said = ctl_ok(&home, &["service", "install", "--dry-run"]);
    assert!(
        said.contains(&format!(
            "would write {}",
            dir.join("anacondad.service").display()
        )),
        "{said}"
    );
    assert!(
        said.contains("ExecStart="),
        "the contents are shown: {said}"
    );
    assert!(
        said.contains("would run: systemctl --user enable --now anacondad.socket"),
        "{said}"
    );
    assert!(!dir.exists(), "{} was created", dir.display());
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        calls.lines().all(|l| {
            let verb = l.split_whitespace().nth(1).unwrap_or_default();
            ["show-environment", "is-enabled", "is-active"].contains(&verb)
        }),
        "a dry run only asks: {calls}"
    );

    ctl_ok(&home, &["service", "install"]);
    let before = snapshot(&dir);
    let said = ctl_ok(&home, &["service", "uninstall", "--dry-run"]);
    assert!(said.contains("would remove"), "{said}");
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn with_a_user_manager_install_reloads_and_enables_the_socket_once_and_uninstall_disables_it() {
    let (home, dir, log) = home_with_a_recording_systemctl();
    // An on-demand daemon holds the socket the unit will take over.
    ctl_ok(&home, &["daemon", "start"]);
    let pid = home.daemon_pid().expect("the daemon runs");

    let said = ctl_ok(&home, &["service", "install"]);
    assert!(said.contains("stopped the daemon"), "{said}");
    wait_until_dead(pid, std::time::Duration::from_secs(10));
    assert!(!process_alive(pid));
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.contains("--user daemon-reload\n")
            && calls.contains("--user enable --now anacondad.socket\n"),
        "{calls}"
    );

    std::fs::write(&log, "").unwrap();
    let again = ctl_ok(&home, &["service", "install"]);
    assert!(again.contains("already enabled and active"), "{again}");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        !calls.contains("enable --now") && !calls.contains("daemon-reload"),
        "{calls}"
    );

    let status = json_output(&home.run_ctl(&["--json", "service", "status"]));
    assert_eq!(status["units"][0]["name"], "anacondad.socket");
    assert_eq!(status["units"][0]["installed"], "installed");
    assert_eq!(status["units"][0]["enabled"], "enabled");
    assert_eq!(status["units"][0]["active"], "active");

    ctl_ok(&home, &["service", "uninstall"]);
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.contains("--user disable --now anacondad.socket anacondad.service\n"),
        "{calls}"
    );
    assert!(snapshot(&dir).is_empty(), "{:?}", snapshot(&dir));
    let status = json_output(&home.run_ctl(&["--json", "service", "status"]));
    let installed = status["units"][0]["installed"].as_str().unwrap();
    // "packaged (...)" where the .deb's units are in /usr/lib/systemd/user.
    assert!(
        installed == "absent" || installed.starts_with("packaged"),
        "{status}"
    );
    assert_eq!(status["units"][0]["enabled"], "disabled");
}

#[test]
fn a_daemon_path_with_a_line_break_is_refused_and_injects_no_line_into_the_unit() {
    let (home, dir) = home_without_systemctl();
    // A directory whose name ends the `ExecStart=` line and starts one of its own.
    let hostile = home
        .path()
        .join("bin\nExecStartPre=/bin/touch /tmp/anacondad-injected\n");
    std::fs::create_dir_all(&hostile).unwrap();
    let daemon = hostile.join("anacondad");
    std::fs::copy(bin("anacondad"), &daemon).unwrap();
    let home = home.with_env("ANACONDAD_BIN", &daemon);

    let refused = home.run_ctl(&["service", "install"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("control character"),
        "the error says what is wrong with the path: {}",
        text(&refused)
    );
    assert!(
        snapshot(&dir).is_empty(),
        "nothing is written: {:?}",
        snapshot(&dir)
    );
}
