//! Organisation channels end to end: the emulator's channel endpoints as the daemon reads
//! them (paging, 403, an org with none, a channel shared from another org), `anacondactl
//! channels list|add|remove`, the channel step of `token install`, what `token uninstall`
//! takes out, and the findings for a channel the token can no longer read.

use std::process::Output;
use std::time::Duration;

use anacondad_proto::v1::EventKind;
use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use serde_json::{Value, json};

struct World {
    home: TestHome,
    emu: EmulatorProcess,
}

impl World {
    /// Logged in as demo, secrets in the file keyring, no token.
    fn logged_in() -> Self {
        let emu = spawn_emulator(&["--device-interval", "1"]);
        let home = TestHome::against(&emu).with_env("ANACONDAD_STORAGE", "file");
        home.login_with_api_key(&emu.mint_api_key());
        Self { home, emu }
    }

    /// Logged in, with acme's token installed and conda configured (no channel added).
    fn installed() -> Self {
        let w = Self::logged_in();
        let out = w.ctl(&["token", "install", "--org", "acme", "--yes"]);
        assert!(out.status.success(), "{}", text(&out));
        w
    }

    fn ctl(&self, args: &[&str]) -> Output {
        self.home.run_ctl(args)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        json_output(&self.ctl(&all))
    }

    fn condarc(&self) -> std::path::PathBuf {
        self.home.path().join(".condarc")
    }

    fn read_condarc(&self) -> String {
        std::fs::read_to_string(self.condarc()).unwrap()
    }

    fn channel_url(&self, org: &str, name: &str) -> String {
        self.emu.url(&format!("/repo/{org}/{name}"))
    }

