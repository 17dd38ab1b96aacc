//! `pip install anacondad`: the wheel that tests/scripts/build-wheel.sh builds with maturin
//! (`ANACONDAD_TEST_WHEEL`, as tests/scripts/test.sh passes it), installed with pip into a
//! fresh virtualenv that holds the real conda, is all a conda user needs: its `anacondactl`
//! logs in and installs a token, the `anacondad` beside it serves, and conda finds the
//! plugin. Nothing of the workspace's build is on PATH or named by a variable.
//!
//! Without a wheel these tests fail, unless ANACONDAD_SKIP_WHEEL=1 says to skip them:
//!
//! ```sh
//! export ANACONDAD_TEST_WHEEL=$(tests/scripts/build-wheel.sh)
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anacondad_tests::conda::{Conda, CondaRun, conda_or_skip};
use anacondad_tests::harness::{TestHome, bin_dir, without_controlling_terminal};
use anacondad_tests::spawn_emulator;

/// The wheel to install.
const WHEEL_ENV: &str = "ANACONDAD_TEST_WHEEL";
/// Set to `1` to skip these tests when no wheel was built.
const SKIP_WHEEL_ENV: &str = "ANACONDAD_SKIP_WHEEL";
/// The package every channel of the emulator serves.
const PACKAGE: &str = "anacondad-hello";

/// The wheel, or `None` when these tests are skipped on purpose.
fn wheel_or_skip(test: &str) -> Option<PathBuf> {
    match std::env::var_os(WHEEL_ENV) {
        Some(path) if Path::new(&path).is_file() => Some(PathBuf::from(path)),
        _ if std::env::var_os(SKIP_WHEEL_ENV).is_some_and(|v| v == "1") => {
            eprintln!("SKIPPED {test} ({SKIP_WHEEL_ENV}=1)");
            None
        }
        other => panic!(
            "{test}: {WHEEL_ENV} must name the built wheel (it is {other:?}): run \
             `export {WHEEL_ENV}=$(tests/scripts/build-wheel.sh)` first, or set \
             {SKIP_WHEEL_ENV}=1 to skip the wheel tests"
        ),
    }
}

/// A fresh virtualenv with the real conda (from the test venv's wheelhouse, offline) and the
/// wheel, installed by pip as a user would.
struct WheelVenv {
    dir: tempfile::TempDir,
}

