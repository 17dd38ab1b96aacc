//! `anacondactl login` and `token install|list|uninstall` end to end, non-interactive: the real
//! CLI and daemon against the emulator over HTTP, including the faults that used to leave users
//! without a working token.

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use anacondad_tests::harness::{TestHome, json_output, kill, wait_until_dead};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use serde_json::{Value, json};

/// A home whose daemon talks to a fresh emulator and keeps secrets in the file keyring.
struct World {
    home: TestHome,
    emu: EmulatorProcess,
    http: reqwest::blocking::Client,
}

impl World {
    fn new() -> Self {
        Self::with_storage("file")
    }

    fn with_storage(storage: &str) -> Self {
        let emu = spawn_emulator(&["--device-interval", "1"]);
        let home = TestHome::against(&emu).with_env("ANACONDAD_STORAGE", storage);
        Self {
            home,
            emu,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        self.emu.url(path)
    }

    fn control(&self, path: &str, body: Value) -> Value {
        self.emu.post(path, body)
    }

    fn org_token(&self, org: &str) -> Option<String> {
        self.emu.org_token(org)
    }

    fn fault(&self, body: Value) {
        self.control("/_emulator/faults", body);
    }

    fn clear_faults(&self) {
        let response = self
            .http
            .delete(self.url("/_emulator/faults"))
            .send()
            .unwrap();
        assert!(response.status().is_success());
    }

    fn requests_to(&self, prefix: &str) -> u64 {
        self.emu
            .get(&format!("/_emulator/counters?prefix={prefix}"))["total"]
            .as_u64()
            .unwrap()
    }

    /// How many PUT requests the emulator logged since its last reset.
    fn puts(&self) -> usize {
        self.emu.get("/_emulator/log")["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["method"] == "PUT")
            .count()
    }

    fn ctl(&self, args: &[&str]) -> Output {
        self.home.run_ctl(args)
    }

    /// Logs in with an API key minted by the emulator for the demo user.
    fn login(&self) {
        self.home.login_with_api_key(&self.emu.mint_api_key());
    }

    /// The Authorization header the conda plugin would send for `path`.
    fn plugin_header(&self, path: &str) -> String {
        let out = self.ctl(&["--json", "credential", "get", &self.url(path)]);
        json_output(&out)["header_value"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn fetch_with(&self, path: &str, header: &str) -> u16 {
        self.http
            .get(self.url(path))
            .header("Authorization", header)
            .send()
            .unwrap()
            .status()
            .as_u16()
    }

    fn condarc(&self) -> std::path::PathBuf {
        self.home.path().join(".condarc")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const REPODATA: &str = "/repo/main/noarch/repodata.json";

#[test]
fn install_stores_a_working_token_and_configures_conda() {
    let w = World::new();
    w.login();
    let out = w.ctl(&["token", "install", "--org", "acme", "--yes"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("Your conda token has been installed and expires"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "Success! Your token has been installed and validated, and conda has been configured."
        ),
        "{stdout}"
    );

    let condarc = std::fs::read_to_string(w.condarc()).unwrap();
    let expected = format!(
        "channel_settings:\n  - channel: {base}/*\n    auth: anacondad\ndefault_channels:\n  \
         - {base}/repo/main\n  - {base}/repo/r\n  - {base}/repo/msys2\nchannels:\n  - defaults\n",
        base = w.emu.base_url
    );
    assert_eq!(condarc, expected);

    // The stored token is the service's current one, and it opens the channel with the header
    // the conda plugin sends.
    let header = w.plugin_header(REPODATA);
    let current = w.org_token("acme").unwrap();
    assert_eq!(header, format!("token {current}"));
    assert_eq!(w.fetch_with(REPODATA, &header), 200);
    assert_eq!(
        w.fetch_with("/repo/acme/internal/noarch/repodata.json", &header),
        200
    );

    // It is kept where anaconda-auth looks for it: the file keyring, mode 0600.
    let keyring = w.home.path().join(".anaconda/keyring");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&keyring).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let file: Value = serde_json::from_slice(&std::fs::read(&keyring).unwrap()).unwrap();
    assert!(file["Anaconda Cloud"][w.emu.domain()].is_string(), "{file}");

    // `token list` shows it masked, with expiry and the next renewal.
    let list = json_output(&w.ctl(&["--json", "token", "list"]));
    let token = &list["tokens"][0];
    assert_eq!(token["org"], "acme");
    assert_eq!(token["state"], "valid");
    assert!(token["expires_at"].is_string() && token["next_refresh_at"].is_string());
    let masked = token["token"].as_str().unwrap();
    assert!(masked.starts_with("****") && !masked.contains(&current[..current.len() - 4]));
    let human = text(&w.ctl(&["token", "list"]).stdout);
    assert!(
        human.contains("acme") && !human.contains(&current),
        "{human}"
    );
}

#[test]
fn a_second_install_with_yes_reissues_and_leaves_condarc_unchanged() {
    let w = World::new();
    w.login();
    assert!(
        w.ctl(&["token", "install", "--org", "acme", "--yes"])
            .status
            .success()
    );
    let first = w.org_token("acme").unwrap();
    let condarc_before = std::fs::read(w.condarc()).unwrap();
    let modified_before = std::fs::metadata(w.condarc()).unwrap().modified().unwrap();

    let out = w.ctl(&["token", "install", "--org", "acme", "--yes"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("An existing token already exists for the organization acme: "));
    assert!(stdout.contains("already configured"), "{stdout}");
    assert!(!stdout.contains("Backing up"), "{stdout}");
    assert!(!w.home.path().join(".condarc.bak").exists());
    assert_eq!(std::fs::read(w.condarc()).unwrap(), condarc_before);
    assert_eq!(
        std::fs::metadata(w.condarc()).unwrap().modified().unwrap(),
        modified_before
    );

    let second = w.org_token("acme").unwrap();
    assert_ne!(first, second, "the token was reissued");
    assert_eq!(w.fetch_with(REPODATA, &format!("token {first}")), 401);
    assert_eq!(w.plugin_header(REPODATA), format!("token {second}"));
}

#[test]
fn without_a_terminal_install_names_the_flag_that_answers_the_question() {
    let w = World::new();
    w.login();
    let out = w.ctl(&["token", "install"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains("--org"), "{}", text(&out.stderr));

    assert!(
        w.ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"])
            .status
            .success()
    );
    assert!(!w.condarc().exists(), "--no-condarc leaves conda alone");
    let before = w.org_token("acme").unwrap();
    let out = w.ctl(&["token", "install", "--org", "acme"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    assert_eq!(w.org_token("acme").unwrap(), before, "nothing was reissued");
}

#[test]
fn install_without_login_says_how_to_log_in() {
    let w = World::new();
    let out = w.ctl(&["token", "install", "--org", "acme", "--yes"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(
        text(&out.stderr).contains("anacondactl login"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_token_given_with_its_org_is_installed_without_a_login() {
    let w = World::new();
    let issued = w.control("/_emulator/orgs/globex/token", json!({}));
    let token = issued["token"].as_str().unwrap().to_owned();
    let out = w.ctl(&[
        "token",
        "install",
        &token,
        "--org",
        "globex",
        "--no-condarc",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(&token));
    assert_eq!(w.plugin_header(REPODATA), format!("token {token}"));
    let list = text(&w.ctl(&["token", "list"]).stdout);
    assert!(list.contains("globex") && !list.contains(&token), "{list}");
}

#[test]
fn a_failed_validation_keeps_the_new_token_and_says_why() {
    let w = World::new();
    w.login();
    w.fault(json!({"path_prefix": "/t/", "count": 1, "kind": "status", "status": 403}));
    let out = w.ctl(&["token", "install", "--org", "acme", "--yes"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is stored") && stderr.contains("HTTP 403"),
        "{stderr}"
    );
    assert!(!stderr.contains("Aborted"));
    assert!(
        !w.condarc().exists(),
        "conda is not pointed at a token that failed its check"
    );

    // The token the service issued is the one stored, and once the repository answers again
    // it works.
    let current = w.org_token("acme").unwrap();
    assert_eq!(w.plugin_header(REPODATA), format!("token {current}"));
    assert_eq!(w.fetch_with(REPODATA, &format!("token {current}")), 200);
    // `token list` asks the service, which says the token is its current one: the refusal
    // recorded at install no longer stands.
    let list = json_output(&w.ctl(&["--json", "token", "list"]));
    assert_eq!(list["tokens"][0]["state"], "valid", "{list}");
}

#[test]
fn a_failed_reissue_keeps_the_previous_token() {
    let w = World::new();
    w.login();
    assert!(
        w.ctl(&["token", "install", "--org", "acme", "--yes"])
            .status
            .success()
    );
    let previous = w.org_token("acme").unwrap();
    w.control("/_emulator/reset", json!({}));
    w.fault(
        json!({"path_prefix": "/api/organizations/acme/ce/current-token", "method": "PUT",
                   "count": 1, "kind": "status", "status": 500}),
    );
    let out = w.ctl(&["token", "install", "--org", "acme", "--yes"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("may have carried it out"), "{stderr}");
    assert_eq!(
        w.puts(),
        1,
        "a reissue whose outcome is unknown is never repeated"
    );
    // The service did not act, so the stored token is still the working one.
    assert_eq!(w.org_token("acme").unwrap(), previous);
    assert_eq!(w.plugin_header(REPODATA), format!("token {previous}"));
    assert_eq!(w.fetch_with(REPODATA, &format!("token {previous}")), 200);
}

/// Waits (bounded) until the emulator has seen a request under `prefix`.
fn wait_for_request(w: &World, prefix: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while w.requests_to(prefix) == 0 {
        assert!(
            Instant::now() < deadline,
            "no request to {prefix} within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_daemon_killed_right_after_the_reissue_leaves_the_new_token_stored() {
    let w = World::new();
    w.login();
    assert!(
        w.ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"])
            .status
            .success()
    );
    let before = w.org_token("acme").unwrap();
    // The validation request hangs: the daemon has reissued and is checking the new token.
    w.control("/_emulator/reset", json!({}));
    w.fault(json!({"path_prefix": "/t/", "count": 1, "kind": "hang", "millis": 20000}));
    let install: Child = w
        .home
        .ctl()
        .args(["token", "install", "--org", "acme", "--yes", "--no-condarc"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_request(&w, "/t/", Duration::from_secs(20));
    let daemon = w.home.daemon_pid().unwrap();
    kill(daemon, "KILL");
    let out = install.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    wait_until_dead(daemon, Duration::from_secs(10));
    w.clear_faults();

    // The old token is revoked; the new one was stored before the daemon died.
    let after = w.org_token("acme").unwrap();
    assert_ne!(before, after);
    assert_eq!(w.fetch_with(REPODATA, &format!("token {before}")), 401);
    let header = w.plugin_header(REPODATA);
    assert_eq!(header, format!("token {after}"));
    assert_eq!(w.fetch_with(REPODATA, &header), 200);
}

#[test]
fn a_malformed_condarc_is_refused_with_its_line_before_anything_is_issued() {
    let w = World::new();
    w.login();
    let broken = "channels:\n  - defaults\n default_channels: [oops\n";
    std::fs::write(w.condarc(), broken).unwrap();
    let out = w.ctl(&["token", "install", "--org", "acme", "--yes"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("line") && stderr.contains("column"),
        "{stderr}"
    );
    assert!(stderr.contains("condarc apply"), "{stderr}");
    assert_eq!(std::fs::read_to_string(w.condarc()).unwrap(), broken);
    let status = json_output(&w.ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["condarc"]["state"], "malformed");
    assert!(
        status["condarc"]["detail"]
            .as_str()
            .unwrap()
            .contains("line"),
        "{status}"
    );
    // The file is checked before the service is asked for anything.
    assert!(stderr.contains("Nothing was reissued"), "{stderr}");
    assert_eq!(w.org_token("acme"), None);
}

#[test]
fn condarc_check_show_and_apply_agree() {
    let w = World::new();
    let original = "# my settings\nchannels:\n  - conda-forge  # first\n  - defaults\n";
    std::fs::write(w.condarc(), original).unwrap();
    let check = w.ctl(&["condarc", "check"]);
    assert_eq!(check.status.code(), Some(6));
    let show = text(&w.ctl(&["condarc", "show"]).stdout);
    assert!(
        show.contains("+channel_settings:") && show.contains("auth: anacondad"),
        "{show}"
    );
    assert_eq!(
        std::fs::read_to_string(w.condarc()).unwrap(),
        original,
        "show writes nothing"
    );
    let apply = w.ctl(&["condarc", "apply"]);
    assert!(apply.status.success(), "{}", text(&apply.stderr));
    assert!(text(&apply.stdout).contains("Backing up config to"));
    assert_eq!(
        std::fs::read_to_string(w.home.path().join(".condarc.bak")).unwrap(),
        original
    );
    let now = std::fs::read_to_string(w.condarc()).unwrap();
    assert!(
        now.starts_with(original),
        "everything the user wrote is kept: {now}"
    );
    assert!(w.ctl(&["condarc", "check"]).status.success());
    let again = text(&w.ctl(&["condarc", "apply"]).stdout);
    assert!(again.contains("nothing changed"), "{again}");
}

#[test]
fn uninstalling_the_last_token_removes_our_channel_settings_entry() {
    let w = World::new();
    w.login();
    assert!(
        w.ctl(&["token", "install", "--org", "acme", "--yes"])
            .status
            .success()
    );
    assert!(
        w.ctl(&["token", "install", "--org", "globex", "--yes"])
            .status
            .success()
    );
    let out = w.ctl(&["token", "uninstall", "--org", "acme"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(w.condarc())
            .unwrap()
            .contains("auth: anacondad")
    );
    let out = w.ctl(&["token", "uninstall", "--org", "globex"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let condarc = std::fs::read_to_string(w.condarc()).unwrap();
    assert!(!condarc.contains("channel_settings"), "{condarc}");
    // There was no .condarc before: the default channels of a repository conda can no
    // longer authenticate to go too, and the output says so.
    assert!(
        !condarc.contains("default_channels"),
        "no token is left for the default channels: {condarc}"
    );
    let said = text(&out.stdout);
    assert!(said.contains("default_channels"), "{said}");
    let list = json_output(&w.ctl(&["--json", "token", "list"]));
    assert_eq!(list["tokens"], json!([]));
    let missing = w.ctl(&["token", "uninstall", "--org", "acme"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no token is stored for the organization acme"));
}

#[test]
fn logout_keeps_repo_tokens_and_whoami_then_asks_for_a_login() {
    let w = World::new();
    w.login();
    let who = json_output(&w.ctl(&["--json", "whoami"]));
    assert_eq!(who["username"], "demo");
    assert!(
        w.ctl(&["token", "install", "--org", "acme", "--yes"])
            .status
            .success()
    );
    assert!(w.ctl(&["logout"]).status.success());
    let out = w.ctl(&["whoami"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out.stderr).contains("anacondactl login"));
    let current = w.org_token("acme").unwrap();
    assert_eq!(w.plugin_header(REPODATA), format!("token {current}"));
}

#[test]
fn device_login_through_the_daemon_stores_an_api_key() {
    let w = World::new();
    let out = w.ctl(&["login", "--no-browser"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("confirm the code") && stdout.contains("Logged in as demo"),
        "{stdout}"
    );
    let status = json_output(&w.ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["login"]["state"], "logged_in");
    assert_eq!(
        status["login"]["can_renew"], true,
        "the refresh token is kept"
    );
    assert_eq!(status["storage"]["backend"], "file");
    let again = text(&w.ctl(&["login"]).stdout);
    assert!(again.contains("Already logged in"), "{again}");
    // A restarted daemon still knows who is logged in, without asking the service.
    assert!(w.ctl(&["daemon", "stop"]).status.success());
    let status = json_output(&w.ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["login"]["username"], "demo");
    assert_eq!(status["login"]["state"], "logged_in");
}

#[test]
fn with_system_storage_the_token_lives_in_the_secret_service() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(
            std::env::var_os("ANACONDAD_SKIP_KEYCHAIN_TESTS").is_some(),
            "needs a Secret Service: run under tests/scripts/with-keyring.sh (or set \
             ANACONDAD_SKIP_KEYCHAIN_TESTS=1)"
        );
        return;
    }
    let w = World::with_storage("system");
    w.login();
    let out = w.ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !w.home.path().join(".anaconda/keyring").exists(),
        "no file fallback"
    );
    let lookup = std::process::Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            "Anaconda Cloud",
            "username",
            &w.emu.domain(),
        ])
        .output()
        .unwrap();
    assert!(lookup.status.success(), "{}", text(&lookup.stderr));
    let record = String::from_utf8(lookup.stdout).unwrap();
    let decoded = base64_decode(record.trim());
    let record: Value = serde_json::from_slice(&decoded).unwrap();
    assert_eq!(record["repo_tokens"][0]["org_name"], "acme");
    assert_eq!(
        record["repo_tokens"][0]["token"].as_str().unwrap(),
        w.org_token("acme").unwrap()
    );
    let status = json_output(&w.ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["storage"]["backend"], "system");
    assert!(status["storage"]["warning"].is_null(), "{status}");
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("the record is standard base64")
}

#[test]
fn install_can_name_another_condarc_and_the_existing_conda_plugin() {
    let w = World::new();
    w.login();
    let other = w.home.path().join("conda/condarc.yml");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::fs::write(&other, "# shared settings\nssl_verify: true\n").unwrap();
    let out = w.ctl(&[
        "token",
        "install",
        "--org",
        "acme",
        "--yes",
        "--condarc",
        other.to_str().unwrap(),
        "--auth-handler",
        "anaconda-auth",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!w.condarc().exists(), "~/.condarc is left alone");
    let written = std::fs::read_to_string(&other).unwrap();
    assert!(
        written.starts_with("# shared settings\nssl_verify: true\n"),
        "{written}"
    );
    assert!(written.contains("    auth: anaconda-auth\n"), "{written}");
    assert_eq!(
        std::fs::read_to_string(other.with_extension("yml.bak")).unwrap(),
        "# shared settings\nssl_verify: true\n"
    );
}

#[test]
fn uninstalling_the_last_token_gives_condarc_back_its_channels_from_before() {
    let w = World::new();
    w.login();
    let original = "# mine\nchannels:\n  - conda-forge\nsolver: libmamba\n";
    std::fs::write(w.condarc(), original).unwrap();
    let install = w.ctl(&["token", "install", "--org", "acme", "--yes"]);
    assert!(install.status.success(), "{}", text(&install.stderr));
    let configured = std::fs::read_to_string(w.condarc()).unwrap();
    assert!(configured.contains("- defaults"), "{configured}");

    let out = w.ctl(&["token", "uninstall", "--org", "acme"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(w.condarc()).unwrap(), original);
    let said = text(&out.stdout);
    for part in ["default_channels", "channels: take out the defaults"] {
        assert!(said.contains(part), "{part:?} is not said: {said}");
    }
}

#[test]
fn uninstalling_the_last_token_keeps_default_channels_the_user_changed_and_says_how_to_restore() {
    let w = World::new();
    w.login();
    let original = "solver: libmamba\n";
    std::fs::write(w.condarc(), original).unwrap();
    let install = w.ctl(&["token", "install", "--org", "acme", "--yes"]);
    assert!(install.status.success(), "{}", text(&install.stderr));
    let configured = std::fs::read_to_string(w.condarc()).unwrap();
    let edited = configured.replace(
        &format!("  - {}\n", w.url("/repo/msys2")),
        "  - https://mirror.example/msys2\n",
    );
    assert_ne!(edited, configured, "the test edits default_channels");
    std::fs::write(w.condarc(), &edited).unwrap();

    let out = w.ctl(&["token", "uninstall", "--org", "acme"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = std::fs::read_to_string(w.condarc()).unwrap();
    assert!(after.contains("https://mirror.example/msys2"), "{after}");
    let said = text(&out.stdout);
    assert!(said.contains("--restore-condarc"), "{said}");

    let restore = w.ctl(&["token", "uninstall", "--all", "--restore-condarc"]);
    assert!(restore.status.success(), "{}", text(&restore.stderr));
    assert_eq!(std::fs::read_to_string(w.condarc()).unwrap(), original);
}

#[test]
fn uninstall_all_with_restore_puts_the_previous_default_channels_back() {
    let w = World::new();
    w.login();
    let original = "default_channels:\n  - https://mirror.example/main\n";
    std::fs::write(w.condarc(), original).unwrap();
    assert!(
        w.ctl(&["token", "install", "--org", "acme", "--yes"])
            .status
            .success()
    );
    assert!(
        std::fs::read_to_string(w.condarc())
            .unwrap()
            .contains("/repo/main")
    );
    let out = w.ctl(&["--json", "token", "uninstall", "--all", "--restore-condarc"]);
    let answer = json_output(&out);
    assert_eq!(answer["removed"], json!(["acme"]));
    assert_eq!(answer["condarc_changed"], true);
    assert_eq!(std::fs::read_to_string(w.condarc()).unwrap(), original);
}

#[test]
fn refresh_reissues_now_and_the_new_token_is_served() {
    let w = World::new();
    w.login();
    assert!(
        w.ctl(&[
            "token",
            "install",
            "--org",
            "globex",
            "--yes",
            "--no-condarc"
        ])
        .status
        .success()
    );
    let before = w.org_token("globex").unwrap();
    let out = w.ctl(&["token", "refresh", "--org", "globex", "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = w.org_token("globex").unwrap();
    assert_ne!(before, after);
    assert_eq!(w.fetch_with(REPODATA, &format!("token {before}")), 401);
    assert_eq!(
        w.plugin_header("/repo/globex/x/noarch/repodata.json"),
        format!("token {after}")
    );
}

#[test]
fn browser_login_completes_through_the_loopback_redirect() {
    let w = World::new();
    // Any free port: the real service registers 8000, the emulator takes any loopback one.
    let rest = w
        .home
        .login_through_browser(&[("ANACONDAD_BROWSER_LOGIN_PORT", "0")]);
    assert!(
        rest.iter().any(|l| l.starts_with("Logged in as demo")),
        "{rest:?}"
    );
    let status = json_output(&w.ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["login"]["state"], "logged_in");
}
