//! How the API client is configured: hosts, TLS, proxy, timeouts, retries, identity.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::error::ApiError;
use crate::secret::Secret;

/// The service's default domain (API and login).
pub const DEFAULT_DOMAIN: &str = "anaconda.com";
/// The default package repository; default channels live under it.
pub const DEFAULT_REPO_URL: &str = "https://repo.anaconda.cloud/repo/";
/// The name in our `User-Agent` and in the tag of the API keys we mint.
pub const DEFAULT_CLIENT_NAME: &str = "anacondad";
/// Port of the registered browser-login redirect URI `http://127.0.0.1:8000/auth/oidc`.
pub const DEFAULT_LOOPBACK_PORT: u16 = 8000;

const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;

/// Which proxy the client uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProxyConfig {
    /// reqwest's system handling: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY` (read by
    /// reqwest when the client is built) and the platform's settings.
    #[default]
    System,
    /// Connect directly, ignoring any system proxy.
    Disabled,
    /// Every request (API and repository) goes through this proxy. A secret because proxy URLs
    /// often carry `user:password@`.
    Url(Secret),
}

/// When and how often a failed request is tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first one included; 1 disables retries.
    pub max_attempts: u32,
    /// Backoff before the second attempt; it doubles for each further attempt, with jitter.
    pub initial_backoff: Duration,
    /// Upper bound of one backoff.
    pub max_backoff: Duration,
    /// A `Retry-After` up to this long is honoured; a longer one ends the retries at once, since
    /// waiting minutes inside one call would look like a hang to the user.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// One attempt only.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// Everything the client needs to know, passed in by `main` (nothing here reads the process
/// environment; [`ApiConfig::apply_env`] takes the environment as a map).
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// API and login host: `anaconda.com`, `host:port`, or a URL with an explicit scheme such as
    /// `http://127.0.0.1:8080` (plain http only for loopback hosts). Without a scheme, https.
    pub domain: String,
    /// Package repository base, e.g. `https://repo.anaconda.cloud/repo/`.
    pub repo_url: String,
    /// `false` turns certificate verification off entirely (the user asked for it).
    pub ssl_verify: bool,
    /// PEM bundle used instead of the OS trust store, as `requests` does with `verify=<path>`.
    pub ca_bundle: Option<PathBuf>,
    pub proxy: ProxyConfig,
    pub connect_timeout: Duration,
    /// Bound on one whole request, body included.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// `User-Agent: <client_name>/<client_version>` and API key tag `<client_name>/v<client_version>`.
    pub client_name: String,
    pub client_version: String,
    /// This machine's hostname; only its hash leaves the machine (`X-Client-Hostname`).
    pub hostname: String,
}

