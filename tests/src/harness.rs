//! Runs the real `anacondad` and `anacondactl` in a temporary home: every test gets its own
//! HOME, XDG directories and socket, and the processes it starts are killed when it ends.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a test waits for a daemon to say it is ready before failing.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Variables a test process passes through from the environment of `cargo test`.
const PASSED_THROUGH: &[&str] = &[
    "PATH",
    "LANG",
    "LC_ALL",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "DBUS_SESSION_BUS_ADDRESS",
    "TMPDIR",
];

/// The directory holding the workspace's built binaries: `ANACONDAD_TEST_BIN_DIR`, else the
/// profile directory of the running test executable (`target/<profile>/deps/..`).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ANACONDAD_TEST_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the test executable has a path");
    let mut dir = exe
        .parent()
        .expect("the test executable has a directory")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// The path of a workspace binary, with a hint to build it when it is missing.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace binaries first (`cargo build --workspace --bins`)",
        path.display()
    );
    path
}

/// The virtualenv of `tests/scripts/setup-venv.sh` (the real anaconda-auth, requests, a build
/// backend), made on first use; or why it cannot be had. Once per test process.
pub fn python_venv() -> &'static Result<PathBuf, String> {
    static VENV: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    VENV.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/setup-venv.sh");
        let output = Command::new("bash")
            .arg(&script)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !output.status.success() {
            return Err(format!(
                "{} failed ({}): {}",
                script.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(PathBuf::from(
            String::from_utf8_lossy(&output.stdout).trim().to_string(),
        ))
    })
}

/// Set to 1 to skip the tests that need the Python venv.
pub const SKIP_PYTHON_ENV: &str = "ANACONDAD_SKIP_PYTHON_TESTS";

/// The venv of [`python_venv`], or `None` when the Python tests are skipped on purpose
/// ([`SKIP_PYTHON_ENV`]); a venv that cannot be made is a failure.
pub fn python_venv_or_skip(test: &str) -> Option<PathBuf> {
    if std::env::var_os(SKIP_PYTHON_ENV).is_some_and(|v| v == "1") {
        eprintln!("SKIPPED {test}: {SKIP_PYTHON_ENV}=1");
        return None;
    }
    match python_venv() {
        Ok(path) => Some(path.clone()),
        Err(reason) => panic!(
            "{test}: the Python venv of tests/scripts/setup-venv.sh is needed \
             ({SKIP_PYTHON_ENV}=1 skips these tests): {reason}"
        ),
    }
}

/// The venv of [`python_venv_or_skip`] for a test that also needs a Secret Service: `None`
/// when the machine has none and `ANACONDAD_SKIP_KEYCHAIN_TESTS` says that is on purpose.
pub fn keychain_python_venv_or_skip(test: &str) -> Option<PathBuf> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(
            std::env::var_os("ANACONDAD_SKIP_KEYCHAIN_TESTS").is_some(),
            "needs a Secret Service: run under tests/scripts/with-keyring.sh (or set \
             ANACONDAD_SKIP_KEYCHAIN_TESTS=1)"
        );
        return None;
    }
    python_venv_or_skip(test)
}

/// A private home for one test, with its own XDG directories and socket. When it is dropped,
/// a daemon still serving its default socket (e.g. one `anacondactl` started) is killed.
#[derive(Debug)]
pub struct TestHome {
    dir: tempfile::TempDir,
    extra_env: Vec<(OsString, OsString)>,
}

impl Drop for TestHome {
    fn drop(&mut self) {
        // An in-process daemon's pid is this test's own: it stops with its handle instead.
        if let Some(pid) = self.daemon_pid()
            && pid != std::process::id()
            && process_alive(pid)
        {
            kill(pid, "KILL");
        }
    }
}

impl Default for TestHome {
    fn default() -> Self {
        Self::new()
    }
}

