//! anaconda-auth 0.15.3's own configuration read as a source: `~/.anaconda/config.toml`
//! (`ANACONDA_CONFIG_TOML` names another), its top-level `default_site`, its `[sites.<name>]`
//! tables and its `[plugin.auth]` keys; and the one edit we make to it, `[plugin.auth]
//! preferred_token_storage = "system"`, so both tools use one keychain record.
//!
//! Read: `domain`, `ssl_verify` (a boolean or the path of a CA bundle), `proxy_servers`
//! (its `https` entry, else `all`, else `http`), `api_key`, `use_unified_repo_api_key`,
//! `keyring_path`, `preferred_token_storage`. Listed as not honoured: `keyring` (credentials
//! written into the file itself), `extra_headers`, `client_cert`, `client_cert_key`,
//! `auth_domain_override`. Not read at all: anaconda-auth's `.env` (read from the working
//! directory of each anaconda-auth process, which the daemon does not share), its secrets
//! directory (`ANACONDA_SECRETS_DIR`, `/run/secrets`) and `ANACONDA_AUTH_KEYRING`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::origin::{Source, Sourced};
use super::site_keys::SiteKeys;
use super::{ConfigError, EnvSnapshot};
use crate::api::ProxyConfig;
use crate::secret::Secret;

/// The variable that names anaconda-auth's configuration file.
pub const CONFIG_ENV: &str = "ANACONDA_CONFIG_TOML";
/// anaconda-auth's variable for its token storage (it wins over its file).
pub const STORAGE_ENV: &str = "ANACONDA_AUTH_PREFERRED_TOKEN_STORAGE";
/// anaconda-auth's default storage: its keyring file.
pub const DEFAULT_STORAGE: &str = "anaconda-keyring";
/// The storage that shares the OS keychain record with the daemon.
pub const SYSTEM_STORAGE: &str = "system";

/// Keys anaconda-auth honours that the daemon does not (`config show` lists them).
const NOT_HONOURED: &[&str] = &[
    "keyring",
    "extra_headers",
    "client_cert",
    "client_cert_key",
    "auth_domain_override",
];

/// anaconda-auth's configuration file: `ANACONDA_CONFIG_TOML` (`~` expanded), else
/// `~/.anaconda/config.toml`.
pub fn config_path(env: &EnvSnapshot, home: &Path) -> PathBuf {
    match env.get(CONFIG_ENV) {
        Some(path) => match path.strip_prefix("~/") {
            Some(rest) => home.join(rest),
            None => PathBuf::from(path),
        },
        None => home.join(".anaconda/config.toml"),
    }
}

/// One table of the file (`[plugin.auth]` or `[sites.<name>]`), the keys we read.
#[derive(Debug, Clone, Default)]
pub struct AuthTable {
    pub keys: SiteKeys,
    pub preferred_token_storage: Option<String>,
    pub keyring_path: Option<PathBuf>,
    /// Keys set here that the daemon does not honour.
    pub not_honoured: Vec<String>,
}

/// What the file says.
#[derive(Debug, Clone)]
pub struct AuthFile {
    pub path: PathBuf,
    pub default_site: Option<String>,
    /// In the file's order.
    pub sites: Vec<(String, AuthTable)>,
    pub plugin_auth: AuthTable,
}

