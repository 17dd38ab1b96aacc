//! The progress line: while a call waits on a terminal, what the daemon is waiting for (the
//! service request, its attempt), how long, and each step as it completes. Only on a terminal
//! (standard error) and never with `--json`: piped output and JSON stay as they were.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anacondad_proto::REQUEST_ID_METADATA_KEY;
use anacondad_proto::v1::{GetActivityRequest, GetActivityResponse};

use crate::connection::DaemonClient;

/// A call quicker than this shows no progress line.
const SHOW_AFTER: Duration = Duration::from_millis(700);
/// How often the line is redrawn and the daemon asked.
const TICK: Duration = Duration::from_millis(250);
/// How long one question about the call's progress may take; a daemon that does not answer
/// it leaves the line as it was.
const ASK_TIMEOUT: Duration = Duration::from_millis(500);

/// The name of one call, so the daemon can tell its progress apart from other callers'.
#[derive(Debug, Clone)]
pub struct RequestId(String);

impl RequestId {
    pub fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self(format!("{}-{nanos:x}", std::process::id()))
    }

    /// `message` as a request that carries this id.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(value) = self.0.parse() {
            request
                .metadata_mut()
                .insert(REQUEST_ID_METADATA_KEY, value);
        }
        request
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether progress is shown: on a terminal, without `--json`.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    shown: bool,
}

impl Progress {
    pub fn new(json: bool) -> Self {
        Self {
            shown: !json && std::io::stderr().is_terminal(),
        }
    }

    /// Awaits `call` (sent with `id`); on a terminal, shows what it waits for while it takes
    /// long, and the steps the daemon completes for it as they complete.
    pub async fn during<F: Future>(
        &self,
        client: &DaemonClient,
        id: &RequestId,
        what: &str,
        call: F,
    ) -> F::Output {
        if !self.shown {
            return call.await;
        }
        let mut call = std::pin::pin!(call);
        let started = Instant::now();
        let mut line = Line::default();
        let mut steps_shown = 0;
        let mut latest = GetActivityResponse::default();
        let mut ticks = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                answer = &mut call => {
                    line.clear();
                    return answer;
                }
                _ = ticks.tick() => {
                    if started.elapsed() < SHOW_AFTER {
                        continue;
                    }
                    let asked = tokio::time::timeout(
                        ASK_TIMEOUT,
                        client.daemon().get_activity(GetActivityRequest {
                            request_id: id.0.clone(),
                        }),
                    )
                    .await;
                    if let Ok(Ok(answer)) = asked {
                        let answer = answer.into_inner();
                        if answer.found {
                            latest = answer;
                        }
                    }
                    if latest.steps_done.len() > steps_shown {
                        line.clear();
                        for step in &latest.steps_done[steps_shown..] {
                            crate::errln!("  ✓ {step}");
                        }
                        steps_shown = latest.steps_done.len();
                    }
                    line.draw(&describe(what, &latest, started.elapsed()));
                }
            }
        }
    }
}

/// `what`, what it waits for, and for how long: "Installing the token of acme: waiting for
/// GET http://h/api/... (attempt 1 of 4, 12 s); 14 s of at most 30 s".
fn describe(what: &str, activity: &GetActivityResponse, elapsed: Duration) -> String {
    let mut text = format!("{what}: ");
    if activity.waiting_for.is_empty() {
        text.push_str("waiting for the daemon");
    } else {
        text.push_str(&format!(
            "waiting for the service, {} (attempt {} of {}, {} s)",
            activity.waiting_for,
            activity.attempt,
            activity.max_attempts,
            activity.waiting_ms / 1000
        ));
    }
    text.push_str(&format!("; {} s", elapsed.as_secs()));
    if activity.deadline_ms > 0 {
        text.push_str(&format!(" of at most {} s", activity.deadline_ms / 1000));
    }
    text
}

/// The one line being redrawn on standard error.
#[derive(Debug, Default)]
struct Line {
    drawn: bool,
}

impl Line {
    fn draw(&mut self, text: &str) {
        let text = crate::render::one_line(text);
        let mut err = std::io::stderr().lock();
        // Carriage return and "erase line": the line is rewritten in place.
        let _ = write!(err, "\r\x1b[2K{}", crate::render::terminal_safe(&text));
        let _ = err.flush();
        self.drawn = true;
    }

    fn clear(&mut self) {
        if self.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_request_its_attempt_and_the_time_taken() {
        let activity = GetActivityResponse {
            found: true,
            waiting_for: "GET http://h/api/account".to_owned(),
            attempt: 2,
            max_attempts: 4,
            waiting_ms: 3_200,
            deadline_ms: 30_000,
            ..GetActivityResponse::default()
        };
        assert_eq!(
            describe("Asking who you are", &activity, Duration::from_secs(9)),
            "Asking who you are: waiting for the service, GET http://h/api/account (attempt 2 \
             of 4, 3 s); 9 s of at most 30 s"
        );
    }
}
