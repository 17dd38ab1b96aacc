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
use super::origin::{Origin, Source, Sourced};
use super::site::SiteRecord;
pub use super::site_keys::SiteKeys;
pub use super::site_values::{ANACONDA_COM_EXTRA_REPO_URL, default_repository, netloc};
use crate::api::{ApiConfig, DEFAULT_DOMAIN, ProxyConfig};
use crate::secret::Secret;

/// The gRPC metadata key a client names a site with (`anacondactl --at SITE`).
pub const SITE_HEADER: &str = anacondad_proto::SITE_METADATA_KEY;

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
    /// Our file's top-level keys: above anaconda-auth's `[plugin.auth]`, below every
    /// `[sites.<name>]`.
    pub ours_top: SiteKeys,
    /// The keys of the variables' layers, lowest first (`ANACONDAD_<KEY>`, then the existing
    /// client's): above every table. Their TLS and proxy keys reach every site, the others the
    /// default site only; the domain of the highest that says one may pick the default site.
    pub variables: Vec<SiteKeys>,
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
        for layer in [theirs_plugin, &input.ours_top]
            .into_iter()
            .chain(&input.variables)
        {
            keys.overlay(layer);
        }
        let (api, origins, extra, unified) = super::site_values::build(input.base, &keys)?;
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
    let env_domain = input.variables.iter().rev().find_map(|k| k.domain.as_ref());
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
            for layer in &input.variables {
                keys.overlay(layer);
            }
            resolved.api_key = keys.api_key.clone();
        } else {
            for layer in &input.variables {
                keys.overlay(&layer.transport());
            }
        }
        let (api, origins, extra, unified) = super::site_values::build(input.base, &keys)?;
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