impl AuthFile {
    pub fn site(&self, name: &str) -> Option<&AuthTable> {
        self.sites.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}

/// Reads `path`; `None` when there is no such file. A file that is not TOML, or a key of the
/// wrong type, is an error naming the file and the key.
pub fn load(path: &Path) -> Result<Option<AuthFile>, ConfigError> {
    let text = match crate::fsutil::read_regular_text(path) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let table = text
        .parse::<toml::Table>()
        .map_err(|e| invalid(format!("{e} (anaconda-auth's configuration)")))?;
    let source = Source::AnacondaAuth(path.to_path_buf());
    let default_site = match table.get("default_site") {
        None => None,
        Some(toml::Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(invalid(format!(
                "default_site must be a site name or a domain (a string), not {other}"
            )));
        }
    };
    let mut sites = Vec::new();
    match table.get("sites") {
        None => {}
        Some(toml::Value::Table(entries)) => {
            for (name, value) in entries {
                let toml::Value::Table(site) = value else {
                    return Err(invalid(format!(
                        "[sites.{name}] must be a table, not {value}"
                    )));
                };
                let parsed =
                    read_table(site, &format!("sites.{name}"), &source).map_err(&invalid)?;
                sites.push((name.clone(), parsed));
            }
        }
        Some(other) => return Err(invalid(format!("sites must be a table, not {other}"))),
    }
    let plugin_auth = match table
        .get("plugin")
        .and_then(|p| p.as_table())
        .and_then(|p| p.get("auth"))
    {
        None => AuthTable::default(),
        Some(toml::Value::Table(auth)) => {
            read_table(auth, "plugin.auth", &source).map_err(&invalid)?
        }
        Some(other) => {
            return Err(invalid(format!(
                "[plugin.auth] must be a table, not {other}"
            )));
        }
    };
    Ok(Some(AuthFile {
        path: path.to_path_buf(),
        default_site,
        sites,
        plugin_auth,
    }))
}

/// The keys of one table; `at` names it in errors (`plugin.auth`, `sites.work`).
fn read_table(table: &toml::Table, at: &str, source: &Source) -> Result<AuthTable, String> {
    let string = |key: &str| -> Result<Option<String>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("[{at}] {key} must be a string, not {other}")),
        }
    };
    let boolean = |key: &str| -> Result<Option<bool>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            // pydantic takes "true", "1", "yes" and "on" (and their opposites) too.
            Some(toml::Value::String(s)) if crate::boolean::parse_bool(s).is_some() => {
                Ok(crate::boolean::parse_bool(s))
            }
            Some(other) => Err(format!("[{at}] {key} must be true or false, not {other}")),
        }
    };
    let mut out = AuthTable::default();
    out.keys.domain = string("domain")?.map(|v| source.says(v));
    match table.get("ssl_verify") {
        None => {}
        Some(toml::Value::Boolean(on)) => {
            out.keys.ssl_verify = Some(source.says(*on));
            out.keys.ca_bundle = Some(source.says(None));
        }
        // anaconda-auth reads "0" and "1" as booleans, and hands any other string to
        // `requests` as `verify=`: a CA bundle's path ("truststore": the OS trust store).
        Some(toml::Value::String(s)) if s == "0" || s == "1" => {
            out.keys.ssl_verify = Some(source.says(s == "1"));
            out.keys.ca_bundle = Some(source.says(None));
        }
        Some(toml::Value::String(s)) if s.eq_ignore_ascii_case("truststore") => {
            out.keys.ssl_verify = Some(source.says(true));
            out.keys.ca_bundle = Some(source.says(None));
        }
        Some(toml::Value::String(path)) => {
            out.keys.ssl_verify = Some(source.says(true));
            out.keys.ca_bundle = Some(source.says(Some(PathBuf::from(path))));
        }
        Some(other) => {
            return Err(format!(
                "[{at}] ssl_verify must be true, false or the path of a CA bundle, not {other}"
            ));
        }
    }
    match table.get("proxy_servers") {
        None => {}
        Some(toml::Value::Table(servers)) => {
            let mut urls = BTreeMap::new();
            for (scheme, url) in servers {
                let toml::Value::String(url) = url else {
                    return Err(format!(
                        "[{at}] proxy_servers.{scheme} must be a proxy URL (a string), not {url}"
                    ));
                };
                urls.insert(scheme.as_str(), url.as_str());
            }
            if let Some(url) = ["https", "all", "http"].iter().find_map(|k| urls.get(k)) {
                out.keys.proxy = Some(source.says(ProxyConfig::Url(Secret::new(*url))));
            }
        }
        Some(other) => {
            return Err(format!(
                "[{at}] proxy_servers must be a table of scheme = proxy URL, not {other}"
            ));
        }
    }
    out.keys.api_key = string("api_key")?.map(|k| source.says(Secret::new(k)));
    out.keys.use_unified_repo_api_key =
        boolean("use_unified_repo_api_key")?.map(|v| source.says(v));
    out.preferred_token_storage = string("preferred_token_storage")?;
    if let Some(storage) = &out.preferred_token_storage
        && storage != SYSTEM_STORAGE
        && storage != DEFAULT_STORAGE
    {
        return Err(format!(
            "[{at}] preferred_token_storage must be \"system\" or \"anaconda-keyring\", not \
             {storage:?}"
        ));
    }
    out.keyring_path = string("keyring_path")?.map(PathBuf::from);
    out.not_honoured = NOT_HONOURED
        .iter()
        .filter(|k| table.contains_key(**k))
        .map(|k| (*k).to_owned())
        .collect();
    Ok(out)
}

