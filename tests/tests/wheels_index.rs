//! pip and uv against Anaconda's wheels index (the emulator's PEP 503 simple index, which takes
//! `__token__` and an API key): `anacondactl export --for pip|uv` writes their configuration
//! with no secret in it, the conda plugin's keyring backend answers their keyring look-up with
//! the daemon's key, and after the key is renewed (the old one expired) the new one is used with
//! nothing rewritten. The real pip and uv of `tests/scripts/setup-venv.sh`; needs the Secret
//! Service of `tests/scripts/with-keyring.sh` (the daemon keeps the key in the keychain).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anacondad_tests::harness::{TestHome, bin, keychain_python_venv_or_skip};
use anacondad_tests::{EmulatorProcess, spawn_emulator};

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
    let home = TestHome::new()
        .with_env("ANACONDA_AUTH_DOMAIN", &emu.base_url)
        .with_env("CONDA_TOKEN_REPO_URL", emu.url("/repo/"))
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
    let mut command = Command::new(venv.join("bin").join(program));
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
    use std::io::Write as _;
    let new = emu.mint_api_key();
    let mut child = home
        .ctl()
        .args(["login", "--api-key-stdin", "--force"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("anacondactl runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(new.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
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
    let out = home.run_ctl(&["export", "--for", "pip"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conf = home.path().join("config/pip/pip.conf");
    let written = std::fs::read_to_string(&conf).expect("pip.conf is written");
    assert!(written.contains("keyring-provider = auto"), "{written}");
    assert!(!written.contains(&key), "no secret in pip.conf: {written}");

    let pip = |target: &Path| {
        tool(&venv, &home, "pip")
            .args(["install", "--no-deps", "--target"])
            .arg(target)
            .arg("anacondad-wheel-demo")
            .output()
            .expect("pip runs")
    };
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
    let out = home.run_ctl(&["export", "--for", "uv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conf = home.path().join("config/uv/uv.toml");
    let written = std::fs::read_to_string(&conf).expect("uv.toml is written");
    assert!(!written.contains(&key), "no secret in uv.toml: {written}");

    let uv = |target: &Path| {
        tool(&venv, &home, "uv")
            .args(["pip", "install", "--no-deps", "--python"])
            .arg(venv.join("bin/python"))
            .arg("--target")
            .arg(target)
            .arg("anacondad-wheel-demo")
            .output()
            .expect("uv runs")
    };
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
