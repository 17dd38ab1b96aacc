//! Runs the real conda (installed by tests/scripts/setup-venv.sh from its source) in a test
//! home: `python -m conda` with a private root prefix, package cache, envs directory and
//! `$CONDARC`, the classic solver, and `ANACONDACTL` pointing at the built `anacondactl`, so
//! the plugin reaches the home's daemon.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{TestHome, bin, python_venv};

/// Set to `1` to skip the real-conda tests when no conda source is at hand.
pub const SKIP_REAL_CONDA_ENV: &str = "ANACONDAD_SKIP_REAL_CONDA";

/// The two conda installations of the test venv.
#[derive(Debug, Clone)]
pub struct CondaVenvs {
    /// conda with our plugin (and the real anaconda-auth 0.15.3) installed.
    pub with_plugin: PathBuf,
    /// conda alone: no `conda` entry points but conda's own.
    pub without_plugin: PathBuf,
}

/// The venvs with the real conda, or why they cannot be had. Once per test process.
pub fn conda_venvs() -> &'static Result<CondaVenvs, String> {
    static VENVS: std::sync::OnceLock<Result<CondaVenvs, String>> = std::sync::OnceLock::new();
    VENVS.get_or_init(|| {
        let venv = python_venv().as_ref().map_err(Clone::clone)?;
        let venvs = CondaVenvs {
            with_plugin: venv.clone(),
            without_plugin: venv.join("no-plugin"),
        };
        for (dir, marker) in [
            (&venvs.with_plugin, ".anacondad-conda-ready"),
            (&venvs.with_plugin, ".anacondad-plugin-ready"),
            (&venvs.without_plugin, ".anacondad-conda-ready"),
        ] {
            if !dir.join(marker).is_file() {
                return Err(format!(
                    "{} has no real conda ({marker} is missing): run tests/scripts/setup-venv.sh \
                     with ANACONDAD_CONDA_SOURCE set to conda's source tarball or directory",
                    dir.display()
                ));
            }
        }
        Ok(venvs)
    })
}

/// The venvs, or `None` when the real-conda tests are skipped on purpose
/// (`ANACONDAD_SKIP_REAL_CONDA=1`). Any other reason they cannot be had is a failure.
pub fn conda_or_skip(test: &str) -> Option<&'static CondaVenvs> {
    match conda_venvs() {
        Ok(venvs) => Some(venvs),
        Err(reason) if std::env::var_os(SKIP_REAL_CONDA_ENV).is_some_and(|v| v == "1") => {
            println!("SKIPPED {test} ({SKIP_REAL_CONDA_ENV}=1): {reason}");
            eprintln!("SKIPPED {test} ({SKIP_REAL_CONDA_ENV}=1): {reason}");
            None
        }
        Err(reason) => panic!(
            "{test}: the real conda is needed ({reason}); set {SKIP_REAL_CONDA_ENV}=1 to skip \
             the real-conda tests"
        ),
    }
}

/// One conda installation run in one test home.
#[derive(Debug)]
pub struct Conda<'a> {
    home: &'a TestHome,
    venv: PathBuf,
    extra_env: Vec<(OsString, OsString)>,
    removed_env: Vec<OsString>,
}

/// A finished conda command: its output and how long it took.
#[derive(Debug)]
pub struct CondaRun {
    pub output: Output,
    pub elapsed: Duration,
}

impl CondaRun {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn success(&self) -> bool {
        self.output.status.success()
    }

    /// Stdout parsed as JSON (conda's `--json` output), panicking with both streams otherwise.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.output.stdout).unwrap_or_else(|e| {
            panic!(
                "conda's stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            )
        })
    }

    /// Panics with both streams unless conda succeeded.
    pub fn assert_success(&self, what: &str) -> &Self {
        assert!(
            self.success(),
            "{what} failed ({}) after {:?}:\nstdout:\n{}\nstderr:\n{}",
            self.output.status,
            self.elapsed,
            self.stdout(),
            self.stderr()
        );
        self
    }

    /// The channel URLs a successful `conda search --json` found `package` in, one per record.
    pub fn channels_holding(&self, package: &str) -> Vec<String> {
        self.assert_success("conda search");
        let answer = self.json();
        answer[package]
            .as_array()
            .unwrap_or_else(|| panic!("no {package} in {answer}"))
            .iter()
            .map(|record| record["channel"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

impl<'a> Conda<'a> {
    /// The conda of `venv`, run in `home`.
    pub fn new(home: &'a TestHome, venv: &Path) -> Self {
        Self {
            home,
            venv: venv.to_path_buf(),
            extra_env: Vec::new(),
            removed_env: Vec::new(),
        }
    }

    /// Adds a variable to the environment of every conda command.
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.extra_env.push((key.into(), value.into()));
        self
    }

    /// Leaves a variable of the home's environment out of every conda command.
    pub fn without_env(mut self, key: impl Into<OsString>) -> Self {
        self.removed_env.push(key.into());
        self
    }

    pub fn venv(&self) -> &Path {
        &self.venv
    }

    /// `$CONDARC` of these commands (absent until a test writes it).
    pub fn condarc_env_file(&self) -> PathBuf {
        self.home.path().join("conda/condarc-from-env.yml")
    }

    /// `~/.condarc` of the home (where `token install` writes).
    pub fn user_condarc(&self) -> PathBuf {
        self.home.path().join(".condarc")
    }

    /// conda's root prefix in this home (`CONDA_ROOT_PREFIX`).
    pub fn root_prefix(&self) -> PathBuf {
        self.home.path().join("conda/root")
    }

    /// The environment conda runs with: the home's, plus conda's private directories.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        let conda = self.home.path().join("conda");
        let mut env = self.home.env();
        env.extend([
            ("CONDA_SOLVER".into(), "classic".into()),
            ("CONDARC".into(), self.condarc_env_file().into()),
            ("CONDA_ROOT_PREFIX".into(), self.root_prefix().into()),
            ("CONDA_PKGS_DIRS".into(), conda.join("pkgs").into()),
            ("CONDA_ENVS_PATH".into(), conda.join("envs").into()),
            ("ANACONDACTL".into(), bin("anacondactl").into()),
            // conda would otherwise ask about its own updates and send usage reports.
            ("CONDA_NOTIFY_OUTDATED_CONDA".into(), "false".into()),
            ("CONDA_REPORT_ERRORS".into(), "false".into()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ]);
        env.extend(self.extra_env.iter().cloned());
        env.retain(|(k, _)| !self.removed_env.contains(k));
        env
    }

    /// `python -m conda <args>` as a command, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.venv.join("bin/python"));
        cmd.env_clear()
            .envs(self.env())
            .current_dir(self.home.path())
            .stdin(Stdio::null())
            .arg("-m")
            .arg("conda")
            .args(args);
        cmd
    }

    /// Runs `python -m conda <args>` to completion and times it.
    pub fn run(&self, args: &[&str]) -> CondaRun {
        let started = Instant::now();
        let output = self.command(args).output().expect("python -m conda runs");
        CondaRun {
            output,
            elapsed: started.elapsed(),
        }
    }

    /// Runs a Python snippet with this conda's Python and environment.
    pub fn python(&self, code: &str, args: &[&str]) -> Output {
        Command::new(self.venv.join("bin/python"))
            .env_clear()
            .envs(self.env())
            .current_dir(self.home.path())
            .stdin(Stdio::null())
            .arg("-c")
            .arg(code)
            .args(args)
            .output()
            .expect("python runs")
    }
}
