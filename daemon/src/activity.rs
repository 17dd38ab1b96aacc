//! What each user-facing call under way has done and is waiting for. `GetActivity` reads it
//! for the CLI's progress line (by the call's `anacondad-request-id`), and a call that runs out
//! of time ([`Deadline`]) says from it what it was waiting for and what was already done.
//!
//! The record travels with the call as a task-local, so the API client marks its attempts and
//! the flows their steps without a parameter through every layer; a task spawned for the call
//! (the reissue that must run to its end) takes it along with [`scope`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

tokio::task_local! {
    static CURRENT: Activity;
}

/// The calls under way that named themselves, by request id.
#[derive(Debug, Default)]
pub struct Activities {
    // Held only to insert, remove or clone one entry.
    calls: Mutex<HashMap<String, Activity>>,
}

/// One call's record; clones share it.
#[derive(Debug, Clone)]
pub struct Activity(Arc<Mutex<State>>);

#[derive(Debug)]
struct State {
    started: Instant,
    deadline: Duration,
    steps_done: Vec<String>,
    waiting: Option<Waiting>,
    /// The last wait that ended, and how long it took: what a timeout names when it falls
    /// between two attempts.
    last_wait: Option<(Waiting, Duration)>,
    /// Set when a step that cannot be taken back began (a reissue): after a timeout the
    /// advice is then to look, not to run the command again.
    irreversible: Option<String>,
}

/// What a call waits for at the service.
#[derive(Debug, Clone)]
struct Waiting {
    what: String,
    attempt: u32,
    max_attempts: u32,
    since: Instant,
}

/// What `GetActivity` tells of one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub steps_done: Vec<String>,
    pub waiting_for: Option<String>,
    pub attempt: u32,
    pub max_attempts: u32,
    pub waiting: Duration,
    pub elapsed: Duration,
    pub deadline: Duration,
}

/// Removes a call's record when the call ends, however it ends.
#[derive(Debug)]
pub struct Registration<'a> {
    activities: &'a Activities,
    id: Option<String>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if let Some(id) = &self.id {
            self.activities.lock().remove(id);
        }
    }
}

impl Activities {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Activity>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new record for a call with `deadline`, findable by `id` while the registration lives.
    pub fn register(&self, id: Option<&str>, deadline: Duration) -> (Activity, Registration<'_>) {
        let activity = Activity(Arc::new(Mutex::new(State {
            started: Instant::now(),
            deadline,
            steps_done: Vec::new(),
            waiting: None,
            last_wait: None,
            irreversible: None,
        })));
        // An id is the CLI's random one; a caller sending a taken id only loses its progress.
        let id = id.filter(|id| !id.is_empty() && id.len() <= 64);
        if let Some(id) = id {
            self.lock().insert(id.to_owned(), activity.clone());
        }
        (
            activity,
            Registration {
                activities: self,
                id: id.map(str::to_owned),
            },
        )
    }

    /// How many calls that named themselves are under way.
    pub fn in_progress(&self) -> usize {
        self.lock().len()
    }

    /// What the call `id` has done and waits for, while it is under way.
    pub fn get(&self, id: &str) -> Option<Snapshot> {
        let activity = self.lock().get(id).cloned()?;
        Some(activity.snapshot())
    }
}

impl Activity {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> Snapshot {
        let state = self.lock();
        let now = Instant::now();
        Snapshot {
            steps_done: state.steps_done.clone(),
            waiting_for: state.waiting.as_ref().map(|w| w.what.clone()),
            attempt: state.waiting.as_ref().map_or(0, |w| w.attempt),
            max_attempts: state.waiting.as_ref().map_or(0, |w| w.max_attempts),
            waiting: state
                .waiting
                .as_ref()
                .map_or(Duration::ZERO, |w| now.duration_since(w.since)),
            elapsed: now.duration_since(state.started),
            deadline: state.deadline,
        }
    }

