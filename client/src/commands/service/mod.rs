//! `anacondactl service install|uninstall|status`: makes the daemon start by itself, with the
//! service manager of the platform: systemd user units on Linux, a launchd agent on macOS, a
//! per-user Run entry on Windows. Everything it writes carries a marker, so a second install
//! changes nothing, `uninstall` removes exactly that, and files written by someone else are left
//! alone unless `--force`.
//!
//! Every backend uses only `std` files and processes, so all three compile on every platform;
//! which one runs is chosen by `cfg!(target_os)`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anacondad_proto::v1::ShutdownRequest;
use serde_json::{Value, json};

use super::Output;
use crate::cli::ServiceCommand;
use crate::connection::Target;
use crate::exit::CliError;

/// Marks a file as written by `service install`; `uninstall` removes only files that carry it.
const MARKER: &str =
    "Written by `anacondactl service install`; `anacondactl service uninstall` removes it.";

const SOCKET_UNIT: &str = include_str!("../../../packaging/systemd/anacondad.socket");
const SERVICE_UNIT: &str = include_str!("../../../packaging/systemd/anacondad.service");
const LAUNCHD_TEMPLATE: &str =
    include_str!("../../../packaging/launchd/com.anaconda.anacondad.plist");

/// The `ExecStart=` line of the shipped service unit, replaced by the installed binary's path.
const SHIPPED_EXEC_START: &str = "ExecStart=/usr/bin/anacondad --foreground";
const LAUNCHD_LABEL: &str = "com.anaconda.anacondad";
const WINDOWS_RUN_KEY: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";
const WINDOWS_RUN_VALUE: &str = "anacondad";

/// How long `install` waits for an on-demand daemon to exit before the socket unit takes over.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the command needs from the environment, read once.
#[derive(Debug, Clone)]
struct ServiceEnv {
    home: PathBuf,
    config_home: PathBuf,
    uid: u32,
}

impl ServiceEnv {
    fn from_process(uid: u32) -> Result<Self, CliError> {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = var("HOME")
            .or_else(|| var("USERPROFILE"))
            .ok_or_else(|| CliError::failed("HOME is not set: set it to your home directory"))?;
        let config_home = var("XDG_CONFIG_HOME")
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".config"));
        Ok(Self {
            home,
            config_home,
            uid,
        })
    }
}

/// A file a backend installs, with the contents it should have.
#[derive(Debug, Clone)]
struct ManagedFile {
    path: PathBuf,
    contents: String,
}

/// What is at a managed file's path now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Absent,
    /// Ours, byte for byte what install would write.
    Current,
    /// Ours (it carries the marker), but older or edited.
    Outdated,
    /// Not written by us.
    Foreign,
}

impl Found {
    fn of(file: &ManagedFile) -> Self {
        match std::fs::read(&file.path) {
            Err(_) => Self::Absent,
            Ok(bytes) if bytes == file.contents.as_bytes() => Self::Current,
            Ok(bytes) if String::from_utf8_lossy(&bytes).contains(MARKER) => Self::Outdated,
            Ok(_) => Self::Foreign,
        }
    }

    fn is_ours(self) -> bool {
        matches!(self, Self::Current | Self::Outdated)
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Absent => "absent",
            Self::Current => "installed",
            Self::Outdated => "installed (outdated: run `anacondactl service install`)",
            Self::Foreign => "present, not written by anacondactl",
        }
    }
}

/// A command of the service manager.
#[derive(Debug, Clone)]
struct ManagerCommand {
    program: &'static str,
    args: Vec<String>,
}

