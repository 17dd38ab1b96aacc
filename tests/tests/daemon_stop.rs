//! `anacondactl daemon stop` returns once the daemon's process is gone, not just its socket.

use anacondad_tests::harness::{KillOnDrop, TestHome, json_output, process_alive};

#[test]
fn daemon_stop_returns_only_after_the_process_has_exited() {
    for _ in 0..3 {
        let home = TestHome::new().with_env("ANACONDAD_STORAGE", "file");
        let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
        let pid = u32::try_from(status["pid"].as_u64().unwrap()).unwrap();
        let _cleanup = KillOnDrop(pid);
        let stop = home.run_ctl(&["daemon", "stop"]);
        assert!(
            stop.status.success(),
            "{}",
            String::from_utf8_lossy(&stop.stderr)
        );
        assert!(
            !process_alive(pid),
            "daemon stop returned while pid {pid} still runs"
        );
    }
}