impl ApiConfig {
    /// Defaults for the hosted service.
    pub fn new(client_version: impl Into<String>, hostname: impl Into<String>) -> Self {
        Self {
            domain: DEFAULT_DOMAIN.to_owned(),
            repo_url: DEFAULT_REPO_URL.to_owned(),
            ssl_verify: true,
            ca_bundle: None,
            proxy: ProxyConfig::System,
            connect_timeout: Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS),
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            retry: RetryPolicy::default(),
            client_name: DEFAULT_CLIENT_NAME.to_owned(),
            client_version: client_version.into(),
            hostname: hostname.into(),
        }
    }

    /// Defaults, then the existing client's environment variables from `env`.
    pub fn from_env_map(
        client_version: impl Into<String>,
        hostname: impl Into<String>,
        env: &BTreeMap<String, String>,
    ) -> Self {
        let mut config = Self::new(client_version, hostname);
        config.apply_env(env);
        config
    }

    /// Applies `ANACONDA_AUTH_DOMAIN`, `ANACONDA_AUTH_SSL_VERIFY` and `CONDA_TOKEN_REPO_URL`.
    ///
    /// `ANACONDA_AUTH_SSL_VERIFY`: `0`, `false`, `no`, `off` (any case) turn verification off;
    /// `1`, `true`, `yes`, `on` and `truststore` keep the OS trust store; anything else is the
    /// path of a CA bundle. (anaconda-auth 0.15.3 itself maps only `0`/`1`; it passes `false`
    /// on to `requests` as a bundle path, which then fails; we read the words as users mean them.)
    /// Empty values are ignored.
    pub fn apply_env(&mut self, env: &BTreeMap<String, String>) {
        let get = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        if let Some(domain) = get("ANACONDA_AUTH_DOMAIN") {
            self.domain = domain.to_owned();
        }
        if let Some(repo) = get("CONDA_TOKEN_REPO_URL") {
            self.repo_url = repo.to_owned();
        }
        if let Some(verify) = get("ANACONDA_AUTH_SSL_VERIFY") {
            let word = crate::boolean::parse_bool(verify)
                .or_else(|| verify.eq_ignore_ascii_case("truststore").then_some(true));
            match word {
                Some(on) => {
                    self.ssl_verify = on;
                    self.ca_bundle = None;
                }
                None => {
                    self.ssl_verify = true;
                    self.ca_bundle = Some(PathBuf::from(verify));
                }
            }
        }
    }

    /// The API base URL (`https://<domain>/`), checked: http only for loopback hosts.
    pub fn base_url(&self) -> Result<Url, ApiError> {
        let raw = self.domain.trim();
        let with_scheme = if raw.contains("://") {
            raw.to_owned()
        } else {
            format!("https://{raw}")
        };
        let mut url = parse_service_url("domain", raw, &with_scheme)?;
        // Like the existing client, only scheme, host and port of the domain count.
        url.set_path("/");
        url.set_query(None);
        url.set_fragment(None);
        Ok(url)
    }

    /// The repository URL with a trailing `/`, checked like [`ApiConfig::base_url`].
    pub fn repo_base_url(&self) -> Result<Url, ApiError> {
        let raw = self.repo_url.trim();
        let mut url = parse_service_url("repo_url", raw, raw)?;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        url.set_query(None);
        url.set_fragment(None);
        Ok(url)
    }

    /// The key of this domain's record in the credential store: `host[:port]` of the domain,
    /// exactly as written (`anaconda.com`, `127.0.0.1:8080`), which is what anaconda-auth uses.
    pub fn keyring_username(&self) -> Result<String, ApiError> {
        self.base_url()?;
        let raw = self.domain.trim();
        let without_scheme = raw.split_once("://").map_or(raw, |(_, rest)| rest);
        let netloc = without_scheme
            .split(['/', '?', '#'])
            .next()
            .unwrap_or(without_scheme);
        Ok(netloc.to_owned())
    }

    /// `<client_name>/<client_version>`.
    pub fn user_agent(&self) -> String {
        format!("{}/{}", self.client_name, self.client_version)
    }
}

fn parse_service_url(setting: &'static str, shown: &str, raw: &str) -> Result<Url, ApiError> {
    let url = Url::parse(raw).map_err(|e| ApiError::Config {
        setting,
        value: shown.to_owned(),
        reason: format!("not a valid host or URL ({e})"),
    })?;
    if url.host().is_none() {
        return Err(ApiError::Config {
            setting,
            value: shown.to_owned(),
            reason: "it names no host".to_owned(),
        });
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::Config {
            setting,
            value: "<a URL with user info>".to_owned(),
            reason: "credentials do not belong in this URL; remove the `user:password@` part"
                .to_owned(),
        });
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(ApiError::InsecureTransport {
            url: super::error::mask_url(&url),
        }),
        other => Err(ApiError::Config {
            setting,
            value: shown.to_owned(),
            reason: format!("unsupported scheme `{other}`; use https"),
        }),
    }
}