impl ManagerCommand {
    fn new(program: &'static str, args: &[&str]) -> Self {
        Self {
            program,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    fn display(&self) -> String {
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
    fn run(&self) -> Result<String, String> {
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
    fn query(&self) -> Option<String> {
        Command::new(self.program)
            .args(&self.args)
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

/// What one command did, printed at the end (text) or as one JSON object.
#[derive(Debug, Default)]
struct Report {
    dry_run: bool,
    lines: Vec<String>,
    files: Vec<Value>,
    commands: Vec<Value>,
    /// Commands left for the user to run (the manager was not reachable).
    later: Vec<String>,
    changed: bool,
}

impl Report {
    fn new(dry_run: bool) -> Self {
        Self {
            dry_run,
            ..Self::default()
        }
    }

    fn say(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    fn file(&mut self, path: &Path, action: &str) {
        self.files
            .push(json!({ "path": path.display().to_string(), "action": action }));
    }

    /// Runs `cmd` (or, in a dry run, only says it would); a failure ends the command.
    fn run(&mut self, cmd: &ManagerCommand) -> Result<String, CliError> {
        if self.dry_run {
            self.say(format!("would run: {}", cmd.display()));
            self.commands
                .push(json!({ "command": cmd.display(), "ran": false }));
            return Ok(String::new());
        }
        let result = cmd.run();
        self.commands.push(json!({
            "command": cmd.display(),
            "ran": true,
            "ok": result.is_ok(),
        }));
        match result {
            Ok(stdout) => {
                self.say(format!("ran: {}", cmd.display()));
                self.changed = true;
                Ok(stdout)
            }
            Err(e) => Err(CliError::failed(format!(
                "{e}\n(what had been done: {})",
                if self.lines.is_empty() {
                    "nothing".to_owned()
                } else {
                    self.lines.join("; ")
                }
            ))),
        }
    }

    /// As [`Report::run`] for a command whose failure is expected and harmless (unloading an
    /// agent that is not loaded).
    fn run_tolerant(&mut self, cmd: &ManagerCommand) {
        if self.dry_run {
            self.say(format!("would run: {}", cmd.display()));
            self.commands
                .push(json!({ "command": cmd.display(), "ran": false }));
            return;
        }
        let ok = cmd.run().is_ok();
        self.commands
            .push(json!({ "command": cmd.display(), "ran": true, "ok": ok }));
        if ok {
            self.say(format!("ran: {}", cmd.display()));
        }
    }

    fn print(self, out: Output, extra: Value) {
        if out.json {
            let mut value = json!({
                "dry_run": self.dry_run,
                "changed": self.changed,
                "files": self.files,
                "commands": self.commands,
                "run_later": self.later,
                "messages": self.lines,
            });
            if let (Some(map), Value::Object(extra)) = (value.as_object_mut(), extra) {
                map.extend(extra);
            }
            out.print_json(&value);
            return;
        }
        for line in &self.lines {
            println!("{line}");
        }
        if !self.later.is_empty() {
            println!(
                "Run these once a user service manager is reachable (e.g. in a login session):"
            );
            for cmd in &self.later {
                println!("  {cmd}");
            }
        }
        if !self.dry_run && !self.changed {
            println!("Nothing changed.");
        }
    }
}

pub async fn run(cmd: ServiceCommand, target: &Target, out: Output) -> Result<(), CliError> {
    let env = ServiceEnv::from_process(target.uid)?;
    let backend = Backend::of_this_platform();
    match cmd {
        ServiceCommand::Install { dry_run, force } => {
            let daemon = installed_daemon(&target.launcher.daemon_bin)?;
            let mut report = Report::new(dry_run);
            let extra = backend
                .install(&env, &daemon, force, target, &mut report)
                .await?;
            report.print(out, extra);
            Ok(())
        }
        ServiceCommand::Uninstall { dry_run } => {
            let mut report = Report::new(dry_run);
            let extra = backend.uninstall(&env, &mut report)?;
            report.print(out, extra);
            Ok(())
        }
        ServiceCommand::Status => {
            let status = backend.status(&env);
            if out.json {
                out.print_json(&status);
            } else {
                print!("{}", status_text(&status));
            }
            Ok(())
        }
    }
}

/// The absolute path of the `anacondad` the service should run: the one the CLI would start
/// (`ANACONDAD_BIN`, else next to this executable), else the first on PATH.
fn installed_daemon(daemon_bin: &Path) -> Result<PathBuf, CliError> {
    let name = format!("anacondad{}", std::env::consts::EXE_SUFFIX);
    if daemon_bin.is_absolute() && daemon_bin.is_file() {
        return Ok(daemon_bin.to_path_buf());
    }
    let next_to_us = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)))
        .filter(|p| p.is_file());
    let on_path = || {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(&name))
                .find(|p| p.is_file())
                .and_then(|p| std::path::absolute(p).ok())
        })
    };
    next_to_us.or_else(on_path).ok_or_else(|| {
        CliError::failed(
            "anacondad is neither next to anacondactl nor on PATH: install it, or set \
             ANACONDAD_BIN=/absolute/path/to/anacondad",
        )
    })
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Systemd,
    Launchd,
    WindowsRun,
}

/// What `service status` reports, for `doctor`.
pub(super) fn status(uid: u32) -> Result<Value, CliError> {
    let env = ServiceEnv::from_process(uid)?;
    Ok(Backend::of_this_platform().status(&env))
}

impl Backend {
    fn of_this_platform() -> Self {
        if cfg!(target_os = "macos") {
            Self::Launchd
        } else if cfg!(windows) {
            Self::WindowsRun
        } else {
            Self::Systemd
        }
    }

