//! [`RefreshScheduler`]: renews repo tokens and the API key before they expire. Deadlines are
//! wall-clock times from the state file; the task never sleeps longer than
//! [`MAX_SLEEP_SECS`] without re-reading the clock, so suspend, resume and clock changes are
//! caught. Failures back off exponentially with jitter.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::manager::{CredentialManager, Renewal};

/// The longest the scheduler sleeps before looking at the clock again.
pub const MAX_SLEEP_SECS: u64 = 60;
/// First retry after a failed renewal; doubles per failure up to [`MAX_BACKOFF_SECS`].
pub const FIRST_BACKOFF_SECS: u64 = 30;
pub const MAX_BACKOFF_SECS: u64 = 3600;

/// What to do now and when to look again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Due now, in a stable order.
    pub due: Vec<Renewal>,
    /// How long to sleep before planning again.
    pub sleep: Duration,
}

/// Plans from the deadlines, the retry times of failed renewals, and the current time.
pub fn plan(
    now: Timestamp,
    deadlines: &[(Renewal, Timestamp)],
    retry_at: &HashMap<Renewal, Timestamp>,
) -> Plan {
    let mut due = Vec::new();
    let mut next: Option<Timestamp> = None;
    for (renewal, deadline) in deadlines {
        let at = retry_at
            .get(renewal)
            .map_or(*deadline, |retry| (*retry).max(*deadline));
        if at <= now {
            due.push(renewal.clone());
        } else {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
    }
    due.sort();
    let max = Duration::from_secs(MAX_SLEEP_SECS);
    let sleep = next
        .map(|at| {
            let secs = (at.as_millisecond() - now.as_millisecond()).max(0) as u64;
            Duration::from_millis(secs).min(max)
        })
        .unwrap_or(max);
    Plan { due, sleep }
}

/// The wait before retry number `failures` (1-based): exponential, capped, with ±20 % jitter.
pub fn backoff(failures: u32, jitter: f64) -> Duration {
    let base = FIRST_BACKOFF_SECS
        .saturating_mul(1u64 << failures.saturating_sub(1).min(20))
        .min(MAX_BACKOFF_SECS) as f64;
    let factor = 1.0 + 0.2 * jitter.clamp(-1.0, 1.0);
    Duration::from_secs_f64(base * factor)
}

/// Keeps credentials fresh until shutdown.
#[derive(Debug)]
pub struct RefreshScheduler {
    manager: Arc<CredentialManager>,
    shutdown: CancellationToken,
}

impl RefreshScheduler {
    pub fn new(manager: Arc<CredentialManager>, shutdown: CancellationToken) -> Self {
        Self { manager, shutdown }
    }

    /// Runs until the shutdown signal.
    pub async fn run(self) {
        let wake = self.manager.deadlines_changed();
        let mut failures: HashMap<Renewal, u32> = HashMap::new();
        let mut retry_at: HashMap<Renewal, Timestamp> = HashMap::new();
        loop {
            let deadlines = match self.manager.renewal_deadlines().await {
                Ok(deadlines) => deadlines,
                Err(e) => {
                    tracing::warn!("cannot plan renewals yet: {e}");
                    Vec::new()
                }
            };
            let plan = plan(Timestamp::now(), &deadlines, &retry_at);
            for renewal in &plan.due {
                if self.shutdown.is_cancelled() {
                    return;
                }
                match self.manager.renew(renewal).await {
                    Ok(()) => {
                        failures.remove(renewal);
                        retry_at.remove(renewal);
                    }
                    Err(e) => {
                        let n = failures.entry(renewal.clone()).or_insert(0);
                        *n += 1;
                        let wait = backoff(*n, rand::random::<f64>() * 2.0 - 1.0);
                        tracing::warn!(?renewal, failures = *n, retry_in = ?wait, "renewal failed: {e}");
                        let at = Timestamp::now()
                            .checked_add(jiff::SignedDuration::try_from(wait).unwrap_or_default())
                            .unwrap_or_else(|_| Timestamp::now());
                        retry_at.insert(renewal.clone(), at);
                    }
                }
            }
            if !plan.due.is_empty() {
                // Renewals moved the deadlines: plan again at once.
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(plan.sleep) => {}
                () = wake.notified() => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn org(name: &str) -> Renewal {
        Renewal::RepoToken(name.to_owned())
    }

    #[test]
    fn past_deadlines_are_due_and_the_sleep_runs_to_the_next_one() {
        let deadlines = [
            (org("acme"), at(-5)),
            (org("globex"), at(30)),
            (Renewal::ApiKey, at(0)),
        ];
        let p = plan(at(0), &deadlines, &HashMap::new());
        assert_eq!(p.due, vec![org("acme"), Renewal::ApiKey]);
        assert_eq!(p.sleep, Duration::from_secs(30));
    }

    #[test]
    fn the_sleep_never_exceeds_a_minute() {
        let deadlines = [(org("acme"), at(86_400 * 300))];
        let p = plan(at(0), &deadlines, &HashMap::new());
        assert!(p.due.is_empty());
        assert_eq!(p.sleep, Duration::from_secs(MAX_SLEEP_SECS));
        let nothing = plan(at(0), &[], &HashMap::new());
        assert_eq!(nothing.sleep, Duration::from_secs(MAX_SLEEP_SECS));
    }

    #[test]
    fn a_clock_jump_past_a_deadline_makes_it_due_at_the_next_look() {
        let deadlines = [(org("acme"), at(3600))];
        assert!(plan(at(0), &deadlines, &HashMap::new()).due.is_empty());
        // Resume after a suspend of two hours: the next plan finds it due.
        assert_eq!(
            plan(at(7200), &deadlines, &HashMap::new()).due,
            vec![org("acme")]
        );
    }

    #[test]
    fn a_failed_renewal_waits_for_its_retry_time() {
        let deadlines = [(org("acme"), at(-10))];
        let retry = HashMap::from([(org("acme"), at(20))]);
        let p = plan(at(0), &deadlines, &retry);
        assert!(p.due.is_empty());
        assert_eq!(p.sleep, Duration::from_secs(20));
        assert_eq!(plan(at(21), &deadlines, &retry).due, vec![org("acme")]);
    }

    #[test]
    fn backoff_doubles_up_to_an_hour_with_bounded_jitter() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(30));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(60));
        assert_eq!(backoff(30, 0.0), Duration::from_secs(MAX_BACKOFF_SECS));
        assert_eq!(backoff(1, 1.0), Duration::from_secs(36));
        assert_eq!(backoff(1, -1.0), Duration::from_secs(24));
    }
}
