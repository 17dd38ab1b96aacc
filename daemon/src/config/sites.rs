//! The sites a daemon serves. A site is one Anaconda domain with its repository, TLS and proxy
//! settings; its credentials are one keychain record (keyed by the domain, as anaconda-auth
//! keys them) and one entry of the state file. A daemon serves every configured site at once;
//! `--at SITE` (the `anacondad-site` request header) names one, else the default site.
//!
//! Where sites come from: `[sites.<name>]` in our `config.toml` and `[sites.<name>]` in
//! anaconda-auth's `~/.anaconda/config.toml`, merged by name. When neither names any, the one
//! implicit site of the top-level settings, the last login (`site.json`) and the existing
//! client's variables, named by its domain.
//!
//! Each key of a site, later wins: the default; (implicit site only) the last login;
//! anaconda-auth's `[plugin.auth]`; our top-level keys; anaconda-auth's `[sites.<name>]`; our
//! `[sites.<name>]`; `ANACONDAD_<KEY>`; the existing client's variables (`ANACONDA_AUTH_*`,
//! `CONDA_TOKEN_REPO_URL`). The more specific table wins, and at the same level ours wins. The
//! TLS and proxy variables apply to every site; the domain, repository and API-key variables
//! to the default site only, and a domain variable that names a configured site's domain makes
//! that site the default.
//!
//! A site that names no repository: anaconda.com's is `https://repo.anaconda.cloud/repo/` and
//! also covers `https://repo.anaconda.com/`; any other domain's is assumed to be
//! `https://<domain>/repo/`, the layout of an on-premise Anaconda server (an assumption: set
//! `repo_url` where it differs).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;
use super::anaconda_auth::AuthFile;
use super::origin::{Origin, REDACTED, Source, Sourced, redact_proxy};
use super::site::SiteRecord;
pub use super::site_keys::SiteKeys;
use crate::api::{ApiConfig, DEFAULT_DOMAIN, DEFAULT_REPO_URL, ProxyConfig};
use crate::secret::Secret;

/// The gRPC metadata key a client names a site with (`anacondactl --at SITE`).
pub const SITE_HEADER: &str = anacondad_proto::SITE_METADATA_KEY;

/// The second repository anaconda.com's credentials answer for.
pub const ANACONDA_COM_EXTRA_REPO_URL: &str = "https://repo.anaconda.com/";

/// One site the daemon serves.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// What `--at` takes: the key of `[sites.<name>]`, or the domain of the implicit site.
    pub name: String,
    /// Its service client settings: domain, repository, TLS, proxy.
    pub api: ApiConfig,
    /// Further repository URLs this site's credentials answer for, beside `api.repo_url`
    /// (anaconda.com's also covers `https://repo.anaconda.com/`).
    pub extra_repo_urls: Vec<String>,
    /// anaconda-auth's `use_unified_repo_api_key`: the API key goes first on every channel.
    pub use_unified_repo_api_key: bool,
}

impl SiteConfig {
    /// The implicit site of `api`, named by its domain as written.
    pub fn implicit(api: ApiConfig) -> Self {
        Self {
            name: api
                .keyring_username()
                .unwrap_or_else(|_| api.domain.clone()),
            extra_repo_urls: Vec::new(),
            use_unified_repo_api_key: false,
            api,
        }
    }
}

/// `[sites.<name>]` of our `config.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct OurSiteTable {
    domain: Option<String>,
    repo_url: Option<String>,
    extra_repo_urls: Option<Vec<String>>,
    ssl_verify: Option<bool>,
    ca_bundle: Option<PathBuf>,
    proxy: Option<String>,
    use_unified_repo_api_key: Option<bool>,
}

/// Our `[sites]` table, in the file's order; errors name the file and `[sites.<name>]`.
pub fn read_our_sites(
    value: Option<&toml::Value>,
    path: &Path,
) -> Result<Vec<(String, SiteKeys)>, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let toml::Value::Table(entries) = value else {
        return Err(invalid(format!(
            "sites must be tables, [sites.<name>], not {value}"
        )));
    };
    let source = Source::Ours(path.to_path_buf());
    let mut sites = Vec::new();
    for (name, table) in entries {
        let parsed: OurSiteTable = table
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| invalid(format!("[sites.{name}] {}", e.message())))?;
        let keys = SiteKeys {
            domain: parsed.domain.map(|v| source.says(v)),
            repo_url: parsed.repo_url.map(|v| source.says(v)),
            extra_repo_urls: parsed
                .extra_repo_urls
                .map(|v| Sourced::new(v, source.clone())),
            ssl_verify: parsed.ssl_verify.map(|v| Sourced::new(v, source.clone())),
            ca_bundle: parsed
                .ca_bundle
                .map(|v| Sourced::new(Some(v), source.clone())),
            proxy: parsed
                .proxy
                .map(|v| Sourced::new(ProxyConfig::Url(Secret::new(v)), source.clone())),
            use_unified_repo_api_key: parsed
                .use_unified_repo_api_key
                .map(|v| Sourced::new(v, source.clone())),
            ..SiteKeys::default()
        };
        sites.push((name.clone(), keys));
    }
    Ok(sites)
}

