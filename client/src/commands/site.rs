//! A running daemon serves the site it was started with (or the one of the last login). A
//! command whose environment names another site says so instead of silently using the
//! daemon's.

use anacondad_proto::v1::StatusRequest;

use crate::connection::Target;
use crate::exit::CliError;

/// `host[:port]` of a domain as written (`anaconda.com`, `http://127.0.0.1:8080/`).
fn netloc(domain: &str) -> String {
    let raw = domain.trim();
    let rest = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or(rest)
        .to_ascii_lowercase()
}

/// A repository URL with one trailing `/`.
fn repo(url: &str) -> String {
    format!("{}/", url.trim().trim_end_matches('/'))
}

/// Fails when a daemon runs and `ANACONDA_AUTH_DOMAIN` or `CONDA_TOKEN_REPO_URL` names another
/// site than it serves. Nothing runs: the daemon this command starts gets these variables.
pub async fn check(target: &Target) -> Result<(), CliError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let (domain, repo_url) = (var("ANACONDA_AUTH_DOMAIN"), var("CONDA_TOKEN_REPO_URL"));
    if domain.is_none() && repo_url.is_none() {
        return Ok(());
    }
    let Ok(client) = target.connect().await else {
        return Ok(());
    };
    let Ok(status) = client.daemon().status(StatusRequest {}).await else {
        return Ok(());
    };
    let status = status.into_inner();
    let served_domain = status
        .login
        .as_ref()
        .map(|l| l.domain.clone())
        .unwrap_or_default();
    let mut differences = Vec::new();
    if let Some(domain) = &domain
        && !served_domain.is_empty()
        && netloc(domain) != netloc(&served_domain)
    {
        differences.push(format!(
            "ANACONDA_AUTH_DOMAIN is {domain}, but it serves {served_domain}"
        ));
    }
    if let Some(url) = &repo_url
        && !status.repo_url.is_empty()
        && repo(url) != repo(&status.repo_url)
    {
        differences.push(format!(
            "CONDA_TOKEN_REPO_URL is {url}, but it serves {}",
            status.repo_url
        ));
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(CliError::failed(format!(
        "the running anacondad (pid {}) serves another site than this shell names: {}. Run \
         `anacondactl daemon stop`, then this command again, to start a daemon for the site \
         of this shell (it is then recorded at login); or unset those variables to use the \
         daemon's site",
        status.pid,
        differences.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_repositories_compare_as_the_daemon_keys_them() {
        assert_eq!(netloc("http://127.0.0.1:8080/"), "127.0.0.1:8080");
        assert_eq!(netloc("Anaconda.com"), "anaconda.com");
        assert_eq!(
            repo("https://r.example/repo"),
            repo("https://r.example/repo/")
        );
    }
}
