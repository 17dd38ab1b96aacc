//! Issue 20's speed row: what auth adds to a real `conda search` with acme's two channels and
//! the three default ones configured (our handler, the `.condarc` `token install --channels
//! all` writes) against the same conda with the same channels written as `/t/<token>/` URLs
//! (no handler runs), and a conda without plugins. The runs of the three are interleaved, so
//! the machine's drifting load falls on each alike, and many, so their medians and p90s
//! settle. Then, in runs of their own (the wrapper that watches them costs a shell), how many
//! `anacondactl` processes one `conda search` starts and the CPU time they and the daemon
//! take: figures the load beside the run moves far less than wall-clock times.

use std::path::Path;
use std::time::Duration;

use anacondad_tests::conda::{Conda, conda_venvs};
use anacondad_tests::harness::{TestHome, bin};

use super::{cpu_time, outcome};

/// What auth adds to a `conda search` with org channels, as a share of conda alone.
const TARGET_CONDA_OVERHEAD: f64 = 0.02;
/// `anacondactl` processes one conda command may start.
const TARGET_PROCESSES_PER_RUN: usize = 1;
/// Interleaved rounds (one run of each setup per round); `ANACONDAD_BENCH_CONDA_ROUNDS`.
const DEFAULT_ROUNDS: usize = 30;
/// Runs with the counting wrapper.
const COUNTED_RUNS: usize = 10;

/// A setup's times over the rounds.
#[derive(Debug, Clone, Copy)]
struct Spread {
    p50: Duration,
    p90: Duration,
}

impl Spread {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        Self {
            p50: at(0.5),
            p90: at(0.9),
        }
    }
}

/// The figures of the row.
pub struct CondaOverhead {
    rounds: usize,
    channels: usize,
    ours: Spread,
    /// The venv with the plugins installed, the token in the URLs (no handler runs).
    same_venv: Spread,
    /// conda without plugins, the token in the URLs: conda alone.
    alone: Spread,
    /// The median, over the rounds, of our run's time less the same conda's in that round.
    paired_added: f64,
    /// The most `anacondactl` processes one counted run started.
    processes_per_run: usize,
    /// Their CPU time (user + system), per counted run.
    cli_cpu_per_run: Duration,
    /// The daemon's CPU time, per counted run.
    daemon_cpu_per_run: Duration,
}

fn rounds() -> usize {
    std::env::var("ANACONDAD_BENCH_CONDA_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_ROUNDS)
}

/// An `anacondactl` that runs the real one and appends, for each run, bash's `times` to `log`:
/// two lines, the shell's own CPU time and then its children's (`0m0.001s 0m0.002s`, user
/// and system). `times` runs in the script's shell itself: in a pipeline it would run in a
/// subshell, whose children took nothing.
fn timing_wrapper(dir: &Path, log: &Path) -> Result<std::path::PathBuf, String> {
    let wrapper = dir.join("timed-anacondactl");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/bash\n'{}' \"$@\"\nstatus=$?\ntimes >> '{}'\nexit $status\n",
            bin("anacondactl").display(),
            log.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(|e| e.to_string())?;
    Ok(wrapper)
}

/// `0m0.001s` as a duration.
fn bash_time(text: &str) -> Duration {
    let Some((minutes, seconds)) = text.trim().trim_end_matches('s').split_once('m') else {
        return Duration::ZERO;
    };
    let minutes: f64 = minutes.parse().unwrap_or(0.0);
    let seconds: f64 = seconds.parse().unwrap_or(0.0);
    Duration::from_secs_f64(minutes * 60.0 + seconds)
}

/// Runs the setups and the counted runs; `daemon_pid` is the daemon that serves the home.
pub fn measure(
    home: &TestHome,
    base: &str,
    token: &str,
    daemon_pid: u32,
) -> Result<CondaOverhead, String> {
    let venvs = conda_venvs().as_ref().map_err(Clone::clone)?;
    let dir = home.path().join("conda-bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let org = ["acme/internal", "acme/tools"];
    let defaults = ["main", "r", "msys2"];
    let mut ours = format!(
        "channel_settings:\n  - channel: {base}/*\n    auth: anacondad\ndefault_channels:\n"
    );
    for d in defaults {
        ours.push_str(&format!("  - {base}/repo/{d}\n"));
    }
    ours.push_str("channels:\n");
    for c in org {
        ours.push_str(&format!("  - {base}/repo/{c}\n"));
    }
    ours.push_str("  - defaults\n");
    let mut plain = "channels:\n".to_owned();
    for c in org.iter().chain(defaults.iter()) {
        plain.push_str(&format!("  - {base}/t/{token}/repo/{c}\n"));
    }
    let ours_rc = dir.join("ours.yml");
    let plain_rc = dir.join("plain.yml");
    std::fs::write(&ours_rc, ours).map_err(|e| e.to_string())?;
    std::fs::write(&plain_rc, plain).map_err(|e| e.to_string())?;
    let setups = [
        Conda::new(home, &venvs.with_plugin).with_env("CONDARC", &ours_rc),
        Conda::new(home, &venvs.with_plugin).with_env("CONDARC", &plain_rc),
        Conda::new(home, &venvs.without_plugin).with_env("CONDARC", &plain_rc),
    ];
    let search = ["search", "--json", "anacondad-hello"];
    let run = |conda: &Conda<'_>| {
        let run = conda.run(&search);
        if run.success() {
            Ok(run.elapsed)
        } else {
            Err(format!("conda search failed: {}", run.stderr()))
        }
    };
    // A first run of each fills conda's caches.
    for conda in &setups {
        run(conda)?;
    }
    let rounds = rounds();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); setups.len()];
    let mut added = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        for (i, conda) in setups.iter().enumerate() {
            times[i].push(run(conda)?);
        }
        let last = |i: usize| times[i].last().map_or(0.0, Duration::as_secs_f64);
        added.push(last(0) - last(1));
    }
    added.sort_by(f64::total_cmp);

    let log = dir.join("anacondactl-times.log");
    let counted = Conda::new(home, &venvs.with_plugin)
        .with_env("CONDARC", &ours_rc)
        .with_env("ANACONDACTL", timing_wrapper(&dir, &log)?);
    let (mut processes_per_run, mut cli_cpu, mut daemon_cpu) = (0, Duration::ZERO, Duration::ZERO);
    for _ in 0..COUNTED_RUNS {
        let _ = std::fs::remove_file(&log);
        let before = cpu_time(daemon_pid, false);
        run(&counted)?;
        daemon_cpu += cpu_time(daemon_pid, false).saturating_sub(before);
        let lines = std::fs::read_to_string(&log).unwrap_or_default();
        // Two lines per process; the second is `anacondactl`'s.
        let children: Vec<&str> = lines.lines().skip(1).step_by(2).collect();
        processes_per_run = processes_per_run.max(children.len());
        for line in children {
            let mut fields = line.split_whitespace();
            cli_cpu += bash_time(fields.next().unwrap_or_default());
            cli_cpu += bash_time(fields.next().unwrap_or_default());
        }
    }
    let per_run = COUNTED_RUNS as u32;
    Ok(CondaOverhead {
        rounds,
        channels: org.len() + defaults.len(),
        ours: Spread::of(times[0].clone()),
        same_venv: Spread::of(times[1].clone()),
        alone: Spread::of(times[2].clone()),
        paired_added: added[added.len() / 2],
        processes_per_run,
        cli_cpu_per_run: cli_cpu / per_run,
        daemon_cpu_per_run: daemon_cpu / per_run,
    })
}

