//! One daemon serves several sites at once: two emulators stand for two Anaconda sites (say
//! anaconda.com and an on-premise server). Each URL gets its own site's credential, `--at`
//! names a site for every command, and the renewal of one site's token leaves the other's
//! alone. The daemon runs in this process with a clock the test moves; the CLI, the socket and
//! both emulators are real.

use std::sync::Arc;
use std::time::Duration;

use anacondad::api::ApiConfig;
use anacondad::clock::ManualClock;
use anacondad::config::sites::SiteConfig;
use anacondad_proto::v1::EventKind;
use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::in_process::InProcessDaemon;
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use jiff::Timestamp;

const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `home` (against `first`) served by a daemon that also serves `second` as the site "onprem".
fn two_sites(
    first: &EmulatorProcess,
    second: &EmulatorProcess,
    clock: &Arc<ManualClock>,
) -> (TestHome, InProcessDaemon) {
    two_sites_with(first, second, clock, false)
}

/// As [`two_sites`], with "onprem"'s `use_unified_repo_api_key` set to `unified`.
fn two_sites_with(
    first: &EmulatorProcess,
    second: &EmulatorProcess,
    clock: &Arc<ManualClock>,
    unified: bool,
) -> (TestHome, InProcessDaemon) {
    let home = TestHome::against(first);
    let onprem = {
        let mut api = ApiConfig::new("test", "in-process-test");
        api.domain = second.base_url.clone();
        api.repo_url = second.url("/repo/");
        SiteConfig {
            name: "onprem".to_owned(),
            api,
            extra_repo_urls: Vec::new(),
            use_unified_repo_api_key: unified,
        }
    };
    let daemon = InProcessDaemon::start_with(&home, clock.clone(), move |config| {
        config.sites.push(onprem);
    });
    (home, daemon)
}

fn login_at(home: &TestHome, site: &str, api_key: &str) {
    ok(&home.run_ctl_with_stdin(
        &["--at", site, "login", "--api-key-stdin"],
        api_key.as_bytes(),
    ));
}

/// Logged in at both sites, acme's token installed at each; the two tokens.
fn tokens_at_both(
    home: &TestHome,
    first: &EmulatorProcess,
    second: &EmulatorProcess,
) -> (String, String) {
    home.login_with_api_key(&first.mint_api_key());
    login_at(home, "onprem", &second.mint_api_key());
    let install = ["token", "install", "--org", "acme", "--yes", "--no-condarc"];
    ok(&home.run_ctl(&install));
    ok(&home.run_ctl(&[&["--at", "onprem"][..], &install].concat()));
    (
        first.org_token("acme").unwrap(),
        second.org_token("acme").unwrap(),
    )
}

fn header_for(home: &TestHome, url: &str) -> String {
    json_output(&home.run_ctl(&["--json", "credential", "get", url]))["header_value"]
        .as_str()
        .unwrap_or_else(|| panic!("a credential for {url}"))
        .to_owned()
}

/// The message of a `--json credential get` that found nothing (exit 1, a JSON error).
fn refusal(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON answer");
    assert_eq!(answer["exit_code"], 1, "{answer}");
    answer["error"].as_str().unwrap_or_default().to_owned()
}

fn repository_status(url: &str, header: &str) -> u16 {
    reqwest::blocking::Client::new()
        .get(url)
        .header("Authorization", header)
        .send()
        .expect("the emulator answers")
        .status()
        .as_u16()
}

#[test]
fn each_site_s_url_gets_that_site_s_credential_and_at_names_a_site_for_every_command() {
    let (first, second) = (spawn_emulator(&[]), spawn_emulator(&[]));
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, _daemon) = two_sites(&first, &second, &clock);
    let (first_token, second_token) = tokens_at_both(&home, &first, &second);
    assert_ne!(first_token, second_token);

    for (emu, token) in [(&first, &first_token), (&second, &second_token)] {
        let url = emu.url("/repo/acme/internal/noarch/repodata.json");
        let header = header_for(&home, &url);
        assert_eq!(header, format!("token {token}"), "{url}");
        assert_eq!(repository_status(&url, &header), 200, "{url}");
    }
    // The other site's token is not this repository's.
    let url = first.url("/repo/acme/internal/noarch/repodata.json");
    assert_eq!(
        repository_status(&url, &format!("token {second_token}")),
        401
    );

    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    let sites = status["sites"].as_array().expect("the sites");
    assert_eq!(sites.len(), 2, "{status}");
    assert_eq!(sites[1]["name"], "onprem");
    assert_eq!(sites[0]["is_default"], true);
    for site in sites {
        assert_eq!(site["tokens"][0]["org"], "acme", "{site}");
        assert_eq!(site["login"]["state"], "logged_in", "{site}");
    }
    let listed = json_output(&home.run_ctl(&["--json", "--at", "onprem", "token", "list"]));
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 1, "{listed}");

    // conda's user file gets one entry per site; `defaults` stays the default site's.
    ok(&home.run_ctl(&["condarc", "apply"]));
    ok(&home.run_ctl(&["--at", "onprem", "condarc", "apply"]));
    let condarc = std::fs::read_to_string(home.path().join(".condarc")).unwrap();
    for emu in [&first, &second] {
        let entry = format!("channel: {}", emu.url("/*"));
        assert_eq!(condarc.matches(&entry).count(), 1, "{entry} in:\n{condarc}");
    }
    assert!(
        condarc.contains(&first.url("/repo/main")) && !condarc.contains(&second.url("/repo/main")),
        "{condarc}"
    );
    let checked = home.run_ctl(&["--at", "onprem", "condarc", "check"]);
    assert!(
        !String::from_utf8_lossy(&checked.stdout).contains("defaults is not in effect"),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );

    // Logging out of one site leaves the other logged in.
    ok(&home.run_ctl(&["--at", "onprem", "logout"]));
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(status["sites"][0]["login"]["state"], "logged_in");
    assert_ne!(status["sites"][1]["login"]["state"], "logged_in");

    let unknown = home.run_ctl(&["--at", "elsewhere", "whoami"]);
    assert!(!unknown.status.success());
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        said.contains("elsewhere") && said.contains("onprem") && said.contains("sites list"),
        "{said}"
    );
}

