//! `anacondactl [--at SITE] export --for pip|uv [--channel NAME] [--dry-run] [--off]`: points
//! pip or uv at a PyPI index under the site's repository, with no secret: Anaconda's wheels
//! index (`<repository>/anaconda-wheels/simple/`, username `__token__` in the URL), or a Package
//! Security Manager's PyPI channel (`<repository>/<channel>/simple/`, no username: its username
//! is the token; `anacondad_proto::index` has the rule). They ask `keyring` for the credential,
//! and the conda plugin's keyring backend answers with the daemon's current API key, so a
//! renewal needs no rewrite.
//!
//! pip's `keyring-provider`: `auto` is off under `pip --no-input` (pip's `use_keyring`), so
//! one that names its way is written: `import` when the `keyring` on PATH lives beside pip (pip
//! imports keyring there; it refuses `subprocess` with a `keyring` of its own environment),
//! `subprocess` when it lives elsewhere (pip runs it); `--keyring-provider` overrides. uv gets
//! `subprocess` (its only one), with `authenticate = "always"` for an index whose URL names no
//! username (uv then asks `keyring --mode creds`). Written once by the CLI (there is nothing to
//! keep current); `--off` takes out what it wrote and nothing else.

use std::path::{Path, PathBuf};

use anacondad_proto::index::{IndexForm, WHEELS_CHANNEL, WHEELS_USERNAME};
use anacondad_proto::v1::StatusRequest;

use super::Output;
use crate::cli::ExportArgs;
use crate::connection::Target;
use crate::exit::CliError;

/// The line marking the lines of pip's file that are ours.
pub(super) const PIP_MARKER: &str = "# anacondad: a PyPI index of your Anaconda site, the key from keyring (anacondactl export --for pip)";
/// The marker earlier versions wrote (recognised by `--off` and a rewrite).
const OLD_PIP_MARKER: &str =
    "# anacondad: Anaconda's wheels index, the key from keyring (anacondactl export --for pip)";
/// The name of uv's index entry.
pub(super) const UV_INDEX_NAME: &str = "anaconda-wheels";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tool {
    Pip,
    Uv,
}

pub async fn run(args: ExportArgs, target: &Target, out: Output) -> Result<(), CliError> {
    let tool = if args.tool == "uv" {
        Tool::Uv
    } else {
        Tool::Pip
    };
    let status = target
        .connect_or_start()
        .await?
        .daemon()
        .status(StatusRequest::default())
        .await?
        .into_inner();
    let url = index_url(&status.repo_url, args.channel.as_deref())?;
    let provider = match tool {
        Tool::Uv => "subprocess",
        Tool::Pip => match args.keyring_provider.as_deref() {
            Some(named) => named,
            None => pip_keyring_provider(which("pip").as_deref(), which("keyring").as_deref()),
        },
    };
    let path = config_path(
        tool,
        |name| std::env::var_os(name).map(PathBuf::from),
        cfg!(windows),
    )
    .ok_or_else(|| CliError::failed("no home directory is known: set HOME"))?;
    let held = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(CliError::failed(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let wanted = (!args.off).then_some(url.as_str());
    let next = match tool {
        Tool::Pip => edit_pip_conf(&held, wanted, provider),
        Tool::Uv => edit_uv_toml(&held, wanted).map_err(|e| {
            CliError::failed(format!(
                "{} is not TOML uv reads ({e}); fix it first",
                path.display()
            ))
        })?,
    };
    let changed = next != held;
    if changed && !args.dry_run {
        write(&path, &next)
            .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))?;
    }
    let tool_name = if tool == Tool::Uv { "uv" } else { "pip" };
    if out.json {
        out.print_json(&crate::json::keyring::IndexExport {
            tool: tool_name.to_owned(),
            path: path.display().to_string(),
            index_url: url,
            keyring_provider: provider.to_owned(),
            enabled: !args.off,
            changed,
            dry_run: args.dry_run,
        });
        return Ok(());
    }
    let shown = path.display();
    match (args.off, args.dry_run, changed) {
        (_, _, false) => crate::outln!("{shown} already says so; nothing changed."),
        (false, true, true) => crate::outln!("Would write to {shown}:\n{next}"),
        (true, true, true) => crate::outln!("Would take anacondad's index out of {shown}."),
        (false, false, true) => crate::outln!(
            "{tool_name} now uses {url} with the key from keyring (keyring-provider = \
             {provider}; no secret in {shown}); {}",
            match provider {
                "import" =>
                    "pip's own environment must hold the conda plugin's package (and keyring)",
                _ => "keyring must be on PATH with the conda plugin's package in its environment",
            }
        ),
        (true, false, true) => crate::outln!("anacondad's index is out of {shown}."),
    }
    Ok(())
}