    /// How many requests for `path_prefix` the emulator logged.
    fn requests_to(&self, path_prefix: &str) -> usize {
        self.emu.get("/_emulator/log")["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with(path_prefix))
            })
            .count()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn names(list: &Value) -> Vec<String> {
    list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}/{}",
                c["org"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn channels_list_gives_each_channel_of_acme_with_the_url_conda_uses() {
    let w = World::logged_in();
    let list = w.json(&["channels", "list", "--org", "acme"]);
    assert_eq!(names(&list), ["acme/internal", "acme/tools"], "{list}");
    let internal = &list["channels"][0];
    assert_eq!(internal["url"], w.channel_url("acme", "internal"));
    assert_eq!(internal["privacy"], "private");
    assert_eq!(internal["in_conda"], false);
    assert_eq!(internal["shared"], false);
}

#[test]
fn every_org_is_listed_with_a_channel_shared_from_another_org_and_an_org_with_none_said() {
    let w = World::logged_in();
    let list = w.json(&["channels", "list"]);
    assert_eq!(
        names(&list),
        ["acme/internal", "acme/tools", "umbrella/partner"],
        "{list}"
    );
    assert_eq!(list["channels"][2]["shared"], true);
    let orgs: Vec<&str> = list["orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert!(orgs.contains(&"globex"), "{list}");
    let human = text(&w.ctl(&["channels", "list"]));
    assert!(human.contains("partner (shared)"), "{human}");
    assert!(human.contains("globex has no channels."), "{human}");
}

#[test]
fn an_org_with_no_channels_lists_none() {
    let w = World::logged_in();
    let out = w.ctl(&["--json", "channels", "list", "--org", "globex"]);
    assert!(out.status.success(), "{}", text(&out));
    let list = json_output(&out);
    assert_eq!(list["channels"], json!([]));
    assert_eq!(list["orgs"], json!(["globex"]));
}

#[test]
fn more_channels_than_one_page_are_all_listed() {
    let w = World::logged_in();
    let extra = anacondad_tests::emulator::MAX_CHANNEL_PAGE + 30;
    for i in 0..extra {
        w.emu.post(
            "/_emulator/channels",
            json!({"org": "acme", "name": format!("bulk-{i:03}")}),
        );
    }
    let list = w.json(&["channels", "list", "--org", "acme"]);
    assert_eq!(names(&list).len(), extra + 2, "{list}");
    assert!(w.requests_to("/api/repo/channels/acme/subchannels") >= 2);
    let every = w.json(&["channels", "list"]);
    // acme's namespace item is not a channel; its channels, and umbrella's shared one are.
    assert_eq!(names(&every).len(), extra + 3);
    assert!(w.requests_to("/api/repo/account/channels") >= 2);
}

#[test]
fn a_namespace_the_user_may_not_read_is_refused_with_the_service_403() {
    let w = World::logged_in();
    w.emu
        .post("/_emulator/channels/umbrella/partner/revoke", json!({}));
    let out = w.ctl(&["channels", "list", "--org", "umbrella"]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("HTTP 403"), "{said}");
}

#[test]
fn channels_add_twice_leaves_the_file_byte_identical_and_remove_restores_it() {
    let w = World::installed();
    let before = w.read_condarc();
    let out = w.ctl(&["channels", "add", "--org", "acme", "--all", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let added = w.read_condarc();
    let internal = w.channel_url("acme", "internal");
    let tools = w.channel_url("acme", "tools");
    assert!(
        added.ends_with(&format!(
            "channels:\n  - {internal}\n  - {tools}\n  - defaults\n"
        )),
        "{added}"
    );
    let said = text(&out);
    assert!(
        said.contains("conda now searches, in this order:"),
        "{said}"
    );

    let again = w.ctl(&["channels", "add", "--org", "acme", "--all", "--yes"]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(w.read_condarc(), added);

    let out = w.ctl(&["channels", "remove", "--org", "acme", "--all", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(w.read_condarc(), before);
}

#[test]
fn a_channel_the_user_wrote_with_a_trailing_slash_is_not_added_twice() {
    let w = World::installed();
    let mine = format!("{}/", w.channel_url("acme", "internal"));
    let text_before = w.read_condarc().replace(
        "channels:\n  - defaults\n",
        &format!("channels:\n  - {mine}\n  - defaults\n"),
    );
    std::fs::write(w.condarc(), &text_before).unwrap();
    let out = w.ctl(&["channels", "add", "acme/internal", "acme/tools", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        w.read_condarc(),
        text_before.replace(
            "  - defaults\n",
            &format!("  - {}\n  - defaults\n", w.channel_url("acme", "tools"))
        )
    );
}

#[test]
fn a_malformed_condarc_is_refused_before_anything_changes_with_the_line_that_is_wrong() {
    let w = World::installed();
    let broken = "channels:\n  - defaults\nssl_verify: [true\n";
    std::fs::write(w.condarc(), broken).unwrap();
    let backup = w.home.path().join(".condarc.bak");
    let backup_before = std::fs::read(&backup).ok();
    let out = w.ctl(&["channels", "add", "--org", "acme", "--all", "--yes"]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("line 4") || said.contains("line 3"), "{said}");
    assert_eq!(w.read_condarc(), broken);
    assert_eq!(std::fs::read(&backup).ok(), backup_before);
}

#[test]
fn an_unknown_channel_name_is_refused_with_the_ones_there_are() {
    let w = World::installed();
    let before = w.read_condarc();
    let out = w.ctl(&["channels", "add", "--org", "acme", "nightly", "--yes"]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("internal, tools"), "{said}");
    assert_eq!(w.read_condarc(), before);
}

#[test]
fn token_install_adds_the_chosen_channels_and_uninstall_takes_out_only_those() {
    let w = World::logged_in();
    let out = w.ctl(&[
        "token",
        "install",
        "--org",
        "acme",
        "--yes",
        "--channels",
        "all",
    ]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let internal = w.channel_url("acme", "internal");
    let tools = w.channel_url("acme", "tools");
    assert!(
        said.contains("conda now searches, in this order:"),
        "{said}"
    );
    // `defaults` is followed by the URLs conda uses for it.
    let repo = |name: &str| w.emu.url(&format!("/repo/{name}"));
    assert!(
        said.contains(&format!(
            "  {internal}\n  {tools}\n  defaults, which is:\n    {}\n    {}\n    {}\n",
            repo("main"),
            repo("r"),
            repo("msys2")
        )),
        "{said}"
    );

    // The user adds an acme channel of their own; uninstall leaves it.
    let mine = w.channel_url("acme", "legacy");
    let edited = w
        .read_condarc()
        .replace("  - defaults\n", &format!("  - defaults\n  - {mine}\n"));
    std::fs::write(w.condarc(), &edited).unwrap();
    let out = w.ctl(&["token", "uninstall", "--org", "acme"]);
    assert!(out.status.success(), "{}", text(&out));
    let after = w.read_condarc();
    assert!(
        !after.contains(&internal) && !after.contains(&tools),
        "{after}"
    );
    assert!(after.contains(&mine), "{after}");
}

#[test]
fn token_install_json_carries_its_channel_step_and_what_conda_then_searches() {
    let w = World::logged_in();
    let installed = w.json(&[
        "token",
        "install",
        "--org",
        "acme",
        "--yes",
        "--channels",
        "all",
    ]);
    let step = &installed["channels"];
    assert_eq!(step["choice"], "all", "{installed}");
    assert_eq!(step["added"], json!(["internal", "tools"]), "{installed}");
    let offered: Vec<&str> = step["offered"]
        .as_array()
        .unwrap_or_else(|| panic!("no offered channels in {installed}"))
        .iter()
        .filter_map(|c| c["url"].as_str())
        .collect();
    let (internal, tools) = (
        w.channel_url("acme", "internal"),
        w.channel_url("acme", "tools"),
    );
    assert_eq!(offered, [internal.as_str(), tools.as_str()], "{installed}");
    assert_eq!(step["edit"]["changed"], true, "{installed}");
    assert!(step["warning"].is_null(), "{installed}");
    assert_eq!(
        step["conda_channels"],
        json!([internal, tools, "defaults"]),
        "{installed}"
    );
    assert_eq!(
        step["default_channels"],
        json!([
            w.emu.url("/repo/main"),
            w.emu.url("/repo/r"),
            w.emu.url("/repo/msys2")
        ]),
        "{installed}"
    );
    assert_eq!(installed["condarc"]["changed"], true, "{installed}");

    // Without a channel step (`--no-condarc`), `channels` is null.
    let again = w.json(&[
        "token",
        "install",
        "--org",
        "globex",
        "--yes",
        "--no-condarc",
    ]);
    assert!(again["channels"].is_null(), "{again}");
}

#[test]
fn token_install_without_a_terminal_adds_no_channel_and_says_how() {
    let w = World::logged_in();
    let out = w.ctl(&["token", "install", "--org", "acme", "--yes"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(!w.read_condarc().contains("/repo/acme/"));
    assert!(
        said.contains("anacondactl channels add --org acme --all"),
        "{said}"
    );
}

#[test]
fn a_channel_whose_access_was_revoked_or_that_was_removed_is_a_finding_with_the_fix() {
    let w = World::installed();
    let out = w.ctl(&["channels", "add", "--org", "acme", "--all", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let clean = w.ctl(&["condarc", "check"]);
    assert!(clean.status.success(), "{}", text(&clean));

    w.emu
        .post("/_emulator/channels/acme/internal/revoke", json!({}));
    let http = reqwest::blocking::Client::new();
    http.delete(w.emu.url("/_emulator/channels/acme/tools"))
        .send()
        .unwrap();
    let out = w.ctl(&["condarc", "check"]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "org channel {}: the token of acme cannot read it (HTTP 403)",
            w.channel_url("acme", "internal")
        )),
        "{said}"
    );
    assert!(
        said.contains("`anacondactl channels remove --org acme internal`"),
        "{said}"
    );
    assert!(said.contains("(HTTP 404)"), "{said}");
    let doctor = w.ctl(&["--json", "doctor"]);
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(report.contains("conda.channel.acme.internal"), "{report}");
    assert!(
        report.contains("anacondactl channels remove --org acme tools"),
        "{report}"
    );
    // Nothing was dropped from conda's configuration.
    assert!(
        w.read_condarc()
            .contains(&w.channel_url("acme", "internal"))
    );
}

#[test]
fn the_watcher_reports_a_channel_the_token_cannot_read_when_conda_configuration_changes() {
    let w = World::installed();
    let mut events = w.home.subscribe_events();
    w.emu
        .post("/_emulator/channels/acme/internal/revoke", json!({}));
    let out = w.ctl(&["channels", "add", "--org", "acme", "internal", "--yes"]);
    // Adding is refused by nothing: the listing no longer has it, so say so.
    assert!(!out.status.success(), "{}", text(&out));
    let with_it = w.read_condarc().replace(
        "  - defaults\n",
        &format!("  - {}\n  - defaults\n", w.channel_url("acme", "internal")),
    );
    std::fs::write(w.condarc(), with_it).unwrap();
    let event = events.wait_for(EventKind::OrgChannelUnreadable, Duration::from_secs(20));
    assert_eq!(event.org, "acme");
    assert!(event.message.contains("HTTP 403"), "{}", event.message);
}
