//! `ana` (Anaconda's official CLI, built from its vendored source by
//! `tests/scripts/build-ana.sh`) beside the daemon: its login rewrites `~/.anaconda/keyring`
//! with `repo_tokens: []`, and conda still gets the org's token afterwards, whether the daemon
//! keeps its credentials in that file or in the keychain; the key `ana login` stored is adopted
//! by the daemon, and `ana auth api-key` prints a key the service accepts.
//!
//! Where the daemon keeps its credentials in the keychain, it writes no secret into the file
//! (that needs the user's consent: `storage = file`): `ana` keeps reading the key of its own
//! login, which is the daemon's current key until the daemon renews it.

use std::path::PathBuf;
use std::process::Output;

use anacondad_proto::v1::EventKind;
use anacondad_tests::ana::ana_or_skip;
use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::{EmulatorProcess, spawn_emulator};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `ana ARGS` as the user of `home`, against the emulator over HTTP, `stdin` on its input.
fn ana(
    ana: &PathBuf,
    home: &TestHome,
    emu: &EmulatorProcess,
    args: &[&str],
    stdin: &str,
) -> Output {
    use std::io::Write as _;
    let mut child = anacondad_tests::ana::command(ana, home, emu, args)
        .spawn()
        .expect("ana runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().expect("ana ends")
}

fn logged_in_with_a_token(home: &TestHome, emu: &EmulatorProcess) {
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&["token", "install", "--org", "acme", "--no-condarc"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// What conda's plugin gets for acme's channel.
fn condas_credential(home: &TestHome, emu: &EmulatorProcess) -> String {
    let url = emu.url("/repo/acme/noarch/repodata.json");
    let out = home.run_ctl(&[
        "--json",
        "credential",
        "get",
        &url,
        "--credential-type",
        "repo-token",
    ]);
    json_output(&out)["header_value"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn ana_login_keeps_the_tokens(home: TestHome, emu: &EmulatorProcess, ana_bin: &PathBuf) {
    logged_in_with_a_token(&home, emu);
    let token = emu.org_token("acme").expect("acme has a token");
    let mut events = home.subscribe_events();
    let key = emu.mint_api_key();
    let out = ana(ana_bin, &home, emu, &["login", "-f", "-"], &key);
    assert!(
        out.status.success(),
        "ana login: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    events.wait_for(
        EventKind::KeyringFileRewritten,
        std::time::Duration::from_secs(20),
    );
    assert_eq!(condas_credential(&home, emu), format!("token {token}"));
    // The key ana stored is the daemon's now, and `ana auth api-key` prints one that works.
    let printed = ana(ana_bin, &home, emu, &["auth", "api-key"], "");
    let printed = text(&printed.stdout).trim().to_owned();
    assert_eq!(printed, key);
    let who = home.run_ctl(&["--json", "whoami"]);
    assert!(who.status.success(), "{}", text(&who.stderr));
}

#[test]
fn ana_login_beside_a_daemon_that_keeps_the_file_leaves_conda_its_token() {
    let Some(ana_bin) = ana_or_skip("ana_login_beside_the_file") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    ana_login_keeps_the_tokens(TestHome::against(&emu), &emu, &ana_bin);
}

#[test]
fn ana_login_beside_a_daemon_that_keeps_the_keychain_leaves_conda_its_token() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(
            std::env::var_os("ANACONDAD_SKIP_KEYCHAIN_TESTS").is_some(),
            "needs a Secret Service: run under tests/scripts/with-keyring.sh"
        );
        return;
    }
    let Some(ana_bin) = ana_or_skip("ana_login_beside_the_keychain") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = TestHome::new()
        .with_env("ANACONDA_AUTH_DOMAIN", &emu.base_url)
        .with_env("CONDA_TOKEN_REPO_URL", emu.url("/repo/"))
        .with_env("ANACONDAD_STORAGE", "system");
    ana_login_keeps_the_tokens(home, &emu, &ana_bin);
}
