//! `anacondactl config show` and `anacondactl sites list|show|add|remove` end to end: the real
//! CLI and daemon in a temporary home, with our config.toml and anaconda-auth's beside it.

use anacondad_tests::harness::{TestHome, json_output};
use anacondad_tests::spawn_emulator;
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ours(home: &TestHome) -> std::path::PathBuf {
    home.path().join("config/anacondad/config.toml")
}

fn theirs(home: &TestHome) -> std::path::PathBuf {
    home.path().join(".anaconda/config.toml")
}

fn write(path: &std::path::Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

fn run(home: &TestHome, args: &[&str]) -> (String, String) {
    let out = home.run_ctl(args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    (text(&out.stdout), text(&out.stderr))
}

/// The line of `config show` for `key` in the block that starts with `block`.
fn line<'a>(shown: &'a str, block: &str, key: &str) -> &'a str {
    let start = shown
        .find(block)
        .unwrap_or_else(|| panic!("no {block}:\n{shown}"));
    shown[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .find(|l| l.trim_start().starts_with(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no {key} under {block}:\n{shown}"))
}

#[test]
fn config_show_names_the_default_each_file_the_variables_and_the_flag() {
    let home = TestHome::new()
        .with_env("ANACONDAD_STORAGE", "file")
        .with_env("ANACONDAD_REFRESH_LEAD_FRACTION", "0.2")
        .with_env("ANACONDAD_COMMAND_TIMEOUT_SECS", "40")
        .with_env("ANACONDA_AUTH_SSL_VERIFY", "false");
    write(
        &ours(&home),
        "# mine\nkeychain_timeout_secs = 7\nproxy = \"http://me:hunter2@proxy.example:3128\"\n",
    );
    write(
        &theirs(&home),
        "# anaconda-auth's\n[plugin.auth]\ndomain = \"theirs.example\"\n\
         api_key = \"their-secret-key\"\nextra_headers = '{\"X-A\": \"1\"}'\n",
    );
    let (shown, _) = run(&home, &["config", "show"]);
    let ours = ours(&home).display().to_string();
    let theirs = theirs(&home).display().to_string();
    assert!(
        line(&shown, "anacondad", "keychain_timeout_secs")
            .ends_with(&format!("[anacondad config.toml ({ours})]")),
        "{shown}"
    );
    assert!(
        line(&shown, "anacondad", "refresh_lead_fraction")
            .ends_with("[environment (ANACONDAD_REFRESH_LEAD_FRACTION)]"),
        "{shown}"
    );
    assert!(
        line(&shown, "anacondad", "auth_handler").ends_with("[default]"),
        "{shown}"
    );
    let timeout = line(&shown, "anacondad", "command_timeout_secs");
    assert!(
        timeout.contains(" 40 ")
            && timeout.ends_with("[environment (ANACONDAD_COMMAND_TIMEOUT_SECS)]"),
        "{shown}"
    );
    assert!(
        line(&shown, "anacondad", "socket").ends_with("[flag (--socket)]"),
        "{shown}"
    );
    assert!(
        line(&shown, "anacondad", "anaconda_auth.not_honoured")
            .contains("[plugin.auth] extra_headers"),
        "{shown}"
    );
    let site = "site theirs.example (default, implicit";
    assert!(
        line(&shown, site, "domain").ends_with(&format!("[anaconda-auth config.toml ({theirs})]")),
        "{shown}"
    );
    assert!(
        line(&shown, site, "repo_url").contains("https://theirs.example/repo/"),
        "{shown}"
    );
    assert!(
        line(&shown, site, "ssl_verify").ends_with("[environment (ANACONDA_AUTH_SSL_VERIFY)]"),
        "{shown}"
    );
    assert!(
        line(&shown, site, "api_key").contains("(set, redacted)"),
        "{shown}"
    );
    assert!(
        line(&shown, site, "proxy").contains("http://me:***@proxy.example:3128/"),
        "{shown}"
    );
    let (json, _) = run(&home, &["--json", "config", "show"]);
    for secret in ["hunter2", "their-secret-key"] {
        assert!(
            !shown.contains(secret) && !json.contains(secret),
            "{secret} shown"
        );
    }
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["daemon"]["keychain_timeout_secs"]["source"],
        "anacondad"
    );
    assert_eq!(
        json["daemon"]["keychain_timeout_secs"]["from"],
        ours.as_str()
    );
    let values = &json["sites"][0]["values"];
    assert_eq!(values["domain"]["source"], "anaconda-auth");
    assert_eq!(values["domain"]["from"], theirs.as_str());
    assert_eq!(values["ssl_verify"]["source"], "environment");
    assert_eq!(values["use_unified_repo_api_key"]["source"], "default");
    assert_eq!(json["sites"][0]["default"], true);
}

#[test]
fn config_show_at_a_site_shows_that_one_and_an_unknown_site_names_the_known_ones() {
    let home = TestHome::new().with_env("ANACONDAD_STORAGE", "file");
    write(
        &ours(&home),
        "[sites.work]\ndomain = \"work.example\"\n[sites.lab]\ndomain = \"lab.example\"\n\
         repo_url = \"https://lab.example/r/\"\n",
    );
    let (json, _) = run(&home, &["--json", "config", "show", "--at", "lab"]);
    let json: Value = serde_json::from_str(&json).unwrap();
    let sites = json["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 1);
    assert_eq!(sites[0]["name"], "lab");
    assert_eq!(sites[0]["default"], false);
    assert_eq!(sites[0]["selected_by"], "flag (--at)");
    assert_eq!(
        sites[0]["values"]["repo_url"]["value"],
        "https://lab.example/r/"
    );
    assert_eq!(sites[0]["values"]["repo_url"]["source"], "anacondad");
    // Every other command takes --at too: lab is served, and holds nothing yet.
    let out = home.run_ctl(&["--json", "token", "list", "--at", "lab"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        listed["tokens"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
    let out = home.run_ctl(&["token", "list", "--at", "elsewhere"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no site named elsewhere"),
        "{}",
        text(&out.stderr)
    );
    let out = home.run_ctl(&["config", "show", "--at", "elsewhere"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("elsewhere") && err.contains("work, lab"),
        "{err}"
    );
}

#[test]
fn sites_add_list_show_remove_edit_config_toml_and_keep_its_comments() {
    let home = TestHome::new().with_env("ANACONDAD_STORAGE", "file");
    let original = "# my anacondad settings\nstorage = \"file\"  # no keychain here\n\n\
                    [sites.work]\n# the on-premise server\ndomain = \"work.example\"\n";
    write(&ours(&home), original);
    let (said, _) = run(
        &home,
        &[
            "sites",
            "add",
            "lab",
            "--domain",
            "lab.example",
            "--repo-url",
            "https://lab.example/r/",
        ],
    );
    assert!(said.contains("Added [sites.lab]"), "{said}");
    let edited = std::fs::read_to_string(ours(&home)).unwrap();
    assert!(edited.starts_with(original), "{edited}");
    assert!(
        edited.contains(
            "[sites.lab]\ndomain = \"lab.example\"\nrepo_url = \"https://lab.example/r/\"\n"
        ),
        "{edited}"
    );
    // The next command starts a daemon that serves both.
    let (list, _) = run(&home, &["--json", "sites", "list"]);
    let list: Value = serde_json::from_str(&list).unwrap();
    let names: Vec<&str> = list["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["work", "lab"]);
    assert_eq!(list["sites"][0]["default"], true);
    let (show, _) = run(&home, &["sites", "show", "lab"]);
    assert!(
        show.contains("https://lab.example/r/") && show.contains("default:           no"),
        "{show}"
    );
    assert!(show.contains(&ours(&home).display().to_string()), "{show}");
    let out = home.run_ctl(&["sites", "add", "lab2", "--domain", "https://LAB.example"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("lab"), "{}", text(&out.stderr));
    let (said, _) = run(&home, &["sites", "remove", "lab"]);
    assert!(
        said.contains("Removed [sites.lab]") && said.contains("stopped"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(ours(&home)).unwrap(),
        original,
        "byte for byte"
    );
    let (list, _) = run(&home, &["--json", "sites", "list"]);
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["sites"].as_array().unwrap().len(), 1);
}

#[test]
fn the_first_site_added_keeps_the_one_served_so_far_as_the_default() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    run(&home, &["daemon", "start"]);
    let (said, _) = run(&home, &["sites", "add", "lab", "--domain", "lab.example"]);
    assert!(
        said.contains(&format!("[sites.{}]", emu.domain())),
        "{said}"
    );
    let (list, _) = run(&home, &["--json", "sites", "list"]);
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["sites"][0]["name"], emu.domain().as_str());
    assert_eq!(list["sites"][0]["default"], true);
    assert_eq!(list["sites"][0]["repo_url"], emu.url("/repo/").as_str());
    assert_eq!(list["sites"][1]["repo_url"], "https://lab.example/repo/");
}

#[test]
fn removing_a_site_that_holds_credentials_needs_force_and_says_to_log_out_first() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    write(
        &ours(&home),
        &format!(
            "[sites.emu]\ndomain = \"{}\"\nrepo_url = \"{}\"\n",
            emu.base_url,
            emu.url("/repo/")
        ),
    );
    home.login_with_api_key(&emu.mint_api_key());
    let (list, _) = run(&home, &["--json", "sites", "list"]);
    assert_eq!(
        json_output_str(&list)["sites"][0]["holds_credentials"],
        true
    );
    let out = home.run_ctl(&["sites", "remove", "emu"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("logout --at emu") && err.contains("--force"),
        "{err}"
    );
    assert!(
        std::fs::read_to_string(ours(&home))
            .unwrap()
            .contains("[sites.emu]")
    );
    run(&home, &["sites", "remove", "emu", "--force"]);
    assert!(
        !std::fs::read_to_string(ours(&home))
            .unwrap()
            .contains("[sites.emu]")
    );
    let status = json_output(&home.run_ctl(&["--json", "daemon", "status"]));
    assert_eq!(
        status["login"]["state"], "logged_in",
        "the credentials stay stored"
    );
}

#[test]
fn a_bad_anaconda_auth_file_is_left_out_and_said_by_the_first_command_status_and_doctor() {
    for body in [
        "[sites.w]\nssl_verify = 7\n",
        "[sites]\nx = 1\n",
        "this is = = not toml\n",
    ] {
        let emu = spawn_emulator(&[]);
        let home = TestHome::against(&emu);
        write(&theirs(&home), body);
        let file = theirs(&home).display().to_string();
        // The command that starts the daemon says it.
        let (_, first) = run(&home, &["config", "show"]);
        assert!(
            first.contains("warning") && first.contains("left out") && first.contains(&file),
            "{body}: {first}"
        );
        // A lookup works: conda keeps its credentials (none stored here: it says so).
        let out = home.run_ctl(&[
            "credential",
            "get",
            &emu.url("/repo/main/noarch/repodata.json"),
        ]);
        assert_ne!(out.status.code(), Some(3), "{body}: {}", text(&out.stderr));
        let (status, _) = run(&home, &["daemon", "status"]);
        assert!(
            status.contains("left out") && status.contains(&file),
            "{body}: {status}"
        );
        // doctor exits non-zero here (nobody is logged in); its report names the file.
        let doctor = text(&home.run_ctl(&["--json", "doctor"]).stdout);
        assert!(
            doctor.contains("config.left_out") && doctor.contains("left out"),
            "{body}: {doctor}"
        );
    }
}

fn json_output_str(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn two_sites_from_config_toml_are_served_and_only_the_one_holding_credentials_needs_force() {
    let (cloud, onprem) = (spawn_emulator(&[]), spawn_emulator(&[]));
    let home = TestHome::new().with_env("ANACONDAD_STORAGE", "file");
    let site = |name: &str, emu: &anacondad_tests::EmulatorProcess| {
        format!(
            "[sites.{name}]\ndomain = \"{}\"\nrepo_url = \"{}\"\n",
            emu.base_url,
            emu.url("/repo/")
        )
    };
    write(
        &ours(&home),
        &format!(
            "# two sites\n{}\n{}",
            site("cloud", &cloud),
            site("onprem", &onprem)
        ),
    );
    {
        use std::io::Write;
        let mut login = home
            .ctl()
            .args(["--at", "onprem", "login", "--api-key-stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        login
            .stdin
            .take()
            .unwrap()
            .write_all(onprem.mint_api_key().as_bytes())
            .unwrap();
        let out = login.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let (list, _) = run(&home, &["--json", "sites", "list"]);
    let list = json_output_str(&list);
    let held: Vec<(&str, bool)> = list["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["holds_credentials"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(held, [("cloud", false), ("onprem", true)]);
    let out = home.run_ctl(&["sites", "remove", "onprem"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("logout --at onprem"),
        "{}",
        text(&out.stderr)
    );
    run(&home, &["sites", "remove", "cloud"]);
    let left = std::fs::read_to_string(ours(&home)).unwrap();
    assert_eq!(left, format!("# two sites\n{}", site("onprem", &onprem)));
    // The next daemon serves onprem alone, as the default, still logged in.
    let status = json_output(&home.run_ctl(&["--json", "whoami"]));
    assert!(status.to_string().contains("demo"), "{status}");
}

#[test]
fn sites_add_refuses_names_domains_and_urls_that_are_not_what_they_say_and_writes_nothing() {
    let home = TestHome::new().with_env("ANACONDAD_STORAGE", "file");
    write(&ours(&home), "# mine\n");
    let long = format!("{}.example", "a".repeat(5000));
    for (args, said) in [
        (
            vec!["sites", "add", "../../x", "--domain", "x.example"],
            "not a site name",
        ),
        (
            vec!["sites", "add", "x", "--domain", long.as_str()],
            "not a domain",
        ),
        (
            vec!["sites", "add", "x", "--domain", "h:1/../../etc"],
            "not a domain",
        ),
        (
            vec![
                "sites",
                "add",
                "x",
                "--domain",
                "x.example",
                "--repo-url",
                "https://x.example/re\npo/",
            ],
            "not a usable URL",
        ),
    ] {
        let out = home.run_ctl(&args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {}", text(&out.stdout));
        assert!(err.contains(said), "{args:?}: {err}");
        assert!(err.len() < 2000, "{args:?}: a bounded message: {err}");
        assert_eq!(std::fs::read_to_string(ours(&home)).unwrap(), "# mine\n");
    }
}
