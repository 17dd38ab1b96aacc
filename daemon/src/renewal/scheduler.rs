//! [`RefreshScheduler`]: renews credentials when their deadlines come. Deadlines are
//! wall-clock times read from the injected [`Clock`]; the task never sleeps longer than
//! [`MAX_SLEEP_SECS`] without looking at the clock again, so suspend, resume and clock changes
//! are caught. Failures back off exponentially with jitter. A renewal that has begun is never
//! cut short by shutdown: the reissue and the store of its answer belong together.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Renewal;
use crate::clock::Clock;
use crate::error::Result;

/// The longest the scheduler sleeps before looking at the clock again.
pub const MAX_SLEEP_SECS: u64 = 60;
/// First retry after a failed renewal; doubles per failure up to [`MAX_BACKOFF_SECS`].
pub const FIRST_BACKOFF_SECS: u64 = 30;
pub const MAX_BACKOFF_SECS: u64 = 3600;

/// What the scheduler renews: the daemon's credentials, or a test's stand-in.
pub trait Renewer: Send + Sync {
    /// What should be renewed, and when.
    fn deadlines(&self) -> impl Future<Output = Result<Vec<(Renewal, Timestamp)>>> + Send;
    /// Carries out one renewal.
    fn renew(&self, renewal: &Renewal) -> impl Future<Output = Result<()>> + Send;
    /// Notified whenever the deadlines may have moved.
    fn changed(&self) -> Arc<Notify>;
}

/// What to do now and when to look again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalPlan {
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
) -> RenewalPlan {
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
            // Whole milliseconds, rounded up (timers tick in milliseconds): a sleep that ends
            // a fraction early would find nothing due and sleep zero, again and again.
            let nanos = at.duration_since(now).as_nanos().max(1) as u128;
            let millis = nanos.div_ceil(1_000_000) as u64;
            Duration::from_millis(millis).min(max)
        })
        .unwrap_or(max);
    RenewalPlan { due, sleep }
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
pub struct RefreshScheduler<R> {
    renewer: R,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
}

impl<R: Renewer> RefreshScheduler<R> {
    pub fn new(renewer: R, clock: Arc<dyn Clock>, shutdown: CancellationToken) -> Self {
        Self {
            renewer,
            clock,
            shutdown,
        }
    }

