//! Socket latency figures: a `Status` round trip on an open connection, a new connection plus
//! one call, and a whole `anacondactl --json daemon status` process, against a real daemon.
//!
//! Run with: `cargo build --release --bins && cargo bench -p anacondad-tests --bench socket`

use std::time::{Duration, Instant};

use anacondad_proto::v1::StatusRequest;
use anacondad_proto::v1::daemon_service_client::DaemonServiceClient;
use anacondad_tests::harness::TestHome;

fn percentiles(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label:<44} n={:<6} p50={:>9.1?} p90={:>9.1?} p99={:>9.1?} max={:>9.1?}",
        samples.len(),
        at(0.50),
        at(0.90),
        at(0.99),
        at(1.0)
    );
}

fn main() {
    let home = TestHome::new();
    let daemon = home.start_daemon();
    let uid = rustix::process::getuid().as_raw();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let open = rt.block_on(async {
        let channel = anacondad_proto::connect(daemon.socket(), uid)
            .await
            .expect("connect");
        let mut client = DaemonServiceClient::new(channel);
        for _ in 0..500 {
            client.status(StatusRequest {}).await.expect("status");
        }
        let mut samples = Vec::with_capacity(10_000);
        for _ in 0..10_000 {
            let t = Instant::now();
            client.status(StatusRequest {}).await.expect("status");
            samples.push(t.elapsed());
        }
        samples
    });
    percentiles("Status on an open connection", open);

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

    let mut process = Vec::with_capacity(300);
    for _ in 0..300 {
        let t = Instant::now();
        let out = home
            .ctl()
            .args(["--json", "daemon", "status"])
            .output()
            .expect("anacondactl");
        process.push(t.elapsed());
        assert!(out.status.success());
    }
    percentiles("whole `anacondactl --json daemon status`", process);
}
