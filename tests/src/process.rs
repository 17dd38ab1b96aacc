//! Runs the built `anaconda-emulator` binary for end-to-end tests and stops it on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Environment variable naming the emulator binary, when it is not next to the test executable.
pub const EMULATOR_BIN_ENV: &str = "ANACONDA_EMULATOR_BIN";

/// A running `anaconda-emulator` process; killed and reaped on drop.
#[derive(Debug)]
pub struct EmulatorProcess {
    /// The base URL the emulator printed on its first line, e.g. `http://127.0.0.1:43121`.
    pub base_url: String,
    child: Child,
}

impl EmulatorProcess {
    /// The port the emulator listens on.
    pub fn port(&self) -> u16 {
        self.base_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the emulator prints a base URL ending in :<port>")
    }

    /// `127.0.0.1:<port>`: the value anaconda-auth takes as its domain.
    pub fn domain(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `<base_url><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// POSTs `body` to `path` (a test control under `/_emulator/`, usually) and returns the
    /// JSON answer; panics unless it succeeded.
    pub fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let response = http()
            .post(self.url(path))
            .json(&body)
            .send()
            .expect("emulator");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().expect("a JSON answer")
    }

    /// Clears every injected fault (`DELETE /_emulator/faults`); panics unless it worked.
    pub fn clear_faults(&self) {
        let response = http()
            .delete(self.url("/_emulator/faults"))
            .send()
            .expect("emulator");
        assert!(response.status().is_success(), "{}", response.status());
    }

    /// GETs `path` and returns the JSON answer; panics unless it succeeded.
    pub fn get(&self, path: &str) -> serde_json::Value {
        let response = http().get(self.url(path)).send().expect("emulator");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().expect("a JSON answer")
    }

    /// Waits (bounded) until the emulator has received a `method` request whose path ends with
    /// `path_suffix` and that a fault is holding or failing.
    pub fn wait_for_faulted_request(&self, method: &str, path_suffix: &str, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            let log = self.get("/_emulator/log");
            let seen = log["entries"].as_array().into_iter().flatten().any(|e| {
                e["method"] == method
                    && e["path"].as_str().is_some_and(|p| p.ends_with(path_suffix))
                    && e["fault"].as_str().is_some_and(|f| !f.is_empty())
            });
            if seen {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no faulted {method} request to ...{path_suffix} within {timeout:?}");
    }

    /// The organisation's current repo token on the service, if it has one.
    pub fn org_token(&self, org: &str) -> Option<String> {
        let response = http()
            .get(self.url(&format!("/_emulator/orgs/{org}/token")))
            .send()
            .expect("emulator");
        if response.status() == 404 {
            return None;
        }
        let body: serde_json::Value = response.json().expect("a JSON answer");
        Some(body["token"].as_str().expect("a token").to_owned())
    }

    /// A fresh API key of the emulator's login user (`demo` in the default world), minted by
    /// the test controls.
    pub fn mint_api_key(&self) -> String {
        let minted = self.post("/_emulator/api-keys", serde_json::json!({}));
        minted["api_key"].as_str().expect("an API key").to_owned()
    }
}

/// A client for the test controls: no proxy, bounded waits.
fn http() -> reqwest::blocking::Client {
    crate::install_crypto_provider();
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the emulator binary is: `$ANACONDA_EMULATOR_BIN`, else `target/<profile>/` next to the
/// running test executable (which lives in `target/<profile>/deps/`).
pub fn emulator_binary() -> PathBuf {
    if let Some(path) = std::env::var_os(EMULATOR_BIN_ENV) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test knows its own executable");
    let mut dir = exe.parent().expect("the test executable is in a directory");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("deps/ has a parent");
    }
    dir.join(format!("anaconda-emulator{}", std::env::consts::EXE_SUFFIX))
}

/// Starts the emulator binary with `args` (add `--port 0` implicitly), waits for its first stdout
/// line and returns the process. Panics with the reason if it cannot start: this is test support.
pub fn spawn_emulator(args: &[&str]) -> EmulatorProcess {
    // Every test that talks HTTP starts here: its own clients need the crypto provider too.
    crate::install_crypto_provider();
    let binary = emulator_binary();
    let mut command = Command::new(&binary);
    if !args.contains(&"--port") {
        command.args(["--port", "0"]);
    }
    let mut child = command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): build it with `cargo build -p anacondad-tests --bin \
                 anaconda-emulator` or set {EMULATOR_BIN_ENV}",
                binary.display()
            )
        });
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut first_line = String::new();
    let read = BufReader::new(stdout).read_line(&mut first_line);
    let base_url = first_line.trim().to_string();
    if read.is_err() || !base_url.starts_with("http") {
        let _ = child.kill();
        let status = child.wait();
        panic!(
            "{} did not print its base URL (first line {first_line:?}, exit {status:?}); \
             its stderr above says why",
            binary.display()
        );
    }
    EmulatorProcess { base_url, child }
}