impl TestHome {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("anacondad-test-")
            .tempdir()
            .expect("a temp dir");
        let runtime = dir.path().join("run");
        std::fs::create_dir(&runtime).expect("runtime dir");
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))
            .expect("runtime dir mode");
        Self {
            dir,
            extra_env: Vec::new(),
        }
    }

    /// A home whose daemon talks to `emulator` (domain and repository) and keeps secrets in the
    /// file keyring (the keychain has tests of its own).
    pub fn against(emulator: &crate::EmulatorProcess) -> Self {
        Self::new()
            .with_env("ANACONDA_AUTH_DOMAIN", &emulator.base_url)
            .with_env("CONDA_TOKEN_REPO_URL", emulator.url("/repo/"))
            .with_env("ANACONDAD_STORAGE", "file")
    }

    /// `anacondactl login --api-key-stdin`, the key on standard input; panics unless it worked.
    pub fn login_with_api_key(&self, api_key: &str) -> Output {
        let out = self.run_ctl_with_stdin(&["login", "--api-key-stdin"], api_key.as_bytes());
        assert!(
            out.status.success(),
            "login: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs `anacondactl args` with `input` on its standard input, then closed.
    pub fn run_ctl_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .ctl()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("anacondactl runs");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input)
            .expect("the input is written");
        child.wait_with_output().expect("anacondactl ends")
    }

    /// Adds a variable to the environment of every process this home starts.
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.extra_env.push((key.into(), value.into()));
        self
    }

    /// The pid written in the lock of this home's default socket, if any.
    pub fn daemon_pid(&self) -> Option<u32> {
        let lock = anacondad_proto::socket::lock_path(&self.socket());
        std::fs::read_to_string(lock).ok()?.trim().parse().ok()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `$XDG_RUNTIME_DIR` of this home.
    pub fn runtime_dir(&self) -> PathBuf {
        self.path().join("run")
    }

    /// Where the daemon's socket lives by default in this home.
    pub fn socket(&self) -> PathBuf {
        self.runtime_dir().join("anacondad/anacondad.sock")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path().join("state/anacondad")
    }

    /// The environment every process of this home runs with.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = PASSED_THROUGH
            .iter()
            .filter_map(|k| std::env::var_os(k).map(|v| (OsString::from(k), v)))
            .collect();
        let home = self.path();
        env.extend([
            ("HOME".into(), home.into()),
            ("XDG_RUNTIME_DIR".into(), self.runtime_dir().into()),
            ("XDG_CONFIG_HOME".into(), home.join("config").into()),
            ("XDG_STATE_HOME".into(), home.join("state").into()),
            ("XDG_DATA_HOME".into(), home.join("data").into()),
            ("ANACONDAD_BIN".into(), bin("anacondad").into()),
        ]);
        env.extend(self.extra_env.iter().cloned());
        env
    }

    /// `anacondactl login --browser`, playing the browser: follows the authorization URL the
    /// CLI prints to the service, then the service's redirect to the daemon's loopback
    /// listener. Returns the CLI's remaining output lines once it has exited successfully.
    /// The daemon must listen on any free port (`ANACONDAD_BROWSER_LOGIN_PORT=0`, in `env` for
    /// a daemon the CLI starts, or in the home's environment).
    pub fn login_through_browser(&self, env: &[(&str, &str)]) -> Vec<String> {
        let mut login = self
            .ctl()
            .envs(env.iter().copied())
            .args(["login", "--browser", "--no-browser"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("anacondactl runs");
        let mut lines = BufReader::new(login.stdout.take().expect("piped stdout")).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the CLI prints the URL")
                .expect("a line");
            if line.starts_with("http") {
                break line;
            }
        };
        assert!(url.contains("code_challenge_method=S256"), "{url}");
        crate::install_crypto_provider();
        let browser = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        let to_loopback = browser.get(&url).send().expect("the service answers");
        assert!(
            to_loopback.status().is_redirection(),
            "{}",
            to_loopback.status()
        );
        let location = to_loopback.headers()["location"]
            .to_str()
            .expect("a redirect")
            .to_owned();
        assert!(location.starts_with("http://127.0.0.1:"), "{location}");
        let done = browser.get(&location).send().expect("the daemon answers");
        assert!(done.status().is_redirection(), "{}", done.status());
        let rest: Vec<String> = lines.map(|l| l.expect("a line")).collect();
        assert!(login.wait().expect("the CLI ends").success(), "{rest:?}");
        rest
    }

    /// `anacondactl` with this home's environment and nothing else, and no terminal: it runs
    /// in a session of its own, so it cannot ask on the terminal `cargo test` runs in (the
    /// CLI asks on its controlling terminal when standard input or output is not one).
    pub fn ctl(&self) -> Command {
        let mut cmd = Command::new(bin("anacondactl"));
        cmd.env_clear().envs(self.env()).stdin(Stdio::null());
        without_controlling_terminal(&mut cmd);
        cmd
    }

    /// `anacondad` with this home's environment and nothing else.
    pub fn daemon_command(&self) -> Command {
        let mut cmd = Command::new(bin("anacondad"));
        cmd.env_clear().envs(self.env()).stdin(Stdio::null());
        cmd
    }

    /// Runs `anacondactl <args>` to completion.
    pub fn run_ctl(&self, args: &[&str]) -> Output {
        self.ctl().args(args).output().expect("anacondactl runs")
    }

    /// Runs `anacondactl <args>` to completion, failing the test (after killing it) when it
    /// takes longer than `timeout`: for commands that must not hang.
    pub fn run_ctl_within(&self, args: &[&str], timeout: Duration) -> Output {
        let child = self
            .ctl()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("anacondactl runs");
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(timeout) {
            Ok(output) => output.expect("wait for anacondactl"),
            Err(_) => {
                kill(pid, "KILL");
                panic!("anacondactl {args:?} did not finish within {timeout:?}")
            }
        }
    }

    /// Starts a daemon on this home's default socket and waits until it is ready.
    pub fn start_daemon(&self) -> DaemonProcess {
        self.start_daemon_on(&self.socket())
    }

    /// Starts a daemon on `socket` and waits for its ready line (no polling, no sleeping).
    pub fn start_daemon_on(&self, socket: &Path) -> DaemonProcess {
        self.start_daemon_with(socket, &[])
    }

    /// [`TestHome::start_daemon_on`] with `env` added for this daemon only.
    pub fn start_daemon_with(&self, socket: &Path, env: &[(&str, &str)]) -> DaemonProcess {
        let log = self.path().join(format!(
            "daemon-{}.log",
            socket.file_name().unwrap_or_default().to_string_lossy()
        ));
        let mut child = self
            .daemon_command()
            .envs(env.iter().copied())
            .args(["--foreground", "--spawned", "--socket"])
            .arg(socket)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("anacondad starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(READY_TIMEOUT).unwrap_or_default();
        assert!(
            line.starts_with("ready "),
            "anacondad did not become ready (said {line:?}); its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        DaemonProcess {
            child: Some(child),
            log,
            socket: socket.to_path_buf(),
        }
    }
}

/// A running daemon started by a test; killed on drop.
#[derive(Debug)]
pub struct DaemonProcess {
    child: Option<Child>,
    log: PathBuf,
    socket: PathBuf,
}

impl DaemonProcess {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Everything the daemon has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the daemon to exit by itself, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the daemon is running");
        let (tx, rx) = mpsc::channel();
        let pid = child.id();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        match rx.recv_timeout(timeout) {
            Ok(status) => status.expect("wait for anacondad"),
            Err(_) => {
                kill(pid, "KILL");
                panic!("anacondad (pid {pid}) did not exit within {timeout:?}")
            }
        }
    }

    /// Sends a signal by name (`TERM`, `KILL`, ...).
    pub fn signal(&self, name: &str) {
        kill(self.pid(), name);
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `kill -<signal> <pid>`.
pub fn kill(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status();
}

/// True while any thread of the process with this pid still runs. (A killed multi-threaded
/// process shows its main thread as a zombie while the others are still closing its files,
/// its sockets among them.)
pub fn process_alive(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.filter_map(Result::ok).any(|task| {
        std::fs::read_to_string(task.path().join("stat"))
            .map(|stat| {
                // The state letter follows the parenthesised command name.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next())
                    .is_some_and(|state| state != "Z" && state != "X")
            })
            .unwrap_or(false)
    })
}

/// Waits (bounded) until every thread of `pid` is gone, e.g. after `kill -9`.
pub fn wait_until_dead(pid: u32, timeout: Duration) {
    let deadline = std::time::Instant::now() + timeout;
    while process_alive(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} still runs after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills, at the end of a test, a daemon that `anacondactl` started by itself.
#[derive(Debug)]
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0 != 0 && process_alive(self.0) {
            kill(self.0, "KILL");
        }
    }
}

/// The check `id` of a `doctor --json` report; panics with the whole report when it is missing.
pub fn doctor_check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

/// The stdout of a command that must have succeeded; its status and both outputs are in the
/// panic message when it did not.
pub fn stdout_of_success(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

/// The stdout of a finished command, parsed as JSON, with its stderr in the panic message.
pub fn json_output(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "command failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// A subscription to a daemon's `Watch` stream, taken before a test provokes an event so the
/// event cannot be missed.
#[derive(Debug)]
pub struct EventSubscription {
    runtime: tokio::runtime::Runtime,
    events: tonic::Streaming<anacondad_proto::v1::WatchResponse>,
}

impl TestHome {
    /// Subscribes to the events of the daemon serving this home's socket.
    pub fn subscribe_events(&self) -> EventSubscription {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let socket = self.socket();
        let events = runtime.block_on(async {
            let channel = anacondad_proto::connect(&socket, rustix::process::getuid().as_raw())
                .await
                .expect("the daemon is running");
            anacondad_proto::v1::daemon_service_client::DaemonServiceClient::new(channel)
                .watch(anacondad_proto::v1::WatchRequest {})
                .await
                .expect("Watch answers")
                .into_inner()
        });
        EventSubscription { runtime, events }
    }
}

impl EventSubscription {
    /// The first event of `kind`, waiting at most `timeout`.
    pub fn wait_for(
        &mut self,
        kind: anacondad_proto::v1::EventKind,
        timeout: Duration,
    ) -> anacondad_proto::v1::WatchResponse {
        let events = &mut self.events;
        self.runtime.block_on(async {
            tokio::time::timeout(timeout, async {
                while let Some(event) = events.message().await.expect("the event stream") {
                    if event.kind() == kind {
                        return event;
                    }
                }
                panic!("the event stream ended before {kind:?}");
            })
            .await
            .unwrap_or_else(|_| panic!("no {kind:?} event within {timeout:?}"))
        })
    }
}

impl EventSubscription {
    /// The kinds of the events up to and including the first of `kind`, in order, waiting at
    /// most `timeout`: for what a watcher sees of one change.
    pub fn kinds_until(
        &mut self,
        kind: anacondad_proto::v1::EventKind,
        timeout: Duration,
    ) -> Vec<anacondad_proto::v1::EventKind> {
        let events = &mut self.events;
        self.runtime.block_on(async {
            let mut seen = Vec::new();
            tokio::time::timeout(timeout, async {
                while let Some(event) = events.message().await.expect("the event stream") {
                    seen.push(event.kind());
                    if event.kind() == kind {
                        return;
                    }
                }
                panic!("the event stream ended before {kind:?}; seen: {seen:?}");
            })
            .await
            .unwrap_or_else(|_| panic!("no {kind:?} event within {timeout:?}"));
            seen
        })
    }
}

/// Makes `cmd` start a new session, which has no controlling terminal.
#[allow(unsafe_code)]
pub fn without_controlling_terminal(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory of this process; it is the
    // only thing run between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
}

/// Every file under `dir` whose bytes contain `secret`.
pub fn files_holding(dir: &std::path::Path, secret: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, secret));
        } else if std::fs::read(&path)
            .is_ok_and(|b| b.windows(secret.len()).any(|w| w == secret.as_bytes()))
        {
            found.push(path);
        }
    }
    found
}