impl WheelVenv {
    fn install(wheel: &Path, wheelhouse: &Path) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("anacondad-wheel-venv-")
            .tempdir()
            .expect("a temp dir");
        run_ok(Command::new("python3").args(["-m", "venv"]).arg(dir.path()));
        let pip = dir.path().join("bin/pip");
        let offline = [
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-index",
        ];
        run_ok(
            Command::new(&pip)
                .args(offline)
                .arg("--find-links")
                .arg(wheelhouse)
                .arg("-r")
                .arg(wheelhouse.join("requirements.txt")),
        );
        // conda's own metadata names menuinst, which PyPI lacks for some Pythons.
        let conda_wheel = std::fs::read_dir(wheelhouse)
            .expect("the wheelhouse")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("conda-") && n.ends_with(".whl"))
            })
            .expect("conda's wheel in the wheelhouse");
        run_ok(
            Command::new(&pip)
                .args(offline)
                .arg("--no-deps")
                .arg(conda_wheel),
        );
        run_ok(Command::new(&pip).args(offline).arg(wheel));
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn bin(&self) -> PathBuf {
        self.path().join("bin")
    }

    /// PATH for everything the test runs: the venv's scripts and the system's, nothing else.
    fn path_var(&self) -> OsString {
        let mut path = OsString::from(self.bin());
        path.push(":/usr/local/bin:/usr/bin:/bin");
        path
    }

    /// The home's environment without the variables that point at the workspace's binaries,
    /// and with our PATH.
    fn env(&self, home: &TestHome) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = home
            .env()
            .into_iter()
            .filter(|(k, _)| k != "ANACONDAD_BIN" && k != "ANACONDACTL" && k != "PATH")
            .collect();
        env.push(("PATH".into(), self.path_var()));
        env
    }

    /// `anacondactl <args>` with `env` added (e.g. another PATH), in `home`.
    fn ctl_with(&self, home: &TestHome, env: &[(&str, PathBuf)], args: &[&str]) -> Output {
        self.run_ctl(home, env, args, None)
    }

    /// `anacondactl <args>` found on PATH, in `home`, without a terminal.
    fn ctl(&self, home: &TestHome, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_ctl(home, &[], args, stdin)
    }

    fn run_ctl(
        &self,
        home: &TestHome,
        env: &[(&str, PathBuf)],
        args: &[&str],
        stdin: Option<&str>,
    ) -> Output {
        use std::io::Write as _;
        let mut cmd = Command::new("anacondactl");
        cmd.env_clear()
            .envs(self.env(home))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        without_controlling_terminal(&mut cmd);
        let mut child = cmd.spawn().expect("the wheel's anacondactl runs from PATH");
        let mut input = child.stdin.take().expect("piped stdin");
        input
            .write_all(stdin.unwrap_or_default().as_bytes())
            .expect("stdin written");
        drop(input);
        let out = child.wait_with_output().expect("anacondactl ends");
        assert!(
            out.status.success(),
            "anacondactl {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The venv's conda in `home`, with nothing of the workspace in its environment.
    fn conda<'a>(&self, home: &'a TestHome) -> Conda<'a> {
        Conda::new(home, self.path())
            .without_env("ANACONDACTL")
            .without_env("ANACONDAD_BIN")
            .without_env("PATH")
            .with_env("PATH", self.path_var())
    }
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The channels `conda search --json` found the package in.
fn found_in(run: &CondaRun) -> Vec<String> {
    run.channels_holding(PACKAGE)
}

#[test]
fn pip_install_of_the_wheel_is_all_a_conda_user_needs_to_log_in_install_a_token_and_search() {
    let test = "pip_install_of_the_wheel_is_all_a_conda_user_needs";
    let Some(wheel) = wheel_or_skip(test) else {
        return;
    };
    let Some(venvs) = conda_or_skip(test) else {
        return;
    };
    let venv = WheelVenv::install(&wheel, &venvs.with_plugin.join("wheelhouse"));
    for name in ["anacondad", "anacondactl"] {
        assert!(venv.bin().join(name).is_file(), "pip put no {name} on PATH");
    }
    assert!(
        !venv
            .path_var()
            .to_string_lossy()
            .contains(&*bin_dir().to_string_lossy()),
        "the workspace's binaries are on PATH"
    );

    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    venv.ctl(
        &home,
        &["login", "--api-key-stdin"],
        Some(&emu.mint_api_key()),
    );
    venv.ctl(&home, &["token", "install", "--org", "acme", "--yes"], None);

    // The daemon serving the home is the one pip installed next to `anacondactl`.
    let pid = home.daemon_pid().expect("a daemon holds the socket lock");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("the daemon's executable");
    assert_eq!(exe, venv.bin().join("anacondad"));

    let conda = venv.conda(&home);
    std::fs::create_dir_all(conda.condarc_env_file().parent().expect("a parent")).expect("dir");
    std::fs::write(conda.condarc_env_file(), "channels:\n  - defaults\n").expect("written");
    let search = conda.run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&search), [emu.url("/repo/main/noarch")]);
    let channel = emu.url("/repo/acme/internal");
    let search = conda.run(&[
        "search",
        "--json",
        "--override-channels",
        "-c",
        &channel,
        PACKAGE,
    ]);
    assert_eq!(found_in(&search), [format!("{channel}/noarch")]);

    // What answered was the wheel's plugin: conda loaded it from the venv.
    let plugin = conda.python(
        "import conda_anacondad, sys; sys.stdout.write(conda_anacondad.__file__)",
        &[],
    );
    let plugin = String::from_utf8_lossy(&plugin.stdout).into_owned();
    assert!(
        plugin.starts_with(&*venv.path().to_string_lossy()),
        "the plugin came from {plugin}"
    );

    uninstall_leaves_nothing_behind(&venv, &home, pid);
}

