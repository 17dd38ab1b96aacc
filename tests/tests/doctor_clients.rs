//! `anacondactl doctor` names each other Anaconda client found on PATH (anaconda-auth, ana, pip,
//! uv, pixi, mamba) and whether it sees the daemon's current credential. Real daemon and CLI on
//! temp sockets against the emulator; the clients are stand-ins on PATH (doctor reads their
//! configuration and environments, it does not run them).

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use anacondad_tests::harness::TestHome;
use anacondad_tests::spawn_emulator;
use serde_json::Value;

fn stand_in(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn clients(home: &TestHome, path: &Path) -> Vec<(String, String)> {
    let out = home
        .ctl()
        .args(["--json", "doctor"])
        .env("PATH", path)
        .output()
        .expect("anacondactl runs");
    // conda is not configured here, so doctor exits 9; its report is on stdout all the same.
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| {
            c["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("clients."))
        })
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn doctor_names_each_client_found_and_whether_it_sees_the_daemons_credential() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    home.login_with_api_key(&emu.mint_api_key());
    let bin = home.path().join("clients/bin");
    std::fs::create_dir_all(&bin).unwrap();
    // anaconda-auth's script, in an environment that has the keyring backend.
    let prefix = home.path().join("clients");
    let site = prefix.join("lib/python3.11/site-packages/conda_anacondad");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("keyring_backend.py"), "").unwrap();
    stand_in(&bin, "python", "");
    stand_in(
        &bin,
        "anaconda",
        &format!("#!{}\n", bin.join("python").display()),
    );
    for name in ["ana", "pip", "pixi"] {
        stand_in(&bin, name, "");
    }
    let found = clients(&home, &bin);
    let state = |id: &str| {
        found
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("no {id} in {found:?}"))
    };
    assert_eq!(state("clients.anaconda_auth"), "ok", "{found:?}");
    // The daemon keeps the file: ana reads its current key there.
    assert_eq!(state("clients.ana"), "ok", "{found:?}");
    assert_eq!(state("clients.pip"), "ok", "{found:?}");
    assert_eq!(state("clients.pixi"), "warn", "{found:?}");
    assert!(
        !found.iter().any(|(id, _)| id == "clients.uv"),
        "uv is not on PATH: {found:?}"
    );
    let out = home.run_ctl(&["export", "--for", "pixi"]);
    assert!(out.status.success());
    let found = clients(&home, &bin);
    assert!(
        found.contains(&("clients.pixi".to_owned(), "ok".to_owned())),
        "{found:?}"
    );
}
