//! Latency and memory figures against a real daemon on a temp socket: a `Status` and a
//! `GetCredential` round trip on an open connection, a new connection plus one call, whole
//! `anacondactl` processes, and the daemon's resident memory before and after the load.
//!
//! Run with: `cargo build --release --bins && cargo bench -p anacondad-tests --bench socket`

use std::time::{Duration, Instant};

use anacondad_proto::v1::credential_service_client::CredentialServiceClient;
use anacondad_proto::v1::daemon_service_client::DaemonServiceClient;
use anacondad_proto::v1::{GetCredentialRequest, StatusRequest};
use anacondad_tests::harness::TestHome;
use anacondad_tests::spawn_emulator;

fn percentiles(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label:<46} n={:<6} p50={:>9.1?} p90={:>9.1?} p99={:>9.1?} max={:>9.1?}",
        samples.len(),
        at(0.50),
        at(0.90),
        at(0.99),
        at(1.0)
    );
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
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
    let rss_idle = rss_kib(daemon.pid());

    let uid = rustix::process::getuid().as_raw();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let (status, credential) = rt.block_on(async {
        let channel = anacondad_proto::connect(daemon.socket(), uid)
            .await
            .expect("connect");
        let mut daemon_api = DaemonServiceClient::new(channel.clone());
        let mut credentials = CredentialServiceClient::new(channel);
        for _ in 0..500 {
            daemon_api.status(StatusRequest {}).await.expect("status");
        }
        let mut status = Vec::with_capacity(5_000);
        for _ in 0..5_000 {
            let t = Instant::now();
            daemon_api.status(StatusRequest {}).await.expect("status");
            status.push(t.elapsed());
        }
        let mut credential = Vec::with_capacity(20_000);
        for _ in 0..20_000 {
            let t = Instant::now();
            let answer = credentials
                .get_credential(GetCredentialRequest { url: url.clone() })
                .await
                .expect("credential")
                .into_inner();
            credential.push(t.elapsed());
            assert!(answer.found);
        }
        (status, credential)
    });
    percentiles("Status on an open connection", status);
    percentiles("GetCredential on an open connection", credential);

    let fresh = rt.block_on(async {
        let mut samples = Vec::with_capacity(1_000);
        for _ in 0..1_000 {
            let t = Instant::now();
            let channel = anacondad_proto::connect(daemon.socket(), uid)
                .await
                .expect("connect");
            DaemonServiceClient::new(channel)
                .status(StatusRequest {})
                .await
                .expect("status");
            samples.push(t.elapsed());
        }
        samples
    });
    percentiles("new connection + Status", fresh);

    for (label, args) in [
        (
            "whole `anacondactl --json daemon status`",
            vec!["--json", "daemon", "status"],
        ),
        (
            "whole `anacondactl credential get URL`",
            vec!["credential", "get", url.as_str()],
        ),
    ] {
        let mut samples = Vec::with_capacity(300);
        for _ in 0..300 {
            let t = Instant::now();
            let out = home.ctl().args(&args).output().expect("anacondactl");
            samples.push(t.elapsed());
            assert!(out.status.success());
        }
        percentiles(label, samples);
    }
    println!(
        "daemon resident memory: {} KiB idle with one token, {} KiB after the load above",
        rss_idle,
        rss_kib(daemon.pid())
    );
}
