//! A CI job as docs/ci.md describes it, with the real conda (26.7.1): a fresh home with no
//! keychain (`ANACONDAD_STORAGE=memory`) and only an API key in a `/run/secrets`-style file
//! (`ANACONDA_SECRETS_DIR`) gets acme's token and runs `conda search` through `anacondactl
//! exec`, whose channel URL is written with the documented variable.
//!
//! Without the venv's conda these tests fail, unless ANACONDAD_SKIP_REAL_CONDA=1 says to skip
//! them.

use std::process::Command;

use anacondad_tests::conda::{Conda, conda_or_skip};
use anacondad_tests::harness::stdout_of_success as ok;
use anacondad_tests::harness::{TestHome, bin, files_holding};
use anacondad_tests::spawn_emulator;

/// The package every channel of the emulator serves.
const PACKAGE: &str = "anacondad-hello";

#[test]
fn a_job_with_only_a_key_in_a_secret_file_searches_an_org_channel_through_exec() {
    let Some(venvs) = conda_or_skip("a_job_with_only_a_key_in_a_secret_file") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let secrets = tempfile::tempdir().unwrap();
    let account_key = emu.mint_api_key();
    std::fs::write(secrets.path().join("ANACONDA_AUTH_API_KEY"), &account_key).unwrap();
    let home = TestHome::against(&emu)
        .with_env("ANACONDAD_STORAGE", "memory")
        .with_env("ANACONDA_SECRETS_DIR", secrets.path());

    let shown = ok(&home.run_ctl(&["config", "show"]));
    assert!(
        shown.contains(&format!(
            "secret file ({})",
            secrets.path().join("ANACONDA_AUTH_API_KEY").display()
        )),
        "config show names the key's file:\n{shown}"
    );
    ok(&home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]));
    let token = emu.org_token("acme").expect("acme has a token");

    let conda = Conda::new(&home, &venvs.without_plugin);
    let seen_key = home.path().join("seen-key");
    let script = format!(
        "echo \"token is $ANACONDA_ORG_TOKEN_ACME\" >&2; \
         printf %s \"$ANACONDA_AUTH_API_KEY\" > {seen}; \
         exec \"$0\" -m conda search --json --override-channels \
           -c \"$1/t/$ANACONDA_ORG_TOKEN_ACME/repo/acme/internal\" {PACKAGE}",
        seen = seen_key.display()
    );
    let out = Command::new(bin("anacondactl"))
        .env_clear()
        .envs(conda.env())
        .current_dir(home.path())
        .args(["exec", "--org", "acme", "--", "sh", "-c", &script])
        .arg(conda.venv().join("bin/python"))
        .arg(&emu.base_url)
        .output()
        .unwrap();
    let stdout = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("token is ***"), "{stderr}");
    assert!(!stderr.contains(&token) && !stdout.contains(&token));

    let answer: serde_json::Value = serde_json::from_str(&stdout).expect("conda's JSON");
    let found = answer[PACKAGE]
        .as_array()
        .unwrap_or_else(|| panic!("no {PACKAGE} in {answer}"));
    assert!(!found.is_empty());
    assert!(
        found.iter().all(|r| r["channel"]
            .as_str()
            .unwrap_or_default()
            .contains("/repo/acme/internal")),
        "{answer}"
    );

    let minted = std::fs::read_to_string(&seen_key).unwrap();
    assert!(
        !minted.is_empty() && minted != account_key,
        "exec minted a key"
    );
    let refused = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(emu.url("/repo/main/noarch/repodata.json"))
        .bearer_auth(&minted)
        .send()
        .unwrap()
        .status();
    assert_eq!(
        refused.as_u16(),
        401,
        "the minted key is revoked after the command"
    );

    // Memory storage: no keyring file, and neither the token nor a key is in any file the
    // daemon or CLI wrote.
    let keyring = home.path().join(".anaconda/keyring");
    assert!(!keyring.exists(), "{} was written", keyring.display());
    for dir in ["state", "config", ".anaconda"] {
        let dir = home.path().join(dir);
        assert_eq!(
            files_holding(&dir, &token),
            Vec::<std::path::PathBuf>::new()
        );
        assert_eq!(
            files_holding(&dir, &account_key),
            Vec::<std::path::PathBuf>::new()
        );
    }
}