/// anaconda-auth's effective `preferred_token_storage` for its site `site` (`None`: the
/// implicit one), and where it comes from: its variable, the site's table, `[plugin.auth]`,
/// else its default, the keyring file.
pub fn effective_storage(
    env: &EnvSnapshot,
    file: Option<&AuthFile>,
    site: Option<&str>,
) -> Sourced<String> {
    if let Some(value) = env.get(STORAGE_ENV) {
        return Sourced::new(value.to_owned(), Source::Env(STORAGE_ENV.to_owned()));
    }
    if let Some(file) = file {
        let source = Source::AnacondaAuth(file.path.clone());
        let from_site = site
            .and_then(|name| file.site(name))
            .and_then(|t| t.preferred_token_storage.clone());
        if let Some(value) = from_site.or_else(|| file.plugin_auth.preferred_token_storage.clone())
        {
            return Sourced::new(value, source);
        }
    }
    Sourced::new(DEFAULT_STORAGE.to_owned(), Source::Default)
}

/// Whether anaconda-auth is in use on this machine, and the evidence: its configuration file,
/// its keyring file (it creates one on first use), or `ANACONDA_CONFIG_TOML` set.
pub fn installed_evidence(env: &EnvSnapshot, config: &Path, keyring: &Path) -> Option<String> {
    if config.is_file() {
        Some(format!("its configuration {} exists", config.display()))
    } else if keyring.is_file() {
        Some(format!("its keyring file {} exists", keyring.display()))
    } else {
        env.get(CONFIG_ENV)
            .map(|v| format!("{CONFIG_ENV} is set ({v})"))
    }
}

/// `text` (anaconda-auth's file, empty when there is none) with `[plugin.auth]
/// preferred_token_storage = "system"`, and every `[sites.<name>]` that sets another storage
/// set to it too; comments and layout kept. `None` when nothing changes.
pub fn with_system_storage(text: &str, path: &Path) -> Result<Option<String>, ConfigError> {
    let mut doc = text
        .parse::<toml_edit::DocumentMut>()
        .map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: format!("{e} (anaconda-auth's configuration)"),
        })?;
    let wrong_type = |what: &str| ConfigError::Invalid {
        path: path.to_path_buf(),
        message: format!("{what} is not a table; fix it before it can be edited"),
    };
    // A file of comments only keeps them at its top, before the table that is added.
    if doc.as_table().is_empty() {
        let lead = doc.trailing().as_str().unwrap_or_default().to_owned();
        doc.set_trailing("");
        let mut auth = toml_edit::Table::new();
        auth.decor_mut().set_prefix(lead);
        auth.insert("preferred_token_storage", toml_edit::value(SYSTEM_STORAGE));
        let mut plugin = toml_edit::Table::new();
        plugin.set_implicit(true);
        plugin.insert("auth", toml_edit::Item::Table(auth));
        doc.insert("plugin", toml_edit::Item::Table(plugin));
        return Ok(Some(doc.to_string()));
    }
    let root = doc.as_table_mut();
    if !root.contains_key("plugin") {
        let mut plugin = toml_edit::Table::new();
        plugin.set_implicit(true);
        root.insert("plugin", toml_edit::Item::Table(plugin));
    }
    let plugin = root["plugin"]
        .as_table_like_mut()
        .ok_or_else(|| wrong_type("plugin"))?;
    if plugin.get("auth").is_none() {
        plugin.insert("auth", toml_edit::Item::Table(toml_edit::Table::new()));
    }
    let auth = plugin
        .get_mut("auth")
        .and_then(|a| a.as_table_like_mut())
        .ok_or_else(|| wrong_type("[plugin.auth]"))?;
    set_storage(auth);
    if let Some(sites) = root.get_mut("sites").and_then(|s| s.as_table_like_mut()) {
        for (_, site) in sites.iter_mut() {
            if let Some(site) = site.as_table_like_mut()
                && site.contains_key("preferred_token_storage")
            {
                set_storage(site);
            }
        }
    }
    let edited = doc.to_string();
    Ok((edited != text).then_some(edited))
}