/// Everything the sites are made from.
#[derive(Debug)]
pub struct SitesInput<'a> {
    /// Defaults (domain, repository, TLS) and the client's identity.
    pub base: &'a ApiConfig,
    /// Our `config.toml`.
    pub ours_path: &'a Path,
    /// Our `[sites.<name>]`, in the file's order.
    pub ours: &'a [(String, SiteKeys)],
    /// Our `default_site` (`ANACONDAD_DEFAULT_SITE`, else the file).
    pub ours_default: Option<Sourced<String>>,
    /// Our top-level keys from the file.
    pub ours_top: SiteKeys,
    /// Our top-level keys from `ANACONDAD_<KEY>`.
    pub ours_env: SiteKeys,
    /// The existing client's variables.
    pub client_env: SiteKeys,
    pub theirs: Option<&'a AuthFile>,
    /// The last login's site and its file.
    pub last_login: Option<(SiteRecord, PathBuf)>,
}

/// One site's `config show` lines.
#[derive(Debug, Clone)]
pub struct SiteOrigins {
    pub name: String,
    /// The files whose `[sites.<name>]` names it (none for the implicit site).
    pub configured_in: Vec<Source>,
    pub keys: Vec<Origin>,
}

/// The sites, the default and where every value came from.
#[derive(Debug, Clone)]
pub struct ResolvedSites {
    pub sites: Vec<SiteConfig>,
    pub default_site: Sourced<String>,
    pub origins: Vec<SiteOrigins>,
    /// The default site's API key from a file or variable (it then cannot be changed).
    pub api_key: Option<Sourced<Secret>>,
}

impl ResolvedSites {
    pub fn origins_of(&self, name: &str) -> Option<&SiteOrigins> {
        self.origins.iter().find(|o| o.name == name)
    }
}

/// `host[:port]` of a domain as written, lower case: what site domains compare by.
pub fn netloc(domain: &str) -> String {
    let raw = domain.trim();
    let rest = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or(rest)
        .to_ascii_lowercase()
}

/// The repository a site that names none is served from, and the further URLs it covers.
pub fn default_repository(domain: &str) -> (String, Vec<String>) {
    let host = netloc(domain);
    if host == DEFAULT_DOMAIN {
        return (
            DEFAULT_REPO_URL.to_owned(),
            vec![ANACONDA_COM_EXTRA_REPO_URL.to_owned()],
        );
    }
    let scheme = domain
        .trim()
        .split_once("://")
        .map_or("https", |(scheme, _)| scheme);
    (format!("{scheme}://{host}/repo/"), Vec::new())
}

