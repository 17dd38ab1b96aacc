//! One record for both tools: the real anaconda-auth 0.15.3 in its default configuration reads
//! its keyring file and misses what the daemon keeps in the OS keychain; `token install --yes`
//! sets its `preferred_token_storage = "system"`, after which its `TokenInfo.load` and its conda
//! handler find the daemon's credentials. Needs the Secret Service of
//! `tests/scripts/with-keyring.sh` and the venv of `tests/scripts/setup-venv.sh`.

use std::path::Path;

use anacondad_tests::harness::{TestHome, keychain_python_venv_or_skip};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A daemon that keeps credentials in the OS keychain, against `emu`.
fn keychain_home(emu: &EmulatorProcess) -> TestHome {
    TestHome::new()
        .with_env("ANACONDA_AUTH_DOMAIN", &emu.base_url)
        .with_env("CONDA_TOKEN_REPO_URL", emu.url("/repo/"))
        .with_env("ANACONDAD_STORAGE", "system")
}

/// What anaconda-auth finds for the emulator's domain, run as a user of `home` would run it.
fn anaconda_auth_finds(venv: &Path, home: &TestHome, emu: &EmulatorProcess, org: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/anaconda_auth_lookup.py");
    let url = emu.url(&format!("/repo/{org}/noarch/repodata.json"));
    let out = std::process::Command::new(venv.join("bin/python"))
        .arg(&script)
        .args([&emu.domain(), org, &url])
        .env_clear()
        .envs(home.env())
        // anaconda-auth reads these itself; the user's shell would not set them.
        .env_remove("ANACONDA_AUTH_DOMAIN")
        .env_remove("CONDA_TOKEN_REPO_URL")
        .env_remove("ANACONDAD_STORAGE")
        .env("CONDARC", home.path().join("no.condarc"))
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

/// `doctor`'s finding on anaconda-auth's storage: its state and its fix.
fn doctor_on_anaconda_auth(home: &TestHome) -> (String, String) {
    let out = home.run_ctl(&["--json", "doctor"]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor printed no JSON ({e}): {}", text(&out.stderr)));
    let check = report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["id"] == "anaconda_auth.storage"))
        .unwrap_or_else(|| panic!("no anaconda_auth.storage in {report:#}"));
    (
        check["state"].as_str().unwrap_or_default().to_owned(),
        check["fix"].as_str().unwrap_or_default().to_owned(),
    )
}

fn install(home: &TestHome, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["token", "install", "--org", "acme", "--no-condarc"];
    args.extend_from_slice(extra);
    home.run_ctl(&args)
}

#[test]
fn after_the_alignment_anaconda_auth_in_its_default_configuration_finds_the_daemons_token() {
    let Some(venv) =
        keychain_python_venv_or_skip("after_the_alignment_anaconda_auth_finds_the_daemons_token")
    else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = keychain_home(&emu);
    let api_key = emu.mint_api_key();
    home.login_with_api_key(&api_key);
    // Its default configuration: no config.toml; its first use makes its keyring file.
    let config = home.path().join(".anaconda/config.toml");
    let before = anaconda_auth_finds(&venv, &home, &emu, "acme");
    assert_eq!(before["api_key"], Value::Null, "{before}");
    assert_eq!(before["handler_credential"], Value::Null, "{before}");
    assert!(!config.exists());
    assert!(home.path().join(".anaconda/keyring").is_file());
    let (state, fix) = doctor_on_anaconda_auth(&home);
    assert_eq!(state, "warn");
    // The change itself, not `token install --yes` (which would reissue a working token).
    assert!(
        fix.contains("add preferred_token_storage = \"system\" under [plugin.auth]"),
        "{fix}"
    );
    // Without a terminal and without --yes: said, not done, and the install goes on.
    let out = install(&home, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("will not see the credentials") && !config.exists(),
        "{}",
        text(&out.stderr)
    );
    let out = install(&home, &["--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("preferred_token_storage = \"system\""),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "[plugin.auth]\npreferred_token_storage = \"system\"\n"
    );
    let token = emu.org_token("acme").expect("the emulator issued a token");
    let after = anaconda_auth_finds(&venv, &home, &emu, "acme");
    assert_eq!(after["api_key"], api_key.as_str(), "{after}");
    assert_eq!(after["repo_token"], token.as_str(), "{after}");
    assert_eq!(after["handler_credential"], api_key.as_str(), "{after}");
    assert_eq!(doctor_on_anaconda_auth(&home).0, "ok");
    // Aligned: a further install asks nothing.
    let out = install(&home, &["--yes"]);
    assert!(!text(&out.stdout).contains("Setting preferred_token_storage"));
}

