//! The benchmark command: from one run against real release binaries in a temp home, the
//! figures of docs/benchmarks.md: `GetCredential` latency with 1 and 64 concurrent clients and
//! throughput, whole `anacondactl` processes, the daemon's memory idle and under load, its idle
//! wake-ups, its start-to-ready time, and anaconda-auth's own lookup (`TokenInfo.load`) as a
//! ratio. Prints a Markdown table at the end.
//!
//! Run with: `cargo build --release --bins && cargo bench -p anacondad-tests --bench socket`
//! (`ANACONDAD_TEST_VENV` or `tests/scripts/setup-venv.sh` provides anaconda-auth; without it
//! that row says so). `ANACONDAD_BENCH_IDLE_SECS` sets the idle window (default 60).

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anacondad_proto::v1::credential_service_client::CredentialServiceClient;
use anacondad_proto::v1::daemon_service_client::DaemonServiceClient;
use anacondad_proto::v1::{GetCredentialRequest, StatusRequest};
use anacondad_tests::harness::{TestHome, python_venv};
use anacondad_tests::spawn_emulator;

/// Clients of the concurrent run, each on its own connection.
const CONCURRENT_CLIENTS: usize = 64;
const CALLS_PER_CONCURRENT_CLIENT: usize = 1_000;

#[derive(Debug, Clone, Copy)]
struct Summary {
    p50: Duration,
    p99: Duration,
}

fn summarise(label: &str, mut samples: Vec<Duration>) -> Summary {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label:<52} n={:<7} p50={:>9.1?} p90={:>9.1?} p99={:>9.1?} max={:>9.1?}",
        samples.len(),
        at(0.50),
        at(0.90),
        at(0.99),
        at(1.0)
    );
    Summary {
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmRSS:")
}

/// Context switches of each thread of `pid`, by thread id: each is a wake-up (or a
/// preemption). Kept per thread, since a thread that ends takes its count with it.
fn context_switches(pid: u32) -> HashMap<String, u64> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return HashMap::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| {
            let status = std::fs::read_to_string(t.path().join("status")).ok()?;
            let count = status
                .lines()
                .filter(|l| {
                    l.starts_with("voluntary_ctxt_switches:")
                        || l.starts_with("nonvoluntary_ctxt_switches:")
                })
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
            Some((t.file_name().to_string_lossy().into_owned(), count))
        })
        .collect()
}