pub fn resolve(input: SitesInput<'_>) -> Result<ResolvedSites, ConfigError> {
    let empty = SiteKeys::default();
    let theirs_plugin = input.theirs.map_or(&empty, |t| &t.plugin_auth.keys);
    let mut names: Vec<String> = input.ours.iter().map(|(n, _)| n.clone()).collect();
    if let Some(theirs) = input.theirs {
        for (name, _) in &theirs.sites {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    if names.is_empty() {
        let mut keys = SiteKeys::default();
        if let Some((record, path)) = &input.last_login {
            keys.overlay(&SiteKeys::of_record(record, path));
        }
        for layer in [
            theirs_plugin,
            &input.ours_top,
            &input.ours_env,
            &input.client_env,
        ] {
            keys.overlay(layer);
        }
        let (api, origins, extra, unified) = build(input.base, &keys)?;
        let mut site = SiteConfig::implicit(api);
        site.extra_repo_urls = extra;
        site.use_unified_repo_api_key = unified;
        let name = site.name.clone();
        return Ok(ResolvedSites {
            default_site: Sourced::new(name.clone(), Source::Default),
            origins: vec![SiteOrigins {
                name,
                configured_in: Vec::new(),
                keys: origins,
            }],
            sites: vec![site],
            api_key: keys.api_key,
        });
    }
    // Each named site from the files.
    let mut from_files = Vec::new();
    for name in &names {
        let ours = input.ours.iter().find(|(n, _)| n == name).map(|(_, k)| k);
        let theirs = input
            .theirs
            .and_then(|t| t.site(name).map(|s| (&s.keys, &t.path)));
        let mut keys = SiteKeys::default();
        keys.overlay(theirs_plugin);
        keys.overlay(&input.ours_top);
        let mut configured_in = Vec::new();
        if let Some((theirs, path)) = theirs {
            keys.overlay(theirs);
            configured_in.push(Source::AnacondaAuth(path.clone()));
        }
        if let Some(ours) = ours {
            keys.overlay(ours);
            configured_in.insert(0, Source::Ours(input.ours_path.to_path_buf()));
        }
        from_files.push((name.clone(), keys, configured_in));
    }
    // Which one is the default.
    let asked = input.ours_default.clone().or_else(|| {
        input.theirs.and_then(|t| {
            t.default_site
                .clone()
                .map(|d| Sourced::new(d, Source::AnacondaAuth(t.path.clone())))
        })
    });
    let mut default = match asked {
        Some(asked) => match find(&from_files, &asked.value) {
            Some(index) => Sourced::new(index, asked.source),
            // As anaconda-auth does, a default of anaconda.com is a site even when no table
            // names it.
            None if netloc(&asked.value) == DEFAULT_DOMAIN => {
                let mut keys = SiteKeys::default();
                keys.overlay(theirs_plugin);
                keys.overlay(&input.ours_top);
                keys.domain = Some(asked.source.says(DEFAULT_DOMAIN.to_owned()));
                from_files.push((DEFAULT_DOMAIN.to_owned(), keys, vec![asked.source.clone()]));
                Sourced::new(from_files.len() - 1, asked.source)
            }
            None => {
                return Err(ConfigError::UnknownDefaultSite {
                    name: asked.value,
                    from: asked.source.to_string(),
                    known: names.join(", "),
                });
            }
        },
        None => Sourced::new(0, Source::Default),
    };
    // A domain variable naming another configured site's domain picks that site.
    let env_domain = input
        .client_env
        .domain
        .as_ref()
        .or(input.ours_env.domain.as_ref());
    if let Some(domain) = env_domain
        && let Some(index) = find(&from_files, &netloc(&domain.value))
    {
        default = Sourced::new(index, domain.source.clone());
    }
    let mut resolved = ResolvedSites {
        sites: Vec::new(),
        default_site: Sourced::new(from_files[default.value].0.clone(), default.source),
        origins: Vec::new(),
        api_key: None,
    };
    for (index, (name, mut keys, configured_in)) in from_files.into_iter().enumerate() {
        super::names::check_site_name(&name).map_err(|message| ConfigError::InvalidValue {
            key: "site name".into(),
            value: name.clone(),
            from: configured_in
                .first()
                .map(ToString::to_string)
                .unwrap_or_default(),
            message,
        })?;
        if index == default.value {
            keys.overlay(&input.ours_env);
            keys.overlay(&input.client_env);
            resolved.api_key = keys.api_key.clone();
        } else {
            keys.overlay(&input.ours_env.transport());
            keys.overlay(&input.client_env.transport());
        }
        let (api, origins, extra, unified) = build(input.base, &keys)?;
        resolved.origins.push(SiteOrigins {
            name: name.clone(),
            configured_in,
            keys: origins,
        });
        resolved.sites.push(SiteConfig {
            name,
            api,
            extra_repo_urls: extra,
            use_unified_repo_api_key: unified,
        });
    }
    check_unique_domains(&resolved)?;
    Ok(resolved)
}

/// The site a name (its key) or a domain (of exactly one site) names.
fn find(sites: &[(String, SiteKeys, Vec<Source>)], wanted: &str) -> Option<usize> {
    sites.iter().position(|(n, _, _)| n == wanted).or_else(|| {
        let host = netloc(wanted);
        let matches: Vec<usize> = sites
            .iter()
            .enumerate()
            .filter(|(_, (_, k, _))| {
                k.domain.as_ref().map(|d| netloc(&d.value)).as_deref() == Some(host.as_str())
            })
            .map(|(i, _)| i)
            .collect();
        (matches.len() == 1).then(|| matches[0])
    })
}

fn check_unique_domains(resolved: &ResolvedSites) -> Result<(), ConfigError> {
    for (i, a) in resolved.sites.iter().enumerate() {
        for b in &resolved.sites[i + 1..] {
            if netloc(&a.api.domain) == netloc(&b.api.domain) {
                let source = |name: &str| {
                    resolved
                        .origins_of(name)
                        .and_then(|o| o.keys.iter().find(|k| k.key == "domain"))
                        .map(|k| k.source.to_string())
                        .unwrap_or_default()
                };
                return Err(ConfigError::DuplicateDomain {
                    domain: netloc(&a.api.domain),
                    first: a.name.clone(),
                    first_source: source(&a.name),
                    second: b.name.clone(),
                    second_source: source(&b.name),
                });
            }
        }
    }
    Ok(())
}

/// The client configuration of merged `keys` over `base`, with one origin per key.
fn build(
    base: &ApiConfig,
    keys: &SiteKeys,
) -> Result<(ApiConfig, Vec<Origin>, Vec<String>, bool), ConfigError> {
    let mut api = base.clone();
    let mut origins = Vec::new();
    let default = || Source::Default;
    let domain = keys
        .domain
        .clone()
        .unwrap_or_else(|| Sourced::new(base.domain.clone(), default()));
    api.domain = domain.value.clone();
    super::names::check_domain(&domain.value).map_err(|message| ConfigError::InvalidValue {
        key: "domain".into(),
        value: domain.value.clone(),
        from: domain.source.to_string(),
        message,
    })?;
    api.base_url().map_err(|e| ConfigError::InvalidValue {
        key: "domain".into(),
        value: domain.value.clone(),
        from: domain.source.to_string(),
        message: e.to_string(),
    })?;
    origins.push(Origin::new("domain", &domain.value, domain.source.clone()));
    let (derived_repo, derived_extra) = default_repository(&domain.value);
    let repo = keys
        .repo_url
        .clone()
        .unwrap_or_else(|| Sourced::new(derived_repo, Source::DerivedFrom("domain")));
    api.repo_url = repo.value.clone();
    super::names::check_url(&repo.value).map_err(|message| ConfigError::InvalidValue {
        key: "repo_url".into(),
        value: repo.value.clone(),
        from: repo.source.to_string(),
        message,
    })?;
    api.repo_base_url().map_err(|e| ConfigError::InvalidValue {
        key: "repo_url".into(),
        value: repo.value.clone(),
        from: repo.source.to_string(),
        message: e.to_string(),
    })?;
    origins.push(Origin::new("repo_url", &repo.value, repo.source.clone()));
    let extra = match &keys.extra_repo_urls {
        Some(extra) => extra.clone(),
        // The second repository belongs to the derived one only.
        None if keys.repo_url.is_none() => {
            Sourced::new(derived_extra, Source::DerivedFrom("domain"))
        }
        None => Sourced::new(Vec::new(), Source::Default),
    };
    for url in &extra.value {
        super::names::check_url(url).map_err(|message| ConfigError::InvalidValue {
            key: "extra_repo_urls".into(),
            value: url.clone(),
            from: extra.source.to_string(),
            message,
        })?;
    }
    origins.push(Origin::new(
        "extra_repo_urls",
        extra.value.join(", "),
        extra.source.clone(),
    ));
    let verify = keys
        .ssl_verify
        .clone()
        .unwrap_or_else(|| Sourced::new(base.ssl_verify, default()));
    api.ssl_verify = verify.value;
    origins.push(Origin::new(
        "ssl_verify",
        verify.value.to_string(),
        verify.source,
    ));
    let bundle = keys
        .ca_bundle
        .clone()
        .unwrap_or_else(|| Sourced::new(base.ca_bundle.clone(), default()));
    // Said here, where the source of the path is known (the client would blame a variable).
    // Read through the regular-file check: a FIFO or device there would hang or fill the
    // client that reads it later, after the socket is bound.
    if let Some(path) = &bundle.value
        && let Err(e) = crate::fsutil::read_regular_file(path)
            .and_then(|pem| pem.ok_or_else(|| std::io::ErrorKind::NotFound.into()))
    {
        // anaconda-auth names a bundle with its `ssl_verify`.
        let key = match bundle.source {
            Source::AnacondaAuth(_) => "ssl_verify",
            _ => "ca_bundle",
        };
        return Err(ConfigError::InvalidValue {
            key: key.into(),
            value: path.display().to_string(),
            from: bundle.source.to_string(),
            message: format!("the CA bundle cannot be read ({e}); fix the path or the file"),
        });
    }
    api.ca_bundle = bundle.value.clone();
    origins.push(Origin::new(
        "ca_bundle",
        bundle.value.as_ref().map_or_else(
            || "(the OS trust store)".to_owned(),
            |p| p.display().to_string(),
        ),
        bundle.source,
    ));
    let proxy = keys
        .proxy
        .clone()
        .unwrap_or_else(|| Sourced::new(base.proxy.clone(), default()));
    api.proxy = proxy.value.clone();
    origins.push(Origin::new(
        "proxy",
        match &proxy.value {
            ProxyConfig::System => "(the system's: HTTPS_PROXY and the like)".to_owned(),
            ProxyConfig::Disabled => "(none)".to_owned(),
            ProxyConfig::Url(url) => redact_proxy(url.expose()),
        },
        proxy.source,
    ));
    if let Some(key) = &keys.api_key {
        origins.push(Origin::new("api_key", REDACTED, key.source.clone()));
    }
    let unified = keys
        .use_unified_repo_api_key
        .clone()
        .unwrap_or_else(|| Sourced::new(false, default()));
    origins.push(Origin::new(
        "use_unified_repo_api_key",
        unified.value.to_string(),
        unified.source,
    ));
    Ok((api, origins, extra.value, unified.value))
}
