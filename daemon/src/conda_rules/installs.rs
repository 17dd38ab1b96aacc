//! The conda installations a user runs, found where installers and shells put them, and
//! whether each one's Python can load our auth handler. Read from the installation's
//! `site-packages/*.dist-info` (no Python is started): conda loads plugins through the
//! `conda` entry-point group, so a handler is usable exactly when a distribution there declares
//! it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Platform;

/// Our plugin's own distribution (`packaging/conda-plugin`, which the `anacondad` wheel and
/// conda package carry too) and its entry point in group `conda`.
pub const PLUGIN_DISTRIBUTION: &str = "conda-anacondad";
/// The package a user installs to get the plugin with the binaries: the wheel on PyPI, and
/// the conda package of the same name.
pub const PLUGIN_PACKAGE: &str = "anacondad";
pub const PLUGIN_ENTRY_POINT: &str = "anacondad";
/// anaconda-auth's distribution; its handler is `auth: anaconda-auth`.
pub const ANACONDA_AUTH_DISTRIBUTION: &str = "anaconda-auth";

/// Where to look.
#[derive(Debug, Clone)]
pub struct InstallSearch {
    /// The environment (a snapshot): `CONDA_EXE`, `PATH`, `CONDA_PREFIX`, `LOCALAPPDATA`, ...
    pub env: BTreeMap<String, String>,
    /// `~`.
    pub home: PathBuf,
    pub platform: Platform,
    /// Replaces the machine-wide locations (`/opt/conda`, `C:\ProgramData\...`) when set, for
    /// tests.
    pub system_locations: Option<Vec<PathBuf>>,
}

/// How a candidate was found (one installation may be found several ways).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoundBy {
    /// `$CONDA_EXE`.
    CondaExe,
    /// `conda` on `PATH`.
    Path,
    /// `$CONDA_PREFIX`, the active environment.
    ActivePrefix,
    /// A usual install location.
    Location(PathBuf),
}

/// One conda installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondaInstall {
    /// The installation's prefix (what `conda info --base` prints).
    pub prefix: PathBuf,
    pub found_by: Vec<FoundBy>,
    /// The Python conda runs with.
    pub python: PathBuf,
    /// conda's version, from its dist-info, when it says.
    pub conda_version: Option<String>,
    /// True when a distribution declares our entry point in group `conda`.
    pub has_anacondad_plugin: bool,
    /// anaconda-auth's version, when it is installed there.
    pub anaconda_auth: Option<String>,
}

impl CondaInstall {
    /// The search-path description of this conda run with `env` in `home`: the same files,
    /// in the same order, as this installation reads.
    pub fn search_path_input(
        &self,
        env: BTreeMap<String, String>,
        home: PathBuf,
        platform: Platform,
    ) -> super::effective::SearchPathInput {
        super::effective::SearchPathInput {
            env,
            home,
            conda_root: self.prefix.clone(),
            platform,
            system_dirs: None,
        }
    }

    /// The command that installs our plugin (with the binaries beside it) into this conda's
    /// Python.
    pub fn plugin_install_command(&self) -> String {
        format!(
            "\"{}\" -m pip install {PLUGIN_PACKAGE}",
            self.python.display()
        )
    }
}

/// Every conda installation found, each once, in the order found (`CONDA_EXE`, `PATH`, the
/// active prefix, then the usual locations).
pub fn find_installations(search: &InstallSearch) -> Vec<CondaInstall> {
    let mut found: Vec<CondaInstall> = Vec::new();
    for (prefix, how) in candidates(search) {
        let key = canonical(&prefix);
        if let Some(known) = found.iter_mut().find(|i| canonical(&i.prefix) == key) {
            if !known.found_by.contains(&how) {
                known.found_by.push(how);
            }
            continue;
        }
        if let Some(mut install) = inspect(&prefix, search.platform) {
            install.found_by.push(how);
            found.push(install);
        }
    }
    found
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Prefixes that may hold a conda, with how each was found.
fn candidates(search: &InstallSearch) -> Vec<(PathBuf, FoundBy)> {
    let mut out = Vec::new();
    let env = |k: &str| search.env.get(k).filter(|v| !v.is_empty());
    if let Some(exe) = env("CONDA_EXE")
        && let Some(prefix) = prefix_of_executable(Path::new(exe))
    {
        out.push((prefix, FoundBy::CondaExe));
    }
    if let Some(path) = env("PATH") {
        let separator = match search.platform {
            Platform::Unix => ':',
            Platform::Windows => ';',
        };
        let names: &[&str] = match search.platform {
            Platform::Unix => &["conda"],
            Platform::Windows => &["conda.exe", "conda.bat"],
        };
        for dir in path.split(separator).filter(|d| !d.is_empty()) {
            for name in names {
                let exe = Path::new(dir).join(name);
                if exe.is_file()
                    && let Some(prefix) = prefix_of_executable(&exe)
                {
                    out.push((prefix, FoundBy::Path));
                }
            }
        }
    }
    if let Some(prefix) = env("CONDA_PREFIX") {
        out.push((PathBuf::from(prefix), FoundBy::ActivePrefix));
    }
    for location in usual_locations(search) {
        out.push((location.clone(), FoundBy::Location(location)));
    }
    out
}

/// `<prefix>/bin/conda`, `<prefix>/condabin/conda`, `<prefix>\Scripts\conda.exe`,
/// `<prefix>\condabin\conda.bat` -> `<prefix>`; a symlink is followed first.
fn prefix_of_executable(exe: &Path) -> Option<PathBuf> {
    let exe = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_path_buf());
    let dir = exe.parent()?;
    let dir_name = dir.file_name()?.to_string_lossy().to_ascii_lowercase();
    if matches!(dir_name.as_str(), "bin" | "condabin" | "scripts") {
        dir.parent().map(Path::to_path_buf)
    } else {
        None
    }
}

