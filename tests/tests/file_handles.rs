//! Clients holding more connections than the daemon has file handles: the daemon neither hangs
//! nor spins, closes connections that say nothing, and answers again once they go. The daemon
//! runs with both open-file limits at 64 (`prlimit`), so raising the soft limit cannot help.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anacondad_tests::harness::{TestHome, bin, json_output};

/// Connections the test holds: well over the daemon's 64 file handles.
const HELD: usize = 200;

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_with_64_file_handles(home: &TestHome) -> Daemon {
    let mut child = Command::new("prlimit")
        .arg("--nofile=64:64")
        .arg(bin("anacondad"))
        .args(["--foreground", "--spawned", "--socket"])
        .arg(home.socket())
        .env_clear()
        .envs(home.env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(home.path().join("daemon.log")).unwrap())
        .spawn()
        .expect("prlimit (util-linux) runs anacondad");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("ready "), "said {line:?}");
    Daemon(child)
}

/// CPU time (user + system) the process has used, from /proc (clock ticks of 10 ms).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // After the command name: state is field 3, utime 14 and stime 15 of the whole line.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[test]
fn held_connections_beyond_the_file_limit_neither_hang_nor_spin_the_daemon() {
    let home = TestHome::new().with_env("ANACONDAD_STORAGE", "file");
    let daemon = start_with_64_file_handles(&home);
    let pid = daemon.0.id();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // Silent connections, as a buggy or hostile local client leaves them.
    let held = runtime.block_on(async {
        let mut held = Vec::new();
        for _ in 0..HELD {
            match tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::UnixStream::connect(home.socket()),
            )
            .await
            {
                Ok(Ok(stream)) => held.push(stream),
                // A full backlog or a refusal is fine; a hang is not (the timeout bounds it).
                Ok(Err(_)) | Err(_) => break,
            }
        }
        held
    });
    assert!(
        held.len() > 64,
        "only {} connections were taken",
        held.len()
    );

    let before = cpu_time(pid);
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_time(pid) - before;
    assert!(
        used < Duration::from_millis(300),
        "the daemon used {used:?} of CPU in 3 s while the connections were held"
    );

    // Still held, but silent past the handshake timeout: the daemon has closed its ends.
    std::thread::sleep(anacondad::transport::accept::HANDSHAKE_TIMEOUT);
    let started = Instant::now();
    let status =
        json_output(&home.run_ctl_within(&["--json", "daemon", "status"], Duration::from_secs(10)));
    assert_eq!(status["pid"].as_u64(), Some(u64::from(pid)), "{status}");
    assert!(started.elapsed() < Duration::from_secs(2));

    drop(held);
    let status =
        json_output(&home.run_ctl_within(&["--json", "daemon", "status"], Duration::from_secs(10)));
    assert_eq!(status["pid"].as_u64(), Some(u64::from(pid)));
}
