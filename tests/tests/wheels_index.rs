//! pip and uv against Anaconda's wheels index (the emulator's PEP 503 simple index, which takes
//! `__token__` and an API key) and against a Package Security Manager's PyPI channel (the
//! emulator's `/api/repo/<channel>/`, which takes the key as username and `x-auth-token`):
//! `anacondactl export --for pip|uv` writes their configuration with no secret in it, the conda
//! plugin's keyring backend answers their keyring look-up with the daemon's key, and after the
//! key is renewed (the old one expired) the new one is used with nothing rewritten; `pip
//! --no-input`, which turns `keyring-provider = auto` off, installs too. The real pip and uv of
//! `tests/scripts/setup-venv.sh`; needs the Secret Service of `tests/scripts/with-keyring.sh`
//! (the daemon keeps the key in the keychain).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anacondad_tests::harness::{TestHome, bin, keychain_python_venv_or_skip};
use anacondad_tests::{EmulatorProcess, spawn_emulator};

const PIP_CONF: &str = "config/pip/pip.conf";
const UV_TOML: &str = "config/uv/uv.toml";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ready(test: &str) -> Option<PathBuf> {
    let venv = keychain_python_venv_or_skip(test)?;
    assert!(
        venv.join("bin/uv").is_file(),
        "no uv in {}: run tests/scripts/setup-venv.sh",
        venv.display()
    );
    Some(venv)
}

fn logged_in(emu: &EmulatorProcess) -> (TestHome, String) {
    logged_in_at(emu, "/repo/")
}

/// Logged in to a site whose repository is the emulator's `repo_path`.
fn logged_in_at(emu: &EmulatorProcess, repo_path: &str) -> (TestHome, String) {
    let home = TestHome::new()
        .with_env("ANACONDA_AUTH_DOMAIN", &emu.base_url)
        .with_env("CONDA_TOKEN_REPO_URL", emu.url(repo_path))
        .with_env("ANACONDAD_STORAGE", "system");
    let key = emu.mint_api_key();
    home.login_with_api_key(&key);
    (home, key)
}

/// A tool of the venv run as the user of `home`: the venv's `keyring` first on PATH, nothing of
/// the daemon's environment, no cache shared between runs.
fn tool(venv: &Path, home: &TestHome, program: &str) -> Command {
    let mut path = OsString::from(venv.join("bin"));
    path.push(":/usr/bin:/bin");
    program_as_user(&venv.join("bin").join(program), &path, home)
}

/// `program` run as the user of `home` with `path` as PATH.
fn program_as_user(program: &Path, path: &OsString, home: &TestHome) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .envs(home.env())
        .env_remove("ANACONDA_AUTH_DOMAIN")
        .env_remove("CONDA_TOKEN_REPO_URL")
        .env_remove("ANACONDAD_STORAGE")
        .env("PATH", path)
        .env("ANACONDACTL", bin("anacondactl"))
        .env("PIP_NO_CACHE_DIR", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("UV_NO_CACHE", "1");
    command
}

/// `anacondactl export ARGS` with the venv's pip and keyring first on PATH, as a user who
/// runs them; returns the file written.
fn export(venv: &Path, home: &TestHome, args: &[&str], file: &str) -> String {
    let mut path = OsString::from(venv.join("bin"));
    path.push(":/usr/bin:/bin");
    let out = home
        .ctl()
        .arg("export")
        .args(args)
        .env("PATH", path)
        .output()
        .expect("anacondactl runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::read_to_string(home.path().join(file)).expect("the configuration is written")
}

/// `pip install` of the demo wheel into `target`, with `extra` arguments.
fn pip_install(venv: &Path, home: &TestHome, target: &Path, extra: &[&str]) -> Output {
    tool(venv, home, "pip")
        .args(["install", "--no-deps", "--target"])
        .arg(target)
        .args(extra)
        .arg("anacondad-wheel-demo")
        .output()
        .expect("pip runs")
}

/// `uv pip install` of the demo wheel into `target`.
fn uv_install(venv: &Path, home: &TestHome, target: &Path) -> Output {
    tool(venv, home, "uv")
        .args(["pip", "install", "--no-deps", "--python"])
        .arg(venv.join("bin/python"))
        .arg("--target")
        .arg(target)
        .arg("anacondad-wheel-demo")
        .output()
        .expect("uv runs")
}

fn installs(out: &Output, target: &Path) {
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(target.join("anacondad_wheel_demo.py").is_file());
}

/// Renews the key as the daemon would: a new one stored, the old one expired at the service.
fn renew_the_key(home: &TestHome, emu: &EmulatorProcess, old: &str) {
    let new = emu.mint_api_key();
    let out = home.run_ctl_with_stdin(&["login", "--api-key-stdin", "--force"], new.as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    emu.post("/_emulator/expire", serde_json::json!({"api_key": old}));
}

#[test]
fn pip_installs_a_wheel_with_the_daemons_key_before_and_after_a_renewal() {
    let Some(venv) = ready("pip_installs_a_wheel_with_the_daemons_key") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let (home, key) = logged_in(&emu);
    let written = export(&venv, &home, &["--for", "pip"], PIP_CONF);
    let conf = home.path().join(PIP_CONF);
    assert!(written.contains("keyring-provider = import"), "{written}");
    assert!(!written.contains(&key), "no secret in pip.conf: {written}");

    let pip = |target: &Path| pip_install(&venv, &home, target, &[]);
    installs(
        &pip(&home.path().join("before")),
        &home.path().join("before"),
    );
    renew_the_key(&home, &emu, &key);
    installs(&pip(&home.path().join("after")), &home.path().join("after"));
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        written,
        "nothing rewritten"
    );
}

#[test]
fn uv_installs_a_wheel_with_the_daemons_key_before_and_after_a_renewal() {
    let Some(venv) = ready("uv_installs_a_wheel_with_the_daemons_key") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let (home, key) = logged_in(&emu);
    let written = export(&venv, &home, &["--for", "uv"], UV_TOML);
    let conf = home.path().join(UV_TOML);
    assert!(!written.contains(&key), "no secret in uv.toml: {written}");

    let uv = |target: &Path| uv_install(&venv, &home, target);
    installs(
        &uv(&home.path().join("before")),
        &home.path().join("before"),
    );
    renew_the_key(&home, &emu, &key);
    installs(&uv(&home.path().join("after")), &home.path().join("after"));
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        written,
        "nothing rewritten"
    );
}

