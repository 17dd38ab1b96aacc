//! Credentials for scripts, CI jobs and containers, over the real CLI and daemon against the
//! emulator: printing them (`api-key`, `token show`), minting short-lived keys of one scope
//! and revoking them (`api-key --mint|--list|--revoke`, `logout --revoke`), running a command
//! with them (`exec`) and writing them as assignments (`env`).

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::Stdio;

use anacondad_tests::harness::stdout_of_success as ok;
use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::{EmulatorProcess, spawn_emulator};

/// A home logged in with a key of the emulator's user, with acme's token installed.
fn world() -> (EmulatorProcess, TestHome, String) {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let key = emu.mint_api_key();
    home.login_with_api_key(&key);
    ok(&home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]));
    (emu, home, key)
}

/// The status the emulator's repository answers for its main channel's repodata with
/// `Authorization: Bearer <key>`.
fn repodata_status(emu: &EmulatorProcess, key: &str) -> u16 {
    http()
        .get(emu.url("/repo/main/noarch/repodata.json"))
        .bearer_auth(key)
        .send()
        .expect("the emulator answers")
        .status()
        .as_u16()
}

fn http() -> reqwest::blocking::Client {
    anacondad_tests::install_crypto_provider();
    reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .expect("a client")
}

fn mint(home: &TestHome, args: &[&str]) -> (String, String) {
    let mut line = vec!["--json", "api-key", "--mint"];
    line.extend_from_slice(args);
    let minted = json_output(&home.run_ctl(&line));
    (
        minted["api_key"].as_str().expect("a key").to_owned(),
        minted["key"]["id"].as_str().expect("an id").to_owned(),
    )
}

