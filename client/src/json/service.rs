//! `service install | uninstall | status`: what was written and run, and the state of each unit
//! the service manager holds.

use serde::Serialize;

/// The service manager of the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Manager {
    /// systemd user units (Linux).
    Systemd,
    /// A launchd agent (macOS).
    Launchd,
    /// A value of the user's `Run` registry key (Windows).
    WindowsRun,
}

impl Manager {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Systemd => "systemd",
            Self::Launchd => "launchd",
            Self::WindowsRun => "windows-run",
        }
    }
}

/// Whether a unit (file or registry value) is there, and whose it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Installed {
    /// Nothing there.
    Absent,
    /// Ours, byte for byte what `install` writes.
    Installed,
    /// Ours, but older or edited: `service install` rewrites it.
    Outdated,
    /// Something not written by anacondactl.
    Foreign,
    /// Not in the user's directory, but shipped by a package (`packaged_at`).
    Packaged,
}

/// One unit the service manager knows.
#[derive(Debug, Clone, Serialize)]
pub struct UnitStatus {
    pub name: String,
    pub path: String,
    pub installed: Installed,
    /// Where the package put it, when `installed` is `packaged`.
    pub packaged_at: Option<String>,
    /// The manager's word for it (`enabled`, `disabled`, `loaded`, `at logon`, `unknown`, ...).
    pub enabled: String,
    /// The manager's word for it (`active`, `inactive`, `running`, `not loaded`, ...).
    pub active: String,
}

/// `service status` (also read by `doctor`).
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    pub manager: Manager,
    /// Why the manager cannot be asked; `null` when it can.
    pub unreachable: Option<String>,
    pub units: Vec<UnitStatus>,
}

/// A file `install` or `uninstall` dealt with.
#[derive(Debug, Clone, Serialize)]
pub struct FileAction {
    pub path: String,
    /// `created`, `replaced`, `unchanged`, `removed`, `kept`, or `would be ...` in a dry run.
    pub action: String,
}

/// A command of the service manager.
#[derive(Debug, Clone, Serialize)]
pub struct CommandRun {
    pub command: String,
    /// False in a dry run.
    pub ran: bool,
    /// Whether it succeeded; `null` when it did not run.
    pub ok: Option<bool>,
}

/// Where the manager's configuration lives, by manager.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "manager", rename_all = "kebab-case")]
pub enum Placement {
    Systemd {
        unit_dir: String,
        /// The binary the service runs (`install` only).
        exec_start: Option<String>,
        unreachable: Option<String>,
    },
    Launchd {
        plist: String,
    },
    WindowsRun {
        entry: String,
    },
}

/// `service install` and `service uninstall`.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub dry_run: bool,
    pub changed: bool,
    pub files: Vec<FileAction>,
    pub commands: Vec<CommandRun>,
    /// Commands left for the user to run once a service manager is reachable.
    pub run_later: Vec<String>,
    /// What the text output says, line by line.
    pub messages: Vec<String>,
    #[serde(flatten)]
    pub placement: Placement,
}