/// The index of `channel` under `repo_url` in the form its site takes (see the module's doc):
/// the wheels index with username `__token__`, a Package Security Manager's channel with none.
/// The password is never in it: it comes from keyring.
fn index_url(repo_url: &str, channel: Option<&str>) -> Result<String, CliError> {
    let form = IndexForm::of(repo_url);
    let channel = match (form, channel) {
        (_, Some(name)) => name.trim_matches('/'),
        (IndexForm::AnacondaWheels, None) => WHEELS_CHANNEL,
        (IndexForm::PackageSecurityManager, None) => {
            return Err(CliError::failed(format!(
                "{repo_url} is a Package Security Manager's repository: name its PyPI channel \
                 with `--channel NAME`"
            )));
        }
    };
    let not_an_index = || {
        CliError::failed(format!(
            "the daemon's repository URL {repo_url:?} is not one an index can live under; see \
             `anacondactl sites list`"
        ))
    };
    let (scheme, rest) = repo_url.split_once("://").ok_or_else(not_an_index)?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() || channel.is_empty() {
        return Err(not_an_index());
    }
    let rest = rest.trim_end_matches('/');
    Ok(match form {
        IndexForm::AnacondaWheels => {
            format!("{scheme}://{WHEELS_USERNAME}@{rest}/{channel}/simple/")
        }
        IndexForm::PackageSecurityManager => format!("{scheme}://{rest}/{channel}/simple/"),
    })
}

/// pip's `keyring-provider` for the `pip` and `keyring` found on PATH: `import` when keyring is
/// in pip's own directory (pip imports it, and would refuse to run it), `subprocess` when it
/// is elsewhere (pip's environment may lack keyring; pip runs that one). With no `keyring` on
/// PATH, `import`: only a pip whose environment holds the plugin's package gets the key.
fn pip_keyring_provider(pip: Option<&Path>, keyring: Option<&Path>) -> &'static str {
    match (pip.and_then(Path::parent), keyring.and_then(Path::parent)) {
        (Some(pip_dir), Some(keyring_dir)) if pip_dir == keyring_dir => "import",
        (_, Some(_)) => "subprocess",
        (_, None) => "import",
    }
}

/// The first `name` on PATH that is a file.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The user configuration file each tool reads: `PIP_CONFIG_FILE`, else pip's per-user file
/// (`%APPDATA%\pip\pip.ini` on Windows, else `$XDG_CONFIG_HOME/pip/pip.conf`); uv's
/// `%APPDATA%\uv\uv.toml` on Windows, else `$XDG_CONFIG_HOME/uv/uv.toml`.
pub(super) fn config_path(
    tool: Tool,
    var: impl Fn(&str) -> Option<PathBuf>,
    windows: bool,
) -> Option<PathBuf> {
    let var = |name: &str| var(name).filter(|v| !v.as_os_str().is_empty());
    if tool == Tool::Pip
        && let Some(file) = var("PIP_CONFIG_FILE")
    {
        return Some(file);
    }
    let base = if windows {
        var("APPDATA").or_else(|| var("USERPROFILE").map(|h| h.join("AppData").join("Roaming")))?
    } else {
        var("XDG_CONFIG_HOME").or_else(|| var("HOME").map(|h| h.join(".config")))?
    };
    Some(match (tool, windows) {
        (Tool::Pip, true) => base.join("pip").join("pip.ini"),
        (Tool::Pip, false) => base.join("pip").join("pip.conf"),
        (Tool::Uv, _) => base.join("uv").join("uv.toml"),
    })
}

