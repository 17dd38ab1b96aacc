//! Runs the built `anaconda-emulator` binary for end-to-end tests and stops it on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

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
