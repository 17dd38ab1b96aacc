//! Crash points for the fault-point suite (`tests/tests/fault_points.rs`): one
//! [`point`] call before and after each irreversible call and each write of install, renewal,
//! uninstall and login.
//!
//! Debug builds only. `ANACONDAD_FAULT_POINT=<name>` (or `<name>#<n>`, the n-th pass) makes the
//! daemon kill itself with SIGKILL when it reaches that point: no destructor runs, nothing is
//! flushed, exactly as `kill -9` at that instant. `ANACONDAD_FAULT_TRACE=<file>` appends the
//! name of every point passed, which is how the suite knows each flow's points.
//!
//! Release builds compile every call to nothing: an environment switch rather than a cargo
//! feature, because the test crate would turn the feature on for the whole workspace
//! (feature unification), release builds of the workspace included; `debug_assertions` is off
//! in every release build whatever the workspace selects.

/// Passes the crash point `name`.
#[cfg(all(debug_assertions, unix))]
pub fn point(name: &'static str) {
    armed::point(name);
}

/// Passes the crash point `name`: nothing, in a release build.
#[cfg(not(all(debug_assertions, unix)))]
#[inline(always)]
pub fn point(_name: &'static str) {}

#[cfg(all(debug_assertions, unix))]
mod armed {
    use std::collections::HashMap;
    use std::io::Write as _;
    use std::sync::{Mutex, OnceLock};

    struct Switch {
        /// The point to stop at, and on which pass (1-based).
        target: Option<(String, u32)>,
        trace: Option<std::path::PathBuf>,
        passes: Mutex<HashMap<&'static str, u32>>,
    }

    fn switch() -> &'static Switch {
        static SWITCH: OnceLock<Switch> = OnceLock::new();
        SWITCH.get_or_init(|| {
            let target = std::env::var("ANACONDAD_FAULT_POINT").ok().map(|v| {
                match v
                    .rsplit_once('#')
                    .and_then(|(n, k)| Some((n, k.parse().ok()?)))
                {
                    Some((name, pass)) => (name.to_owned(), pass),
                    None => (v, 1),
                }
            });
            Switch {
                target,
                trace: std::env::var_os("ANACONDAD_FAULT_TRACE").map(Into::into),
                passes: Mutex::new(HashMap::new()),
            }
        })
    }

    pub(super) fn point(name: &'static str) {
        let switch = switch();
        if switch.target.is_none() && switch.trace.is_none() {
            return;
        }
        let pass = {
            let mut passes = switch.passes.lock().unwrap_or_else(|p| p.into_inner());
            let n = passes.entry(name).or_default();
            *n += 1;
            *n
        };
        if let Some(trace) = &switch.trace
            && let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(trace)
        {
            let _ = writeln!(file, "{name}");
        }
        if switch
            .target
            .as_ref()
            .is_some_and(|(target, at)| target == name && *at == pass)
        {
            let _ = writeln!(std::io::stderr(), "fault point {name}#{pass}: SIGKILL");
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
        }
    }
}
