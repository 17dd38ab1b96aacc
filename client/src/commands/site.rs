//! A running daemon serves the sites it was started with (or the one of the last login). A
//! command whose environment names one of them acts on it; one whose environment names
//! another says so instead of silently using the daemon's default.

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

/// The site a shell's variables name among those the running daemon serves: with
/// `ANACONDA_AUTH_DOMAIN` or `CONDA_TOKEN_REPO_URL` set and no `--at`, the command acts on
/// the site they name (`Some(name)`); when the daemon serves no such site it fails, saying so,
/// instead of silently using another. Nothing runs: the daemon this command starts gets the
/// variables.
pub async fn check(target: &Target) -> Result<Option<String>, CliError> {
    if target.site.is_some() {
        return Ok(None);
    }
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let (domain, repo_url) = (var("ANACONDA_AUTH_DOMAIN"), var("CONDA_TOKEN_REPO_URL"));
    if domain.is_none() && repo_url.is_none() {
        return Ok(None);
    }
    let Ok(client) = target.connect().await else {
        return Ok(None);
    };
    let Ok(status) = client.daemon().status(StatusRequest {}).await else {
        return Ok(None);
    };
    let status = status.into_inner();
    let mut served: Vec<(String, String, String)> = status
        .sites
        .iter()
        .map(|s| (s.name.clone(), s.domain.clone(), s.repo_url.clone()))
        .collect();
    if served.is_empty() {
        // A daemon from before sites: the one it serves.
        let domain = status
            .login
            .as_ref()
            .map(|l| l.domain.clone())
            .unwrap_or_default();
        served.push((String::new(), domain, status.repo_url.clone()));
    }
    let matches = |(_, served_domain, served_repo): &(String, String, String)| {
        domain
            .as_ref()
            .is_none_or(|d| served_domain.is_empty() || netloc(d) == netloc(served_domain))
            && repo_url
                .as_ref()
                .is_none_or(|u| served_repo.is_empty() || repo(u) == repo(served_repo))
    };
    if let Some((name, ..)) = served.iter().find(|s| matches(s)) {
        return Ok(Some(name.clone()).filter(|n| !n.is_empty() && served.len() > 1));
    }
    let mut named = Vec::new();
    if let Some(domain) = &domain {
        named.push(format!("ANACONDA_AUTH_DOMAIN is {domain}"));
    }
    if let Some(url) = &repo_url {
        named.push(format!("CONDA_TOKEN_REPO_URL is {url}"));
    }
    let serves = served
        .iter()
        .map(|(name, domain, repo)| {
            if name.is_empty() || name == domain {
                format!("{domain} ({repo})")
            } else {
                format!("{name}: {domain} ({repo})")
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(CliError::failed(format!(
        "the running anacondad (pid {}) serves no site this shell names: {}, but it serves \
         {serves}. Add the site with `anacondactl sites add NAME --domain DOMAIN`, or run \
         `anacondactl daemon stop`, then this command again, to start a daemon for the site of \
         this shell (it is then recorded at login); or unset those variables to use the \
         daemon's default site",
        status.pid,
        named.join(", ")
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
