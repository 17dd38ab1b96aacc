//! What the service says (names, e-mail, org names, error reasons) reaches the terminal with
//! its control characters shown, never sent: no cursor moves, no colours, no OSC 8 links.

use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::spawn_emulator;

const HOSTILE_USER: &str = "ev\u{1b}]8;;https://evil.example/\u{7}il\u{1b}]8;;\u{7}";
const HOSTILE_EMAIL: &str = "x\u{9b}2J@example.com";
const HOSTILE_ORG: &str = "ac\u{1b}[2Jme";

/// True when `bytes` hold something a terminal would act on: C0 controls other than line
/// breaks, DEL, or a C1 control (UTF-8 `C2 80`..`C2 9F`).
fn steers_a_terminal(bytes: &[u8]) -> bool {
    String::from_utf8_lossy(bytes)
        .chars()
        .any(|c| c != '\n' && c.is_control())
}

fn seed(dir: &std::path::Path) -> std::path::PathBuf {
    let seed = serde_json::json!({
        "users": [{"username": HOSTILE_USER, "email": HOSTILE_EMAIL,
                   "first_name": "Mallory\u{1b}[31m", "last_name": "\u{7f}"}],
        "organizations": [
            {"name": HOSTILE_ORG, "title": "Evil\u{1b}[1A Corp", "members": [HOSTILE_USER]},
            {"name": "acme", "title": "Acme", "members": [HOSTILE_USER]}
        ],
        "subscriptions": [
            {"org": HOSTILE_ORG, "product_code": "commercial_business"},
            {"org": "acme", "product_code": "commercial_business"}
        ]
    });
    let path = dir.join("seed.json");
    std::fs::write(&path, seed.to_string()).unwrap();
    path
}

#[test]
fn names_and_errors_from_the_service_reach_the_terminal_neutralised() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed(dir.path());
    let emu = spawn_emulator(&["--state", seed.to_str().unwrap()]);
    let home = TestHome::against(&emu);
    home.login_with_api_key(&emu.mint_api_key());

    let who = home.run_ctl(&["whoami"]);
    assert!(
        who.status.success(),
        "{}",
        String::from_utf8_lossy(&who.stderr)
    );
    assert!(
        !steers_a_terminal(&who.stdout),
        "{:?}",
        String::from_utf8_lossy(&who.stdout)
    );
    let shown = String::from_utf8_lossy(&who.stdout);
    assert!(
        shown.contains("ev\\u001b]8;;https://evil.example/\\u0007il"),
        "{shown}"
    );
    assert!(shown.contains("x\\u009b2J@example.com"), "{shown}");

    let status = home.run_ctl(&["daemon", "status"]);
    assert!(
        !steers_a_terminal(&status.stdout),
        "{:?}",
        String::from_utf8_lossy(&status.stdout)
    );

    // Several orgs and no terminal: the error lists their names.
    let install = home.run_ctl(&["token", "install", "--yes"]);
    assert!(!install.status.success());
    assert!(
        !steers_a_terminal(&install.stderr),
        "{:?}",
        String::from_utf8_lossy(&install.stderr)
    );
    assert!(String::from_utf8_lossy(&install.stderr).contains("ac\\u001b[2Jme"));

    // JSON stays JSON, and keeps the service's values exactly.
    let json = json_output(&home.run_ctl(&["--json", "whoami"]));
    assert_eq!(json["username"], HOSTILE_USER);
    assert_eq!(json["email"], HOSTILE_EMAIL);
}
