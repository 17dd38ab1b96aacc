//! Where a user's anacondad files live on each platform: one rule for the daemon (config and
//! state) and the CLI (the log of a daemon it starts).
//!
//! `XDG_CONFIG_HOME` and `XDG_STATE_HOME` win everywhere when set, so tests and users who
//! want one layout get it; otherwise each platform's own places:
//!
//! | | config | state | log |
//! |---|---|---|---|
//! | Linux | `~/.config/anacondad` | `~/.local/state/anacondad` | state |
//! | macOS | `~/Library/Application Support/anacondad` | same | `~/Library/Logs` |
//! | Windows | `%LOCALAPPDATA%\anacondad` | same | same |
//!
//! The home directory is `HOME`, on Windows `USERPROFILE` first (what Python's `Path.home()`
//! and conda read there), which is where `.condarc` and anaconda-auth's `.anaconda` live.

use std::path::PathBuf;

/// The platform whose rule applies; [`Platform::CURRENT`] outside tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Linux,
    MacOs,
    Windows,
}

impl Platform {
    /// The platform this binary was built for (other Unixes follow Linux).
    pub const CURRENT: Platform = if cfg!(windows) {
        Platform::Windows
    } else if cfg!(target_os = "macos") {
        Platform::MacOs
    } else {
        Platform::Linux
    };
}

/// A user's directories, resolved once in `main`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDirs {
    pub home: PathBuf,
    /// Holds `config.toml`.
    pub config_dir: PathBuf,
    /// Holds the non-secret `state.json`.
    pub state_dir: PathBuf,
    /// Holds `anacondad.log`, the log of a daemon the CLI started.
    pub log_dir: PathBuf,
}

impl UserDirs {
    /// Applies `platform`'s rule to the environment `var` reads (non-empty values only);
    /// `None` when no home directory is known.
    pub fn resolve(platform: Platform, var: impl Fn(&str) -> Option<PathBuf>) -> Option<Self> {
        let var = |name: &str| var(name).filter(|v| !v.as_os_str().is_empty());
        let home = match platform {
            Platform::Windows => var("USERPROFILE").or_else(|| var("HOME")),
            Platform::Linux | Platform::MacOs => var("HOME"),
        }?;
        let native = match platform {
            Platform::Linux => None,
            Platform::MacOs => Some(home.join("Library/Application Support/anacondad")),
            Platform::Windows => Some(
                var("LOCALAPPDATA")
                    .unwrap_or_else(|| home.join("AppData").join("Local"))
                    .join("anacondad"),
            ),
        };
        let config_dir = var("XDG_CONFIG_HOME")
            .map(|d| d.join("anacondad"))
            .or_else(|| native.clone())
            .unwrap_or_else(|| home.join(".config/anacondad"));
        let xdg_state = var("XDG_STATE_HOME").map(|d| d.join("anacondad"));
        let state_dir = xdg_state
            .clone()
            .or_else(|| native.clone())
            .unwrap_or_else(|| home.join(".local/state/anacondad"));
        let log_dir = match (platform, xdg_state) {
            // Where the launchd agent's log goes too (packaging/launchd).
            (Platform::MacOs, None) => home.join("Library/Logs"),
            _ => state_dir.clone(),
        };
        Some(Self {
            home,
            config_dir,
            state_dir,
            log_dir,
        })
    }

    /// [`UserDirs::resolve`] for this platform and this process's environment. Call from
    /// `main` only.
    pub fn from_process() -> Option<Self> {
        Self::resolve(Platform::CURRENT, |name| {
            std::env::var_os(name).map(PathBuf::from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(platform: Platform, vars: &[(&str, &str)]) -> Option<UserDirs> {
        let vars: Vec<(String, PathBuf)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
            .collect();
        UserDirs::resolve(platform, |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn linux_follows_xdg_defaults() {
        let d = dirs(Platform::Linux, &[("HOME", "/h")]).unwrap();
        assert_eq!(d.config_dir, PathBuf::from("/h/.config/anacondad"));
        assert_eq!(d.state_dir, PathBuf::from("/h/.local/state/anacondad"));
        assert_eq!(d.log_dir, d.state_dir);
    }

    #[test]
    fn macos_uses_application_support_and_logs() {
        let d = dirs(Platform::MacOs, &[("HOME", "/Users/u")]).unwrap();
        let support = PathBuf::from("/Users/u/Library/Application Support/anacondad");
        assert_eq!(d.config_dir, support);
        assert_eq!(d.state_dir, support);
        assert_eq!(d.log_dir, PathBuf::from("/Users/u/Library/Logs"));
    }

    #[test]
    fn windows_uses_local_app_data_and_the_user_profile() {
        let d = dirs(
            Platform::Windows,
            &[
                ("HOME", "/ignored"),
                ("USERPROFILE", r"C:\Users\u"),
                ("LOCALAPPDATA", r"C:\Users\u\AppData\Local"),
            ],
        )
        .unwrap();
        assert_eq!(d.home, PathBuf::from(r"C:\Users\u"));
        let local = PathBuf::from(r"C:\Users\u\AppData\Local").join("anacondad");
        assert_eq!(d.config_dir, local);
        assert_eq!(d.state_dir, local);
        assert_eq!(d.log_dir, local);
    }

    #[test]
    fn xdg_variables_win_on_every_platform() {
        for platform in [Platform::Linux, Platform::MacOs, Platform::Windows] {
            let d = dirs(
                platform,
                &[
                    ("HOME", "/h"),
                    ("USERPROFILE", "/h"),
                    ("XDG_CONFIG_HOME", "/c"),
                    ("XDG_STATE_HOME", "/s"),
                ],
            )
            .unwrap();
            assert_eq!(d.config_dir, PathBuf::from("/c/anacondad"), "{platform:?}");
            assert_eq!(d.state_dir, PathBuf::from("/s/anacondad"), "{platform:?}");
            assert_eq!(d.log_dir, d.state_dir, "{platform:?}");
        }
    }

    #[test]
    fn no_home_is_no_answer() {
        assert_eq!(dirs(Platform::Linux, &[]), None);
        assert_eq!(dirs(Platform::Windows, &[("LOCALAPPDATA", "/l")]), None);
    }
}