/// The rows of the benchmark's table.
pub fn rows(result: &Result<CondaOverhead, String>) -> Vec<String> {
    let o = match result {
        Ok(o) => o,
        Err(e) => {
            return vec![format!(
                "| auth added to `conda search` with org channels | not measured: {e} | <= 2 % | |"
            )];
        }
    };
    let s = |d: Duration| d.as_secs_f64();
    let added = s(o.ours.p50) - s(o.same_venv.p50);
    let ratio = s(o.ours.p50) / s(o.same_venv.p50);
    let share = ratio - 1.0;
    let auth_cpu = o.cli_cpu_per_run + o.daemon_cpu_per_run;
    vec![
        format!(
            "| auth added to `conda search` ({} channels: acme's 2 and the 3 default ones), {} interleaved rounds | medians {:+.1} ms on {:.3} s, ratio {ratio:.3} ({:+.1} %); paired median {:+.1} ms; our handler p50 {:.3} s p90 {:.3} s, same conda with the token in the URLs p50 {:.3} s p90 {:.3} s; a conda without plugins p50 {:.3} s p90 {:.3} s | <= 2 % | {} |",
            o.channels,
            o.rounds,
            added * 1e3,
            s(o.same_venv.p50),
            share * 100.0,
            o.paired_added * 1e3,
            s(o.ours.p50),
            s(o.ours.p90),
            s(o.same_venv.p50),
            s(o.same_venv.p90),
            s(o.alone.p50),
            s(o.alone.p90),
            outcome(
                share <= TARGET_CONDA_OVERHEAD,
                share / TARGET_CONDA_OVERHEAD
            )
        ),
        format!(
            "| auth processes and CPU per `conda search` ({COUNTED_RUNS} runs through a timing wrapper) | at most {} `anacondactl` per run; CPU per run: `anacondactl` {:.1?} + the daemon {:.1?} = {:.1?}, {:.2} % of the same conda's p50 | <= {TARGET_PROCESSES_PER_RUN} process | {} |",
            o.processes_per_run,
            o.cli_cpu_per_run,
            o.daemon_cpu_per_run,
            auth_cpu,
            s(auth_cpu) / s(o.same_venv.p50) * 100.0,
            outcome(
                o.processes_per_run <= TARGET_PROCESSES_PER_RUN,
                o.processes_per_run as f64 / TARGET_PROCESSES_PER_RUN as f64
            )
        ),
    ]
}
