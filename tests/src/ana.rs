//! `ana`, Anaconda's official CLI, built once per tarball from its vendored source by
//! `tests/scripts/build-ana.sh` (cached outside the clone), run as the user of a test home
//! against the emulator.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::EmulatorProcess;
use crate::harness::TestHome;

/// The `ana` binary (`ANACONDAD_ANA_BIN`, else built), or `None` without a source to build.
fn binary() -> Option<PathBuf> {
    static ANA: OnceLock<Option<PathBuf>> = OnceLock::new();
    ANA.get_or_init(|| {
        if let Some(path) = std::env::var_os("ANACONDAD_ANA_BIN") {
            return Some(PathBuf::from(path));
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/build-ana.sh");
        let out = Command::new(script).output().expect("build-ana.sh runs");
        assert!(
            out.status.success(),
            "build-ana.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (!path.is_empty()).then(|| PathBuf::from(path))
    })
    .clone()
}

/// The `ana` binary, or `None` when `ANACONDAD_SKIP_ANA` says to skip the `ana` tests; with no
/// source to build and no skip, `test` fails.
pub fn ana_or_skip(test: &str) -> Option<PathBuf> {
    match binary() {
        Some(ana) => Some(ana),
        None => {
            assert!(
                std::env::var_os("ANACONDAD_SKIP_ANA").is_some(),
                "{test}: no ana source to build (set ANACONDAD_ANA_SOURCE, or ANACONDAD_SKIP_ANA=1)"
            );
            None
        }
    }
}

/// `ana ARGS` as the user of `home`, against the emulator over HTTP (no telemetry, update
/// check or browser), its streams piped; not yet run.
pub fn command(ana: &PathBuf, home: &TestHome, emu: &EmulatorProcess, args: &[&str]) -> Command {
    let mut command = Command::new(ana);
    command
        .args(args)
        .env_clear()
        .envs(home.env())
        .env("ANA_DOMAIN", emu.domain())
        .env("ANA_USE_HTTPS", "false")
        .env("ANA_ENABLE_TELEMETRY", "false")
        .env("ANA_UPDATE_CHECK", "false")
        .env("ANA_SENTRY_DISABLED", "true")
        .env("ANA_OPEN_BROWSER", "false")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}