/// Whether `url` points at this machine: `localhost`, 127.0.0.0/8 or ::1.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Refuses a URL the client must not talk to: anything but https, or http to a loopback host.
pub(crate) fn check_transport(url: &Url) -> Result<(), ApiError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        _ => Err(ApiError::InsecureTransport {
            url: super::error::mask_url(url),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_point_at_the_hosted_service() {
        let c = ApiConfig::new("1.2.3", "myhost");
        assert_eq!(c.base_url().unwrap().as_str(), "https://anaconda.com/");
        assert_eq!(
            c.repo_base_url().unwrap().as_str(),
            "https://repo.anaconda.cloud/repo/"
        );
        assert_eq!(c.keyring_username().unwrap(), "anaconda.com");
        assert_eq!(c.user_agent(), "anacondad/1.2.3");
    }

    #[test]
    fn environment_overrides_domain_repo_and_verification() {
        let c = ApiConfig::from_env_map(
            "1",
            "h",
            &env(&[
                ("ANACONDA_AUTH_DOMAIN", "http://127.0.0.1:8080"),
                ("CONDA_TOKEN_REPO_URL", "http://127.0.0.1:8080/repo"),
                ("ANACONDA_AUTH_SSL_VERIFY", "/etc/ssl/corp.pem"),
            ]),
        );
        assert_eq!(c.base_url().unwrap().as_str(), "http://127.0.0.1:8080/");
        assert_eq!(
            c.repo_base_url().unwrap().as_str(),
            "http://127.0.0.1:8080/repo/"
        );
        assert_eq!(c.keyring_username().unwrap(), "127.0.0.1:8080");
        assert!(c.ssl_verify);
        assert_eq!(c.ca_bundle, Some(PathBuf::from("/etc/ssl/corp.pem")));
    }

    #[test]
    fn ssl_verify_words_turn_verification_off_or_keep_the_trust_store() {
        for off in ["0", "false", "No", "OFF"] {
            let c = ApiConfig::from_env_map("1", "h", &env(&[("ANACONDA_AUTH_SSL_VERIFY", off)]));
            assert!(!c.ssl_verify, "{off}");
            assert_eq!(c.ca_bundle, None);
        }
        for on in ["1", "true", "yes", "truststore", ""] {
            let c = ApiConfig::from_env_map("1", "h", &env(&[("ANACONDA_AUTH_SSL_VERIFY", on)]));
            assert!(c.ssl_verify, "{on}");
            assert_eq!(c.ca_bundle, None);
        }
    }

    #[test]
    fn domain_without_scheme_keeps_its_port_for_the_store_key() {
        let mut c = ApiConfig::new("1", "h");
        c.domain = "example.org:8443".into();
        assert_eq!(c.base_url().unwrap().as_str(), "https://example.org:8443/");
        assert_eq!(c.keyring_username().unwrap(), "example.org:8443");
        c.domain = "https://example.org/some/path".into();
        assert_eq!(c.base_url().unwrap().as_str(), "https://example.org/");
        assert_eq!(c.keyring_username().unwrap(), "example.org");
    }

    #[test]
    fn plain_http_is_refused_for_a_host_that_is_not_loopback() {
        let mut c = ApiConfig::new("1", "h");
        c.domain = "http://anaconda.example".into();
        let err = c.base_url().unwrap_err();
        assert!(matches!(err, ApiError::InsecureTransport { .. }), "{err:?}");
        assert!(err.to_string().contains("https"), "{err}");
        c.domain = "http://localhost:9".into();
        assert!(c.base_url().is_ok());
        c.domain = "http://[::1]:9".into();
        assert!(c.base_url().is_ok());

        let mut c = ApiConfig::new("1", "h");
        c.repo_url = "http://repo.example/repo/".into();
        assert!(matches!(
            c.repo_base_url(),
            Err(ApiError::InsecureTransport { .. })
        ));
    }

    #[test]
    fn unusable_domains_are_config_errors_naming_the_setting() {
        let mut c = ApiConfig::new("1", "h");
        c.domain = "ftp://example.org".into();
        let err = c.base_url().unwrap_err();
        assert!(err.to_string().contains("domain"), "{err}");
        c.domain = "https://user:pw@example.org".into();
        let err = c.base_url().unwrap_err();
        assert!(!err.to_string().contains("pw"), "{err}");
        c.domain = "exa mple.org".into();
        assert!(matches!(c.base_url(), Err(ApiError::Config { .. })));
    }
}
