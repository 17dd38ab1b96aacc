//! `anacondactl export --for pip|uv [--dry-run] [--off]`: points pip or uv at Anaconda's wheels
//! index (`<repository>/anaconda-wheels/simple/`) with username `__token__` and a keyring
//! provider, and no secret: they ask `keyring` for the password, and the conda plugin's keyring
//! backend answers with the daemon's current API key, so a renewal needs no rewrite. pip gets
//! `keyring-provider = auto` (it imports keyring where it runs beside it, else runs the `keyring`
//! on PATH; pip refuses `subprocess` with a `keyring` of its own environment), uv `subprocess`
//! (its only one). Written once by the CLI (there is nothing to keep current); `--off` takes
//! out what it wrote and nothing else.

use std::path::{Path, PathBuf};

use anacondad_proto::v1::StatusRequest;

use super::Output;
use crate::cli::ExportArgs;
use crate::connection::Target;
use crate::exit::CliError;

/// The wheels index under a site's repository (`ana feature enable wheels` uses the same).
const WHEELS_PATH: &str = "anaconda-wheels/simple/";
/// The line marking the lines of pip's file that are ours.
const PIP_MARKER: &str =
    "# anacondad: Anaconda's wheels index, the key from keyring (anacondactl export --for pip)";
/// The name of uv's index entry.
const UV_INDEX_NAME: &str = "anaconda-wheels";

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
    let url = index_url(&status.repo_url).ok_or_else(|| {
        CliError::failed(format!(
            "the daemon's repository URL {:?} is not one an index can live under; see \
             `anacondactl sites list`",
            status.repo_url
        ))
    })?;
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
        Tool::Pip => edit_pip_conf(&held, wanted),
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
            "{tool_name} now uses {url} with the key from keyring (no secret in {shown}); \
             keyring must be on PATH with the conda plugin's package in its environment"
        ),
        (true, false, true) => crate::outln!("anacondad's index is out of {shown}."),
    }
    Ok(())
}

/// `<repo>/anaconda-wheels/simple/` with username `__token__` (the password comes from
/// keyring); `None` for a repository URL that is not http(s).
fn index_url(repo_url: &str) -> Option<String> {
    let (scheme, rest) = repo_url.split_once("://")?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() {
        return None;
    }
    let rest = rest.trim_end_matches('/');
    Some(format!("{scheme}://__token__@{rest}/{WHEELS_PATH}"))
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
/// its `index-url` and `keyring-provider` are set, every other line kept. Off removes the two
/// only where they are still ours.
fn edit_pip_conf(text: &str, url: Option<&str>) -> String {
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
        let ours = trimmed == PIP_MARKER
            || (section == "global"
                && match key_of(trimmed).as_deref() {
                    Some("index-url") => url.is_some() || trimmed.contains("__token__@"),
                    Some("keyring-provider") => {
                        url.is_some() || text.lines().any(|l| l.trim() == PIP_MARKER)
                    }
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
            "keyring-provider = auto".to_owned(),
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
            index_url("https://repo.anaconda.cloud/repo/").as_deref(),
            Some("https://__token__@repo.anaconda.cloud/repo/anaconda-wheels/simple/")
        );
        assert_eq!(index_url("file:///x/repo/"), None);
    }

    #[test]
    fn pip_gets_its_index_in_global_keeping_everything_else_and_off_takes_only_ours_out() {
        let held = "# mine\n[global]\ntimeout = 60\nindex-url = https://pypi.example/simple/\n\n[install]\nuser = true\n";
        let url = "https://__token__@r.example/repo/anaconda-wheels/simple/";
        let on = edit_pip_conf(held, Some(url));
        assert_eq!(
            on,
            format!(
                "# mine\n[global]\n{PIP_MARKER}\nindex-url = {url}\nkeyring-provider = auto\ntimeout = 60\n\n[install]\nuser = true\n"
            )
        );
        assert_eq!(
            edit_pip_conf(&on, Some(url)),
            on,
            "a second run changes nothing"
        );
        let off = edit_pip_conf(&on, None);
        assert_eq!(
            off,
            "# mine\n[global]\ntimeout = 60\n\n[install]\nuser = true\n"
        );
        assert_eq!(
            edit_pip_conf("", Some(url)),
            format!("[global]\n{PIP_MARKER}\nindex-url = {url}\nkeyring-provider = auto\n")
        );
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