    async fn install(
        self,
        env: &ServiceEnv,
        daemon: &Path,
        force: bool,
        target: &Target,
        report: &mut Report,
    ) -> Result<Value, CliError> {
        match self {
            Self::Systemd => systemd::install(env, daemon, force, target, report).await,
            Self::Launchd => launchd::install(env, daemon, force, target, report).await,
            Self::WindowsRun => windows_run::install(daemon, force, report),
        }
    }

    fn uninstall(self, env: &ServiceEnv, report: &mut Report) -> Result<Value, CliError> {
        match self {
            Self::Systemd => systemd::uninstall(env, report),
            Self::Launchd => launchd::uninstall(env, report),
            Self::WindowsRun => windows_run::uninstall(report),
        }
    }

    fn status(self, env: &ServiceEnv) -> Value {
        match self {
            Self::Systemd => systemd::status(env),
            Self::Launchd => launchd::status(env),
            Self::WindowsRun => windows_run::status(),
        }
    }
}

fn status_text(status: &Value) -> String {
    let mut text = format!(
        "service manager: {}",
        status["manager"].as_str().unwrap_or_default()
    );
    if let Some(reason) = status["unreachable"].as_str() {
        text.push_str(&format!(" (not reachable: {reason})"));
    }
    text.push('\n');
    for unit in status["units"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "  {}: {}; enabled: {}; active: {}\n    {}\n",
            unit["name"].as_str().unwrap_or_default(),
            unit["installed"].as_str().unwrap_or_default(),
            unit["enabled"].as_str().unwrap_or_default(),
            unit["active"].as_str().unwrap_or_default(),
            unit["path"].as_str().unwrap_or_default(),
        ));
    }
    text
}

/// Checks every file before writing any: a foreign file stops the install (unless `force`).
fn refuse_foreign(files: &[ManagedFile], force: bool) -> Result<(), CliError> {
    let foreign: Vec<String> = files
        .iter()
        .filter(|f| Found::of(f) == Found::Foreign)
        .map(|f| f.path.display().to_string())
        .collect();
    if foreign.is_empty() || force {
        return Ok(());
    }
    Err(CliError::failed(format!(
        "{} {} not written by anacondactl: left untouched. Move {} away, or pass --force to \
         replace {}",
        foreign.join(", "),
        if foreign.len() == 1 { "was" } else { "were" },
        if foreign.len() == 1 { "it" } else { "them" },
        if foreign.len() == 1 { "it" } else { "them" },
    )))
}