/// Sets `preferred_token_storage = "system"`, keeping the decoration of a value already there.
fn set_storage(table: &mut dyn toml_edit::TableLike) {
    match table.get_mut("preferred_token_storage") {
        Some(item) if item.as_str() == Some(SYSTEM_STORAGE) => {}
        Some(toml_edit::Item::Value(value)) => {
            let decor = value.decor().clone();
            *value = toml_edit::Value::from(SYSTEM_STORAGE);
            *value.decor_mut() = decor;
        }
        _ => {
            table.insert(
                "preferred_token_storage",
                toml_edit::Item::Value(SYSTEM_STORAGE.into()),
            );
        }
    }
}

/// Whether anaconda-auth reads the store the daemon writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlignState {
    NotInstalled,
    Aligned,
    /// It reads its keyring file, the daemon writes the keychain: the edit fixes it.
    Needed,
    /// They differ and the edit would not help; the reason says what would.
    Blocked,
}

/// The finding, and the edit that aligns anaconda-auth when one is needed.
#[derive(Debug, Clone)]
pub struct Alignment {
    pub state: AlignState,
    pub reason: String,
    pub path: PathBuf,
    /// The file as it is (empty when there is none).
    pub current: String,
    /// The file as the edit leaves it.
    pub edited: Option<String>,
}