/// README "Uninstall": service uninstall, token uninstall --all --restore-condarc, logout,
/// daemon stop, pip uninstall: no unit, socket or `.condarc` entry of ours is left.
fn uninstall_leaves_nothing_behind(venv: &WheelVenv, home: &TestHome, pid: u32) {
    // The service files go into the home's XDG_CONFIG_HOME; no `systemctl` on this PATH, so the
    // machine's user manager is never asked (the commands are printed to run later).
    let only_venv = [("PATH", venv.bin())];
    let units = home.path().join("config/systemd/user");
    venv.ctl_with(home, &only_venv, &["service", "install"]);
    assert!(
        units.join("anacondad.service").is_file(),
        "service install wrote no unit"
    );
    venv.ctl_with(home, &only_venv, &["service", "uninstall"]);
    venv.ctl(
        home,
        &["token", "uninstall", "--all", "--restore-condarc"],
        None,
    );
    venv.ctl(home, &["logout"], None);
    venv.ctl(home, &["daemon", "stop"], None);
    anacondad_tests::harness::wait_until_dead(pid, std::time::Duration::from_secs(10));
    run_ok(Command::new(venv.bin().join("pip")).args([
        "uninstall",
        "--quiet",
        "--yes",
        "anacondad",
    ]));

    let leftover_units: Vec<_> = std::fs::read_dir(&units)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(leftover_units.is_empty(), "units left: {leftover_units:?}");
    let socket_dir = home.socket().parent().expect("a socket dir").to_path_buf();
    for name in ["anacondad.sock", "anacondad.sock.version"] {
        assert!(
            !socket_dir.join(name).exists(),
            "{name} left in {}",
            socket_dir.display()
        );
    }
    let condarc = std::fs::read_to_string(home.path().join(".condarc")).unwrap_or_default();
    assert!(
        !condarc.contains("anacondad"),
        "~/.condarc still names us: {condarc}"
    );
    for name in ["anacondad", "anacondactl"] {
        assert!(!venv.bin().join(name).exists(), "pip left {name}");
    }
    let import = Command::new(venv.bin().join("python"))
        .args(["-c", "import conda_anacondad"])
        .output()
        .expect("python runs");
    assert!(!import.status.success(), "the plugin is still importable");
}

#[test]
fn the_wheel_carries_every_entry_point_of_the_plugins_pyproject() {
    let test = "the_wheel_carries_every_entry_point_of_the_plugins_pyproject";
    let Some(wheel) = wheel_or_skip(test) else {
        return;
    };
    let pyproject =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/conda-plugin/pyproject.toml");
    // Python reads both: the plugin's pyproject.toml (tomllib) and the wheel's entry_points.txt
    // (configparser, as importlib.metadata does). Each line: group, name, value.
    let script = r#"
import configparser, sys, tomllib, zipfile
with open(sys.argv[1], "rb") as f:
    declared = tomllib.load(f)["project"].get("entry-points", {})
wheel = zipfile.ZipFile(sys.argv[2])
name = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
parser = configparser.ConfigParser(delimiters=("=",))
parser.optionxform = str
parser.read_string(wheel.read(name).decode())
carried = {g: dict(parser[g]) for g in parser.sections()}
for group, points in sorted(declared.items()):
    for key, value in sorted(points.items()):
        print("declared", group, key, value)
        print("carried" if carried.get(group, {}).get(key) == value else "missing", group, key, value)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&pyproject)
        .arg(&wheel)
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.lines().any(|l| l.starts_with("declared conda ")),
        "the plugin declares no conda entry point: {text}"
    );
    let missing: Vec<&str> = text.lines().filter(|l| l.starts_with("missing")).collect();
    assert!(
        missing.is_empty(),
        "the wheel lacks entry points of packaging/conda-plugin/pyproject.toml; add them to \
         [project.entry-points] of the root pyproject.toml: {missing:?}"
    );
}