#[test]
fn the_alignment_keeps_anaconda_auths_comments_and_is_required_for_its_conda_handler() {
    let Some(venv) = keychain_python_venv_or_skip("the_alignment_keeps_anaconda_auths_comments")
    else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = keychain_home(&emu);
    home.login_with_api_key(&emu.mint_api_key());
    let config = home.path().join(".anaconda/config.toml");
    let original =
        "# my anaconda-auth settings\n\n[plugin.auth]\n# TLS as usual\nssl_verify = true  # keep\n";
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, original).unwrap();
    let condarc = home.path().join(".condarc");
    let handler = ["--auth-handler", "anaconda-auth", "--condarc"];
    let mut args = vec!["token", "install", "--org", "acme"];
    args.extend_from_slice(&handler);
    args.push(condarc.to_str().unwrap());
    // Required with anaconda-auth's handler: refused without an answer, nothing reissued.
    let out = home.run_ctl(&args);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--auth-handler anaconda-auth")
            && err.contains("--yes")
            && err.contains("--auth-handler anacondad"),
        "{err}"
    );
    assert_eq!(emu.org_token("acme"), None, "nothing was issued");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), original);
    args.push("--yes");
    let out = home.run_ctl(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let edited = std::fs::read_to_string(&config).unwrap();
    assert_eq!(
        edited,
        format!("{original}preferred_token_storage = \"system\"\n"),
        "comments and layout kept"
    );
    let found = anaconda_auth_finds(&venv, &home, &emu, "acme");
    assert_eq!(
        found["repo_token"],
        emu.org_token("acme").unwrap().as_str(),
        "{found}"
    );
}

/// `anacondactl ARGS` in a pseudo-terminal, answering each question (the text it ends with)
/// in turn; returns the exit code and the transcript.
fn answered_in_a_terminal(
    home: &TestHome,
    args: &[&str],
    answers: &[(&str, &str)],
) -> (i32, String) {
    use expectrl::process::unix::WaitStatus;
    use expectrl::{Eof, Expect, Session};
    let mut cmd = std::process::Command::new(anacondad_tests::harness::bin("anacondactl"));
    cmd.env_clear()
        .envs(home.env())
        .env("TERM", "xterm")
        .args(args);
    let mut session = Session::spawn(cmd).expect("anacondactl starts in a pty");
    session.set_expect_timeout(Some(std::time::Duration::from_secs(20)));
    let mut seen = String::new();
    for (question, answer) in answers {
        let asked = session
            .expect(*question)
            .unwrap_or_else(|e| panic!("no {question:?} ({e}):\n{seen}"));
        seen.push_str(&String::from_utf8_lossy(asked.as_bytes()));
        session
            .send(format!("{answer}\r"))
            .expect("write to the pty");
    }
    let rest = match session.expect(Eof) {
        Ok(rest) => rest,
        Err(e) => {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = session.try_read(&mut buf) {
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            panic!("anacondactl did not finish ({e}):\n{seen}");
        }
    };
    seen.push_str(&String::from_utf8_lossy(rest.as_bytes()));
    match session.get_process().wait().expect("wait for anacondactl") {
        WaitStatus::Exited(_, code) => (code, seen),
        other => panic!("anacondactl ended with {other:?}:\n{seen}"),
    }
}

#[test]
fn declining_in_a_terminal_says_what_is_lost_and_goes_on_unless_anaconda_auths_handler_needs_it() {
    if keychain_python_venv_or_skip("declining_in_a_terminal_says_what_is_lost").is_none() {
        return;
    }
    let emu = spawn_emulator(&[]);
    let home = keychain_home(&emu);
    home.login_with_api_key(&emu.mint_api_key());
    let config = home.path().join(".anaconda/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "# mine\n").unwrap();
    let args = ["token", "install", "--org", "acme", "--no-condarc"];
    const ALIGN: &str = "Set preferred_token_storage";
    let (code, said) = answered_in_a_terminal(&home, &args, &[(ALIGN, "n")]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("will not see the credentials"), "{said}");
    assert!(
        emu.org_token("acme").is_some(),
        "the install went on:\n{said}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");
    let condarc = home.path().join(".condarc");
    let handler = [
        "token",
        "install",
        "--org",
        "acme",
        "--yes",
        "--auth-handler",
        "anaconda-auth",
        "--condarc",
        condarc.to_str().unwrap(),
        "--channels",
        "none",
    ];
    // --yes answers it; without it, a "no" refuses the install.
    let no_yes: Vec<&str> = handler.iter().copied().filter(|a| *a != "--yes").collect();
    let (code, said) = answered_in_a_terminal(&home, &no_yes, &[(ALIGN, "n")]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("--auth-handler anacondad"), "{said}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");
    // Then the reissue of acme's token (this machine's, so keeping it is offered first) and
    // the .condarc edit.
    let keep_or_reissue = "[c/y/n] (c): ";
    let proceed = "Proceed? [y/n] (n): ";
    let (code, said) = answered_in_a_terminal(
        &home,
        &no_yes,
        &[(ALIGN, "y"), (keep_or_reissue, "y"), (proceed, "y")],
    );
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("now uses the daemon's keychain record"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "# mine\n[plugin.auth]\npreferred_token_storage = \"system\"\n"
    );
}