#[test]
fn the_renewal_of_one_site_s_token_leaves_the_other_site_s_alone() {
    // The on-premise site issues tokens that live a day; anaconda.com's live a year.
    let first = spawn_emulator(&[]);
    let second = spawn_emulator(&["--token-lifetime", "86400"]);
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, _daemon) = two_sites(&first, &second, &clock);
    let (first_token, second_token) = tokens_at_both(&home, &first, &second);
    let listed = json_output(&home.run_ctl(&["--json", "--at", "onprem", "token", "list"]));
    let next: Timestamp = listed["tokens"][0]["next_refresh_at"]
        .as_str()
        .expect("a planned renewal")
        .parse()
        .unwrap();
    let mut events = home.subscribe_events();

    clock.set(next + jiff::SignedDuration::from_secs(1));
    let event = events.wait_for(EventKind::TokenRefreshed, EVENT_TIMEOUT);
    assert_eq!(event.org, "acme");
    let renewed = second.org_token("acme").unwrap();
    assert_ne!(renewed, second_token, "the on-premise token was renewed");
    assert_eq!(
        first.org_token("acme").unwrap(),
        first_token,
        "anaconda.com's token was left alone"
    );
    let url = second.url("/repo/acme/internal/noarch/repodata.json");
    assert_eq!(header_for(&home, &url), format!("token {renewed}"));
    let url = first.url("/repo/acme/internal/noarch/repodata.json");
    assert_eq!(header_for(&home, &url), format!("token {first_token}"));
}

#[test]
fn an_entrys_auth_domain_picks_a_served_site_by_domain_or_name_and_any_other_is_no_credential() {
    let (first, second) = (spawn_emulator(&[]), spawn_emulator(&[]));
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, _daemon) = two_sites(&first, &second, &clock);
    let second_key = second.mint_api_key();
    home.login_with_api_key(&first.mint_api_key());
    login_at(&home, "onprem", &second_key);
    ok(&home.run_ctl(&["token", "install", "--org", "acme", "--yes", "--no-condarc"]));
    let first_token = first.org_token("acme").unwrap();
    let ask = |url: &str, extra: &[&str]| {
        let mut args = vec!["--json", "credential", "get", url];
        args.extend_from_slice(extra);
        home.run_ctl(&args)
    };

    let onprem_url = second.url("/repo/acme/internal/noarch/repodata.json");
    let (_, onprem_domain) = second.base_url.split_once("://").unwrap();
    for named in [onprem_domain, "onprem"] {
        let out = ask(&onprem_url, &["--auth-domain", named]);
        assert_eq!(
            json_output(&out)["header_value"],
            format!("Bearer {second_key}"),
            "{named}"
        );
    }
    // Another site's credential is never sent to a URL outside that site's repositories.
    let first_url = first.url("/repo/acme/internal/noarch/repodata.json");
    let out = ask(&first_url, &["--auth-domain", "onprem"]);
    assert!(!out.status.success());
    let reason = refusal(&out);
    assert!(reason.contains("is not under the repository"), "{reason}");
    let (_, first_domain) = first.base_url.split_once("://").unwrap();
    let out = ask(
        &first_url,
        &[
            "--auth-domain",
            first_domain,
            "--credential-type",
            "repo-token",
        ],
    );
    assert_eq!(
        json_output(&out)["header_value"],
        format!("token {first_token}")
    );

    let out = ask(&first_url, &["--auth-domain", "nowhere.example"]);
    assert_eq!(out.status.code(), Some(1));
    let reason = refusal(&out);
    assert!(
        reason.contains("nowhere.example")
            && reason.contains("onprem")
            && reason.contains("anacondactl sites list"),
        "{reason}"
    );
}

#[test]
fn a_site_with_the_unified_api_key_sends_it_first_and_the_other_site_keeps_its_token_first() {
    let (first, second) = (spawn_emulator(&[]), spawn_emulator(&[]));
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let (home, _daemon) = two_sites_with(&first, &second, &clock, true);
    let second_key = second.mint_api_key();
    home.login_with_api_key(&first.mint_api_key());
    login_at(&home, "onprem", &second_key);
    for at in [None, Some("onprem")] {
        let mut args: Vec<&str> = at.map(|s| vec!["--at", s]).unwrap_or_default();
        args.extend(["token", "install", "--org", "acme", "--yes", "--no-condarc"]);
        ok(&home.run_ctl(&args));
    }

    let first_url = first.url("/repo/acme/internal/noarch/repodata.json");
    assert_eq!(
        header_for(&home, &first_url),
        format!("token {}", first.org_token("acme").unwrap())
    );
    let onprem_url = second.url("/repo/acme/internal/noarch/repodata.json");
    assert_eq!(
        header_for(&home, &onprem_url),
        format!("Bearer {second_key}")
    );
    assert_eq!(
        repository_status(&onprem_url, &format!("Bearer {second_key}")),
        200
    );
    // An entry that names the token wins over the site's setting.
    let out = home.run_ctl(&[
        "--json",
        "credential",
        "get",
        &onprem_url,
        "--credential-type",
        "repo-token",
    ]);
    assert_eq!(
        json_output(&out)["header_value"],
        format!("token {}", second.org_token("acme").unwrap())
    );
}
