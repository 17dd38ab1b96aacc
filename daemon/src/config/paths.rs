//! Where the daemon's files live, and every user file conda reads settings from.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::layer::{Layer, Locations};
use super::origin::{Source, Sourced};
use super::{ConfigError, EnvSnapshot};
use crate::conda_rules::effective::{has_yaml_extension as is_yaml, is_condarc_name};

/// Every file and directory the daemon uses.
#[derive(Debug, Clone)]
pub struct Paths {
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME/anacondad/config.toml`.
    pub config_file: PathBuf,
    /// `$XDG_STATE_HOME/anacondad`: the non-secret state file and the log of a spawned daemon.
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    /// anaconda-auth's file keyring (`ANACONDA_AUTH_KEYRING_PATH`, else `~/.anaconda/keyring`).
    pub anaconda_keyring: PathBuf,
    /// conda's user configuration file, `~/.condarc`.
    pub condarc: PathBuf,
    /// Every user-writable place conda reads settings from.
    pub conda_user_config: CondaUserConfig,
    /// rattler's (pixi's) credentials file: `RATTLER_AUTH_FILE`, else
    /// `~/.rattler/credentials.json`.
    pub rattler_auth_file: PathBuf,
    /// mamba's credentials file, `~/.mamba/auth/authentication.json` (libmamba reads no
    /// variable for it).
    pub mamba_auth_file: PathBuf,
}

impl Paths {
    /// Applies this platform's directory rules ([`anacondad_proto::dirs`]: XDG on Linux) to
    /// `env`, then the variables that locate files (`ANACONDAD_CONFIG`,
    /// `ANACONDA_AUTH_KEYRING_PATH`); `socket` is the already resolved socket path.
    pub fn resolve(env: &EnvSnapshot, socket: PathBuf) -> Result<Self, ConfigError> {
        let mut paths = Self::defaults(env, socket)?;
        let located = Layer::fold([
            &paths.layer(),
            &super::variables::ours(env)?,
            &super::variables::clients(env, &paths.home),
        ]);
        paths.locate(&located.locations);
        Ok(paths)
    }

    /// The platform's directory rules alone: where every file is when no variable, file or
    /// flag says otherwise.
    pub fn defaults(env: &EnvSnapshot, socket: PathBuf) -> Result<Self, ConfigError> {
        let dirs = anacondad_proto::dirs::UserDirs::resolve(
            anacondad_proto::dirs::Platform::CURRENT,
            |name| env.path(name),
        )
        .ok_or(ConfigError::NoHome)?;
        let home = dirs.home;
        Ok(Self {
            config_file: dirs.config_dir.join("config.toml"),
            state_dir: dirs.state_dir,
            socket,
            anaconda_keyring: home.join(".anaconda/keyring"),
            condarc: home.join(".condarc"),
            conda_user_config: CondaUserConfig::resolve(&home, env),
            rattler_auth_file: env
                .path("RATTLER_AUTH_FILE")
                .unwrap_or_else(|| home.join(".rattler/credentials.json")),
            mamba_auth_file: home.join(".mamba/auth/authentication.json"),
            home,
        })
    }

    /// The lowest layer of locations: these paths, said by no one (the defaults).
    pub fn layer(&self) -> Layer {
        let default = |path: &Path| Some(Sourced::new(path.to_path_buf(), Source::Default));
        Layer {
            locations: Locations {
                socket: default(&self.socket),
                config_file: default(&self.config_file),
                anaconda_auth_config: default(&self.home.join(".anaconda/config.toml")),
                anaconda_keyring: default(&self.anaconda_keyring),
            },
            ..Layer::default()
        }
    }

    /// Takes the files' places from folded `locations` (the socket stays the one bound).
    pub fn locate(&mut self, locations: &Locations) {
        if let Some(file) = &locations.config_file {
            self.config_file.clone_from(&file.value);
        }
        if let Some(keyring) = &locations.anaconda_keyring {
            self.anaconda_keyring.clone_from(&keyring.value);
        }
    }

    /// The site chosen at login ([`super::site`]).
    pub fn site_file(&self) -> PathBuf {
        self.state_dir.join(super::site::SITE_FILE)
    }

    /// The state file of non-secret token facts.
    pub fn state_file(&self) -> PathBuf {
        self.state_dir.join("state.json")
    }
}

/// The user-writable places conda reads settings from: files, and `condarc.d/` directories
/// whose `*.yml`/`*.yaml` files it reads in sorted order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CondaUserConfig {
    /// In conda's order (later wins).
    pub files: Vec<PathBuf>,
    pub dropin_dirs: Vec<PathBuf>,
}

impl CondaUserConfig {
    /// conda's search path, less the system-wide and environment locations (its user part,
    /// as `conda_rules` states it).
    pub fn resolve(home: &Path, env: &EnvSnapshot) -> Self {
        use crate::conda_rules::effective::{CONDARC_FILE, USER_DIRS, USER_FILE, expand_user};
        let expand =
            |template: &str| expand_user(template, home, &|name| env.get(name).map(str::to_owned));
        let mut files: Vec<PathBuf> = Vec::new();
        let mut dropin_dirs = Vec::new();
        for dir in USER_DIRS.iter().filter_map(|d| expand(d)) {
            files.push(dir.join(".condarc"));
            files.push(dir.join("condarc"));
            dropin_dirs.push(dir.join("condarc.d"));
        }
        files.extend(expand(USER_FILE));
        if let Some(condarc) = expand(CONDARC_FILE)
            && is_condarc_name(&condarc)
        {
            files.push(condarc);
        }
        let mut seen = BTreeSet::new();
        files.retain(|f| seen.insert(f.clone()));
        dropin_dirs.dedup();
        Self { files, dropin_dirs }
    }

    /// True for a file conda would read from these places.
    pub fn covers(&self, path: &Path) -> bool {
        self.files.iter().any(|f| f == path)
            || (path
                .parent()
                .is_some_and(|dir| self.dropin_dirs.iter().any(|d| d == dir))
                && is_yaml(path))
    }

    /// Every file that exists now, the drop-ins of each directory sorted by name.
    pub fn existing_files(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = self.files.iter().filter(|f| f.is_file()).cloned().collect();
        for dir in &self.dropin_dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut dropins: Vec<PathBuf> = entries
                .filter_map(|e| Some(e.ok()?.path()))
                .filter(|p| is_yaml(p) && p.is_file())
                .collect();
            dropins.sort();
            found.extend(dropins);
        }
        found
    }

    /// The directories to watch: those of the files and the drop-in directories.
    pub fn watched_dirs(&self) -> BTreeSet<PathBuf> {
        self.files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .chain(self.dropin_dirs.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
        pairs.iter().copied().collect()
    }

    #[test]
    fn paths_follow_xdg_and_fall_back_to_home() {
        let p = Paths::resolve(&env(&[("HOME", "/h")]), PathBuf::from("/s")).unwrap();
        assert_eq!(
            p.config_file,
            PathBuf::from("/h/.config/anacondad/config.toml")
        );
        assert_eq!(p.state_dir, PathBuf::from("/h/.local/state/anacondad"));
        assert_eq!(p.anaconda_keyring, PathBuf::from("/h/.anaconda/keyring"));
        let p = Paths::resolve(
            &env(&[
                ("HOME", "/h"),
                ("XDG_CONFIG_HOME", "/c"),
                ("XDG_STATE_HOME", "/st"),
                ("ANACONDA_AUTH_KEYRING_PATH", "/k"),
            ]),
            PathBuf::from("/s"),
        )
        .unwrap();
        assert_eq!(p.config_file, PathBuf::from("/c/anacondad/config.toml"));
        assert_eq!(p.state_file(), PathBuf::from("/st/anacondad/state.json"));
        assert_eq!(p.anaconda_keyring, PathBuf::from("/k"));
    }

    #[test]
    fn the_search_path_covers_the_user_files_in_condas_order() {
        let config = CondaUserConfig::resolve(Path::new("/h"), &env(&[("CONDARC", "/x/site.yml")]));
        let shown: Vec<String> = config
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        assert_eq!(
            shown,
            [
                "/h/.config/conda/.condarc",
                "/h/.config/conda/condarc",
                "/h/.conda/.condarc",
                "/h/.conda/condarc",
                "/h/.condarc",
                "/x/site.yml",
            ]
        );
    }

    #[test]
    fn a_condarc_variable_with_a_name_conda_ignores_is_ignored() {
        let config =
            CondaUserConfig::resolve(Path::new("/h"), &env(&[("CONDARC", "/x/settings.txt")]));
        assert!(!config.files.iter().any(|f| f.ends_with("settings.txt")));
    }

    #[test]
    fn drop_in_files_count_and_are_read_in_name_order() {
        let home = tempfile::tempdir().unwrap();
        let config = CondaUserConfig::resolve(home.path(), &env(&[]));
        let dropins = home.path().join(".conda/condarc.d");
        std::fs::create_dir_all(&dropins).unwrap();
        for name in ["b.yml", "a.yaml", "notes.txt"] {
            std::fs::write(dropins.join(name), "channels: []\n").unwrap();
        }
        std::fs::write(home.path().join(".condarc"), "{}\n").unwrap();
        let names: Vec<String> = config
            .existing_files()
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [".condarc", "a.yaml", "b.yml"]);
        assert!(config.covers(&dropins.join("c.yaml")));
        assert!(!config.covers(&dropins.join("notes.txt")));
        assert!(config.watched_dirs().contains(&dropins));
    }

    #[test]
    fn missing_home_is_an_error() {
        assert!(matches!(
            Paths::resolve(&env(&[]), PathBuf::from("/s")),
            Err(ConfigError::NoHome)
        ));
    }
}
