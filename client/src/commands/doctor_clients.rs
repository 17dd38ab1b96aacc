//! doctor's `clients` section: each other Anaconda client found on this machine (on PATH) and
//! whether it sees the daemon's current credential: anaconda-auth through the keyring backend
//! of conda-anacondad in its environment; `ana` through `~/.anaconda/keyring` (the only store
//! it reads); pip and uv through their index configuration and keyring (a key copied into
//! their configuration goes stale at renewal); pixi and mamba through the daemon's export.

use std::path::{Path, PathBuf};

use anacondad_proto::v1::{ExportTarget, GetKeyringEntryRequest, StatusRequest};

use super::export_index::{PIP_MARKER, Tool, UV_INDEX_NAME, config_path};
use crate::connection::DaemonClient;

/// One client's line: `ok` when it sees the daemon's current credential (or does not need
/// one from it), else the command that makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinding {
    pub id: &'static str,
    pub ok: bool,
    pub evidence: String,
    pub fix: String,
}

impl ClientFinding {
    fn ok(id: &'static str, evidence: String) -> Self {
        Self {
            id,
            ok: true,
            evidence,
            fix: String::new(),
        }
    }

    fn warn(id: &'static str, evidence: String, fix: &str) -> Self {
        Self {
            id,
            ok: false,
            evidence,
            fix: fix.to_owned(),
        }
    }
}

/// Reads one environment variable as a path.
pub type VarReader = Box<dyn Fn(&str) -> Option<PathBuf>>;

/// The environment doctor reads, as values.
pub struct Environment {
    pub path: Option<std::ffi::OsString>,
    pub home: Option<PathBuf>,
    pub var: VarReader,
}

impl Environment {
    pub fn from_process() -> Self {
        Self {
            path: std::env::var_os("PATH"),
            home: std::env::var_os("HOME").map(PathBuf::from),
            var: Box::new(|name| std::env::var_os(name).map(PathBuf::from)),
        }
    }

    fn find(&self, program: &str) -> Option<PathBuf> {
        let path = self.path.as_ref()?;
        std::env::split_paths(path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    }
}

/// Every client found, in a fixed order.
pub async fn findings(client: &DaemonClient, env: &Environment) -> Vec<ClientFinding> {
    let Ok(status) = client.daemon().status(StatusRequest {}).await else {
        return Vec::new();
    };
    let status = status.into_inner();
    let domain = status
        .sites
        .iter()
        .find(|s| s.name == status.site)
        .map(|s| s.domain.clone())
        .unwrap_or_default();
    let api_key = daemons_api_key(client, &domain).await;
    let mut found = Vec::new();
    if let Some(anaconda) = env.find("anaconda") {
        found.push(anaconda_auth(&anaconda));
    }
    if env.find("ana").is_some() {
        found.push(ana(env, &domain, api_key.as_deref()));
    }
    for (program, tool) in [("pip", Tool::Pip), ("uv", Tool::Uv)] {
        if env.find(program).is_some() {
            found.push(index_tool(env, tool, api_key.as_deref()));
        }
    }
    for (program, target) in [
        ("pixi", ExportTarget::Rattler),
        ("mamba", ExportTarget::Mamba),
        ("micromamba", ExportTarget::Mamba),
    ] {
        if env.find(program).is_some() {
            let on = status
                .exports
                .iter()
                .any(|e| e.target == i32::from(target) && e.enabled);
            found.push(exported(program, on));
        }
    }
    found
}

async fn daemons_api_key(client: &DaemonClient, domain: &str) -> Option<String> {
    let entry = client
        .keyring()
        .get_keyring_entry(GetKeyringEntryRequest {
            service: "Anaconda Cloud".to_owned(),
            username: domain.to_owned(),
        })
        .await
        .ok()?
        .into_inner();
    record_api_key(&entry.password)
}

/// The `api_key` of an anaconda-auth record (base64 of its JSON).
fn record_api_key(encoded: &str) -> Option<String> {
    let json = decode_base64(encoded.trim())?;
    let record: serde_json::Value = serde_json::from_slice(&json).ok()?;
    record["api_key"].as_str().map(str::to_owned)
}

/// Standard base64, padded or not (the record's encoding).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
}