/// Where the Miniconda, Anaconda, Miniforge installers and images put conda, per platform.
fn usual_locations(search: &InstallSearch) -> Vec<PathBuf> {
    let home = &search.home;
    let names = ["miniconda3", "anaconda3", "miniforge3", "mambaforge"];
    let mut out: Vec<PathBuf> = names.iter().map(|n| home.join(n)).collect();
    match search.platform {
        Platform::Unix => {
            // macOS: the graphical installers' ~/opt, and Homebrew casks.
            out.extend(names.iter().map(|n| home.join("opt").join(n)));
            let system = search.system_locations.clone().unwrap_or_else(|| {
                let mut system = vec![PathBuf::from("/opt/conda")];
                system.extend(names.iter().map(|n| Path::new("/opt").join(n)));
                for brew in ["/opt/homebrew/Caskroom", "/usr/local/Caskroom"] {
                    for cask in ["miniconda", "miniforge", "anaconda"] {
                        system.push(Path::new(brew).join(cask).join("base"));
                    }
                }
                system
            });
            out.extend(system);
        }
        Platform::Windows => {
            if let Some(local) = search.env.get("LOCALAPPDATA") {
                out.extend(names.iter().map(|n| Path::new(local).join(n)));
            }
            let system = search.system_locations.clone().unwrap_or_else(|| {
                let data = search
                    .env
                    .get("ProgramData")
                    .cloned()
                    .unwrap_or_else(|| "C:\\ProgramData".into());
                names.iter().map(|n| Path::new(&data).join(n)).collect()
            });
            out.extend(system);
        }
    }
    out
}

/// The installation at `prefix`, when it holds conda.
fn inspect(prefix: &Path, platform: Platform) -> Option<CondaInstall> {
    let site = site_packages(prefix, platform)?;
    let dists = distributions(&site);
    let conda = dists.iter().find(|d| d.name == "conda");
    // A conda installed by conda itself may carry no dist-info; its package still shows it.
    if conda.is_none() && !site.join("conda").join("__init__.py").is_file() {
        return None;
    }
    let python = match platform {
        Platform::Unix => prefix.join("bin/python"),
        Platform::Windows => prefix.join("python.exe"),
    };
    Some(CondaInstall {
        prefix: prefix.to_path_buf(),
        found_by: Vec::new(),
        python,
        conda_version: conda.and_then(|d| d.version.clone()),
        // Whichever distribution declares it: the plugin's own (`conda-anacondad`) or the
        // `anacondad` wheel, which carries the plugin beside the binaries.
        has_anacondad_plugin: dists
            .iter()
            .any(|d| d.conda_entry_points.iter().any(|e| e == PLUGIN_ENTRY_POINT)),
        anaconda_auth: dists
            .iter()
            .find(|d| d.name == ANACONDA_AUTH_DISTRIBUTION)
            .map(|d| d.version.clone().unwrap_or_default()),
    })
}

/// `lib/python3.X/site-packages` (the newest when there are several) or `Lib\site-packages`.
fn site_packages(prefix: &Path, platform: Platform) -> Option<PathBuf> {
    match platform {
        Platform::Windows => Some(prefix.join("Lib").join("site-packages")).filter(|p| p.is_dir()),
        Platform::Unix => {
            let mut found: Vec<PathBuf> = std::fs::read_dir(prefix.join("lib"))
                .ok()?
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("python"))
                .map(|e| e.path().join("site-packages"))
                .filter(|p| p.is_dir())
                .collect();
            found.sort();
            found.pop()
        }
    }
}

/// An installed distribution, as its dist-info says.
#[derive(Debug)]
struct Distribution {
    /// Normalised (PEP 503: lower case, runs of `-_.` as `-`).
    name: String,
    version: Option<String>,
    /// Entry-point names in group `conda`.
    conda_entry_points: Vec<String>,
}

fn normalise(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

fn distributions(site: &Path) -> Vec<Distribution> {
    let Ok(entries) = std::fs::read_dir(site) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let dir_name = entry.file_name().to_string_lossy().into_owned();
            let stem = dir_name.strip_suffix(".dist-info")?;
            let dir = entry.path();
            let metadata = crate::fsutil::read_to_string(&dir.join("METADATA")).unwrap_or_default();
            let field = |key: &str| {
                metadata
                    .lines()
                    .take_while(|l| !l.is_empty())
                    .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
            };
            // `<name>-<version>.dist-info`, when METADATA does not say.
            let (dir_dist, dir_version) = match stem.rsplit_once('-') {
                Some((name, version)) => (name.to_string(), Some(version.to_string())),
                None => (stem.to_string(), None),
            };
            let name = normalise(&field("Name:").unwrap_or(dir_dist));
            let version = field("Version:").or(dir_version);
            let entry_points = crate::fsutil::read_to_string(&dir.join("entry_points.txt"))
                .map(|text| group_entries(&text, "conda"))
                .unwrap_or_default();
            Some(Distribution {
                name,
                version,
                conda_entry_points: entry_points,
            })
        })
        .collect()
}

/// The names declared in `[group]` of an `entry_points.txt` (an INI file).
fn group_entries(text: &str, group: &str) -> Vec<String> {
    let mut inside = false;
    let mut names = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') && line.ends_with(']') {
            inside = line[1..line.len() - 1].trim() == group;
        } else if inside
            && !line.is_empty()
            && !line.starts_with('#')
            && !line.starts_with(';')
            && let Some((name, _)) = line.split_once('=')
        {
            names.push(name.trim().to_string());
        }
    }
    names
}

#[cfg(test)]
mod tests;