/// Switches between two snapshots: growth of the threads seen at both, all of a new thread's.
fn switches_between(before: &HashMap<String, u64>, after: &HashMap<String, u64>) -> u64 {
    after
        .iter()
        .map(|(tid, n)| n.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// anaconda-auth's median `TokenInfo.load(domain)` in-process, reading the keyring file the
/// daemon wrote in `home`, or why it could not be measured.
fn anaconda_auth_lookup(home: &TestHome, domain: &str) -> Result<Duration, String> {
    let venv = python_venv().as_ref().map_err(Clone::clone)?;
    std::fs::create_dir_all(home.path().join(".anaconda")).map_err(|e| e.to_string())?;
    std::fs::write(
        home.path().join(".anaconda/config.toml"),
        "[plugin.auth]\npreferred_token_storage = \"anaconda-keyring\"\n",
    )
    .map_err(|e| e.to_string())?;
    let script = r#"
import statistics, sys, time
from anaconda_auth.token import TokenInfo
domain = sys.argv[1]
info = TokenInfo.load(domain)
assert info.repo_tokens, "no repo token loaded"
samples = []
for _ in range(2000):
    t = time.perf_counter()
    TokenInfo.load(domain)
    samples.append(time.perf_counter() - t)
print(int(statistics.median(samples) * 1e9))
"#;
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", script, domain])
        .env_clear()
        .envs(home.env())
        .env_remove("ANACONDA_AUTH_DOMAIN")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    let nanos: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("{e}"))?;
    Ok(Duration::from_nanos(nanos))
}

fn main() {
    let emu = spawn_emulator(&[]);
    let base = emu.base_url.clone();
    let home = TestHome::against(&emu);
    let daemon = home.start_daemon();
    // A stored token, so GetCredential answers with a real credential.
    home.login_with_api_key(&emu.mint_api_key());
    let install = home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
    assert!(install.status.success());
    let url = format!("{base}/repo/acme/internal/noarch/repodata.json");
    let pid = daemon.pid();

    // Idle: memory and wake-ups over a window with nothing asking.
    let idle_secs: u64 = std::env::var("ANACONDAD_BENCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    std::thread::sleep(Duration::from_secs(2));
    let rss_idle = rss_kib(pid);
    let switches_before = context_switches(pid);
    std::thread::sleep(Duration::from_secs(idle_secs));
    let idle_wakeups = switches_between(&switches_before, &context_switches(pid));
    let wakeups_per_minute = idle_wakeups as f64 * 60.0 / idle_secs as f64;

    let uid = rustix::process::getuid().as_raw();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let single = rt.block_on(async {
        let channel = anacondad_proto::connect(daemon.socket(), uid)
            .await
            .expect("connect");
        let mut daemon_api = DaemonServiceClient::new(channel.clone());
        let mut credentials = CredentialServiceClient::new(channel);
        for _ in 0..500 {
            daemon_api.status(StatusRequest {}).await.expect("status");
        }
        let mut samples = Vec::with_capacity(20_000);
        for _ in 0..20_000 {
            let t = Instant::now();
            let answer = credentials
                .get_credential(GetCredentialRequest {
                    url: url.clone(),
                    ..Default::default()
                })
                .await
                .expect("credential")
                .into_inner();
            samples.push(t.elapsed());
            assert!(answer.found);
        }
        samples
    });
    let single_total = single.len();
    let one = summarise("GetCredential, 1 client", single);

    // 64 clients at once, each on its own connection; memory sampled while they run.
    let peak_rss = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, running) = (Arc::clone(&peak_rss), Arc::clone(&running));
        std::thread::spawn(move || {
            while running.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let (concurrent, wall) = rt.block_on(async {
        let mut channels = Vec::with_capacity(CONCURRENT_CLIENTS);
        for _ in 0..CONCURRENT_CLIENTS {
            channels.push(
                anacondad_proto::connect(daemon.socket(), uid)
                    .await
                    .expect("connect"),
            );
        }
        let started = Instant::now();
        let tasks: Vec<_> = channels
            .into_iter()
            .map(|channel| {
                let url = url.clone();
                tokio::spawn(async move {
                    let mut client = CredentialServiceClient::new(channel);
                    let mut samples = Vec::with_capacity(CALLS_PER_CONCURRENT_CLIENT);
                    for _ in 0..CALLS_PER_CONCURRENT_CLIENT {
                        let t = Instant::now();
                        let answer = client
                            .get_credential(GetCredentialRequest {
                                url: url.clone(),
                                ..Default::default()
                            })
                            .await
                            .expect("credential")
                            .into_inner();
                        samples.push(t.elapsed());
                        assert!(answer.found);
                    }
                    samples
                })
            })
            .collect();
        let mut all = Vec::with_capacity(CONCURRENT_CLIENTS * CALLS_PER_CONCURRENT_CLIENT);
        for task in tasks {
            all.extend(task.await.expect("client task"));
        }
        (all, started.elapsed())
    });
    running.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    let concurrent_total = concurrent.len();
    let many = summarise(
        &format!("GetCredential, {CONCURRENT_CLIENTS} concurrent clients"),
        concurrent,
    );
    let throughput = concurrent_total as f64 / wall.as_secs_f64();
    println!(
        "throughput with {CONCURRENT_CLIENTS} clients: {throughput:.0} lookups/s ({concurrent_total} in {wall:.2?}); 1 client: {single_total} calls"
    );
    let rss_load = peak_rss.load(Ordering::Relaxed).max(rss_kib(pid));

    let mut samples = Vec::with_capacity(300);
    for _ in 0..300 {
        let t = Instant::now();
        let out = home
            .ctl()
            .args(["credential", "get", url.as_str()])
            .output()
            .expect("anacondactl");
        samples.push(t.elapsed());
        assert!(out.status.success());
    }
    let cli = summarise("whole `anacondactl credential get URL` process", samples);

    // Start to ready: fresh homes, so nothing is cached.
    let mut starts = Vec::with_capacity(10);
    for _ in 0..10 {
        let fresh = TestHome::new().with_env("ANACONDAD_STORAGE", "file");
        let t = Instant::now();
        let started = fresh.start_daemon();
        starts.push(t.elapsed());
        drop(started);
    }
    let ready = summarise("anacondad start to ready (fresh home)", starts);

    let python = anaconda_auth_lookup(&home, &emu.domain());
    let python_cell = match &python {
        Ok(d) => format!(
            "{d:.1?} per `TokenInfo.load` (median of 2000, in-process): {:.1}x the daemon's 1-client p50",
            d.as_secs_f64() / one.p50.as_secs_f64()
        ),
        Err(e) => format!("not measured: {e}"),
    };

    let mib = |kib: u64| kib as f64 / 1024.0;
    println!();
    println!(
        "machine: {} cores, {}; load average at the end: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!();
    println!("| figure | measured | target |");
    println!("|---|---|---|");
    println!(
        "| GetCredential, 1 client | p50 {:.1?}, p99 {:.1?} | |",
        one.p50, one.p99
    );
    println!(
        "| GetCredential, {CONCURRENT_CLIENTS} clients | p50 {:.1?}, p99 {:.1?} | p99 < 200 us |",
        many.p50, many.p99
    );
    println!(
        "| throughput, {CONCURRENT_CLIENTS} clients | {throughput:.0} lookups/s | >= 50,000/s |"
    );
    println!(
        "| `anacondactl credential get` process | p50 {:.2?}, p99 {:.2?} | <= 1 ms median |",
        cli.p50, cli.p99
    );
    println!(
        "| daemon RSS | idle {:.1} MiB, under load {:.1} MiB | idle < 10 MiB |",
        mib(rss_idle),
        mib(rss_load)
    );
    println!(
        "| idle wake-ups | {wakeups_per_minute:.0} per minute ({idle_wakeups} context switches in {idle_secs} s) | |"
    );
    println!(
        "| start to ready | p50 {:.1?}, max of 10 {:.1?} | |",
        ready.p50, ready.p99
    );
    println!("| anaconda-auth lookup | {python_cell} | |");
}