/// Writes the files that differ (all of them in a dry run: prints them); true when any did.
fn write_files(files: &[ManagedFile], report: &mut Report) -> Result<bool, CliError> {
    let mut changed = false;
    for file in files {
        let found = Found::of(file);
        if found == Found::Current {
            report.say(format!("unchanged: {}", file.path.display()));
            report.file(&file.path, "unchanged");
            continue;
        }
        changed = true;
        let action = if found == Found::Absent {
            "created"
        } else {
            "replaced"
        };
        if report.dry_run {
            report.say(format!("would write {}:", file.path.display()));
            for line in file.contents.lines() {
                report.say(format!("    {line}"));
            }
            report.file(&file.path, &format!("would be {action}"));
            continue;
        }
        write_atomically(&file.path, &file.contents).map_err(|e| {
            CliError::failed(format!(
                "cannot write {}: {e}; check that its directory is yours and writable",
                file.path.display()
            ))
        })?;
        report.say(format!("{action}: {}", file.path.display()));
        report.file(&file.path, action);
        report.changed = true;
    }
    Ok(changed)
}

/// Removes the files that carry our marker; says which others it left.
fn remove_ours(files: &[ManagedFile], report: &mut Report) -> Result<(), CliError> {
    for file in files {
        match Found::of(file) {
            Found::Absent => {}
            Found::Foreign => {
                report.say(format!(
                    "left alone (not written by anacondactl): {}",
                    file.path.display()
                ));
                report.file(&file.path, "kept");
            }
            Found::Current | Found::Outdated if report.dry_run => {
                report.say(format!("would remove {}", file.path.display()));
                report.file(&file.path, "would be removed");
            }
            Found::Current | Found::Outdated => {
                std::fs::remove_file(&file.path).map_err(|e| {
                    CliError::failed(format!("cannot remove {}: {e}", file.path.display()))
                })?;
                report.say(format!("removed: {}", file.path.display()));
                report.file(&file.path, "removed");
                report.changed = true;
            }
        }
    }
    Ok(())
}

/// Write to a temporary file next to `path`, then rename: a reader sees the old or the new file.
fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))?;
    }
    std::fs::rename(&tmp, path)
}

/// Stops a daemon that the CLI started on demand, so the service manager can take its socket
/// (a socket unit replaces the socket file, and the old daemon would run on, unreachable; a
/// launchd agent's daemon would find the socket taken).
async fn stop_on_demand_daemon(target: &Target, report: &mut Report) -> Result<(), CliError> {
    let Ok(client) = target.connect().await else {
        return Ok(());
    };
    if report.dry_run {
        report.say(format!(
            "would stop the daemon running at {} (the service manager takes its socket)",
            target.socket.display()
        ));
        return Ok(());
    }
    let pid = target.daemon_pid();
    client.daemon().shutdown(ShutdownRequest {}).await?;
    let waiter = target.clone();
    tokio::task::spawn_blocking(move || waiter.wait_until_stopped(pid, STOP_TIMEOUT))
        .await
        .map_err(|e| CliError::failed(format!("waiting for the daemon failed: {e}")))??;
    report.say(format!(
        "stopped the daemon running at {} so that the service manager takes its socket",
        target.socket.display()
    ));
    Ok(())
}

mod systemd {
    //! systemd user units in `$XDG_CONFIG_HOME/systemd/user/`.

    use super::*;

    const UNITS: [&str; 2] = ["anacondad.socket", "anacondad.service"];
    /// Where the `.deb` puts the shipped units (a user's own units take precedence).
    const PACKAGED_UNIT_DIR: &str = "/usr/lib/systemd/user";

    fn unit_dir(env: &ServiceEnv) -> PathBuf {
        env.config_home.join("systemd/user")
    }

    fn systemctl(args: &[&str]) -> ManagerCommand {
        let mut all = vec!["--user"];
        all.extend_from_slice(args);
        ManagerCommand::new("systemctl", &all)
    }

