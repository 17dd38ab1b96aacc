//! Each organisation's token: whether the repository serves its repodata (one `HEAD`, not
//! `Tokens::validate`, which records the outcome) and whether it renews in time.

use std::time::Duration;

use super::Inputs;
use super::finding::{Finding, Level, date, timed_out};
use crate::api::RepoTokenCheck;
use crate::sites::Site;
use crate::tokens::TokenView;

/// `tokens` when none is installed, else `token.<org>.valid` and `token.<org>.renewal` for
/// each; every repository check runs at once, each bounded by `deadline`.
pub async fn check(
    inputs: &Inputs<'_>,
    site: &Site,
    store_ok: bool,
    deadline: tokio::time::Instant,
    limit: Duration,
) -> Vec<Finding> {
    if !store_ok {
        return Vec::new();
    }
    let Ok(snapshot) = site.vault.snapshot().await else {
        return Vec::new();
    };
    let views = site.tokens.list().await.unwrap_or_default();
    if views.is_empty() {
        return vec![
            Finding::new(
                "tokens",
                "tokens",
                Level::Warn,
                "no organisation token is installed",
            )
            .fix("anacondactl token install"),
        ];
    }
    let now = inputs.clock.now();
    let probes = views.iter().map(|view| async {
        match snapshot.tokens.get(&view.org) {
            Some(secret) => {
                Some(tokio::time::timeout_at(deadline, site.api.probe_repo_token(secret)).await)
            }
            None => None,
        }
    });
    let probed = futures::future::join_all(probes).await;
    let mut out = Vec::new();
    for (view, probe) in views.into_iter().zip(probed) {
        let section = format!("token {}", view.org);
        let id = format!("token.{}.valid", view.org);
        out.extend(probe.map(|probe| match probe {
            Err(_) => timed_out(&id, &section, limit),
            Ok(answer) => valid(&view, &id, &section, answer),
        }));
        out.push(renewal(&view, &section, now));
    }
    out
}

/// `token.<org>.valid` from the repository's answer.
fn valid(
    view: &TokenView,
    id: &str,
    section: &str,
    answer: Result<RepoTokenCheck, crate::api::ApiError>,
) -> Finding {
    match answer {
        Ok(RepoTokenCheck::Accepted) => Finding::new(
            id,
            section,
            Level::Ok,
            format!(
                "{} serves repodata with {} (HEAD, HTTP 200)",
                view.channel_url, view.masked
            ),
        ),
        Ok(RepoTokenCheck::Rejected { status }) => Finding::new(
            id,
            section,
            Level::Fail,
            format!(
                "the repository refused {} (HTTP {status}): revoked or expired",
                view.masked
            ),
        )
        .fix(format!("anacondactl token refresh --org {}", view.org)),
        Err(e) => Finding::new(
            id,
            section,
            Level::Fail,
            format!("could not be checked at the repository: {e}"),
        )
        .fix("check the network or the proxy (see the service and repository checks)"),
    }
}

/// `token.<org>.renewal`: its expiry and the renewal planned.
fn renewal(view: &TokenView, section: &str, now: jiff::Timestamp) -> Finding {
    let org = &view.org;
    let id = format!("token.{org}.renewal");
    let refresh = format!("anacondactl token refresh --org {org}");
    let next = view
        .next_refresh_at
        .map(|t| format!("renews by itself on {}", date(t)))
        .unwrap_or_else(|| "no renewal is planned".to_owned());
    match view.expires_at {
        Some(at) if at <= now => Finding::new(
            id,
            section,
            Level::Fail,
            format!("expired on {}; {next}", date(at)),
        )
        .fix(refresh),
        Some(at) if view.next_refresh_at.is_some() => Finding::new(
            id,
            section,
            Level::Ok,
            format!("expires {}; {next}", date(at)),
        ),
        Some(at) => Finding::new(
            id,
            section,
            Level::Warn,
            format!("expires {}; {next}", date(at)),
        )
        .fix(refresh),
        None => Finding::new(
            id,
            section,
            Level::Warn,
            "its expiry is unknown (stored by another tool), so it is not renewed",
        )
        // It works now: reissuing would revoke it for nothing.
        .fix(format!(
            "nothing while the token check above is ok; once the repository refuses it, \
             `anacondactl token refresh --org {org}` gets a new one"
        )),
    }
}
