//! The daemon's socket and the CLI's daemon commands, over the real binaries on temp sockets.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use anacondad_proto::v1::StatusRequest;
use anacondad_proto::v1::daemon_service_client::DaemonServiceClient;
use anacondad_tests::harness::{KillOnDrop, TestHome, json_output, process_alive};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn is_root() -> bool {
    rustix::process::getuid().is_root()
}

#[test]
fn status_round_trip_reports_the_daemon_it_reached() {
    let home = TestHome::new();
    let daemon = home.start_daemon();
    let out = home.run_ctl(&["daemon", "status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(&format!("pid {}", daemon.pid())), "{text}");
    assert!(text.contains("protocol 1"), "{text}");

    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["pid"], daemon.pid());
    assert_eq!(status["protocol_version"], 1);
    assert_eq!(status["daemon_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["socket"], daemon.socket().display().to_string());
    assert!(status["uptime_seconds"].is_u64());
}

#[test]
fn status_starts_a_cold_daemon_and_stop_then_status_starts_it_again() {
    let home = TestHome::new();
    assert!(!home.socket().exists());
    let first = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    let first_pid = first["pid"].as_u64().unwrap() as u32;
    let _first_guard = KillOnDrop(first_pid);
    assert!(process_alive(first_pid));
    assert!(home.socket().exists());

    let stop = home.run_ctl(&["daemon", "stop"]);
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    assert!(String::from_utf8_lossy(&stop.stdout).contains("stopped"));
    assert!(!home.socket().exists(), "the socket is removed on shutdown");

    let again = home.run_ctl(&["daemon", "stop"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("not running"));

    let second = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    let second_pid = second["pid"].as_u64().unwrap() as u32;
    let _second_guard = KillOnDrop(second_pid);
    assert_ne!(first_pid, second_pid);
    let log = std::fs::read_to_string(home.state_dir().join("anacondad.log")).unwrap();
    assert!(
        log.contains("listening"),
        "the started daemon logs to the state dir: {log}"
    );
}

#[test]
fn socket_is_0600_in_a_0700_directory() {
    let home = TestHome::new();
    let daemon = home.start_daemon();
    assert_eq!(mode(daemon.socket()), 0o600);
    assert_eq!(mode(daemon.socket().parent().unwrap()), 0o700);
}

#[test]
fn a_world_writable_socket_directory_is_refused() {
    let home = TestHome::new();
    let dir = home.path().join("open");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = home
        .daemon_command()
        .args(["--foreground", "--socket"])
        .arg(dir.join("s.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mode 0777") && err.contains("chmod 700"),
        "{err}"
    );
    assert!(!dir.join("s.sock").exists());
}

#[test]
fn a_symlinked_socket_directory_is_refused() {
    let home = TestHome::new();
    let real = home.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
    let link = home.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let out = home
        .daemon_command()
        .args(["--foreground", "--socket"])
        .arg(link.join("s.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn a_socket_directory_of_another_user_is_refused() {
    if !is_root() {
        eprintln!("skipped: needs root to give a directory to another user");
        return;
    }
    let home = TestHome::new();
    let dir = home.path().join("theirs");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    rustix::fs::chown(
        &dir,
        Some(rustix::fs::Uid::from_raw(65534)),
        Some(rustix::fs::Gid::from_raw(65534)),
    )
    .unwrap();
    let out = home
        .daemon_command()
        .args(["--foreground", "--socket"])
        .arg(dir.join("s.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("belongs to uid 65534"), "{err}");
    // The client refuses to talk to a socket there just the same.
    let out = home
        .ctl()
        .arg("--socket")
        .arg(dir.join("s.sock"))
        .args(["daemon", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("belongs to uid 65534"));
}

#[test]
fn a_second_daemon_exits_nonzero_and_the_first_keeps_serving() {
    let home = TestHome::new();
    let first = home.start_daemon();
    let out = home
        .daemon_command()
        .args(["--foreground", "--socket"])
        .arg(home.socket())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already serving") && err.contains(&format!("pid {}", first.pid())),
        "{err}"
    );
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["pid"], first.pid());
}

#[test]
fn after_kill_9_the_next_command_recovers_the_stale_socket() {
    let home = TestHome::new();
    let mut daemon = home.start_daemon();
    daemon.signal("KILL");
    let status = daemon.wait_exit(Duration::from_secs(10));
    assert!(!status.success());
    assert!(
        home.socket().exists(),
        "a killed daemon leaves its socket behind"
    );

    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    let pid = status["pid"].as_u64().unwrap() as u32;
    let _guard = KillOnDrop(pid);
    assert_ne!(pid, daemon.pid());
}

#[test]
fn sigterm_stops_the_daemon_and_removes_its_socket_lock_and_version_file() {
    let home = TestHome::new();
    let mut daemon = home.start_daemon();
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}");
    let socket_dir = home.socket().parent().unwrap().to_path_buf();
    let left: Vec<_> = std::fs::read_dir(&socket_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "left in {}: {left:?}",
        socket_dir.display()
    );
    assert!(daemon.log().contains("SIGTERM received"));
}

#[test]
fn a_caller_of_another_user_is_refused_and_the_owner_is_still_served() {
    if !is_root() {
        eprintln!("skipped: needs root to run a client as another user");
        return;
    }
    let home = TestHome::new();
    let daemon = home.start_daemon();
    let socket = daemon.socket().to_path_buf();
    let probe = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect-failed", e.errno); sys.exit(0)
s.settimeout(5)
try:
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000"))
    print("received", len(s.recv(100)))
except OSError as e:
    print("hung-up", e.errno)
"#;
    let as_nobody = |args: &[&str]| {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    // With the modes the daemon set, another user cannot even reach the socket.
    let reached = as_nobody(&["/usr/bin/python3", "-c", probe, socket.to_str().unwrap()]);
    assert!(reached.starts_with("connect-failed"), "{reached}");

    // Loosen every directory on the way and the socket itself: now only the daemon's own
    // peer check stands between another user and the API.
    let mut dir = socket.parent().unwrap();
    while dir.starts_with(home.path()) {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
        dir = dir.parent().unwrap();
    }
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let reached = as_nobody(&["/usr/bin/python3", "-c", probe, socket.to_str().unwrap()]);
    // Closed without a byte of HTTP/2: an orderly close, or a reset or broken pipe because
    // our preface was never read.
    assert!(
        ["received 0", "hung-up 104", "hung-up 32"].contains(&reached.as_str()),
        "the daemon must hang up without answering: {reached}"
    );
    assert!(
        daemon
            .log()
            .contains("refused a connection from another user peer_uid=65534"),
        "{}",
        daemon.log()
    );
    // The owner's client insists on a private directory again, and is served.
    std::fs::set_permissions(
        socket.parent().unwrap(),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["pid"], daemon.pid());
}

#[test]
fn a_client_of_another_protocol_version_is_told_both_versions() {
    let home = TestHome::new();
    let daemon = home.start_daemon();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // A plain channel, without the helper's stamp: a client of protocol 999.
        let channel = tonic::transport::Endpoint::from_shared(format!(
            "unix://{}",
            daemon.socket().display()
        ))
        .unwrap()
        .connect()
        .await
        .unwrap();
        let mut client = DaemonServiceClient::new(channel);
        let mut req = tonic::Request::new(StatusRequest {});
        req.metadata_mut().insert(
            anacondad_proto::PROTOCOL_METADATA_KEY,
            "999".parse().unwrap(),
        );
        let err = client.status(req).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        assert!(
            err.message().contains("protocol 999") && err.message().contains("protocol 1"),
            "{}",
            err.message()
        );
    });
}

#[test]
fn two_hundred_concurrent_clients_each_make_fifty_status_calls() {
    let home = TestHome::new();
    let daemon = home.start_daemon();
    let uid = rustix::process::getuid().as_raw();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ok = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let socket = daemon.socket().to_path_buf();
            tasks.spawn(async move {
                let channel = anacondad_proto::connect(&socket, uid).await.unwrap();
                let mut client = DaemonServiceClient::new(channel);
                let mut ok = 0;
                for _ in 0..50 {
                    let status = client.status(StatusRequest {}).await.unwrap().into_inner();
                    assert_eq!(status.protocol_version, anacondad_proto::PROTOCOL_VERSION);
                    ok += 1;
                }
                ok
            });
        }
        let mut total = 0;
        while let Some(done) = tasks.join_next().await {
            total += done.unwrap();
        }
        total
    });
    assert_eq!(ok, 200 * 50);
}

#[test]
fn systemd_socket_activation_is_accepted() {
    let home = TestHome::new();
    let socket_dir = home.path().join("activated");
    std::fs::create_dir(&socket_dir).unwrap();
    std::fs::set_permissions(&socket_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let socket = socket_dir.join("anacondad.sock");
    // systemd-socket-activate binds the socket, and on the first connection starts the daemon
    // with it as fd 3 and LISTEN_FDS=1, as systemd does.
    let mut activator = Command::new("systemd-socket-activate")
        .arg("--listen")
        .arg(&socket)
        .arg(anacondad_tests::harness::bin("anacondad"))
        .arg("--foreground")
        .env_clear()
        .envs(home.env())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("systemd-socket-activate (package systemd) is installed");
    let _guard = KillOnDrop(activator.id());
    let mut stderr = std::io::BufReader::new(activator.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
    assert!(line.contains("Listening"), "{line}");
    let status = json_output(
        &home
            .ctl()
            .arg("--socket")
            .arg(&socket)
            .args(["--json", "daemon", "status"])
            .output()
            .unwrap(),
    );
    assert_eq!(status["socket"], socket.display().to_string());
    // The activator execs the daemon in its own process, which holds the socket's lock.
    assert_eq!(status["pid"], activator.id());
    let lock = std::fs::read_to_string(socket_dir.join("anacondad.sock.lock")).unwrap();
    assert_eq!(lock.trim(), activator.id().to_string());
    let stop = home
        .ctl()
        .arg("--socket")
        .arg(&socket)
        .args(["daemon", "stop"])
        .output()
        .unwrap();
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    // `daemon stop` returns once the daemon released its lock, i.e. as it exits.
    anacondad_tests::harness::wait_until_dead(activator.id(), Duration::from_secs(5));
    let _ = activator.kill();
    let _ = activator.wait();
}

#[test]
fn readiness_is_notified_to_systemd() {
    let home = TestHome::new();
    let notify = home.path().join("notify.sock");
    let listener = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut daemon = home
        .daemon_command()
        .env("NOTIFY_SOCKET", &notify)
        .args(["--foreground", "--socket"])
        .arg(home.socket())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(daemon.id());
    let mut buf = [0u8; 256];
    let n = listener.recv(&mut buf).expect("a readiness message");
    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(message.contains("READY=1"), "{message}");
    // Ready means serving.
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["pid"], daemon.id());
    let _ = daemon.kill();
    let _ = daemon.wait();
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let home = TestHome::new();
    let probe = r#"
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
done = subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.PIPE, env=dict(os.environ))
print(done.returncode)
print(done.stderr.decode())
"#;
    let out = Command::new("/usr/bin/python3")
        .args(["-c", probe])
        .arg(anacondad_tests::harness::bin("anacondactl"))
        .args(["completions", "bash"])
        .envs(home.env())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("141"), "ends as if by SIGPIPE: {text}");
    assert!(!text.contains("panicked"), "{text}");
}