    /// A word of `ExecStart=` for `path`: `%` doubled (systemd's specifier escape), quoted
    /// when it has spaces, quotes or backslashes.
    pub(super) fn exec_word(path: &Path) -> String {
        let raw = path.display().to_string().replace('%', "%%");
        if raw.contains([' ', '\t', '"', '\'', '\\']) {
            format!("\"{}\"", raw.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            raw
        }
    }

    pub(super) fn files(env: &ServiceEnv, daemon: &Path) -> Vec<ManagedFile> {
        let dir = unit_dir(env);
        let marked = |unit: &str| format!("# {MARKER}\n{unit}");
        let service = SERVICE_UNIT.replace(
            SHIPPED_EXEC_START,
            &format!("ExecStart={} --foreground", exec_word(daemon)),
        );
        vec![
            ManagedFile {
                path: dir.join(UNITS[0]),
                contents: marked(SOCKET_UNIT),
            },
            ManagedFile {
                path: dir.join(UNITS[1]),
                contents: marked(&service),
            },
        ]
    }

    /// Why the user manager cannot be asked, or `None` when it can.
    fn unreachable() -> Option<String> {
        systemctl(&["show-environment"]).run().err()
    }

    pub(super) async fn install(
        env: &ServiceEnv,
        daemon: &Path,
        force: bool,
        target: &Target,
        report: &mut Report,
    ) -> Result<Value, CliError> {
        let files = files(env, daemon);
        refuse_foreign(&files, force)?;
        let changed = write_files(&files, report)?;
        let reload = systemctl(&["daemon-reload"]);
        let enable = systemctl(&["enable", "--now", UNITS[0]]);
        let unreachable = unreachable();
        match &unreachable {
            Some(reason) => {
                report.say(format!(
                    "not enabled: no systemd user manager is reachable ({reason})"
                ));
                report.later = vec![reload.display(), enable.display()];
            }
            None => {
                let enabled = systemctl(&["is-enabled", UNITS[0]]).query();
                let active = systemctl(&["is-active", UNITS[0]]).query();
                let running =
                    enabled.as_deref() == Some("enabled") && active.as_deref() == Some("active");
                if changed {
                    report.run(&reload)?;
                }
                if changed || !running {
                    stop_on_demand_daemon(target, report).await?;
                    report.run(&enable)?;
                    if !report.dry_run {
                        report.say(
                            "anacondad now starts on first use (anacondad.socket) and with \
                             every login session",
                        );
                    }
                } else {
                    report.say("anacondad.socket is already enabled and active");
                }
            }
        }
        Ok(json!({
            "manager": "systemd",
            "unit_dir": unit_dir(env).display().to_string(),
            "exec_start": daemon.display().to_string(),
            "unreachable": unreachable,
        }))
    }

    pub(super) fn uninstall(env: &ServiceEnv, report: &mut Report) -> Result<Value, CliError> {
        // The contents do not matter for removal, only the paths and the marker.
        let files = files(env, Path::new("/usr/bin/anacondad"));
        let ours: Vec<&str> = files
            .iter()
            .zip(UNITS)
            .filter(|(f, _)| Found::of(f).is_ours())
            .map(|(_, unit)| unit)
            .collect();
        let unreachable = unreachable();
        if !ours.is_empty() {
            match &unreachable {
                None => {
                    let mut args = vec!["disable", "--now"];
                    args.extend(&ours);
                    report.run(&systemctl(&args))?;
                }
                // What `disable` would remove: the links `enable` made to our files.
                Some(_) => remove_wants_links(env, &files, report)?,
            }
        }
        remove_ours(&files, report)?;
        if !ours.is_empty() && unreachable.is_none() {
            report.run(&systemctl(&["daemon-reload"]))?;
        }
        if ours.is_empty() {
            report.say(format!(
                "no unit written by anacondactl in {}",
                unit_dir(env).display()
            ));
        }
        Ok(json!({
            "manager": "systemd",
            "unit_dir": unit_dir(env).display().to_string(),
            "unreachable": unreachable,
        }))
    }

    /// Removes `*.wants/` links to our unit files (made by `systemctl enable`) when no manager
    /// can be asked to disable them.
    fn remove_wants_links(
        env: &ServiceEnv,
        files: &[ManagedFile],
        report: &mut Report,
    ) -> Result<(), CliError> {
        let dir = unit_dir(env);
        for (wants, unit) in [
            ("sockets.target.wants", UNITS[0]),
            ("default.target.wants", UNITS[1]),
        ] {
            let link = dir.join(wants).join(unit);
            let points_at_ours = std::fs::read_link(&link).is_ok_and(|to| {
                files
                    .iter()
                    .any(|f| f.path == to || dir.join(&to) == f.path)
            });
            if !points_at_ours {
                continue;
            }
            if report.dry_run {
                report.say(format!("would remove {}", link.display()));
                continue;
            }
            std::fs::remove_file(&link)
                .map_err(|e| CliError::failed(format!("cannot remove {}: {e}", link.display())))?;
            report.say(format!("removed: {}", link.display()));
            report.changed = true;
        }
        Ok(())
    }

    pub(super) fn status(env: &ServiceEnv) -> Value {
        let files = files(env, Path::new("/usr/bin/anacondad"));
        let unreachable = unreachable();
        let units: Vec<Value> = files
            .iter()
            .zip(UNITS)
            .map(|(file, unit)| {
                let ask = |verb: &str| match &unreachable {
                    Some(_) => "unknown".to_owned(),
                    None => systemctl(&[verb, unit])
                        .query()
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "unknown".to_owned()),
                };
                // The contents depend on the binary's path; only the marker matters here.
                let packaged = Path::new(PACKAGED_UNIT_DIR).join(unit);
                let installed = match Found::of(file) {
                    Found::Current | Found::Outdated => "installed".to_owned(),
                    Found::Absent if packaged.is_file() => {
                        format!("packaged ({}), not by anacondactl", packaged.display())
                    }
                    other => other.as_str().to_owned(),
                };
                json!({
                    "name": unit,
                    "path": file.path.display().to_string(),
                    "installed": installed,
                    "enabled": ask("is-enabled"),
                    "active": ask("is-active"),
                })
            })
            .collect();
        json!({ "manager": "systemd", "unreachable": unreachable, "units": units })
    }
}

