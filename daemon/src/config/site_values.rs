//! One site's values: the client configuration of its folded keys over the defaults, each
//! value checked (a bad one names its key and the layer that said it) and with its origin for
//! `config show`.

use super::ConfigError;
use super::origin::{Origin, REDACTED, Source, Sourced, redact_proxy};
use super::site_keys::SiteKeys;
use crate::api::{ApiConfig, DEFAULT_DOMAIN, DEFAULT_REPO_URL, ProxyConfig};

/// The second repository anaconda.com's credentials answer for.
pub const ANACONDA_COM_EXTRA_REPO_URL: &str = "https://repo.anaconda.com/";

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

/// The client configuration of merged `keys` over `base`, with one origin per key.
pub fn build(
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
