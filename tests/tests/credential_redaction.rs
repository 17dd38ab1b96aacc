//! `credential get` errors name the URL asked about without its secrets: no `user:password@`,
//! no query string, no `/t/<token>/` token.

use anacondad_tests::harness::TestHome;

const URL: &str = "https://me:hunter2@other.example/t/tok-secret-123/repo/x.json?sig=s3cret#frag";

fn assert_redacted(text: &str) {
    for secret in ["hunter2", "tok-secret-123", "s3cret", "frag"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(
        text.contains("https://other.example/t/<redacted>/repo/x.json"),
        "still names the URL: {text}"
    );
}

#[test]
fn credential_get_errors_show_the_url_redacted() {
    let home = TestHome::new().with_env("ANACONDAD_STORAGE", "file");
    let out = home.run_ctl(&["credential", "get", URL]);
    assert_eq!(out.status.code(), Some(1));
    assert_redacted(&String::from_utf8_lossy(&out.stderr));

    let out = home.run_ctl(&["--json", "credential", "get", URL]);
    assert_eq!(out.status.code(), Some(1));
    assert_redacted(&String::from_utf8_lossy(&out.stdout));
    assert_redacted(&String::from_utf8_lossy(&out.stderr));
}

#[test]
fn credential_rejected_errors_show_the_url_redacted() {
    let home = TestHome::new().with_env("ANACONDAD_STORAGE", "file");
    let out = home.run_ctl(&[
        "credential",
        "rejected",
        URL,
        "--status",
        "401",
        "--kind",
        "repo_token",
    ]);
    assert!(!out.status.success());
    assert_redacted(&String::from_utf8_lossy(&out.stderr));
}