mod launchd {
    //! A LaunchAgent in `~/Library/LaunchAgents/`, loaded into the GUI session.

    use super::*;

    fn plist_path(env: &ServiceEnv) -> PathBuf {
        env.home
            .join("Library/LaunchAgents")
            .join(format!("{LAUNCHD_LABEL}.plist"))
    }

    fn xml_escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }

    /// The template with the binary and home filled in (launchd expands neither `~` nor
    /// `$HOME`) and the marker after the document type.
    pub(super) fn render(env: &ServiceEnv, daemon: &Path) -> String {
        let filled = LAUNCHD_TEMPLATE
            .replace("@ANACONDAD@", &xml_escape(&daemon.display().to_string()))
            .replace("@HOME@", &xml_escape(&env.home.display().to_string()));
        match filled.split_once("<plist ") {
            Some((head, rest)) => format!("{head}<!-- {MARKER} -->\n<plist {rest}"),
            None => filled,
        }
    }

    fn file(env: &ServiceEnv, daemon: &Path) -> ManagedFile {
        ManagedFile {
            path: plist_path(env),
            contents: render(env, daemon),
        }
    }

    fn domain(env: &ServiceEnv) -> String {
        format!("gui/{}", env.uid)
    }

    fn bootout(env: &ServiceEnv) -> ManagerCommand {
        ManagerCommand::new(
            "launchctl",
            &["bootout", &format!("{}/{LAUNCHD_LABEL}", domain(env))],
        )
    }

    fn loaded(env: &ServiceEnv) -> Option<String> {
        ManagerCommand::new(
            "launchctl",
            &["print", &format!("{}/{LAUNCHD_LABEL}", domain(env))],
        )
        .run()
        .ok()
    }

    pub(super) async fn install(
        env: &ServiceEnv,
        daemon: &Path,
        force: bool,
        target: &Target,
        report: &mut Report,
    ) -> Result<Value, CliError> {
        let files = [file(env, daemon)];
        refuse_foreign(&files, force)?;
        if !report.dry_run {
            let logs = env.home.join("Library/Logs");
            std::fs::create_dir_all(&logs)
                .map_err(|e| CliError::failed(format!("cannot create {}: {e}", logs.display())))?;
        }
        let changed = write_files(&files, report)?;
        if changed || loaded(env).is_none() {
            // bootstrap refuses a label that is loaded already: unload an older copy first.
            report.run_tolerant(&bootout(env));
            // The agent's daemon would exit 3 (socket taken) and retry every 30 s.
            stop_on_demand_daemon(target, report).await?;
            let path = plist_path(env).display().to_string();
            report.run(&ManagerCommand::new(
                "launchctl",
                &["bootstrap", &domain(env), &path],
            ))?;
        } else {
            report.say(format!("{LAUNCHD_LABEL} is already loaded"));
        }
        Ok(json!({ "manager": "launchd", "plist": plist_path(env).display().to_string() }))
    }

    pub(super) fn uninstall(env: &ServiceEnv, report: &mut Report) -> Result<Value, CliError> {
        let files = [file(env, Path::new("/usr/local/bin/anacondad"))];
        if Found::of(&files[0]).is_ours() {
            report.run_tolerant(&bootout(env));
        }
        remove_ours(&files, report)?;
        Ok(json!({ "manager": "launchd", "plist": plist_path(env).display().to_string() }))
    }

    pub(super) fn status(env: &ServiceEnv) -> Value {
        let file = file(env, Path::new("/usr/local/bin/anacondad"));
        let printed = loaded(env);
        let installed = match Found::of(&file) {
            Found::Current | Found::Outdated => "installed",
            other => other.as_str(),
        };
        let active = match &printed {
            Some(text) if text.contains("state = running") => "running",
            Some(_) => "loaded, not running",
            None => "not loaded",
        };
        json!({
            "manager": "launchd",
            "unreachable": Value::Null,
            "units": [{
                "name": LAUNCHD_LABEL,
                "path": file.path.display().to_string(),
                "installed": installed,
                "enabled": if printed.is_some() { "loaded" } else { "not loaded" },
                "active": active,
            }],
        })
    }
}

