//! [`Clock`]: the wall clock everything that reads time is given, so renewal runs on a test's
//! time instead of waiting in real time.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

/// Wall-clock time and waiting for it.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> Timestamp;
    /// Returns once [`Clock::now`] has reached `deadline` (at once when it already has).
    fn sleep_until(&self, deadline: Timestamp) -> BoxFuture<'_, ()>;
}

/// The system's wall clock. Sleeps are measured on the monotonic clock, so callers that must
/// notice suspend or a clock change sleep in short steps and look at [`Clock::now`] again.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep_until(&self, deadline: Timestamp) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(until(self.now(), deadline)))
    }
}

/// Wall time that follows tokio's clock from a fixed origin: under tokio's paused time
/// (`start_paused`, `tokio::time::advance`) it jumps with it.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: Timestamp,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// Must be called inside a tokio runtime.
    pub fn starting_at(origin: Timestamp) -> Self {
        Self {
            origin,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.start.elapsed()).unwrap_or(SignedDuration::MAX);
        self.origin.saturating_add(elapsed).unwrap_or(self.origin)
    }

    fn sleep_until(&self, deadline: Timestamp) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(until(self.now(), deadline)))
    }
}

/// A clock that moves only when told ([`ManualClock::advance`], [`ManualClock::set`]), for
/// tests that run a whole daemon with real I/O but jump over days of waiting.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
    moved: watch::Sender<Timestamp>,
}

impl ManualClock {
    pub fn new(now: Timestamp) -> Self {
        Self {
            now: Mutex::new(now),
            moved: watch::channel(now).0,
        }
    }

    pub fn set(&self, now: Timestamp) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = now;
        self.moved.send_replace(now);
    }

    pub fn advance(&self, by: Duration) {
        let by = SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX);
        self.set(self.now().saturating_add(by).unwrap_or_else(|_| self.now()));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sleep_until(&self, deadline: Timestamp) -> BoxFuture<'_, ()> {
        let mut moved = self.moved.subscribe();
        Box::pin(async move {
            let _sender_lives_with_self = moved.wait_for(|now| *now >= deadline).await;
        })
    }
}

/// How long from `now` to `deadline`, zero when it has passed.
pub fn until(now: Timestamp, deadline: Timestamp) -> Duration {
    Duration::try_from(deadline.duration_since(now)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    #[tokio::test]
    async fn a_manual_sleep_ends_when_the_clock_is_moved_past_its_deadline() {
        let clock = std::sync::Arc::new(ManualClock::new(at(0)));
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(at(100)).await })
        };
        clock.advance(Duration::from_secs(50));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(50));
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("the sleep ended")
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let clock = TokioClock::starting_at(at(0));
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(clock.now(), at(3600));
    }
}