    /// Runs until the shutdown signal; a renewal under way when it comes is finished first.
    pub async fn run(self) {
        let wake = self.renewer.changed();
        let mut failures: HashMap<Renewal, u32> = HashMap::new();
        let mut retry_at: HashMap<Renewal, Timestamp> = HashMap::new();
        loop {
            let deadlines = match self.renewer.deadlines().await {
                Ok(deadlines) => deadlines,
                Err(e) => {
                    tracing::warn!("cannot plan renewals yet: {e}");
                    Vec::new()
                }
            };
            let now = self.clock.now();
            let plan = plan(now, &deadlines, &retry_at);
            for renewal in &plan.due {
                if self.shutdown.is_cancelled() {
                    return;
                }
                match self.renewer.renew(renewal).await {
                    Ok(()) => {
                        failures.remove(renewal);
                        retry_at.remove(renewal);
                    }
                    Err(e) => {
                        let n = failures.entry(renewal.clone()).or_insert(0);
                        *n += 1;
                        let wait = backoff(*n, rand::random::<f64>() * 2.0 - 1.0);
                        tracing::warn!(?renewal, failures = *n, retry_in = ?wait, "renewal failed: {e}");
                        retry_at.insert(renewal.clone(), later(self.clock.now(), wait));
                    }
                }
            }
            if !plan.due.is_empty() {
                // Renewals moved the deadlines: plan again at once.
                continue;
            }
            tokio::select! {
                () = self.clock.sleep_until(later(now, plan.sleep)) => {}
                () = wake.notified() => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }
}

fn later(now: Timestamp, by: Duration) -> Timestamp {
    now.checked_add(SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TokioClock;
    use crate::error::Error;
    use std::sync::Mutex;

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

    /// Records what it renewed and when; fails the first `fail_first` attempts.
    #[derive(Debug)]
    struct FakeRenewer {
        clock: Arc<TokioClock>,
        deadlines: Mutex<Vec<(Renewal, Timestamp)>>,
        renewed: Mutex<Vec<(Renewal, Timestamp)>>,
        fail_first: Mutex<u32>,
        changed: Arc<Notify>,
    }

    impl Renewer for Arc<FakeRenewer> {
        async fn deadlines(&self) -> Result<Vec<(Renewal, Timestamp)>> {
            Ok(self.deadlines.lock().unwrap().clone())
        }

        async fn renew(&self, renewal: &Renewal) -> Result<()> {
            let now = self.clock.now();
            self.renewed.lock().unwrap().push((renewal.clone(), now));
            let mut failing = self.fail_first.lock().unwrap();
            if *failing > 0 {
                *failing -= 1;
                return Err(Error::EmptyToken);
            }
            // Renewed: the next deadline is a day later.
            for (r, at) in self.deadlines.lock().unwrap().iter_mut() {
                if r == renewal {
                    *at = now + SignedDuration::from_hours(24);
                }
            }
            Ok(())
        }

        fn changed(&self) -> Arc<Notify> {
            self.changed.clone()
        }
    }

    fn fake(deadlines: Vec<(Renewal, Timestamp)>, fail_first: u32) -> Arc<FakeRenewer> {
        Arc::new(FakeRenewer {
            clock: Arc::new(TokioClock::starting_at(at(0))),
            deadlines: Mutex::new(deadlines),
            renewed: Mutex::new(Vec::new()),
            fail_first: Mutex::new(fail_first),
            changed: Arc::new(Notify::new()),
        })
    }

    fn start(renewer: &Arc<FakeRenewer>) -> CancellationToken {
        let shutdown = CancellationToken::new();
        let scheduler =
            RefreshScheduler::new(renewer.clone(), renewer.clock.clone(), shutdown.clone());
        tokio::spawn(scheduler.run());
        shutdown
    }

    #[tokio::test(start_paused = true)]
    async fn a_credential_is_renewed_at_its_deadline_and_not_before() {
        let renewer = fake(vec![(org("acme"), at(3 * 86_400))], 0);
        let _shutdown = start(&renewer);
        tokio::time::sleep(Duration::from_secs(3 * 86_400 - 1)).await;
        assert!(renewer.renewed.lock().unwrap().is_empty());
        tokio::time::sleep(Duration::from_secs(MAX_SLEEP_SECS + 1)).await;
        let renewed = renewer.renewed.lock().unwrap().clone();
        assert_eq!(renewed.len(), 1, "{renewed:?}");
        let (what, when) = &renewed[0];
        assert_eq!(what, &org("acme"));
        assert!(
            *when >= at(3 * 86_400) && *when <= at(3 * 86_400 + 1),
            "{when}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failed_renewals_are_retried_after_growing_waits() {
        let renewer = fake(vec![(Renewal::ApiKey, at(0))], 3);
        let _shutdown = start(&renewer);
        tokio::time::sleep(Duration::from_secs(10 * 60)).await;
        let times: Vec<i64> = renewer
            .renewed
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t)| t.as_second() - at(0).as_second())
            .collect();
        assert_eq!(times.len(), 4, "three failures and a success: {times:?}");
        let waits: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        // 30 s, 60 s, 120 s, each within the ±20 % jitter (and the minute-long look-again).
        for (wait, base) in waits.iter().zip([30, 60, 120]) {
            assert!(
                (*wait as f64) >= base as f64 * 0.8 && (*wait as f64) <= base as f64 * 1.2 + 1.0,
                "{waits:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_deadline_wakes_the_scheduler_and_shutdown_stops_it() {
        let renewer = fake(vec![], 0);
        let shutdown = start(&renewer);
        tokio::time::sleep(Duration::from_secs(5)).await;
        renewer
            .deadlines
            .lock()
            .unwrap()
            .push((org("globex"), at(0)));
        renewer.changed.notify_one();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(renewer.renewed.lock().unwrap().len(), 1);
        shutdown.cancel();
        renewer
            .deadlines
            .lock()
            .unwrap()
            .push((org("initech"), at(0)));
        renewer.changed.notify_one();
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(renewer.renewed.lock().unwrap().len(), 1);
    }
}
