//! `ana feature enable main-x --conda` (Anaconda's official CLI, built from its vendored source)
//! beside the daemon, with the real conda on ana's PATH: ana runs `conda config --add
//! default_channels ...` for main-x and whichever of main, msys2, r its list lacks (each put
//! first), and asks the service nothing (it reads its key from `~/.anaconda/keyring`). The
//! daemon takes that `default_channels`, built on its own, as the user's: the watcher reports
//! no drift and no organisation without a token, `condarc check` and doctor say it is the
//! user's choice, `condarc apply` leaves it, and `token uninstall --restore-condarc` still
//! puts back the one from before anacondad.
//!
//! ana writes `https://repo.anaconda.cloud/repo/main-x` (a constant of its source), which the
//! emulator cannot serve; that main-x on the daemon's own repository is read with the
//! daemon's credential is the second test's, with the same `conda config` call ana makes.

use std::path::Path;
use std::time::Duration;

use anacondad_proto::v1::EventKind;
use anacondad_tests::ana::{self, ana_or_skip};
use anacondad_tests::conda::{Conda, conda_or_skip};
use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::{EmulatorProcess, spawn_emulator};

const ANA_MAIN_X: &str = "https://repo.anaconda.cloud/repo/main-x";
/// The user's file before anacondad.
const BEFORE: &str = "default_channels:\n  - https://repo.anaconda.com/pkgs/main\n";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Logged in, acme's token installed and conda configured by `token install --yes`.
fn installed(emu: &EmulatorProcess) -> TestHome {
    let home = TestHome::against(emu);
    std::fs::write(home.path().join(".condarc"), BEFORE).unwrap();
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&["token", "install", "--org", "acme", "--yes"]);
    assert!(out.status.success(), "token install: {}", text(&out.stderr));
    home
}

/// conda `default_channels` as `conda config --show` prints it, in order.
fn default_channels(conda: &Conda<'_>) -> Vec<String> {
    let run = conda.run(&["config", "--show", "default_channels"]);
    run.assert_success("conda config --show default_channels");
    run.stdout()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- ").map(str::to_owned))
        .collect()
}

/// The kinds of the watcher's events for every change up to now: the test then breaks
/// `~/.condarc` (always reported, whatever came before) and restores it.
fn watcher_kinds_so_far(
    home: &TestHome,
    events: &mut anacondad_tests::harness::EventSubscription,
) -> Vec<EventKind> {
    let condarc = home.path().join(".condarc");
    let kept = std::fs::read_to_string(&condarc).unwrap();
    std::fs::write(&condarc, "channels: [\n").unwrap();
    let kinds = events.kinds_until(EventKind::CondarcMalformed, Duration::from_secs(30));
    std::fs::write(&condarc, kept).unwrap();
    kinds
}

/// A directory holding `conda`: the test venv's conda, as ana finds it on PATH.
fn conda_on_path(home: &TestHome, venv: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = home.path().join("conda-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let shim = dir.join("conda");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nexec '{}' -m conda \"$@\"\n",
            venv.join("bin/python").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn ana_feature_enable_main_x_is_the_users_default_channels_not_drift() {
    let Some(venvs) = conda_or_skip("ana_feature_enable_main_x") else {
        return;
    };
    let Some(ana_bin) = ana_or_skip("ana_feature_enable_main_x") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = installed(&emu);
    let conda = Conda::new(&home, &venvs.with_plugin);
    let ours = default_channels(&conda);
    assert_eq!(ours.len(), 3, "{ours:?}");
    let mut events = home.subscribe_events();

    let bin = conda_on_path(&home, &venvs.with_plugin);
    let out = ana::command(
        &ana_bin,
        &home,
        &emu,
        &["feature", "enable", "main-x", "--conda", "--force"],
    )
    .envs(conda.env())
    .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
    .stdin(std::process::Stdio::null())
    .output()
    .expect("ana runs");
    assert!(
        out.status.success(),
        "ana: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    let now = default_channels(&conda);
    assert_eq!(now.first().map(String::as_str), Some(ANA_MAIN_X), "{now:?}");
    assert!(ours.iter().all(|c| now.contains(c)), "{now:?}");
    let kinds = watcher_kinds_so_far(&home, &mut events);
    assert!(
        !kinds.contains(&EventKind::CondarcDrifted) && !kinds.contains(&EventKind::OrgWithoutToken),
        "the watcher fought ana's edit: {kinds:?}"
    );

    let check = home.run_ctl(&["condarc", "check"]);
    assert!(
        check.status.success(),
        "{}{}",
        text(&check.stdout),
        text(&check.stderr)
    );
    assert!(
        text(&check.stdout).contains("your choice"),
        "{}",
        text(&check.stdout)
    );
    let doctor = json_output(&home.run_ctl(&["--json", "doctor"]));
    let finding = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "conda.condarc")
        .cloned()
        .unwrap_or_default();
    assert_eq!(finding["state"], "ok", "{finding}");
    assert!(
        finding["evidence"]
            .as_str()
            .unwrap_or_default()
            .contains("your choice"),
        "{finding}"
    );

    let condarc = home.path().join(".condarc");
    let as_ana_left_it = std::fs::read_to_string(&condarc).unwrap();
    let apply = home.run_ctl(&["condarc", "apply"]);
    assert!(apply.status.success(), "{}", text(&apply.stderr));
    assert_eq!(
        std::fs::read_to_string(&condarc).unwrap(),
        as_ana_left_it,
        "no repair"
    );

    let out = home.run_ctl(&["token", "uninstall", "--org", "acme", "--restore-condarc"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        default_channels(&conda),
        ["https://repo.anaconda.com/pkgs/main"]
    );
}

#[test]
fn main_x_on_the_daemons_repository_is_read_with_its_credential() {
    let Some(venvs) = conda_or_skip("main_x_on_the_daemons_repository") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = installed(&emu);
    let conda = Conda::new(&home, &venvs.with_plugin);
    let mut events = home.subscribe_events();
    let main_x = emu.url("/repo/main-x");
    // The call ana makes, with the daemon's repository.
    conda
        .run(&["config", "--add", "default_channels", &main_x])
        .assert_success("conda config --add default_channels");
    let kinds = watcher_kinds_so_far(&home, &mut events);
    assert!(
        !kinds.contains(&EventKind::CondarcDrifted) && !kinds.contains(&EventKind::OrgWithoutToken),
        "{kinds:?}"
    );

    let answer = json_output(&home.run_ctl(&[
        "--json",
        "credential",
        "get",
        &format!("{main_x}/noarch/repodata.json"),
    ]));
    assert!(
        answer["header_value"]
            .as_str()
            .is_some_and(|h| !h.is_empty()),
        "{answer}"
    );
    let env_file = conda.condarc_env_file();
    std::fs::create_dir_all(env_file.parent().unwrap()).unwrap();
    std::fs::write(&env_file, "channels:\n  - defaults\n").unwrap();
    let search = conda.run(&[
        "search",
        "--json",
        "--override-channels",
        "-c",
        "defaults",
        "anacondad-hello",
    ]);
    search.assert_success("conda search through defaults");
    let found = search.json();
    let channels: Vec<String> = found["anacondad-hello"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["channel"].as_str().map(str::to_owned))
        .collect();
    assert!(
        channels.iter().any(|c| c.contains("/repo/main-x")),
        "{channels:?}"
    );
}