/// pip's INI file with anacondad's lines in `[global]` (`url`: on) or without them (`None`):
/// its `index-url` and `keyring-provider` (`provider`) are set, every other line kept. Off
/// removes the two only where they are still ours.
fn edit_pip_conf(text: &str, url: Option<&str>, provider: &str) -> String {
    let is_marker = |line: &str| line == PIP_MARKER || line == OLD_PIP_MARKER;
    let marked = text.lines().any(|l| is_marker(l.trim()));
    let key_of = |line: &str| {
        line.split_once(['=', ':'])
            .map(|(k, _)| k.trim().to_ascii_lowercase())
    };
    let mut lines: Vec<String> = Vec::new();
    let mut section = String::new();
    let mut global_at = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            section = trimmed[1..trimmed.len() - 1].trim().to_ascii_lowercase();
            lines.push(line.to_owned());
            if section == "global" {
                global_at = Some(lines.len());
            }
            continue;
        }
        let ours = is_marker(trimmed)
            || (section == "global"
                && match key_of(trimmed).as_deref() {
                    Some("index-url") => url.is_some() || marked || trimmed.contains("__token__@"),
                    Some("keyring-provider") => url.is_some() || marked,
                    _ => false,
                });
        if !ours {
            lines.push(line.to_owned());
        }
    }
    if let Some(url) = url {
        let ours = [
            PIP_MARKER.to_owned(),
            format!("index-url = {url}"),
            format!("keyring-provider = {provider}"),
        ];
        match global_at {
            Some(at) => {
                lines.splice(at..at, ours);
            }
            None => {
                if lines.last().is_some_and(|l| !l.trim().is_empty()) {
                    lines.push(String::new());
                }
                lines.push("[global]".to_owned());
                lines.extend(ours);
            }
        }
    }
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// uv's TOML with anacondad's index (`url`: on) or without it (`None`): an `[[index]]` named
/// `anaconda-wheels`, the default one, and `keyring-provider = "subprocess"` (top level, for
/// projects, and under `[pip]`, for `uv pip`); comments and everything else kept.
fn edit_uv_toml(text: &str, url: Option<&str>) -> Result<String, toml_edit::TomlError> {
    use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};
    let mut doc: DocumentMut = text.parse()?;
    let mut indexes = doc
        .remove("index")
        .and_then(|item| item.into_array_of_tables().ok())
        .unwrap_or_default();
    let others: Vec<Table> = indexes
        .iter()
        .filter(|t| t.get("name").and_then(Item::as_str) != Some(UV_INDEX_NAME))
        .cloned()
        .collect();
    indexes = ArrayOfTables::new();
    if let Some(url) = url {
        let mut ours = Table::new();
        ours["name"] = value(UV_INDEX_NAME);
        ours["url"] = value(url);
        ours["default"] = value(true);
        if !url_names_a_user(url) {
            // uv asks keyring for a URL's username and password together (`--mode creds`)
            // only for an index that always authenticates.
            ours["authenticate"] = value("always");
        }
        indexes.push(ours);
        doc["keyring-provider"] = value("subprocess");
        if !doc.contains_key("pip") {
            let mut pip = Table::new();
            pip.set_implicit(false);
            doc["pip"] = Item::Table(pip);
        }
        doc["pip"]["keyring-provider"] = value("subprocess");
    } else if indexes_had_ours(text) {
        doc.remove("keyring-provider");
        if let Some(pip) = doc.get_mut("pip").and_then(Item::as_table_mut) {
            pip.remove("keyring-provider");
            if pip.is_empty() {
                doc.remove("pip");
            }
        }
    }
    for table in others {
        indexes.push(table);
    }
    if !indexes.is_empty() {
        doc["index"] = Item::ArrayOfTables(indexes);
    }
    Ok(doc.to_string())
}

/// Whether `url`'s authority names a username (`https://__token__@host/...`).
fn url_names_a_user(url: &str) -> bool {
    url.split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or("").contains('@'))
        .unwrap_or(false)
}