/// Compares anaconda-auth's effective storage for its site `site` with the daemon's backend
/// (`None`: the store is not open); `in_use` is evidence of anaconda-auth the caller has (a
/// conda configured with its handler). Reads anaconda-auth's file afresh: it may have been
/// edited since the daemon started.
pub fn alignment(
    env: &EnvSnapshot,
    path: &Path,
    keyring: &Path,
    ours: Option<crate::store::BackendKind>,
    site: &str,
    in_use: Option<&str>,
) -> Result<Alignment, ConfigError> {
    use crate::store::BackendKind;
    let mut finding = Alignment {
        state: AlignState::NotInstalled,
        reason: String::new(),
        path: path.to_path_buf(),
        current: String::new(),
        edited: None,
    };
    let Some(evidence) =
        installed_evidence(env, path, keyring).or_else(|| in_use.map(str::to_owned))
    else {
        finding.reason = format!(
            "anaconda-auth is not in use here (no {}, no {})",
            path.display(),
            keyring.display()
        );
        return Ok(finding);
    };
    let file = load(path)?;
    finding.current = match crate::fsutil::read_regular_text(path) {
        Ok(text) => text.unwrap_or_default(),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let own_site = file.as_ref().and_then(|f| f.site(site)).map(|_| site);
    let theirs = effective_storage(env, file.as_ref(), own_site);
    let theirs_said = format!(
        "anaconda-auth's preferred_token_storage is {:?} ({})",
        theirs.value, theirs.source
    );
    let (state, reason) = match ours {
        Some(BackendKind::System) if theirs.value == SYSTEM_STORAGE => (
            AlignState::Aligned,
            format!("{theirs_said}: it reads the daemon's keychain record"),
        ),
        Some(BackendKind::System) if matches!(theirs.source, Source::Env(_)) => (
            AlignState::Blocked,
            format!(
                "{theirs_said} while the daemon keeps credentials in the OS keychain; unset \
                 {STORAGE_ENV} (or set it to \"system\") so anaconda-auth reads them"
            ),
        ),
        Some(BackendKind::System) => {
            finding.edited = with_system_storage(&finding.current, path)?;
            (
                AlignState::Needed,
                format!(
                    "{evidence}; {theirs_said}, so it reads {} while the daemon keeps \
                     credentials in the OS keychain",
                    keyring.display()
                ),
            )
        }
        Some(BackendKind::File) if theirs.value == DEFAULT_STORAGE => (
            AlignState::Aligned,
            format!("{theirs_said}: both use {}", keyring.display()),
        ),
        Some(BackendKind::File) => (
            AlignState::Blocked,
            format!(
                "{theirs_said} while the daemon keeps credentials in {}; set storage = \
                 \"system\" in anacondad's config.toml so both use the keychain",
                keyring.display()
            ),
        ),
        Some(BackendKind::Memory) => (
            AlignState::Blocked,
            "the daemon keeps credentials in memory only (a test daemon)".to_owned(),
        ),
        None => (
            AlignState::Blocked,
            "the daemon's credential store is not open; `anacondactl doctor` says why".to_owned(),
        ),
    };
    finding.state = state;
    finding.reason = reason;
    Ok(finding)
}

/// Writes the aligned file (mode 0600: it may hold an API key), creating its directory.
pub fn write_aligned(path: &Path, text: &str) -> std::io::Result<()> {
    let target = crate::store::atomic::resolve_symlinks(path)?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    crate::store::atomic::write_atomically(&target, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn sites_plugin_auth_and_an_ssl_verify_path_are_read() {
        let (_dir, path) = file(
            "default_site = \"work\"\n\
             [plugin.auth]\nssl_verify = false\npreferred_token_storage = \"system\"\n\
             extra_headers = '{\"X\": \"1\"}'\n\
             [sites.work]\ndomain = \"work.example\"\nssl_verify = \"/etc/ca.pem\"\n\
             proxy_servers = { http = \"http://p:1\", https = \"http://p:2\" }\n\
             [sites.cloud]\ndomain = \"anaconda.com\"\n",
        );
        let auth = load(&path).unwrap().unwrap();
        assert_eq!(auth.default_site.as_deref(), Some("work"));
        let names: Vec<_> = auth.sites.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["work", "cloud"], "the file's order");
        let work = auth.site("work").unwrap();
        assert_eq!(work.keys.domain.as_ref().unwrap().value, "work.example");
        assert_eq!(
            work.keys.ca_bundle.as_ref().unwrap().value,
            Some(PathBuf::from("/etc/ca.pem"))
        );
        match &work.keys.proxy.as_ref().unwrap().value {
            ProxyConfig::Url(url) => assert_eq!(url.expose(), "http://p:2"),
            other => panic!("{other:?}"),
        }
        assert!(!auth.plugin_auth.keys.ssl_verify.as_ref().unwrap().value);
        assert_eq!(auth.plugin_auth.not_honoured, ["extra_headers"]);
    }

    #[test]
    fn a_key_of_the_wrong_type_names_the_file_and_the_key() {
        let (_dir, path) =
            file("[sites.a]\nssl_verify = \"0\"\nuse_unified_repo_api_key = \"yes\"\n");
        let auth = load(&path).unwrap().unwrap();
        let a = auth.site("a").unwrap();
        assert!(
            !a.keys.ssl_verify.as_ref().unwrap().value,
            "\"0\" is false, not a bundle"
        );
        assert!(a.keys.use_unified_repo_api_key.as_ref().unwrap().value);
        let (_dir, path) = file("[sites.work]\nssl_verify = 3\n");
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("config.toml") && err.contains("[sites.work] ssl_verify"),
            "{err}"
        );
        let (_dir, path) = file("[plugin.auth]\npreferred_token_storage = \"vault\"\n");
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("preferred_token_storage"), "{err}");
        let (_dir, path) = file("[plugin.auth\n");
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("anaconda-auth"), "{err}");
    }

    #[test]
    fn storage_is_the_variable_then_the_site_then_plugin_auth_then_the_keyring_file() {
        let none = EnvSnapshot::default();
        assert_eq!(effective_storage(&none, None, None).value, DEFAULT_STORAGE);
        let (_dir, path) = file(
            "[plugin.auth]\npreferred_token_storage = \"system\"\n\
             [sites.a]\npreferred_token_storage = \"anaconda-keyring\"\n",
        );
        let auth = load(&path).unwrap().unwrap();
        assert_eq!(effective_storage(&none, Some(&auth), None).value, "system");
        assert_eq!(
            effective_storage(&none, Some(&auth), Some("a")).value,
            DEFAULT_STORAGE
        );
        let env: EnvSnapshot = [(STORAGE_ENV, "system")].into_iter().collect();
        let storage = effective_storage(&env, Some(&auth), Some("a"));
        assert_eq!(storage.value, "system");
        assert_eq!(storage.source, Source::Env(STORAGE_ENV.into()));
    }

    #[test]
    fn system_storage_is_set_keeping_comments_and_layout() {
        let path = Path::new("config.toml");
        let text = "# my anaconda settings\n\n[plugin.auth]\n# verify TLS\nssl_verify = true  # keep\n\n\
                    [sites.a]\ndomain = \"a.example\"\npreferred_token_storage = \"anaconda-keyring\" # why\n";
        let edited = with_system_storage(text, path).unwrap().unwrap();
        assert!(
            edited.starts_with(
                "# my anaconda settings\n\n[plugin.auth]\n# verify TLS\nssl_verify = true  # keep\n"
            ),
            "{edited}"
        );
        assert!(
            edited.contains("preferred_token_storage = \"system\" # why"),
            "{edited}"
        );
        let reread: toml::Table = edited.parse().unwrap();
        assert_eq!(
            reread["plugin"]["auth"]["preferred_token_storage"].as_str(),
            Some("system")
        );
        assert_eq!(
            with_system_storage(&edited, path).unwrap(),
            None,
            "a second run changes nothing"
        );
        let lone = with_system_storage("# mine\n", path).unwrap().unwrap();
        assert_eq!(
            lone,
            "# mine\n[plugin.auth]\npreferred_token_storage = \"system\"\n"
        );
        let fresh = with_system_storage("", path).unwrap().unwrap();
        assert_eq!(
            fresh,
            "[plugin.auth]\npreferred_token_storage = \"system\"\n"
        );
    }

    #[test]
    fn alignment_is_needed_only_for_a_keychain_daemon_and_a_keyring_file_anaconda_auth() {
        use crate::store::BackendKind;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join(".anaconda/config.toml");
        let keyring = dir.path().join(".anaconda/keyring");
        let none = EnvSnapshot::default();
        let find = |env: &EnvSnapshot, ours, in_use| {
            alignment(env, &config, &keyring, ours, "anaconda.com", in_use).unwrap()
        };
        let system = Some(BackendKind::System);
        assert_eq!(find(&none, system, None).state, AlignState::NotInstalled);
        let required = find(&none, system, Some("conda uses its handler"));
        assert_eq!(required.state, AlignState::Needed);
        assert_eq!(
            required.edited.as_deref(),
            Some("[plugin.auth]\npreferred_token_storage = \"system\"\n")
        );
        std::fs::create_dir_all(keyring.parent().unwrap()).unwrap();
        std::fs::write(&keyring, "{}").unwrap();
        let needed = find(&none, system, None);
        assert_eq!(needed.state, AlignState::Needed);
        assert!(needed.reason.contains("keyring"), "{}", needed.reason);
        // Both on the keyring file is one record too.
        assert_eq!(
            find(&none, Some(BackendKind::File), None).state,
            AlignState::Aligned
        );
        // Its variable wins over its file: editing the file would not help.
        let env: EnvSnapshot = [(STORAGE_ENV, DEFAULT_STORAGE)].into_iter().collect();
        let blocked = find(&env, system, None);
        assert_eq!(blocked.state, AlignState::Blocked);
        assert!(blocked.reason.contains(STORAGE_ENV), "{}", blocked.reason);
        std::fs::write(
            &config,
            "[plugin.auth]\npreferred_token_storage = \"system\"\n",
        )
        .unwrap();
        assert_eq!(find(&none, system, None).state, AlignState::Aligned);
        let other_way = find(&none, Some(BackendKind::File), None);
        assert_eq!(other_way.state, AlignState::Blocked);
        assert!(
            other_way.reason.contains("storage = \"system\""),
            "{}",
            other_way.reason
        );
    }
}
