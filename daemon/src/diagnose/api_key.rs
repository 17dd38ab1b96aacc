//! The API key: whether the service accepts it (`api_key.valid`) and when it expires and who
//! renews it (`api_key.expiry`).

use super::Inputs;
use super::finding::{Finding, Level, date, timed_out};
use crate::sites::Site;

const S: &str = "API key";

/// The API key's findings; the service is asked once, until `deadline`.
pub async fn check(
    inputs: &Inputs<'_>,
    site: &Site,
    store_ok: bool,
    deadline: tokio::time::Instant,
    limit: std::time::Duration,
) -> Vec<Finding> {
    const VALID: &str = "api_key.valid";
    if !store_ok {
        return vec![Finding::new(
            VALID,
            S,
            Level::Warn,
            "not checked: the store is not usable",
        )];
    }
    let login = site.account.login_view().await;
    let Ok(key) = site.vault.api_key().await else {
        let (level, evidence) = if login.login_required {
            (Level::Fail, "the API key lapsed")
        } else {
            (
                Level::Warn,
                "not logged in: organisation tokens still work, but no new one can be had",
            )
        };
        return vec![Finding::new(VALID, S, level, evidence).fix("anacondactl login")];
    };
    let now = inputs.clock.now();
    let mut out = vec![
        match tokio::time::timeout_at(deadline, site.api.account(&key)).await {
            Err(_) => timed_out(VALID, S, limit),
            Ok(Ok(account)) => Finding::new(
                VALID,
                S,
                Level::Ok,
                format!(
                    "the service accepts it (user {})",
                    account.user.username.unwrap_or_else(|| "?".to_owned())
                ),
            ),
            Ok(Err(e)) if e.is_login_required() => Finding::new(
                VALID,
                S,
                Level::Fail,
                format!("the service refused it: {e}"),
            )
            .fix("anacondactl login --force"),
            Ok(Err(e)) => Finding::new(
                VALID,
                S,
                Level::Warn,
                format!("not checked at the service: {e}"),
            ),
        },
    ];
    const EXPIRY: &str = "api_key.expiry";
    let renews = match &login.api_key_origin {
        Some(origin) => format!("it comes from {origin}: whoever sets that renews it"),
        None if login.can_renew => "it renews by itself (a refresh token is held)".to_owned(),
        None => "it does not renew by itself: run `anacondactl login` before it expires".to_owned(),
    };
    out.push(match login.api_key_expires_at {
        None => Finding::new(
            EXPIRY,
            S,
            Level::Ok,
            format!("no expiry is known; {renews}"),
        ),
        Some(at) if at <= now => {
            let fix = match &login.api_key_origin {
                Some(origin) => format!("put a valid key in {origin}"),
                None => "anacondactl login".to_owned(),
            };
            Finding::new(EXPIRY, S, Level::Fail, format!("expired on {}", date(at))).fix(fix)
        }
        Some(at) => {
            let evidence = format!("expires {}; {renews}", date(at));
            if login.expiring(now) && !login.api_key_from_environment() {
                Finding::new(EXPIRY, S, Level::Warn, evidence).fix("anacondactl login --force")
            } else {
                Finding::new(EXPIRY, S, Level::Ok, evidence)
            }
        }
    });
    out
}