#[test]
fn api_key_prints_the_raw_key_alone_and_its_json_names_it() {
    let (_emu, home, key) = world();
    let out = home.run_ctl(&["api-key"]);
    assert_eq!(ok(&out), format!("{key}\n"));
    assert!(
        out.stderr.is_empty(),
        "no warning off a terminal: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = json_output(&home.run_ctl(&["--json", "api-key"]));
    assert_eq!(shown["value"], key.as_str());
    assert_eq!(shown["kind"], "api_key");
    assert!(shown["expires_at"].is_string(), "{shown}");
}

#[test]
fn token_show_prints_the_orgs_token_and_names_a_missing_one() {
    let (emu, home, _key) = world();
    let token = emu.org_token("acme").expect("acme has a token");
    assert_eq!(
        ok(&home.run_ctl(&["token", "show", "--org", "acme"])),
        format!("{token}\n")
    );
    let shown = json_output(&home.run_ctl(&["--json", "token", "show", "--org", "acme"]));
    assert_eq!(shown["value"], token.as_str());
    assert_eq!(shown["kind"], "repo_token");
    assert_eq!(shown["org"], "acme");
    let missing = home.run_ctl(&["token", "show", "--org", "nobody"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("token install --org nobody"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[test]
fn a_minted_read_only_key_fetches_repodata_and_may_not_reissue_a_token_or_mint_a_key() {
    let (emu, home, account_key) = world();
    let (key, id) = mint(&home, &["--ttl", "10m", "--name", "ci"]);
    assert_ne!(key, account_key);
    assert_eq!(repodata_status(&emu, &key), 200);
    let reissue = http()
        .put(emu.url("/api/organizations/acme/ce/current-token"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"confirm": "yes"}))
        .send()
        .unwrap();
    assert_eq!(
        reissue.status().as_u16(),
        403,
        "a repo:read key reissues nothing"
    );
    let mint_more = http()
        .post(emu.url("/api/auth/api-keys"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"scopes": ["repo:read"]}))
        .send()
        .unwrap();
    assert_eq!(mint_more.status().as_u16(), 403, "nor mints a key");

    let listed = json_output(&home.run_ctl(&["--json", "api-key", "--list"]));
    let keys = listed["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{listed}");
    assert_eq!(keys[0]["id"], id.as_str());
    assert_eq!(keys[0]["name"], "ci");
    assert_eq!(keys[0]["scopes"], serde_json::json!(["repo:read"]));

    ok(&home.run_ctl(&["api-key", "--revoke", &id]));
    assert_eq!(repodata_status(&emu, &key), 401, "revoked");
    assert_eq!(
        repodata_status(&emu, &account_key),
        200,
        "the account's key stays"
    );
    let listed = json_output(&home.run_ctl(&["--json", "api-key", "--list"]));
    assert_eq!(listed["keys"], serde_json::json!([]));
}

#[test]
fn a_key_minted_without_repo_read_is_refused_by_the_repository() {
    let (emu, home, _key) = world();
    let (key, _id) = mint(&home, &["--scope", "cloud:read"]);
    assert_eq!(repodata_status(&emu, &key), 403);
}

#[test]
fn a_job_whose_only_key_is_read_only_is_told_the_key_lacks_a_scope_not_to_join_the_org() {
    let (emu, home, _key) = world();
    let (key, _id) = mint(&home, &[]);
    let job = TestHome::against(&emu).with_env("ANACONDA_AUTH_API_KEY", &key);
    let out = job.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the API key in use may not do this"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\"cloud:read\" scope"),
        "the service's reason: {stderr}"
    );
    assert!(stderr.contains("--scope cloud:write"), "{stderr}");
    assert!(!stderr.contains(&key), "{stderr}");
}

#[test]
fn a_jobs_refused_secret_key_sends_the_user_to_the_secret_not_to_login() {
    let (emu, home, _key) = world();
    let (key, _id) = mint(&home, &[]);
    emu.post("/_emulator/expire", serde_json::json!({"api_key": key}));
    let job = TestHome::against(&emu);
    let secrets = job.path().join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("ANACONDA_AUTH_API_KEY"), &key).unwrap();
    let job = job.with_env("ANACONDA_SECRETS_DIR", &secrets);
    let out = job.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let file = secrets.join("ANACONDA_AUTH_API_KEY").display().to_string();
    assert!(
        stderr.contains(&format!(
            "the API key from secret file ({file}) is not accepted"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("run `anacondactl login`"), "{stderr}");
}

#[test]
fn an_expired_minted_key_is_refused() {
    let (emu, home, _key) = world();
    let (key, _id) = mint(&home, &[]);
    assert_eq!(repodata_status(&emu, &key), 200);
    emu.post("/_emulator/expire", serde_json::json!({"api_key": key}));
    assert_eq!(repodata_status(&emu, &key), 401);
}

#[test]
fn logout_revoke_leaves_no_key_of_ours_valid_at_the_service() {
    let (emu, home, account_key) = world();
    let (first, _) = mint(&home, &[]);
    let (second, _) = mint(&home, &["--scope", "repo:read,cloud:read"]);
    for key in [&account_key, &first, &second] {
        assert_eq!(repodata_status(&emu, key), 200);
    }
    let out = json_output(&home.run_ctl(&["--json", "logout", "--revoke"]));
    assert_eq!(out["removed"], true);
    assert_eq!(out["revoked"].as_array().map(Vec::len), Some(3), "{out}");
    for key in [&account_key, &first, &second] {
        assert_eq!(repodata_status(&emu, key), 401);
    }
}

#[test]
fn exec_hides_the_values_it_hands_out_in_the_commands_output_unless_told_not_to() {
    let (emu, home, _key) = world();
    let token = emu.org_token("acme").unwrap();
    let script = "echo key=$ANACONDA_AUTH_API_KEY tok=$ANACONDA_ORG_TOKEN_ACME; \
                  echo err=$ANACONDA_ORG_TOKEN_ACME >&2";
    let out = home.run_ctl(&["exec", "--org", "acme", "--", "sh", "-c", script]);
    assert_eq!(ok(&out), "key=*** tok=***\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err=***\n");
    let out = home.run_ctl(&[
        "exec",
        "--org",
        "acme",
        "--no-mask",
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert!(ok(&out).contains(&format!("tok={token}")));
}

#[test]
fn exec_revokes_the_key_it_minted_when_the_command_ends() {
    let (emu, home, account_key) = world();
    let seen = home.path().join("seen-key");
    let script = format!("printf %s \"$ANACONDA_AUTH_API_KEY\" > {}", seen.display());
    ok(&home.run_ctl(&["exec", "--", "sh", "-c", &script]));
    let key = std::fs::read_to_string(&seen).unwrap();
    assert!(!key.is_empty() && key != account_key, "a key minted for it");
    assert_eq!(repodata_status(&emu, &key), 401, "revoked at the end");
    assert_eq!(repodata_status(&emu, &account_key), 200);
}

#[test]
fn exec_exits_with_the_commands_status_and_passes_standard_input() {
    let (_emu, home, _key) = world();
    let out = home.run_ctl(&["exec", "--account-key", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    let missing = home.run_ctl(&["exec", "--account-key", "--", "no-such-command-here"]);
    assert_eq!(missing.status.code(), Some(127));

    let mut child = home
        .ctl()
        .args(["exec", "--account-key", "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"through standard input\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(ok(&out), "through standard input\n");
}

/// `exec` of a shell that says `ready`, then traps `signal`: the CLI is sent the signal, the
/// command gets it.
fn exec_passes_on(signal: &str) {
    let (_emu, home, _key) = world();
    let script = format!(
        "trap 'echo got-{signal}; exit 3' {signal}; echo ready; while :; do sleep 0.05; done"
    );
    let mut child = home
        .ctl()
        .args(["exec", "--account-key", "--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    anacondad_tests::harness::kill(child.id(), signal);
    assert_eq!(lines.next().unwrap().unwrap(), format!("got-{signal}"));
    assert_eq!(child.wait().unwrap().code(), Some(3));
}

#[test]
fn exec_passes_sigterm_on_to_the_command() {
    exec_passes_on("TERM");
}

#[test]
fn exec_passes_sigint_on_to_the_command() {
    exec_passes_on("INT");
}

#[test]
fn env_writes_assignments_a_shell_reads_back_and_github_masks_them() {
    let (emu, home, key) = world();
    let token = emu.org_token("acme").unwrap();
    let sh = ok(&home.run_ctl(&["env", "--org", "acme"]));
    let read_back = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{sh}\nprintf '%s %s' \"$ANACONDA_AUTH_API_KEY\" \"$ANACONDA_ORG_TOKEN_ACME\""
        ))
        .output()
        .unwrap();
    assert_eq!(ok(&read_back), format!("{key} {token}"));

    let github = ok(&home.run_ctl(&["env", "--format", "github", "--org", "acme"]));
    let lines: Vec<&str> = github.lines().collect();
    assert_eq!(
        lines,
        [
            format!("::add-mask::{key}").as_str(),
            format!("::add-mask::{token}").as_str(),
            format!("ANACONDA_AUTH_API_KEY={key}").as_str(),
            format!("ANACONDA_ORG_TOKEN_ACME={token}").as_str(),
        ]
    );

    let github_env = home.path().join("github-env");
    let mut in_a_step = home.ctl();
    in_a_step
        .env("GITHUB_ENV", &github_env)
        .args(["env", "--format", "github", "--org", "acme"]);
    let logged = ok(&in_a_step.output().unwrap());
    assert_eq!(logged.lines().collect::<Vec<_>>(), lines[..2]);
    assert_eq!(
        std::fs::read_to_string(&github_env)
            .unwrap()
            .lines()
            .collect::<Vec<_>>(),
        lines[2..]
    );

    let minted = ok(&home.run_ctl(&["env", "--mint", "--format", "dotenv"]));
    let minted = minted
        .trim()
        .strip_prefix("ANACONDA_AUTH_API_KEY=")
        .expect("one assignment");
    assert_ne!(minted, key);
    assert_eq!(repodata_status(&emu, minted), 200);
}
