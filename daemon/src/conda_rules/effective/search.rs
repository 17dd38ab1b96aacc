//! conda's search path: the templates for a platform, the expansion of the variables in
//! them, and the files each entry contributes.

use std::path::{Path, PathBuf};

use super::SearchPathInput;
use crate::conda_rules::Platform;

/// conda's search path for `input`, as templates before expansion.
pub(super) fn search_path_templates(input: &SearchPathInput) -> Vec<String> {
    let mut templates: Vec<String> = Vec::new();
    let system: Vec<String> = match &input.system_dirs {
        Some(dirs) => dirs.iter().map(|d| d.display().to_string()).collect(),
        None => match input.platform {
            Platform::Unix => vec!["/etc/conda".into(), "/var/lib/conda".into()],
            Platform::Windows => vec!["C:/ProgramData/conda".into()],
        },
    };
    let dir_entries = |dir: &str| {
        [
            format!("{dir}/.condarc"),
            format!("{dir}/condarc"),
            format!("{dir}/condarc.d/"),
        ]
    };
    for dir in &system {
        templates.extend(dir_entries(dir));
    }
    templates.extend(dir_entries("$CONDA_ROOT"));
    for dir in USER_DIRS {
        templates.extend(dir_entries(dir));
    }
    templates.push(USER_FILE.into());
    templates.extend(dir_entries("$CONDA_PREFIX"));
    templates.push(CONDARC_FILE.into());
    templates
}

/// The directories of conda's search path that a user writes, in conda's order; each holds
/// `.condarc`, `condarc` and `condarc.d/`.
pub const USER_DIRS: [&str; 3] = ["$XDG_CONFIG_HOME/conda", "~/.config/conda", "~/.conda"];
/// The user's own file, after those directories (and before the environment's).
pub const USER_FILE: &str = "~/.condarc";
/// The file the `CONDARC` variable names, last of all.
pub const CONDARC_FILE: &str = "$CONDARC";

/// A template of the user part of the search path, expanded with `home` and the variables of
/// `lookup`; `None` when it names a variable that is not set (conda would look for a path
/// that does not exist).
pub fn expand_user(
    template: &str,
    home: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    let unset = std::cell::Cell::new(false);
    let expanded = expand_vars(
        template,
        &|name| {
            let value = lookup(name).filter(|v| !v.is_empty());
            unset.set(unset.get() || value.is_none());
            value
        },
        false,
    );
    if unset.get() {
        return None;
    }
    Some(match expanded.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(expanded),
    })
}

impl SearchPathInput {
    /// `$CONDA_ROOT`: the variable, else the installation (conda sets it so at import).
    fn conda_root_var(&self) -> String {
        self.env
            .get("CONDA_ROOT")
            .cloned()
            .unwrap_or_else(|| self.conda_root.display().to_string())
    }

    /// The prefix conda targets without `-n`/`-p`: the active one (`$CONDA_PREFIX`, when not
    /// empty), else one named by `$CONDA_DEFAULT_ENV` that is a path, else the installation.
    /// (An environment named by `CONDA_DEFAULT_ENV` alone is looked up in `envs_dirs` by conda;
    /// that is taken as `<installation>/envs/<name>`.)
    pub fn target_prefix(&self) -> PathBuf {
        if let Some(prefix) = self.env.get("CONDA_PREFIX").filter(|p| !p.is_empty()) {
            return PathBuf::from(prefix);
        }
        match self.env.get("CONDA_DEFAULT_ENV").map(String::as_str) {
            None | Some("base" | "root") => self.conda_root.clone(),
            Some(name) if name.contains('/') || name.contains('\\') => PathBuf::from(name),
            Some(name) => self.conda_root.join("envs").join(name),
        }
    }

    /// Expands `$VAR`, `${VAR}` and `%VAR%` (conda's `custom_expandvars`, with
    /// `$CONDA_PREFIX` the target prefix and `$CONDA_ROOT` as conda sets it), then `~`.
    pub(super) fn expand(&self, template: &str) -> PathBuf {
        let lookup = |name: &str| -> Option<String> {
            match name {
                "CONDA_PREFIX" => Some(self.target_prefix().display().to_string()),
                "CONDA_ROOT" => Some(self.conda_root_var()),
                _ => self.env.get(name).cloned(),
            }
        };
        let expanded = expand_vars(template, &lookup, true);
        if expanded == "~" {
            self.home.clone()
        } else if let Some(rest) = expanded.strip_prefix("~/") {
            self.home.join(rest)
        } else {
            PathBuf::from(expanded)
        }
    }
}

/// `$NAME`, `${NAME}` (and with `percent`, `%NAME%`) replaced where `lookup` knows the name;
/// anything else is left as it is, as conda does.
pub(super) fn expand_vars(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    percent: bool,
) -> String {
    let is_start = |c: char| c.is_ascii_alphabetic() || c == '_';
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let name_from = |start: usize| -> usize {
            let mut end = start;
            if end < chars.len() && is_start(chars[end]) {
                end += 1;
                while end < chars.len() && is_name(chars[end]) {
                    end += 1;
                }
            }
            end
        };
        // Where the name starts, and the character that must close it (`}`, `%`, or none).
        let form = match c {
            '$' if chars.get(i + 1) == Some(&'{') => Some((i + 2, Some('}'))),
            '$' => Some((i + 1, None)),
            '%' if percent => Some((i + 1, Some('%'))),
            _ => None,
        };
        if let Some((start, close)) = form {
            let end = name_from(start);
            let closed = close.is_none_or(|close| chars.get(end) == Some(&close));
            if end > start && closed {
                let name: String = chars[start..end].iter().collect();
                if let Some(value) = lookup(&name) {
                    out.push_str(&value);
                    i = end + usize::from(close.is_some());
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// conda reads a file of its search path only by these names: `.condarc`, `condarc`, `*.yml`,
/// `*.yaml`.
pub fn is_condarc_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name == ".condarc" || name == "condarc" || has_yaml_extension(path)
}

/// `*.yml` or `*.yaml`, as Python's `Path.suffix` tells (the drop-ins of `condarc.d/`).
pub fn has_yaml_extension(path: &Path) -> bool {
    // Python's `Path.suffix`: a leading dot alone (".yml") is no suffix.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.rfind('.') {
        Some(0) | None => false,
        Some(at) => matches!(&name[at..], ".yml" | ".yaml"),
    }
}

/// The files conda reads, in its order (lowest precedence first), each once.
pub fn search_path(input: &SearchPathInput) -> Vec<PathBuf> {
    search_path_with(input, None)
}

/// [`search_path`], with `planned` counted as a file wherever the path names it, even when it
/// does not exist yet (a `.condarc` about to be written).
pub(super) fn search_path_with(input: &SearchPathInput, planned: Option<&Path>) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Vec::new();
    for template in search_path_templates(input) {
        let path = input.expand(&template);
        if planned == Some(path.as_path()) && is_condarc_name(&path) {
            files.push(path);
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_file() && is_condarc_name(&path) {
            files.push(path);
        } else if meta.is_dir() {
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            let mut names: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.path().is_file() && has_yaml_extension(&e.path()))
                .map(|e| e.path())
                .collect();
            names.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
            files.extend(names);
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    files
}
