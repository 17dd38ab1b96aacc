//! The service manager's commands, and what one `install` or `uninstall` did: printed at the
//! end as text, or as one [`ServiceReport`].

use std::path::Path;
use std::process::Command;

use crate::commands::Output;
use crate::exit::CliError;
use crate::json::service::{CommandRun, FileAction, Placement, ServiceReport};

/// A command of the service manager.
#[derive(Debug, Clone)]
pub(super) struct ManagerCommand {
    program: &'static str,
    args: Vec<String>,
}

impl ManagerCommand {
    pub(super) fn new(program: &'static str, args: &[&str]) -> Self {
        Self {
            program,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    pub(super) fn display(&self) -> String {
        let mut line = self.program.to_owned();
        for arg in &self.args {
            line.push(' ');
            if arg.contains([' ', '"']) {
                line.push_str(&format!("\"{}\"", arg.replace('"', "\\\"")));
            } else {
                line.push_str(arg);
            }
        }
        line
    }

    /// Runs it; `Ok(stdout)` on success, else what it said (or that it could not start).
    pub(super) fn run(&self) -> Result<String, String> {
        match Command::new(self.program).args(&self.args).output() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(format!("{} is not installed (not on PATH)", self.program))
            }
            Err(e) => Err(format!("cannot run {}: {e}", self.program)),
            Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into()),
            Ok(out) => {
                let mut said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
                if said.is_empty() {
                    said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                }
                Err(format!(
                    "`{}` failed ({}): {said}",
                    self.display(),
                    out.status
                ))
            }
        }
    }

    /// Its standard output, whatever the exit status (`systemctl is-enabled` exits 1 for
    /// "disabled"), or `None` when it cannot run at all.
    pub(super) fn query(&self) -> Option<String> {
        Command::new(self.program)
            .args(&self.args)
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

/// What one command did, printed at the end (text) or as one JSON object.
#[derive(Debug, Default)]
pub(super) struct Report {
    pub(super) dry_run: bool,
    lines: Vec<String>,
    files: Vec<FileAction>,
    commands: Vec<CommandRun>,
    /// Commands left for the user to run (the manager was not reachable).
    pub(super) later: Vec<String>,
    pub(super) changed: bool,
}

impl Report {
    pub(super) fn new(dry_run: bool) -> Self {
        Self {
            dry_run,
            ..Self::default()
        }
    }

    pub(super) fn say(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    pub(super) fn file(&mut self, path: &Path, action: &str) {
        self.files.push(FileAction {
            path: path.display().to_string(),
            action: action.to_owned(),
        });
    }

    /// In a dry run, says `cmd` would run and returns true; else false.
    fn only_said(&mut self, cmd: &ManagerCommand) -> bool {
        if self.dry_run {
            self.say(format!("would run: {}", cmd.display()));
            self.commands.push(CommandRun {
                command: cmd.display(),
                ran: false,
                ok: None,
            });
        }
        self.dry_run
    }

    /// Runs `cmd` and records it; its output, or why it failed.
    fn record(&mut self, cmd: &ManagerCommand) -> Result<String, String> {
        let result = cmd.run();
        self.commands.push(CommandRun {
            command: cmd.display(),
            ran: true,
            ok: Some(result.is_ok()),
        });
        if result.is_ok() {
            self.say(format!("ran: {}", cmd.display()));
        }
        result
    }

    /// Runs `cmd` (or, in a dry run, only says it would); a failure ends the command.
    pub(super) fn run(&mut self, cmd: &ManagerCommand) -> Result<String, CliError> {
        if self.only_said(cmd) {
            return Ok(String::new());
        }
        let done_before = if self.lines.is_empty() {
            "nothing".to_owned()
        } else {
            self.lines.join("; ")
        };
        let stdout = self
            .record(cmd)
            .map_err(|e| CliError::failed(format!("{e}\n(what had been done: {done_before})")))?;
        self.changed = true;
        Ok(stdout)
    }

    /// As [`Report::run`] for a command whose failure is expected and harmless (unloading an
    /// agent that is not loaded).
    pub(super) fn run_tolerant(&mut self, cmd: &ManagerCommand) {
        if !self.only_said(cmd) {
            let _harmless = self.record(cmd);
        }
    }

    pub(super) fn print(self, out: Output, placement: Placement) {
        if out.json {
            crate::json::print(&ServiceReport {
                dry_run: self.dry_run,
                changed: self.changed,
                files: self.files,
                commands: self.commands,
                run_later: self.later,
                messages: self.lines,
                placement,
            });
            return;
        }
        for line in &self.lines {
            crate::outln!("{line}");
        }
        if !self.later.is_empty() {
            crate::outln!(
                "Run these once a user service manager is reachable (e.g. in a login session):"
            );
            for cmd in &self.later {
                crate::outln!("  {cmd}");
            }
        }
        if !self.dry_run && !self.changed {
            crate::outln!("Nothing changed.");
        }
    }
}