#[test]
fn pip_with_no_input_installs_a_wheel_with_the_daemons_key() {
    let Some(venv) = ready("pip_with_no_input_installs_a_wheel") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let (home, _key) = logged_in(&emu);
    export(&venv, &home, &["--for", "pip"], PIP_CONF);
    let target = home.path().join("quiet");
    installs(
        &pip_install(&venv, &home, &target, &["--no-input"]),
        &target,
    );
}

#[test]
fn pip_of_an_environment_without_keyring_runs_the_one_on_path_even_with_no_input() {
    let Some(venv) = ready("pip_of_an_environment_without_keyring") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let (home, _key) = logged_in(&emu);
    // A project's environment: its own pip, no keyring; the plugin's keyring is on PATH after it.
    let project = home.path().join("project-venv");
    let made = Command::new(venv.join("bin/python"))
        .args(["-m", "venv"])
        .arg(&project)
        .output()
        .expect("python -m venv runs");
    assert!(made.status.success(), "{}", text(&made.stderr));
    let mut path = OsString::from(project.join("bin"));
    path.push(":");
    path.push(venv.join("bin"));
    path.push(":/usr/bin:/bin");
    let out = home
        .ctl()
        .args(["export", "--for", "pip"])
        .env("PATH", &path)
        .output()
        .expect("anacondactl runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(home.path().join(PIP_CONF)).unwrap();
    assert!(
        written.contains("keyring-provider = subprocess"),
        "{written}"
    );

    let target = home.path().join("project-target");
    let out = program_as_user(&project.join("bin/pip"), &path, &home)
        .args(["install", "--no-input", "--no-deps", "--target"])
        .arg(&target)
        .arg("anacondad-wheel-demo")
        .output()
        .expect("pip runs");
    installs(&out, &target);
}

#[test]
fn pip_and_uv_install_from_a_package_security_managers_pypi_channel_before_and_after_a_renewal() {
    let Some(venv) = ready("pip_and_uv_install_from_a_psm_channel") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let (home, key) = logged_in_at(&emu, "/api/repo/");
    let pip_conf = export(
        &venv,
        &home,
        &["--for", "pip", "--channel", "pypi-mirror"],
        PIP_CONF,
    );
    let uv_toml = export(
        &venv,
        &home,
        &["--for", "uv", "--channel", "pypi-mirror"],
        UV_TOML,
    );
    let index = emu.url("/api/repo/pypi-mirror/simple/");
    for written in [&pip_conf, &uv_toml] {
        assert!(written.contains(&index), "{written}");
        assert!(!written.contains(&key), "no secret: {written}");
    }

    for when in ["before", "after"] {
        if when == "after" {
            renew_the_key(&home, &emu, &key);
        }
        let target = home.path().join(format!("pip-{when}"));
        installs(&pip_install(&venv, &home, &target, &[]), &target);
        let target = home.path().join(format!("uv-{when}"));
        installs(&uv_install(&venv, &home, &target), &target);
    }
    assert_eq!(
        std::fs::read_to_string(home.path().join(PIP_CONF)).unwrap(),
        pip_conf
    );
    assert_eq!(
        std::fs::read_to_string(home.path().join(UV_TOML)).unwrap(),
        uv_toml
    );
}