mod windows_run {
    //! A value in the user's `Run` registry key, set and read with `reg.exe`: Windows starts
    //! the daemon at every logon.

    use super::*;

    pub(super) fn data(daemon: &Path) -> String {
        format!("\"{}\" --foreground", daemon.display())
    }

    fn current() -> Option<String> {
        let out = ManagerCommand::new("reg", &["query", WINDOWS_RUN_KEY, "/v", WINDOWS_RUN_VALUE])
            .run()
            .ok()?;
        // `    anacondad    REG_SZ    "C:\...\anacondad.exe" --foreground`
        out.lines().find_map(|line| {
            let (_, rest) = line.split_once("REG_SZ")?;
            Some(rest.trim().to_owned())
        })
    }

    pub(super) fn install(
        daemon: &Path,
        force: bool,
        report: &mut Report,
    ) -> Result<Value, CliError> {
        let wanted = data(daemon);
        let entry = format!("{WINDOWS_RUN_KEY}\\{WINDOWS_RUN_VALUE}");
        match current() {
            Some(now) if now == wanted => {
                report.say(format!("unchanged: {entry}"));
            }
            Some(now) if !force && !now.contains("anacondad") => {
                return Err(CliError::failed(format!(
                    "{entry} holds `{now}`, not written by anacondactl: left untouched; pass \
                     --force to replace it"
                )));
            }
            _ => {
                report.run(&ManagerCommand::new(
                    "reg",
                    &[
                        "add",
                        WINDOWS_RUN_KEY,
                        "/v",
                        WINDOWS_RUN_VALUE,
                        "/t",
                        "REG_SZ",
                        "/d",
                        &wanted,
                        "/f",
                    ],
                ))?;
                report.say("anacondad starts at your next logon");
            }
        }
        Ok(json!({ "manager": "windows-run", "entry": entry }))
    }