    /// The message of a call that ran out of time: what it was waiting for, what it had done,
    /// and what to do, which is never to repeat a step that cannot be taken back.
    pub fn timed_out(&self, command_timeout_key: &str) -> String {
        let snapshot = self.snapshot();
        let (irreversible, last_wait) = {
            let state = self.lock();
            (state.irreversible.clone(), state.last_wait.clone())
        };
        let limit = snapshot.deadline.as_secs();
        let mut message = match (&snapshot.waiting_for, last_wait) {
            (Some(what), _) => format!(
                "timed out after {limit} s waiting for the service: {what} (attempt {} of {}) \
                 had no answer after {} s",
                snapshot.attempt,
                snapshot.max_attempts,
                snapshot.waiting.as_secs()
            ),
            (None, Some((last, took))) => format!(
                "timed out after {limit} s waiting for the service: {} (attempt {} of {}) \
                 failed after {} s",
                last.what,
                last.attempt,
                last.max_attempts,
                took.as_secs()
            ),
            (None, None) => format!("timed out after {limit} s"),
        };
        if !snapshot.steps_done.is_empty() {
            message.push_str(&format!(
                ". Done before that: {}",
                snapshot.steps_done.join("; ")
            ));
        }
        match irreversible {
            Some(what) => message.push_str(&format!(
                ". {what} had begun and is finished in the background: `anacondactl token \
                 list` shows the token in a moment, and `anacondactl condarc apply` then \
                 configures conda; installing again would revoke that new token"
            )),
            None => message.push_str(&format!(
                ". The service is down, slow or unreachable: `anacondactl doctor` checks the \
                 network, then run the command again ({command_timeout_key} in anacondad's \
                 config.toml, or ANACONDAD_{}, sets how long commands wait)",
                command_timeout_key.to_ascii_uppercase()
            )),
        }
        message
    }
}

/// The record of the call this task works for, if it has one.
pub fn current() -> Option<Activity> {
    CURRENT.try_with(Activity::clone).ok()
}

/// Runs `work` as part of `activity`'s call (a spawned task does not inherit it).
pub async fn scope<F: Future>(activity: Option<Activity>, work: F) -> F::Output {
    match activity {
        Some(activity) => CURRENT.scope(activity, work).await,
        None => work.await,
    }
}

fn with_current(change: impl FnOnce(&mut State)) {
    let _outside_a_call = CURRENT.try_with(|activity| change(&mut activity.lock()));
}

/// Marks a step of the current call as done (`"stored the new token of acme"`).
pub fn step_done(text: impl Into<String>) {
    let text = text.into();
    with_current(|state| state.steps_done.push(text));
}

/// Marks the beginning of a step that cannot be taken back (`"the reissue of acme's token"`).
pub fn irreversible(what: impl Into<String>) {
    let what = what.into();
    with_current(|state| state.irreversible = Some(what));
}

/// The current call now waits for the service: `what` (`"GET host/path"`), attempt `attempt`
/// of `max_attempts`. The returned guard says it stopped waiting when dropped.
#[must_use = "the wait ends when the guard is dropped"]
pub fn waiting_for(what: &str, attempt: u32, max_attempts: u32) -> WaitGuard {
    let what = what.to_owned();
    with_current(|state| {
        state.waiting = Some(Waiting {
            what,
            attempt,
            max_attempts,
            since: Instant::now(),
        });
    });
    WaitGuard
}

/// Clears the current call's wait when dropped.
#[derive(Debug)]
pub struct WaitGuard;

impl Drop for WaitGuard {
    fn drop(&mut self) {
        with_current(|state| {
            if let Some(ended) = state.waiting.take() {
                let took = ended.since.elapsed();
                state.last_wait = Some((ended, took));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_shows_its_wait_and_steps_while_registered_and_nothing_after() {
        let activities = Activities::default();
        {
            let (activity, _registered) = activities.register(Some("abc"), Duration::from_secs(30));
            scope(Some(activity), async {
                step_done("checked the org");
                let _wait = waiting_for("GET h/api/account", 2, 4);
                let seen = activities.get("abc").expect("registered");
                assert_eq!(seen.steps_done, vec!["checked the org".to_owned()]);
                assert_eq!(seen.waiting_for.as_deref(), Some("GET h/api/account"));
                assert_eq!((seen.attempt, seen.max_attempts), (2, 4));
            })
            .await;
            assert_eq!(activities.get("abc").expect("registered").waiting_for, None);
        }
        assert_eq!(activities.get("abc"), None);
    }

    #[test]
    fn a_timeout_after_a_reissue_began_advises_looking_not_repeating() {
        let activities = Activities::default();
        let (activity, _registered) = activities.register(None, Duration::from_secs(30));
        activity.lock().irreversible = Some("The reissue of acme's token".to_owned());
        let message = activity.timed_out("command_timeout_secs");
        assert!(message.contains("anacondactl token list"), "{message}");
        assert!(!message.contains("run the command again"), "{message}");
    }
}