/// anaconda-auth sees the daemon's credential when conda-anacondad (its keyring backend) is
/// installed in the environment of the Python its `anaconda` script runs.
fn anaconda_auth(script: &Path) -> ClientFinding {
    let python = std::fs::read_to_string(script)
        .ok()
        .and_then(|text| text.lines().next().map(str::to_owned))
        .and_then(|line| line.strip_prefix("#!").map(|p| PathBuf::from(p.trim())));
    let prefix = python
        .as_deref()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    let has_backend = prefix.as_deref().is_some_and(|prefix| {
        ["lib", "Lib"].iter().any(|lib| {
            std::fs::read_dir(prefix.join(lib)).is_ok_and(|dirs| {
                dirs.filter_map(Result::ok).any(|d| {
                    let site = if *lib == "Lib" {
                        prefix.join("Lib/site-packages")
                    } else {
                        d.path().join("site-packages")
                    };
                    site.join("conda_anacondad/keyring_backend.py").is_file()
                })
            })
        })
    });
    let shown = prefix
        .as_deref()
        .map_or_else(|| script.display().to_string(), |p| p.display().to_string());
    if has_backend {
        ClientFinding::ok(
            "clients.anaconda_auth",
            format!(
                "reads the daemon's credential through conda-anacondad's keyring backend in {shown}"
            ),
        )
    } else {
        ClientFinding::warn(
            "clients.anaconda_auth",
            format!("its environment {shown} has no conda-anacondad: it reads its own store"),
            "install conda-anacondad into anaconda-auth's environment (packaging/conda-plugin), \
             or `anacondactl token install --yes` to set its preferred_token_storage",
        )
    }
}

/// `ana` reads only `~/.anaconda/keyring`.
fn ana(env: &Environment, domain: &str, current: Option<&str>) -> ClientFinding {
    let file = (env.var)("ANACONDA_AUTH_KEYRING_PATH")
        .or_else(|| env.home.as_ref().map(|h| h.join(".anaconda/keyring")));
    let held = file
        .as_deref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v["Anaconda Cloud"][domain].as_str().map(str::to_owned))
        .and_then(|record| record_api_key(&record));
    match (held.as_deref(), current) {
        (Some(held), Some(current)) if held == current => ClientFinding::ok(
            "clients.ana",
            "its file ~/.anaconda/keyring holds the daemon's current API key".to_owned(),
        ),
        _ => ClientFinding::warn(
            "clients.ana",
            "ana reads only ~/.anaconda/keyring, which holds another API key or none".to_owned(),
            "`ana login` (the daemon adopts its key), or `storage = file` in anacondad's \
             config.toml to let the daemon keep that file current",
        ),
    }
}

/// pip and uv: their index configuration names an index of the site (Anaconda's wheels index,
/// or what `anacondactl export` wrote: a Package Security Manager's PyPI channel) with no
/// secret (the key comes from keyring), or holds a copy of a key (`__token__:<key>@`, or a
/// PSM token as `<token>:x-auth-token@`). pip's `keyring-provider = auto` is a warning: `pip
/// --no-input` then asks no keyring.
fn index_tool(env: &Environment, tool: Tool, current: Option<&str>) -> ClientFinding {
    let (id, name) = match tool {
        Tool::Pip => ("clients.pip", "pip"),
        Tool::Uv => ("clients.uv", "uv"),
    };
    let text = config_path(tool, |n| (env.var)(n), cfg!(windows))
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default();
    let fix = format!("anacondactl export --for {name}");
    let copied_key = text
        .lines()
        .any(|line| line.contains("__token__:") || line.contains(":x-auth-token@"));
    if copied_key {
        let stale = current.is_none_or(|key| !text.contains(key));
        return ClientFinding::warn(
            id,
            format!(
                "{name}'s configuration holds a copy of an API key{}",
                if stale {
                    ", not the daemon's current one"
                } else {
                    " (stale at the next renewal)"
                }
            ),
            &fix,
        );
    }
    let ours = (text.contains("__token__@") && text.contains("anaconda-wheels"))
        || match tool {
            Tool::Pip => text.lines().any(|l| l.trim() == PIP_MARKER),
            Tool::Uv => text.contains(&format!("name = \"{UV_INDEX_NAME}\"")),
        };
    let auto = tool == Tool::Pip
        && text.lines().any(|l| {
            l.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("keyring-provider") && v.trim() == "auto"
            })
        });
    if ours && auto {
        ClientFinding::warn(
            id,
            "pip asks keyring for the index's key with keyring-provider = auto, which `pip \
             --no-input` turns off"
                .to_owned(),
            &fix,
        )
    } else if ours {
        ClientFinding::ok(
            id,
            format!("{name} asks keyring for the index's key: the daemon's current one"),
        )
    } else {
        ClientFinding::ok(
            id,
            format!("{name} is not pointed at an index of your Anaconda site (`{fix}` does it)"),
        )
    }
}

