//! One host the daemon talks to (the service, the repository when it is elsewhere): DNS, the
//! connection (TLS for https, with the CA bundle and proxy in use) and the clock against the
//! host's `Date`, from one attempt with no retries (`api/probe.rs`).

use std::time::Duration;

use jiff::SignedDuration;
use reqwest::Method;
use url::Url;

use super::Inputs;
use super::finding::{Finding, Level};
use crate::api::{ApiError, ProbeAnswer, ProxyConfig, TransientCause};
use crate::sites::Site;

/// Clock skew beyond this is worth a warning (token expiry, renewal dates drift).
pub const CLOCK_SKEW_WARN_SECS: i64 = 60;
/// Beyond this, TLS certificates and token lifetimes are judged wrongly: fail.
pub const CLOCK_SKEW_FAIL_SECS: i64 = 300;
/// Bound on one DNS lookup.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// `<section>.dns`, `<section>.reachable` and, when the host answered, `<section>.clock`.
pub async fn check(inputs: &Inputs<'_>, site: &Site, section: &str, url: Url) -> Vec<Finding> {
    let mut out = vec![dns(inputs, site, section, &url).await];
    let https = url.scheme() == "https";
    let settings = transport_settings(inputs, site);
    let answer = site.api.probe(Method::GET, url.clone()).await;
    let shown = crate::api::mask_url(&url);
    let reachable = format!("{section}.reachable");
    out.push(match &answer {
        Ok(ProbeAnswer {
            status, elapsed, ..
        }) => {
            let how = if https {
                format!("TLS verified ({settings})")
            } else {
                format!("plain http to a loopback address ({settings})")
            };
            Finding::new(
                reachable,
                section,
                Level::Ok,
                format!(
                    "{shown} answered HTTP {status} in {} ms; {how}",
                    elapsed.as_millis()
                ),
            )
        }
        Err(e @ (ApiError::Tls { .. } | ApiError::CaBundle { .. })) => Finding::new(
            reachable,
            section,
            Level::Fail,
            format!("TLS failed ({settings}): {e}"),
        )
        .fix(
            "set ANACONDA_AUTH_SSL_VERIFY (or ca_bundle in anacondad's config.toml) to the CA \
             bundle that signs this certificate, then `anacondactl daemon stop`",
        ),
        Err(e) => {
            let fix = match e {
                ApiError::Transient {
                    cause: TransientCause::Timeout,
                    ..
                } => "check the network or the proxy; the service may be slow or down",
                _ => "check the network or the proxy (HTTPS_PROXY); the service may be down",
            };
            Finding::new(reachable, section, Level::Fail, format!("{e} ({settings})")).fix(fix)
        }
    });
    if let Ok(answer) = answer {
        out.push(clock(inputs, section, answer.date));
    }
    out
}

/// `<section>.dns`: whether the host resolves here (a proxy resolves it otherwise).
async fn dns(inputs: &Inputs<'_>, site: &Site, section: &str, url: &Url) -> Finding {
    let id = format!("{section}.dns");
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return Finding::new(id, section, Level::Ok, format!("{host} is an IP address"));
    }
    let lookup =
        tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host.as_str(), port))).await;
    let why = match lookup {
        Ok(Ok(addrs)) => {
            let addrs: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
            return Finding::new(
                id,
                section,
                Level::Ok,
                format!("{host} resolves to {}", addrs.join(", ")),
            );
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {}s", DNS_TIMEOUT.as_secs()),
    };
    let (level, evidence) = if proxy_in_use(inputs, site) {
        (
            Level::Warn,
            format!("{host} does not resolve here ({why}); the proxy resolves it"),
        )
    } else {
        (Level::Fail, format!("{host} does not resolve: {why}"))
    };
    Finding::new(id, section, level, evidence).fix(
        "check the network and DNS, or the domain (ANACONDA_AUTH_DOMAIN, or domain in \
         anacondad's config.toml)",
    )
}

/// `<section>.clock`: this machine's clock against the host's `Date`.
fn clock(inputs: &Inputs<'_>, section: &str, date: Option<jiff::Timestamp>) -> Finding {
    let id = format!("{section}.clock");
    let Some(theirs) = date else {
        return Finding::new(
            id,
            section,
            Level::Warn,
            "the answer had no Date header: the clock could not be compared",
        );
    };
    let skew = inputs.clock.now().duration_since(theirs);
    let evidence = format!(
        "this machine's clock is {} the service's ({theirs})",
        describe_skew(skew)
    );
    let level = match skew.as_secs().abs() {
        s if s > CLOCK_SKEW_FAIL_SECS => Level::Fail,
        s if s > CLOCK_SKEW_WARN_SECS => Level::Warn,
        _ => Level::Ok,
    };
    let found = Finding::new(id, section, level, evidence);
    if level == Level::Ok {
        found
    } else {
        found.fix("set the clock right (e.g. `timedatectl set-ntp true`)")
    }
}

fn describe_skew(skew: SignedDuration) -> String {
    match skew.as_secs() {
        0 => "in step with".to_owned(),
        s if s > 0 => format!("{s}s ahead of"),
        s => format!("{}s behind", -s),
    }
}

/// The CA bundle and proxy requests go through, for the evidence of the TLS check.
fn transport_settings(inputs: &Inputs<'_>, site: &Site) -> String {
    let api = &site.config.api;
    let ca = if !api.ssl_verify {
        "verification OFF (ANACONDA_AUTH_SSL_VERIFY)".to_owned()
    } else {
        match &api.ca_bundle {
            Some(path) => format!("CA bundle {}", path.display()),
            None => "the system's trust store".to_owned(),
        }
    };
    let proxy = match &api.proxy {
        ProxyConfig::Disabled => "no proxy".to_owned(),
        ProxyConfig::Url(url) => match Url::parse(url.expose()) {
            Ok(mut u) => {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                format!("proxy {u} (config)")
            }
            Err(_) => "a proxy from the configuration".to_owned(),
        },
        ProxyConfig::System => match inputs.system_proxy {
            Some(var) => format!("proxy {var}"),
            None => "no proxy".to_owned(),
        },
    };
    format!("{ca}, {proxy}")
}

fn proxy_in_use(inputs: &Inputs<'_>, site: &Site) -> bool {
    match &site.config.api.proxy {
        ProxyConfig::Disabled => false,
        ProxyConfig::Url(_) => true,
        ProxyConfig::System => inputs.system_proxy.is_some(),
    }
}