/// Whether `text` holds anacondad's uv index (so `--off` also takes its keyring setting out).
fn indexes_had_ours(text: &str) -> bool {
    text.contains(&format!("name = \"{UV_INDEX_NAME}\""))
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let scratch = path.with_extension("anacondad-new");
    std::fs::write(&scratch, text)?;
    std::fs::rename(&scratch, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_url_names_the_token_user_and_holds_no_secret() {
        assert_eq!(
            index_url("https://repo.anaconda.cloud/repo/", None)
                .ok()
                .as_deref(),
            Some("https://__token__@repo.anaconda.cloud/repo/anaconda-wheels/simple/")
        );
        assert!(index_url("file:///x/repo/", None).is_err());
    }

    #[test]
    fn a_package_security_managers_channel_has_no_username_and_needs_a_name() {
        assert_eq!(
            index_url("https://psm.example/api/repo/", Some("pypi-mirror"))
                .ok()
                .as_deref(),
            Some("https://psm.example/api/repo/pypi-mirror/simple/")
        );
        assert!(index_url("https://psm.example/api/repo/", None).is_err());
        let uv = edit_uv_toml("", Some("https://psm.example/api/repo/pypi/simple/")).unwrap();
        assert!(uv.contains("authenticate = \"always\""), "{uv}");
        let uv = edit_uv_toml("", Some("https://__token__@r.example/repo/x/simple/")).unwrap();
        assert!(!uv.contains("authenticate"), "{uv}");
    }

    #[test]
    fn pip_imports_a_keyring_beside_it_and_runs_one_from_elsewhere() {
        let venv_pip = Path::new("/venv/bin/pip");
        assert_eq!(
            pip_keyring_provider(Some(venv_pip), Some(Path::new("/venv/bin/keyring"))),
            "import"
        );
        assert_eq!(
            pip_keyring_provider(Some(venv_pip), Some(Path::new("/base/bin/keyring"))),
            "subprocess"
        );
        assert_eq!(
            pip_keyring_provider(None, Some(Path::new("/base/bin/keyring"))),
            "subprocess"
        );
        assert_eq!(pip_keyring_provider(Some(venv_pip), None), "import");
    }

    #[test]
    fn pip_gets_its_index_in_global_keeping_everything_else_and_off_takes_only_ours_out() {
        let held = "# mine\n[global]\ntimeout = 60\nindex-url = https://pypi.example/simple/\n\n[install]\nuser = true\n";
        let url = "https://__token__@r.example/repo/anaconda-wheels/simple/";
        let on = edit_pip_conf(held, Some(url), "import");
        assert_eq!(
            on,
            format!(
                "# mine\n[global]\n{PIP_MARKER}\nindex-url = {url}\nkeyring-provider = import\ntimeout = 60\n\n[install]\nuser = true\n"
            )
        );
        assert_eq!(
            edit_pip_conf(&on, Some(url), "import"),
            on,
            "a second run changes nothing"
        );
        let off = edit_pip_conf(&on, None, "import");
        assert_eq!(
            off,
            "# mine\n[global]\ntimeout = 60\n\n[install]\nuser = true\n"
        );
        assert_eq!(
            edit_pip_conf("", Some(url), "subprocess"),
            format!("[global]\n{PIP_MARKER}\nindex-url = {url}\nkeyring-provider = subprocess\n")
        );
        // A PSM channel's URL names no user: off still finds it by the marker.
        let psm = edit_pip_conf("", Some("https://psm.example/api/repo/p/simple/"), "import");
        assert_eq!(edit_pip_conf(&psm, None, "import"), "[global]\n");
    }

    #[test]
    fn uv_gets_a_default_index_and_the_keyring_provider_and_off_takes_them_out() {
        let held = "# my settings\nnative-tls = true\n\n[[index]]\nname = \"corp\"\nurl = \"https://corp.example/simple/\"\n";
        let url = "https://__token__@r.example/repo/anaconda-wheels/simple/";
        let on = edit_uv_toml(held, Some(url)).unwrap();
        let doc: toml_edit::DocumentMut = on.parse().unwrap();
        assert_eq!(doc["keyring-provider"].as_str(), Some("subprocess"));
        assert_eq!(doc["pip"]["keyring-provider"].as_str(), Some("subprocess"));
        assert_eq!(doc["index"][0]["url"].as_str(), Some(url));
        assert_eq!(doc["index"][1]["name"].as_str(), Some("corp"));
        assert!(on.starts_with("# my settings\nnative-tls = true\n"), "{on}");
        assert_eq!(edit_uv_toml(&on, Some(url)).unwrap(), on);
        let off = edit_uv_toml(&on, None).unwrap();
        let doc: toml_edit::DocumentMut = off.parse().unwrap();
        assert!(
            doc.get("keyring-provider").is_none() && doc.get("pip").is_none(),
            "{off}"
        );
        assert_eq!(doc["index"][0]["name"].as_str(), Some("corp"));
    }

    #[test]
    fn each_tool_reads_its_own_user_file() {
        let vars = |name: &str| match name {
            "HOME" => Some(PathBuf::from("/home/u")),
            "APPDATA" => Some(PathBuf::from("C:/Users/u/AppData/Roaming")),
            _ => None,
        };
        assert_eq!(
            config_path(Tool::Pip, vars, false),
            Some(PathBuf::from("/home/u/.config/pip/pip.conf"))
        );
        assert_eq!(
            config_path(Tool::Uv, vars, true),
            Some(PathBuf::from("C:/Users/u/AppData/Roaming/uv/uv.toml"))
        );
        assert_eq!(
            config_path(Tool::Pip, vars, true),
            Some(PathBuf::from("C:/Users/u/AppData/Roaming/pip/pip.ini"))
        );
    }
}