fn exported(program: &'static str, on: bool) -> ClientFinding {
    let (id, export) = match program {
        "pixi" => ("clients.pixi", "pixi"),
        "mamba" => ("clients.mamba", "mamba"),
        _ => ("clients.micromamba", "mamba"),
    };
    if on {
        ClientFinding::ok(
            id,
            format!("the daemon keeps {program}'s credential store current"),
        )
    } else {
        ClientFinding::warn(
            id,
            format!("{program} keeps its own credential store, which the daemon does not write"),
            &format!("anacondactl export --for {export}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_records_api_key_is_read_from_its_base64() {
        // {"domain":"d","api_key":"k1"}
        assert_eq!(
            record_api_key("eyJkb21haW4iOiJkIiwiYXBpX2tleSI6ImsxIn0=").as_deref(),
            Some("k1")
        );
        assert_eq!(record_api_key("not base64!"), None);
    }

    #[test]
    fn pip_with_a_copied_key_is_told_to_use_the_export_and_with_keyring_is_ok() {
        let dir = std::env::temp_dir().join(format!("doctor-clients-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pip")).unwrap();
        let env = |d: PathBuf| Environment {
            path: None,
            home: None,
            var: Box::new(move |n| (n == "XDG_CONFIG_HOME").then(|| d.clone())),
        };
        std::fs::write(
            dir.join("pip/pip.conf"),
            "[global]\nindex-url = https://__token__:old@r/repo/anaconda-wheels/simple/\n",
        )
        .unwrap();
        let found = index_tool(&env(dir.clone()), Tool::Pip, Some("new"));
        assert!(
            !found.ok && found.fix == "anacondactl export --for pip",
            "{found:?}"
        );
        std::fs::write(
            dir.join("pip/pip.conf"),
            "[global]\nindex-url = https://__token__@r/repo/anaconda-wheels/simple/\n",
        )
        .unwrap();
        assert!(index_tool(&env(dir.clone()), Tool::Pip, Some("new")).ok);
        std::fs::write(
            dir.join("pip/pip.conf"),
            format!(
                "[global]\n{PIP_MARKER}\nindex-url = https://psm/api/repo/p/simple/\n\
                 keyring-provider = auto\n"
            ),
        )
        .unwrap();
        let found = index_tool(&env(dir.clone()), Tool::Pip, Some("new"));
        assert!(
            !found.ok && found.fix == "anacondactl export --for pip",
            "{found:?}"
        );
        std::fs::write(
            dir.join("pip/pip.conf"),
            format!(
                "[global]\n{PIP_MARKER}\nindex-url = https://psm/api/repo/p/simple/\n\
                 keyring-provider = import\n"
            ),
        )
        .unwrap();
        assert!(index_tool(&env(dir.clone()), Tool::Pip, Some("new")).ok);
        std::fs::write(
            dir.join("pip/pip.conf"),
            "[global]\nindex-url = https://t0k:x-auth-token@psm/api/repo/p/simple/\n",
        )
        .unwrap();
        assert!(!index_tool(&env(dir.clone()), Tool::Pip, Some("new")).ok);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