    pub(super) fn uninstall(report: &mut Report) -> Result<Value, CliError> {
        let entry = format!("{WINDOWS_RUN_KEY}\\{WINDOWS_RUN_VALUE}");
        match current() {
            Some(now) if now.contains("anacondad") => {
                report.run(&ManagerCommand::new(
                    "reg",
                    &["delete", WINDOWS_RUN_KEY, "/v", WINDOWS_RUN_VALUE, "/f"],
                ))?;
            }
            Some(now) => report.say(format!(
                "left alone (not written by anacondactl): {entry} = {now}"
            )),
            None => report.say(format!("no {entry} entry")),
        }
        Ok(json!({ "manager": "windows-run", "entry": entry }))
    }

    pub(super) fn status() -> Value {
        let now = current();
        json!({
            "manager": "windows-run",
            "unreachable": Value::Null,
            "units": [{
                "name": WINDOWS_RUN_VALUE,
                "path": format!("{WINDOWS_RUN_KEY}\\{WINDOWS_RUN_VALUE}"),
                "installed": if now.is_some() { "installed" } else { "absent" },
                "enabled": if now.is_some() { "at logon" } else { "no" },
                "active": "see `anacondactl daemon status`",
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> ServiceEnv {
        ServiceEnv {
            home: PathBuf::from("/home/u"),
            config_home: PathBuf::from("/home/u/.config"),
            uid: 501,
        }
    }

    #[test]
    fn the_service_unit_runs_the_installed_binary_and_carries_the_marker() {
        let files = systemd::files(&env(), Path::new("/opt/conda/bin/anacondad"));
        assert_eq!(
            files[1].path,
            PathBuf::from("/home/u/.config/systemd/user/anacondad.service")
        );
        assert!(files[1].contents.starts_with(&format!("# {MARKER}\n")));
        assert!(
            files[1]
                .contents
                .contains("\nExecStart=/opt/conda/bin/anacondad --foreground\n")
        );
        assert!(!files[1].contents.contains("ExecStart=/usr/bin/"));
        assert!(
            SERVICE_UNIT.contains(SHIPPED_EXEC_START),
            "the shipped unit changed"
        );
    }

    #[test]
    fn exec_start_escapes_specifiers_and_quotes_spaces() {
        assert_eq!(systemd::exec_word(Path::new("/a/b")), "/a/b");
        assert_eq!(systemd::exec_word(Path::new("/a/100%")), "/a/100%%");
        assert_eq!(
            systemd::exec_word(Path::new("/my apps/anacondad")),
            "\"/my apps/anacondad\""
        );
    }

    #[test]
    fn the_launch_agent_is_filled_in_and_marked() {
        let plist = launchd::render(&env(), Path::new("/opt/a&b/anacondad"));
        assert!(
            plist.contains("<string>/opt/a&amp;b/anacondad</string>"),
            "{plist}"
        );
        assert!(
            plist.contains("/home/u/Library/Logs/anacondad.log"),
            "{plist}"
        );
        assert!(!plist.contains('@'), "{plist}");
        assert!(
            plist.contains(&format!("<!-- {MARKER} -->\n<plist ")),
            "{plist}"
        );
    }

    #[test]
    fn the_windows_entry_quotes_the_program() {
        assert_eq!(
            windows_run::data(Path::new(r"C:\Program Files\anacondad.exe")),
            r#""C:\Program Files\anacondad.exe" --foreground"#
        );
    }
}
