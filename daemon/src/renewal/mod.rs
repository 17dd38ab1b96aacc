//! Renewal: when each credential is renewed ([`RenewalPolicy`], one rule for repo tokens and
//! the API key), and the [`RefreshScheduler`] that does it on time. The scheduler reaches the
//! credentials through its [`Renewer`] trait only; the daemon's renewer (tokens and the
//! account) is put together where the parts are built (`crate::daemon::Renewals`).

mod scheduler;

use jiff::{SignedDuration, Timestamp};

pub use scheduler::{
    FIRST_BACKOFF_SECS, MAX_BACKOFF_SECS, MAX_SLEEP_SECS, Plan, RefreshScheduler, Renewer, backoff,
    plan,
};

use crate::vault::Snapshot;

/// A credential the scheduler keeps fresh.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Renewal {
    RepoToken(String),
    ApiKey,
}

/// An API key whose start is unknown is taken to have lived this long (the service issues
/// keys for about a year).
const ASSUMED_API_KEY_LIFETIME: SignedDuration = SignedDuration::from_hours(365 * 24);

/// When to renew: `lead_fraction` of a credential's lifetime before it expires, clamped to
/// 1..30 days and never more than half the lifetime.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenewalPolicy {
    pub lead_fraction: f64,
}

impl RenewalPolicy {
    /// Seconds before expiry to renew a credential that lives `lifetime_secs`.
    pub fn lead_secs(&self, lifetime_secs: f64) -> f64 {
        const DAY: f64 = 86_400.0;
        (lifetime_secs * self.lead_fraction)
            .clamp(DAY, 30.0 * DAY)
            .min(lifetime_secs / 2.0)
    }

    /// When to renew a credential obtained at `obtained` that expires at `expires_at`.
    pub fn renew_at(&self, obtained: Timestamp, expires_at: Timestamp) -> Timestamp {
        let lifetime = expires_at.duration_since(obtained).as_secs_f64().max(0.0);
        let lead = SignedDuration::from_secs_f64(self.lead_secs(lifetime));
        expires_at.checked_sub(lead).unwrap_or(expires_at)
    }

    /// Every stored repo token with its planned reissue, and the API key's renewal when a
    /// refresh token lets the daemon renew it (never a key from the environment).
    pub fn deadlines(
        &self,
        snapshot: &Snapshot,
        api_key_from_environment: bool,
    ) -> Vec<(Renewal, Timestamp)> {
        let mut deadlines: Vec<(Renewal, Timestamp)> = snapshot
            .tokens
            .keys()
            .filter_map(|org| {
                let facts = snapshot.facts.orgs.get(org)?;
                // Turned off by the user, or replaced on the service: reissuing would revoke
                // a token someone else now uses. A token replaced by this machine's own
                // unfinished reissue is renewed: nobody else holds the service's new one.
                let replaced_by_another =
                    facts.replaced.is_some() && facts.reissue_started_at.is_none();
                if facts.auto_renew_off || replaced_by_another {
                    return None;
                }
                Some((Renewal::RepoToken(org.clone()), facts.next_refresh_at?))
            })
            .collect();
        let facts = &snapshot.facts;
        if facts.refresh_token_held
            && !api_key_from_environment
            && let Some(expires_at) = facts.api_key_expires_at
        {
            let obtained = facts.api_key_obtained_at.unwrap_or_else(|| {
                expires_at
                    .checked_sub(ASSUMED_API_KEY_LIFETIME)
                    .unwrap_or(expires_at)
            });
            deadlines.push((Renewal::ApiKey, self.renew_at(obtained, expires_at)));
        }
        deadlines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: f64 = 86_400.0;

    fn policy(lead_fraction: f64) -> RenewalPolicy {
        RenewalPolicy { lead_fraction }
    }

    #[test]
    fn the_lead_is_a_tenth_of_a_year_clamped_to_thirty_days() {
        assert_eq!(policy(0.1).lead_secs(365.0 * DAY), 30.0 * DAY);
    }

    #[test]
    fn the_lead_is_at_least_a_day_for_a_month_long_token() {
        assert_eq!(policy(0.01).lead_secs(30.0 * DAY), DAY);
    }

    #[test]
    fn the_lead_never_exceeds_half_the_lifetime() {
        assert_eq!(policy(0.1).lead_secs(60.0), 30.0);
        assert_eq!(policy(0.1).lead_secs(DAY), DAY / 2.0);
    }

    #[test]
    fn an_api_key_of_unknown_start_is_renewed_thirty_days_before_it_expires() {
        let expires: Timestamp = "2027-06-01T00:00:00Z".parse().unwrap();
        let mut snapshot = Snapshot::default();
        snapshot.facts.refresh_token_held = true;
        snapshot.facts.api_key_expires_at = Some(expires);
        let deadlines = policy(0.1).deadlines(&snapshot, false);
        let expected: Timestamp = "2027-05-02T00:00:00Z".parse().unwrap();
        assert_eq!(deadlines, vec![(Renewal::ApiKey, expected)]);
        assert!(policy(0.1).deadlines(&snapshot, true).is_empty());
    }
}
