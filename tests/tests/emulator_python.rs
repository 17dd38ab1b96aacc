//! Conformance of the emulator with the real Python client, anaconda-auth 0.15.3: device login,
//! `whoami`, and the repo-token steps of `anaconda token install`.
//!
//! Needs the venv of tests/scripts/setup-venv.sh (made on first use); without it these tests
//! fail, unless ANACONDAD_SKIP_PYTHON_TESTS=1 says to skip them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anacondad_tests::harness::python_venv_or_skip as venv_or_skip;
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use base64::Engine;
use serde_json::Value;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A temp home and an emulator over TLS, with the environment the Python client needs.
struct Site {
    emulator: EmulatorProcess,
    home: tempfile::TempDir,
    venv: PathBuf,
}

impl Site {
    fn start(venv: PathBuf) -> Site {
        let home = tempfile::tempdir().unwrap();
        let ca = home.path().join("emulator-ca.pem");
        let emulator = spawn_emulator(&["--tls", "--ca-out", ca.to_str().unwrap()]);
        Site {
            emulator,
            home,
            venv,
        }
    }

    fn keyring_path(&self) -> PathBuf {
        self.home.path().join("keyring")
    }

    /// A command in a clean environment: nothing of the developer's own Anaconda setup leaks in.
    fn command(&self, program: &str) -> Command {
        let ca = self.home.path().join("emulator-ca.pem");
        let mut command = Command::new(self.venv.join("bin").join(program));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("LANG", "C.UTF-8")
            .env("ANACONDA_AUTH_DOMAIN", self.emulator.domain())
            .env("ANACONDA_AUTH_KEYRING_PATH", self.keyring_path())
            // The client passes ssl_verify to requests as `verify`: a CA bundle path works.
            .env("ANACONDA_AUTH_SSL_VERIFY", &ca)
            .env("REQUESTS_CA_BUNDLE", &ca)
            .env("SSL_CERT_FILE", &ca)
            .env(
                "CONDA_TOKEN_REPO_URL",
                format!("{}/repo/", self.emulator.base_url),
            )
            // webbrowser.open() runs $BROWSER: `true` opens nothing, headless or not.
            .env("BROWSER", "true")
            .env("COLUMNS", "200")
            .stdin(std::process::Stdio::null());
        command
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let output = self.command(program).args(args).output().unwrap();
        eprintln!(
            "$ {program} {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// The client's stored record for the emulator's domain, decoded.
    fn stored_record(&self) -> Value {
        let file: Value =
            serde_json::from_slice(&std::fs::read(self.keyring_path()).unwrap()).unwrap();
        let encoded = file["Anaconda Cloud"][self.emulator.domain()]
            .as_str()
            .expect("a record for the emulator's domain");
        let json = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        serde_json::from_slice(&json).unwrap()
    }

    fn login(&self) {
        let output = self.run("anaconda", &["auth", "login"]);
        assert!(output.status.success(), "anaconda auth login failed");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("Login successful"), "{stdout}");
    }
}

fn control_client(site: &Site) -> reqwest::blocking::Client {
    let pem = std::fs::read(site.home.path().join("emulator-ca.pem")).unwrap();
    anacondad_tests::install_crypto_provider();
    reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

#[test]
fn python_client_logs_in_with_the_device_flow_and_whoami_shows_the_emulator_user() {
    let Some(venv) = venv_or_skip("python_client_logs_in_with_the_device_flow") else {
        return;
    };
    let site = Site::start(venv);
    site.login();

    let record = site.stored_record();
    assert_eq!(record["domain"], site.emulator.domain());
    assert_eq!(record["version"], 2);
    let api_key = record["api_key"].as_str().expect("an API key was stored");

    let output = site.run("anaconda", &["auth", "whoami"]);
    assert!(output.status.success());
    let account: Value = serde_json::from_slice(&output.stdout).expect("whoami prints JSON");
    assert_eq!(account["user"]["username"], "demo");
    assert_eq!(account["user"]["email"], "demo@example.com");

    // The stored key is one the emulator issued and accepts.
    let http = control_client(&site);
    let response = http
        .get(format!("{}/api/account", site.emulator.base_url))
        .bearer_auth(api_key)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let log: Value = http
        .get(format!("{}/_emulator/log", site.emulator.base_url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let paths: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    for expected in [
        "/.well-known/openid-configuration",
        "/api/auth/oauth2/device/auth",
        "/api/auth/oauth2/token",
        "/api/auth/api-keys",
        "/api/account",
    ] {
        assert!(paths.contains(&expected), "{expected} not in {paths:?}");
    }
}

#[test]
fn python_client_token_install_steps_get_a_working_token_for_an_org() {
    let Some(venv) = venv_or_skip("python_client_token_install_steps") else {
        return;
    };
    let site = Site::start(venv);
    site.login();
    let script = manifest_dir().join("python/token_install.py");
    let output = site.run("python", &[script.to_str().unwrap(), "acme"]);
    assert!(output.status.success(), "token_install.py failed");
    // The client prints its own messages first; the script's JSON is the last line.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    // `starter` subscriptions do not count: initech is not offered.
    assert_eq!(
        result["business_orgs"],
        serde_json::json!(["acme", "globex"])
    );
    assert_eq!(result["validation_status"], 200);

    let http = control_client(&site);
    let current: Value = http
        .get(format!(
            "{}/_emulator/orgs/acme/token",
            site.emulator.base_url
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(result["stored_token"], current["token"]);
    let record = site.stored_record();
    assert_eq!(record["repo_tokens"][0]["org_name"], "acme");
    assert_eq!(record["repo_tokens"][0]["token"], current["token"]);
}

#[test]
fn python_cli_token_install_reissues_before_it_needs_conda() {
    let Some(venv) = venv_or_skip("python_cli_token_install_reissues") else {
        return;
    };
    let site = Site::start(venv);
    site.login();
    let output = site.run("anaconda", &["token", "install", "--org", "acme", "--yes"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Your conda token has been installed and expires"),
        "{stdout}"
    );
    let http = control_client(&site);
    let current = http
        .get(format!(
            "{}/_emulator/orgs/acme/token",
            site.emulator.base_url
        ))
        .send()
        .unwrap();
    assert_eq!(current.status(), 200, "the CLI's PUT issued a token");
}

/// A free loopback port for the client's redirect listener (the client needs a fixed one).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn python_client_logs_in_with_the_browser_flow_and_pkce() {
    let Some(venv) = venv_or_skip("python_client_logs_in_with_the_browser_flow") else {
        return;
    };
    let site = Site::start(venv);
    let port = free_port();
    // The "browser": follows the authorize redirect to the client's loopback listener, which
    // starts only after webbrowser.open() returns, so it runs in the background and retries.
    let browser = site.home.path().join("browser.sh");
    std::fs::write(
        &browser,
        format!(
            "#!/bin/sh\ncurl -sSL --retry 20 --retry-connrefused --retry-delay 1 --cacert '{}' \"$1\" \
             >/dev/null 2>&1 &\n",
            site.home.path().join("emulator-ca.pem").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &browser,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let output = site
        .command("anaconda")
        .args(["auth", "login"])
        .env("ANACONDA_AUTH_USE_DEVICE_FLOW", "false")
        .env(
            "ANACONDA_AUTH_REDIRECT_URI",
            format!("http://127.0.0.1:{port}/auth/oidc"),
        )
        .env("BROWSER", format!("{} %s", browser.display()))
        .output()
        .unwrap();
    eprintln!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "browser login failed");
    assert!(site.stored_record()["api_key"].is_string());
    let log: Value = control_client(&site)
        .get(format!("{}/_emulator/log", site.emulator.base_url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let paths: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/api/auth/oauth2/auth"), "{paths:?}");
    assert!(paths.contains(&"/app/local-login-success"), "{paths:?}");
    assert!(
        !paths.contains(&"/api/auth/oauth2/device/auth"),
        "{paths:?}"
    );
}

#[test]
fn python_client_reads_an_expired_api_key_answer_as_login_required() {
    let Some(venv) = venv_or_skip("python_client_reads_an_expired_api_key_answer") else {
        return;
    };
    let site = Site::start(venv);
    site.login();
    let api_key = site.stored_record()["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let expired = control_client(&site)
        .post(format!("{}/_emulator/expire", site.emulator.base_url))
        .json(&serde_json::json!({"api_key": api_key}))
        .send()
        .unwrap();
    assert_eq!(expired.status(), 200);
    let output = site.run("anaconda", &["auth", "whoami"]);
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Your provided API Key or login token is invalid"),
        "the client did not see auth_required: {stdout}"
    );
}
