//! The real conda (26.7.1, built from its source by tests/scripts/setup-venv.sh) with our
//! plugin, against the emulator and the real daemon and CLI: what a conda user runs after
//! `anacondactl login` and `anacondactl token install`.
//!
//! Without the venv's conda these tests fail, unless ANACONDAD_SKIP_REAL_CONDA=1 says to skip
//! them.

use std::time::Duration;

use anacondad_tests::conda::{Conda, CondaRun, CondaVenvs, conda_or_skip};
use anacondad_tests::harness::{TestHome, kill, process_alive, wait_until_dead};
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use serde_json::json;

/// The package every channel of the emulator serves.
const PACKAGE: &str = "anacondad-hello";

/// An emulator and a home that has logged in and run `token install --org acme`, whose
/// `~/.condarc` is exactly what that wrote.
struct World {
    venvs: &'static CondaVenvs,
    emu: EmulatorProcess,
    home: TestHome,
    /// The API key the home logged in with.
    api_key: String,
}

impl World {
    fn installed(venvs: &'static CondaVenvs) -> Self {
        Self::installed_in(venvs, |home| home)
    }

    /// Logged in with `token install --org acme` run; `setup` adds to the home's environment
    /// (the CLI's, the daemon's and conda's) first.
    fn installed_in(venvs: &'static CondaVenvs, setup: impl FnOnce(TestHome) -> TestHome) -> Self {
        let world = Self::logged_in(venvs, setup);
        let out = world.ctl(&["token", "install", "--org", "acme", "--yes"]);
        assert!(out.status.success(), "token install: {}", out.text);
        world
    }

    /// Logged in, no token installed.
    fn logged_in(venvs: &'static CondaVenvs, setup: impl FnOnce(TestHome) -> TestHome) -> Self {
        let emu = spawn_emulator(&["--device-interval", "1"]);
        let home = setup(TestHome::against(&emu));
        let api_key = emu.mint_api_key();
        home.login_with_api_key(&api_key);
        Self {
            venvs,
            emu,
            home,
            api_key,
        }
    }

    /// `anacondactl <args>` in the home: its status and both streams.
    fn ctl(&self, args: &[&str]) -> CtlRun {
        let out = self.home.run_ctl(args);
        CtlRun {
            text: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            status: out.status,
        }
    }

    /// conda with our plugin, searching `defaults` (which a conda whose condarc files name no
    /// channels needs said; `$CONDARC` says it, `~/.condarc` stays as `token install` left it).
    fn conda(&self) -> Conda<'_> {
        let conda = Conda::new(&self.home, &self.venvs.with_plugin);
        write(&conda.condarc_env_file(), "channels:\n  - defaults\n");
        conda
    }

    /// The repository requests the emulator saw since the last call: (path, status,
    /// masked Authorization).
    fn repo_requests(&self) -> Vec<(String, u64, String)> {
        let log = self.emu.get("/_emulator/log");
        self.emu.post("/_emulator/reset", json!({}));
        log["entries"]
            .as_array()
            .expect("log entries")
            .iter()
            // What conda sent: the daemon's own checks of a token with the repository are
            // HEAD requests, conda's are GETs.
            .filter(|e| e["method"].as_str() != Some("HEAD"))
            .filter(|e| {
                e["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/repo/") || p.starts_with("/t/"))
            })
            .map(|e| {
                (
                    e["path"].as_str().unwrap_or_default().to_owned(),
                    e["status"].as_u64().unwrap_or_default(),
                    e["authorization"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    fn daemon_pid(&self) -> u32 {
        let pid = self
            .home
            .daemon_pid()
            .expect("a daemon holds the socket lock");
        assert!(process_alive(pid), "the daemon {pid} is not running");
        pid
    }
}

/// Adds `key: value` to the `channel_settings` entry `token install` wrote into `~/.condarc`
/// (the entry naming our handler), as a user edits it by hand.
fn set_entry_key(conda: &Conda<'_>, key: &str, value: &str) {
    let path = conda.user_condarc();
    let text = std::fs::read_to_string(&path).expect("token install wrote ~/.condarc");
    let mut lines: Vec<String> = Vec::new();
    let mut added = false;
    for line in text.lines() {
        let is_ours = line.trim() == "auth: anacondad";
        if is_ours {
            let indent = &line[..line.len() - line.trim_start().len()];
            lines.push(line.to_owned());
            lines.push(format!("{indent}{key}: {value}"));
            added = true;
        } else if !line.trim_start().starts_with(&format!("{key}:")) {
            lines.push(line.to_owned());
        }
    }
    assert!(added, "no entry with auth: anacondad in {text}");
    write(&path, &(lines.join("\n") + "\n"));
}

/// The masked `Authorization` of the demo's API key and of acme's token, as the emulator's
/// log shows them.
fn masked(world: &World) -> (String, String) {
    let token = world.emu.org_token("acme").expect("acme has a token");
    (
        format!("Bearer {}****", &world.api_key[..4]),
        format!("token {}****", &token[..4]),
    )
}

/// A finished `anacondactl` command.
struct CtlRun {
    status: std::process::ExitStatus,
    text: String,
}

/// The home runs this conda: `$CONDA_EXE` names it, as `conda activate` sets it.
fn runs_conda(venv: &std::path::Path) -> impl FnOnce(TestHome) -> TestHome {
    let exe = venv.join("bin/conda");
    move |home| home.with_env("CONDA_EXE", exe)
}

fn write(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("a directory");
    std::fs::write(path, text).expect("written");
}

/// The package records `conda search --json` found, by the channel URL they came from.
fn found_in(run: &CondaRun) -> Vec<String> {
    run.channels_holding(PACKAGE)
}

/// conda's output, both streams.
fn said(run: &CondaRun) -> String {
    format!("{}{}", run.stdout(), run.stderr())
}

#[test]
fn conda_search_and_create_dry_run_use_the_default_channels_token_install_wrote() {
    let Some(venvs) = conda_or_skip("conda_search_and_create_dry_run_use_the_default_channels")
    else {
        return;
    };
    let world = World::installed(venvs);
    let conda = world.conda();
    world.repo_requests();

    let search = conda.run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&search), [world.emu.url("/repo/main/noarch")]);
    let requests = world.repo_requests();
    let token = world.emu.org_token("acme").expect("acme has a token");
    let sent = format!("token {}****", &token[..4]);
    assert!(
        requests
            .iter()
            .any(|(path, status, _)| path == "/repo/main/noarch/repodata.json" && *status == 200),
        "{requests:?}"
    );
    // Every request of the default channels carried the org's token, none went without.
    assert!(
        requests.iter().all(|(_, _, auth)| *auth == sent),
        "{requests:?}"
    );

    let create = conda.run(&["create", "--dry-run", "--json", "-n", "demo", PACKAGE]);
    create.assert_success("conda create --dry-run");
    let answer = create.json();
    let linked: Vec<&str> = answer["actions"]["LINK"]
        .as_array()
        .unwrap_or_else(|| panic!("no LINK actions in {answer}"))
        .iter()
        .filter_map(|link| link["name"].as_str())
        .collect();
    assert_eq!(linked, [PACKAGE], "{answer}");
    assert!(
        world
            .repo_requests()
            .iter()
            .all(|(_, status, auth)| *auth == sent && *status != 401),
        "conda create sent something else"
    );
}

#[test]
fn an_org_channel_is_searched_with_that_orgs_token() {
    let Some(venvs) = conda_or_skip("an_org_channel_is_searched_with_that_orgs_token") else {
        return;
    };
    let world = World::installed(venvs);
    let conda = world.conda();
    world.repo_requests();
    let channel = world.emu.url("/repo/acme/internal");
    let search = conda.run(&[
        "search",
        "--json",
        "--override-channels",
        "-c",
        &channel,
        PACKAGE,
    ]);
    assert_eq!(found_in(&search), [format!("{channel}/noarch")]);
    let token = world.emu.org_token("acme").expect("acme has a token");
    let requests = world.repo_requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|(path, _, auth)| path.starts_with("/repo/acme/internal/")
                && *auth == format!("token {}****", &token[..4])),
        "{requests:?}"
    );
}

#[test]
fn a_token_revoked_at_the_service_is_refused_and_the_request_replayed_with_the_api_key() {
    let Some(venvs) = conda_or_skip("a_token_revoked_at_the_service_is_refused") else {
        return;
    };
    let world = World::installed(venvs);
    let conda = world.conda();
    // Reissued at the service behind the daemon's back: the stored token is revoked.
    world.emu.post("/_emulator/orgs/acme/token", json!({}));
    world.repo_requests();

    let search = conda.run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&search), [world.emu.url("/repo/main/noarch")]);
    let requests = world.repo_requests();
    let refused: Vec<_> = requests.iter().filter(|r| r.1 == 401).collect();
    assert!(!refused.is_empty(), "nothing was refused: {requests:?}");
    // Each refused request was sent again, once, with the API key, and answered.
    for (path, _, auth) in &refused {
        assert!(auth.starts_with("token "), "{requests:?}");
        let replays: Vec<_> = requests
            .iter()
            .filter(|(p, status, a)| p == path && *status != 401 && a.starts_with("Bearer "))
            .collect();
        assert_eq!(replays.len(), 1, "{path}: {requests:?}");
    }
    let list =
        anacondad_tests::harness::json_output(&world.home.run_ctl(&["--json", "token", "list"]));
    // Asked of the service: another token is current now.
    assert_eq!(list["tokens"][0]["state"], "replaced", "{list}");
}

#[test]
fn after_a_token_was_reissued_elsewhere_the_next_conda_process_sends_the_api_key_first() {
    let Some(venvs) = conda_or_skip("the_next_conda_process_sends_the_api_key_first") else {
        return;
    };
    let world = World::installed(venvs);
    let conda = world.conda();
    world.emu.post("/_emulator/orgs/acme/token", json!({}));
    world.repo_requests();
    let first = conda.run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&first), [world.emu.url("/repo/main/noarch")]);
    assert!(
        world.repo_requests().iter().any(|r| r.1 == 401),
        "the stored token was refused once"
    );
    let list =
        anacondad_tests::harness::json_output(&world.home.run_ctl(&["--json", "token", "list"]));
    let why = list["tokens"][0]["last_error"].as_str().unwrap_or_default();
    assert!(why.contains("reissued elsewhere"), "{list}");
    assert!(
        why.contains("anacondactl token install --org acme"),
        "{list}"
    );
    // A new daemon (stopped; the next conda process starts it) knows it too.
    let pid = world.daemon_pid();
    let out = world.home.run_ctl(&["daemon", "stop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until_dead(pid, Duration::from_secs(10));

    let next = conda.run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&next), [world.emu.url("/repo/main/noarch")]);
    let requests = world.repo_requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|(_, status, auth)| *status != 401 && auth.starts_with("Bearer ")),
        "the working credential first, no refusal: {requests:?}"
    );
}

#[test]
fn with_the_daemon_stopped_a_conda_command_starts_it() {
    let Some(venvs) = conda_or_skip("with_the_daemon_stopped_a_conda_command_starts_it") else {
        return;
    };
    let world = World::installed(venvs);
    let conda = world.conda();
    let first = world.daemon_pid();
    let out = world.home.run_ctl(&["daemon", "stop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until_dead(first, Duration::from_secs(10));

    let search = conda.run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&search), [world.emu.url("/repo/main/noarch")]);
    let started = world.daemon_pid();
    assert_ne!(started, first);
}

#[test]
fn a_hung_daemon_fails_a_conda_command_once_within_seconds() {
    let Some(venvs) = conda_or_skip("a_hung_daemon_fails_a_conda_command_once_within_seconds")
    else {
        return;
    };
    let world = World::installed(venvs);
    let conda = world.conda();
    let pid = world.daemon_pid();
    kill(pid, "STOP");
    world.repo_requests();

    let search = conda.run(&["search", PACKAGE]);
    // Resume it before any assertion can fail, so the home's cleanup finds a live process.
    kill(pid, "CONT");
    println!(
        "conda search with a hung daemon failed after {:?}",
        search.elapsed
    );
    eprintln!(
        "conda search with a hung daemon failed after {:?}",
        search.elapsed
    );
    assert!(!search.success(), "{}", said(&search));
    let text = said(&search);
    assert_eq!(
        text.matches("did not answer within 5000 ms").count(),
        1,
        "one message, once:\n{text}"
    );
    assert!(
        text.contains(&format!("pid {pid}")) && text.contains(&format!("kill -CONT {pid}")),
        "{text}"
    );
    // One deadline (5 s), not one per URL: conda's own start-up is the rest.
    assert!(
        search.elapsed < Duration::from_secs(15),
        "{:?}",
        search.elapsed
    );
    assert_eq!(
        world.repo_requests(),
        [],
        "a request went out without a credential"
    );
}

#[test]
fn an_unstartable_daemon_fails_a_conda_command_at_once_with_one_message() {
    let Some(venvs) = conda_or_skip("an_unstartable_daemon_fails_a_conda_command") else {
        return;
    };
    let world = World::installed(venvs);
    let pid = world.daemon_pid();
    let out = world.home.run_ctl(&["daemon", "stop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until_dead(pid, Duration::from_secs(10));
    let conda = world.conda().with_env("ANACONDAD_BIN", "/bin/false");
    world.repo_requests();

    let search = conda.run(&["search", PACKAGE]);
    println!(
        "conda search with an unstartable daemon failed after {:?}",
        search.elapsed
    );
    assert!(!search.success(), "{}", said(&search));
    let text = said(&search);
    assert_eq!(
        text.matches("could not be started").count(),
        1,
        "one message, once:\n{text}"
    );
    assert!(text.contains("anacondactl daemon start"), "{text}");
    assert!(
        search.elapsed < Duration::from_secs(15),
        "{:?}",
        search.elapsed
    );
    assert_eq!(
        world.repo_requests(),
        [],
        "a request went out without a credential"
    );
}

#[test]
fn with_no_credential_stored_conda_says_which_command_to_run() {
    let Some(venvs) = conda_or_skip("with_no_credential_stored_conda_says_which_command") else {
        return;
    };
    let world = World::installed(venvs);
    let conda = world.conda();
    let out = world
        .home
        .run_ctl(&["token", "uninstall", "--org", "acme", "--keep-condarc"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = world.home.run_ctl(&["logout"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    world.repo_requests();

    let search = conda.run(&["search", PACKAGE]);
    assert!(!search.success(), "{}", said(&search));
    let text = said(&search);
    assert_eq!(
        text.matches("anacondad has no credential for").count(),
        1,
        "{text}"
    );
    assert!(text.contains("anacondactl login"), "{text}");
    assert!(
        !text.contains("refused"),
        "a missing credential is no refusal: {text}"
    );
    assert_eq!(world.repo_requests(), []);
}

#[test]
fn conda_search_timings_with_our_handler_anaconda_auths_and_none() {
    let Some(venvs) = conda_or_skip("conda_search_timings") else {
        return;
    };
    const ROUNDS: usize = 7;
    let world = World::installed(venvs);
    let search = ["search", "--json", PACKAGE];
    let conda_dir = world.home.path().join("conda");

    // Each setup in its own $CONDARC, ~/.condarc emptied, so runs can be interleaved (the
    // machine's load drifts; interleaving spreads it over every setup alike).
    let user_condarc = world.home.path().join(".condarc");
    let installed = std::fs::read_to_string(&user_condarc).expect("~/.condarc");
    assert!(installed.contains("auth: anacondad"), "{installed}");
    // token install added `defaults` to channels, as no file of this conda names channels.
    assert!(
        installed.contains("channels:\n  - defaults\n"),
        "{installed}"
    );
    write(&user_condarc, "");
    let ours_rc = write_rc(&conda_dir.join("ours.yml"), &installed);
    // anaconda-auth's handler reads the record the daemon stored in anaconda-auth's own
    // format (`~/.anaconda/keyring`).
    let anaconda_auth_rc = write_rc(
        &conda_dir.join("anaconda-auth.yml"),
        &installed.replace("auth: anacondad", "auth: anaconda-auth"),
    );
    // No handler: the token in the channel URLs of the same three channels, so every setup
    // fetches the same files.
    let token = world.emu.org_token("acme").expect("acme has a token");
    let token_urls: String = std::iter::once("channels:\n".to_string())
        .chain(["main", "r", "msys2"].iter().map(|channel| {
            format!(
                "  - {}\n",
                world.emu.url(&format!("/t/{token}/repo/{channel}"))
            )
        }))
        .collect();
    let none_rc = write_rc(&conda_dir.join("none.yml"), &token_urls);

    let setups: Vec<Setup<'_>> = vec![
        (
            "our handler",
            Conda::new(&world.home, &venvs.with_plugin).with_env("CONDARC", &ours_rc),
            |auth: &str| auth.starts_with("token "),
        ),
        (
            "anaconda-auth's handler",
            Conda::new(&world.home, &venvs.with_plugin)
                .with_env("CONDARC", &anaconda_auth_rc)
                .with_env("ANACONDA_AUTH_DOMAIN", world.emu.domain()),
            |auth: &str| auth.starts_with("Bearer "),
        ),
        (
            "no handler (same venv, both plugins installed)",
            Conda::new(&world.home, &venvs.with_plugin).with_env("CONDARC", &none_rc),
            |auth: &str| auth.is_empty(),
        ),
        (
            "no handler (conda without plugins)",
            Conda::new(&world.home, &venvs.without_plugin).with_env("CONDARC", &none_rc),
            |auth: &str| auth.is_empty(),
        ),
    ];
    // A first run of each fills conda's caches and shows what it sends.
    world.repo_requests();
    for (name, conda, sends) in &setups {
        let run = conda.run(&search);
        assert_eq!(found_in(&run).len(), 1, "{name}");
        let requests = world.repo_requests();
        assert!(
            !requests.is_empty() && requests.iter().all(|r| sends(&r.2)),
            "{name} sent something else: {requests:?}"
        );
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); setups.len()];
    for _ in 0..ROUNDS {
        for (i, (name, conda, _)) in setups.iter().enumerate() {
            let run = conda.run(&search);
            run.assert_success(name);
            times[i].push(run.elapsed);
        }
    }
    let report: Vec<String> = setups
        .iter()
        .zip(&mut times)
        .map(|((name, _, _), times)| {
            times.sort();
            format!("{name} {:.2} s", times[ROUNDS / 2].as_secs_f64())
        })
        .collect();
    let report = format!(
        "conda search against the emulator, median of {ROUNDS} interleaved runs: {}",
        report.join(", ")
    );
    println!("{report}");
    eprintln!("{report}");
}

/// One way of running conda for the timings: its name, the conda, and what its requests'
/// `Authorization` looks like.
type Setup<'a> = (&'static str, Conda<'a>, fn(&str) -> bool);

fn write_rc(path: &std::path::Path, text: &str) -> std::path::PathBuf {
    write(path, text);
    path.to_path_buf()
}

#[test]
fn the_conda_without_our_plugin_has_no_anacondad_handler() {
    let Some(venvs) = conda_or_skip("the_conda_without_our_plugin_has_no_anacondad_handler") else {
        return;
    };
    let home = TestHome::new();
    let code = "from conda.base.context import context\n\
                print(sorted(h.name for h in context.plugin_manager.get_hook_results('auth_handlers')))";
    let names = |venv| {
        let out = Conda::new(&home, venv).python(code, &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(names(&venvs.with_plugin), "['anaconda-auth', 'anacondad']");
    assert_eq!(names(&venvs.without_plugin), "[]");
}

#[test]
fn an_entry_in_a_lower_condarc_file_shadows_ours_as_conda_config_says_and_conda_sends_nothing() {
    let Some(venvs) = conda_or_skip("an_entry_in_a_lower_condarc_file_shadows_ours") else {
        return;
    };
    use anacondad::conda_rules::Platform;
    use anacondad::conda_rules::effective::{CondaSource, SearchPathInput, effective};

    let world = World::installed(venvs);
    let site_root = world.home.path().join("site-conda");
    let conda = world.conda().with_env("CONDA_ROOT", &site_root);
    // A site-wide drop-in (lower precedence than ~/.condarc) with a narrower glob and a
    // handler this conda does not have: conda takes it for every request under /repo/.
    let site = site_root.join("condarc.d/site.yml");
    write(
        &site,
        &format!(
            "channel_settings:\n  - channel: {}/repo/*\n    auth: site-sso\n",
            world.emu.base_url
        ),
    );
    world.repo_requests();

    let search = conda.run(&["search", PACKAGE]);
    assert!(!search.success(), "{}", said(&search));
    assert!(said(&search).contains("401"), "{}", said(&search));
    let requests = world.repo_requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|(_, status, auth)| auth.is_empty() && *status == 401),
        "{requests:?}"
    );

    let input = SearchPathInput {
        env: conda
            .env()
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect(),
        home: world.home.path().to_path_buf(),
        conda_root: venvs.with_plugin.clone(),
        platform: Platform::Unix,
        system_dirs: None,
    };
    let config = effective(&input);
    let url = world.emu.url("/repo/main/noarch/repodata.json");
    let found = config.settings_for(&url, |s| s.auth() == Some("anacondad"));
    assert!(found.ours_matches);
    assert_eq!(found.chosen.and_then(|s| s.value.auth()), Some("site-sso"));
    assert_eq!(found.shadowing_ours.len(), 1);
    assert_eq!(found.shadowing_ours[0].source, CondaSource::File(site));
}

#[test]
fn a_refused_token_with_nothing_else_stored_is_reported_as_refused_not_missing() {
    let Some(venvs) = conda_or_skip("a_refused_token_with_nothing_else_stored") else {
        return;
    };
    let world = World::installed(venvs);
    let conda = world.conda();
    // Without an API key the daemon has nothing to offer once the token is refused.
    let out = world.home.run_ctl(&["logout"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    world.emu.post("/_emulator/orgs/acme/token", json!({}));
    world.repo_requests();

    let search = conda.run(&["search", PACKAGE]);
    assert!(!search.success(), "{}", said(&search));
    let text = said(&search);
    assert_eq!(
        // The daemon's sentence, passed on by the plugin.
        text.matches("the repository did not accept the credentials held for")
            .count(),
        1,
        "{text}"
    );
    // A re-check, which names the fix; never a reissue that could revoke a working token.
    assert!(
        text.contains("(HTTP 401)")
            && text.contains("anacondactl token list")
            && !text.contains("token install"),
        "{text}"
    );
    assert!(
        !text.contains("has no credential"),
        "a refusal is no missing credential: {text}"
    );
    // The refused token was not sent twice for the same URL.
    let requests = world.repo_requests();
    for (path, _, _) in &requests {
        assert_eq!(
            requests.iter().filter(|r| &r.0 == path).count(),
            1,
            "{requests:?}"
        );
    }
}

#[test]
fn conda_create_downloads_and_installs_the_package_with_the_orgs_token() {
    let Some(venvs) = conda_or_skip("conda_create_downloads_and_installs_the_package") else {
        return;
    };
    let world = World::installed(venvs);
    let conda = world.conda();
    world.repo_requests();
    let create = conda.run(&["create", "--yes", "--json", "-n", "demo", PACKAGE]);
    create.assert_success("conda create");
    let installed = world
        .home
        .path()
        .join("conda/envs/demo/conda-meta/anacondad-hello-1.0.0-0.json");
    assert!(installed.is_file(), "{} is missing", installed.display());
    let token = world.emu.org_token("acme").expect("acme has a token");
    let download = format!(
        "/repo/main/noarch/{}",
        anacondad_tests::emulator::PACKAGE_FILENAME
    );
    let requests = world.repo_requests();
    assert!(
        requests.iter().any(|(path, status, auth)| *path == download
            && *status == 200
            && *auth == format!("token {}****", &token[..4])),
        "{requests:?}"
    );
}

#[test]
fn token_install_adds_defaults_to_channels_so_a_conda_whose_files_name_no_channels_uses_them() {
    let Some(venvs) = conda_or_skip("token_install_adds_defaults_to_channels") else {
        return;
    };
    let world = World::installed_in(venvs, runs_conda(&venvs.with_plugin));
    // No file of this conda names channels but the one token install wrote.
    let conda = Conda::new(&world.home, &venvs.with_plugin);
    let written = std::fs::read_to_string(conda.user_condarc()).expect("~/.condarc");
    assert!(written.contains("channels:\n  - defaults\n"), "{written}");
    world.repo_requests();

    let search = conda.run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&search), [world.emu.url("/repo/main/noarch")]);
    let token = world.emu.org_token("acme").expect("acme has a token");
    assert!(
        world.repo_requests().iter().all(
            |(_, status, auth)| *status != 401 && *auth == format!("token {}****", &token[..4])
        ),
    );
    let check = world.ctl(&["condarc", "check"]);
    assert!(check.status.success(), "{}", check.text);
    assert!(
        check.text.contains(&format!(
            "at {} (found by CONDA_EXE): can use `anacondad`",
            venvs.with_plugin.display()
        )),
        "{}",
        check.text
    );
}

#[test]
fn a_lower_final_channels_keeps_defaults_out_and_token_install_and_check_say_so() {
    let Some(venvs) = conda_or_skip("a_lower_final_channels_keeps_defaults_out") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let site_root = dir.path().join("site-conda");
    // The installation's file (below ~/.condarc) ends the merge of channels at itself.
    write(
        &site_root.join(".condarc"),
        "channels: #!final\n  - conda-forge\n",
    );
    let root = site_root.clone();
    let world = World::logged_in(venvs, |home| {
        runs_conda(&venvs.with_plugin)(home).with_env("CONDA_ROOT", root)
    });
    let install = world.ctl(&["token", "install", "--org", "acme", "--yes"]);
    assert!(install.status.success(), "{}", install.text);
    assert!(
        install.text.contains("defaults is not in effect"),
        "{}",
        install.text
    );
    // Adding it to ~/.condarc would change nothing, so it is not added.
    let written = std::fs::read_to_string(world.home.path().join(".condarc")).unwrap();
    assert!(
        !written.lines().any(|l| l.starts_with("channels:")),
        "{written}"
    );
    let check = world.ctl(&["condarc", "check"]);
    assert_eq!(check.status.code(), Some(6), "{}", check.text);
    assert!(
        check.text.contains("channels are [conda-forge]"),
        "{}",
        check.text
    );
}

/// anaconda-auth's conda package ships `$CONDA_ROOT/condarc.d/anaconda-auth.yml`, an entry
/// for the repository with its own handler. conda puts the entries of that file after those
/// of `~/.condarc` and uses the last one that matches, so `token install` flags ours
/// `#!bottom`: `conda config --show` then lists ours last, a search sends acme's token, and
/// doctor says which entry ours wins over and why.
#[test]
fn with_anaconda_auths_drop_in_token_install_flags_our_entry_bottom_and_conda_uses_it() {
    let Some(venvs) = conda_or_skip("with_anaconda_auths_drop_in_token_install_flags_our_entry")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let conda_root = dir.path().join("conda-root");
    let root = conda_root.clone();
    let world = World::logged_in(venvs, |home| {
        runs_conda(&venvs.with_plugin)(home).with_env("CONDA_ROOT", root)
    });
    let pattern = format!("{}/*", world.emu.base_url);
    let drop_in = conda_root.join("condarc.d/anaconda-auth.yml");
    write(
        &drop_in,
        &format!("channel_settings:\n  - channel: {pattern}\n    auth: anaconda-auth\n"),
    );

    let install = world.ctl(&["token", "install", "--org", "acme", "--yes"]);
    assert!(install.status.success(), "{}", install.text);
    let written = std::fs::read_to_string(world.home.path().join(".condarc")).unwrap();
    assert!(
        written.contains(&format!(
            "  - #!bottom\n    channel: {pattern}\n    auth: anacondad\n"
        )),
        "{written}"
    );

    let conda = Conda::new(&world.home, &venvs.with_plugin);
    let shown = conda.run(&["config", "--show", "channel_settings", "--json"]);
    shown.assert_success("conda config --show channel_settings");
    let handlers: Vec<String> = shown.json()["channel_settings"]
        .as_array()
        .expect("channel_settings")
        .iter()
        .map(|e| e["auth"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(handlers, ["anaconda-auth", "anacondad"]);

    world.repo_requests();
    let search = conda.run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&search), [world.emu.url("/repo/main/noarch")]);
    let (_, token) = masked(&world);
    let requests = world.repo_requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|(_, status, auth)| *status != 401 && *auth == token),
        "{requests:?}"
    );

    let doctor = world.home.run_ctl(&["--json", "doctor"]);
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}",
            String::from_utf8_lossy(&doctor.stdout)
        )
    });
    let shadowing = report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["id"] == "conda.shadowing"))
        .unwrap_or_else(|| panic!("no conda.shadowing in {report:#}"));
    assert_eq!(shadowing["state"], "ok", "{shadowing:#}");
    let evidence = shadowing["evidence"].as_str().unwrap_or_default();
    assert!(
        evidence.contains("flagged `#!bottom`")
            && evidence.contains(&drop_in.display().to_string()),
        "{evidence}"
    );
}

/// anaconda-auth's conda package installed after `token install`: its drop-in takes our URLs
/// until our entry is flagged. doctor names the drop-in's entry with `condarc apply` as the
/// fix (not the removal of a file another package owns), and `doctor --fix` writes the flag.
#[test]
fn after_anaconda_auths_drop_in_arrives_doctor_names_it_and_doctor_fix_flags_our_entry() {
    let Some(venvs) = conda_or_skip("after_anaconda_auths_drop_in_arrives_doctor_fix_flags") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let conda_root = dir.path().join("conda-root");
    let root = conda_root.clone();
    let world = World::installed_in(venvs, |home| {
        runs_conda(&venvs.with_plugin)(home).with_env("CONDA_ROOT", root)
    });
    let condarc = world.home.path().join(".condarc");
    assert!(
        !std::fs::read_to_string(&condarc)
            .unwrap()
            .contains("#!bottom")
    );
    let pattern = format!("{}/*", world.emu.base_url);
    write(
        &conda_root.join("condarc.d/anaconda-auth.yml"),
        &format!("channel_settings:\n  - channel: {pattern}\n    auth: anaconda-auth\n"),
    );

    let report = |args: &[&str]| -> serde_json::Value {
        let out = world.home.run_ctl(&[&["--json", "doctor"], args].concat());
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "doctor printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    };
    let id = format!("conda.shadowing.{pattern}");
    let before = report(&[]);
    let shadowed = before["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["id"] == id.as_str()))
        .unwrap_or_else(|| panic!("no {id} in {before:#}"));
    assert_eq!(shadowed["state"], "fail", "{shadowed:#}");
    assert_eq!(shadowed["fix"], "anacondactl condarc apply", "{shadowed:#}");

    report(&["--fix", "--yes"]);
    let written = std::fs::read_to_string(&condarc).unwrap();
    assert!(
        written.contains(&format!("  - #!bottom\n    channel: {pattern}\n")),
        "{written}"
    );
    let after = report(&[]);
    let checks = after["checks"].as_array().expect("checks");
    assert!(!checks.iter().any(|c| c["id"] == id.as_str()), "{after:#}");
    world.repo_requests();
    let search = Conda::new(&world.home, &venvs.with_plugin).run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&search), [world.emu.url("/repo/main/noarch")]);
    let (_, token) = masked(&world);
    assert!(
        world
            .repo_requests()
            .iter()
            .all(|(_, status, auth)| *status != 401 && *auth == token)
    );
}

#[test]
fn token_install_for_a_conda_that_cannot_load_our_handler_does_not_claim_success() {
    let Some(venvs) = conda_or_skip("token_install_for_a_conda_that_cannot_load_our_handler")
    else {
        return;
    };
    let world = World::logged_in(venvs, runs_conda(&venvs.without_plugin));
    let install = world.ctl(&["token", "install", "--org", "acme", "--yes"]);
    assert_eq!(install.status.code(), Some(1), "{}", install.text);
    assert!(!install.text.contains("Success"), "{}", install.text);
    assert!(
        install.text.contains("missing plugin")
            || install
                .text
                .contains("no conda found can load the `anacondad` auth handler"),
        "{}",
        install.text
    );
    let command = format!(
        "\"{}\" -m pip install anacondad",
        venvs.without_plugin.join("bin/python").display()
    );
    assert!(install.text.contains(&command), "{}", install.text);
    assert!(
        !world.home.path().join(".condarc").exists(),
        "auth: anacondad was written for a conda that cannot load it"
    );
    // The token itself is installed.
    let list =
        anacondad_tests::harness::json_output(&world.home.run_ctl(&["--json", "token", "list"]));
    assert_eq!(list["tokens"][0]["org"], "acme", "{list}");

    // Written anyway, the entry is no use to this conda: conda sends nothing.
    let apply = world.ctl(&["condarc", "apply"]);
    assert!(apply.status.success(), "{}", apply.text);
    assert!(apply.text.contains(&command), "{}", apply.text);
    assert!(
        apply
            .text
            .contains("is written, but conda does not use it as it is"),
        "{}",
        apply.text
    );
    let check = world.ctl(&["condarc", "check"]);
    assert_eq!(check.status.code(), Some(6), "{}", check.text);
    assert!(
        check.text.contains("cannot use `anacondad`"),
        "{}",
        check.text
    );
    assert!(check.text.contains("missing plugin:"), "{}", check.text);
    let status = world.ctl(&["daemon", "status"]);
    assert!(
        status.text.contains("cannot use `anacondad`"),
        "{}",
        status.text
    );
    world.repo_requests();
    let search = Conda::new(&world.home, &venvs.without_plugin).run(&["search", PACKAGE]);
    assert!(!search.success(), "{}", said(&search));
    assert!(
        world
            .repo_requests()
            .iter()
            .all(|(_, _, auth)| auth.is_empty()),
        "this conda has no handler to send a credential with"
    );

    // The conda with our plugin found as well: it can, so install goes ahead.
    let both = format!(
        "{}:{}",
        venvs.with_plugin.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = world
        .home
        .ctl()
        .env("PATH", both)
        .args(["condarc", "check"])
        .output()
        .expect("anacondactl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "at {} (found by PATH): can use `anacondad`",
            venvs.with_plugin.display()
        )),
        "{text}"
    );
}

#[test]
fn condarc_apply_with_anaconda_auths_handler_is_no_drift_and_conda_uses_it() {
    let Some(venvs) = conda_or_skip("condarc_apply_with_anaconda_auths_handler_is_no_drift") else {
        return;
    };
    let world = World::installed_in(venvs, runs_conda(&venvs.with_plugin));
    let apply = world.ctl(&["condarc", "apply", "--auth-handler", "anaconda-auth"]);
    assert!(apply.status.success(), "{}", apply.text);
    let written = std::fs::read_to_string(world.home.path().join(".condarc")).unwrap();
    assert!(written.contains("auth: anaconda-auth"), "{written}");
    let check = world.ctl(&["condarc", "check"]);
    assert!(check.status.success(), "{}", check.text);
    assert!(
        check.text.contains("can use `anaconda-auth`"),
        "{}",
        check.text
    );
    let status = world.ctl(&["daemon", "status"]);
    assert!(
        status.text.contains(".condarc configured"),
        "{}",
        status.text
    );
    world.repo_requests();
    let search = Conda::new(&world.home, &venvs.with_plugin).run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&search), [world.emu.url("/repo/main/noarch")]);
}

#[test]
fn an_entry_in_a_lower_condarc_file_that_shadows_ours_is_named_by_token_install_and_check() {
    let Some(venvs) = conda_or_skip("an_entry_that_shadows_ours_is_named") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let site_root = dir.path().join("site-conda");
    let site = site_root.join("condarc.d/site.yml");
    let root = site_root.clone();
    let world = World::logged_in(venvs, |home| {
        runs_conda(&venvs.with_plugin)(home).with_env("CONDA_ROOT", root)
    });
    write(
        &site,
        &format!(
            "channel_settings:\n  - channel: {}/repo/*\n    auth: site-sso\n",
            world.emu.base_url
        ),
    );
    let install = world.ctl(&["token", "install", "--org", "acme", "--yes"]);
    assert!(install.status.success(), "{}", install.text);
    assert!(install.text.contains("shadowed entry:"), "{}", install.text);
    assert!(
        install.text.contains(&site.display().to_string()),
        "{}",
        install.text
    );
    let check = world.ctl(&["condarc", "check"]);
    assert_eq!(check.status.code(), Some(6), "{}", check.text);
    assert!(check.text.contains("shadowed entry:"), "{}", check.text);
    assert!(check.text.contains("auth `site-sso`"), "{}", check.text);
    let json: serde_json::Value =
        serde_json::from_slice(&world.home.run_ctl(&["--json", "condarc", "check"]).stdout)
            .expect("condarc check --json prints JSON");
    assert_eq!(
        json["conda"]["shadowing_entries"][0]["source"],
        site.display().to_string(),
        "{json}"
    );
    // What conda does agrees: nothing is sent for the repository.
    world.repo_requests();
    let search = Conda::new(&world.home, &venvs.with_plugin).run(&["search", PACKAGE]);
    assert!(!search.success(), "{}", said(&search));
    assert!(
        world
            .repo_requests()
            .iter()
            .all(|(_, _, auth)| auth.is_empty())
    );

    // With the entry gone, conda uses ours and check is clean.
    std::fs::remove_file(&site).unwrap();
    let check = world.ctl(&["condarc", "check"]);
    assert!(check.status.success(), "{}", check.text);
}

#[test]
fn the_site_chosen_at_login_is_served_by_a_daemon_conda_starts_without_its_variables() {
    let Some(venvs) = conda_or_skip("the_site_chosen_at_login_is_served") else {
        return;
    };
    let world = World::installed_in(venvs, runs_conda(&venvs.with_plugin));
    let first = world.daemon_pid();
    let out = world.ctl(&["daemon", "stop"]);
    assert!(out.status.success(), "{}", out.text);
    wait_until_dead(first, Duration::from_secs(10));

    // conda without the login's variables: the daemon its plugin starts serves the emulator.
    let conda = Conda::new(&world.home, &venvs.with_plugin)
        .without_env("ANACONDA_AUTH_DOMAIN")
        .without_env("CONDA_TOKEN_REPO_URL");
    world.repo_requests();
    let search = conda.run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&search), [world.emu.url("/repo/main/noarch")]);
    let started = world.daemon_pid();
    assert_ne!(started, first);
    let token = world.emu.org_token("acme").expect("acme has a token");
    assert!(
        world
            .repo_requests()
            .iter()
            .all(|(_, _, auth)| *auth == format!("token {}****", &token[..4]))
    );
    assert!(world.home.state_dir().join("site.json").is_file());

    // A shell that names another site is told, not served the daemon's.
    let other = world
        .home
        .ctl()
        .env("CONDA_TOKEN_REPO_URL", "https://repo.other.example/repo/")
        .args(["token", "list"])
        .output()
        .expect("anacondactl runs");
    assert_eq!(other.status.code(), Some(1));
    let said = String::from_utf8_lossy(&other.stderr);
    assert!(
        said.contains(&format!(
            "the running anacondad (pid {started}) serves no site this shell names"
        )) && said.contains("https://repo.other.example/repo/")
            && said.contains(&world.emu.url("/repo/"))
            && said.contains("anacondactl daemon stop"),
        "{said}"
    );
    // The same site, written another way, is no difference.
    let same = world.ctl(&["token", "list"]);
    assert!(same.status.success(), "{}", same.text);
}

#[test]
fn an_entrys_credential_type_wins_over_credential_preference_in_what_conda_sends() {
    let Some(venvs) = conda_or_skip("an_entrys_credential_type_wins_over_credential_preference")
    else {
        return;
    };
    let world = World::installed_in(venvs, |home| {
        home.with_env("ANACONDAD_CREDENTIAL_PREFERENCE", "api-key")
    });
    let conda = world.conda();
    let (bearer, token) = masked(&world);
    world.repo_requests();

    // The entry names no type: the preference sends the API key first.
    let search = conda.run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&search), [world.emu.url("/repo/main/noarch")]);
    let requests = world.repo_requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|(_, status, auth)| *auth == bearer && *status != 401),
        "{requests:?}"
    );

    // `credential_type: repo-token` in the entry: the token, whatever the preference.
    set_entry_key(&conda, "credential_type", "repo-token");
    let search = conda.run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&search), [world.emu.url("/repo/main/noarch")]);
    let requests = world.repo_requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|(_, status, auth)| *auth == token && *status != 401),
        "{requests:?}"
    );
}

#[test]
fn token_install_credential_type_api_key_makes_conda_send_the_key_and_the_token_after_a_refusal() {
    let Some(venvs) =
        conda_or_skip("token_install_credential_type_api_key_makes_conda_send_the_key")
    else {
        return;
    };
    let world = World::logged_in(venvs, |home| home);
    let out = world.ctl(&[
        "token",
        "install",
        "--org",
        "acme",
        "--yes",
        "--credential-type",
        "api-key",
    ]);
    assert!(out.status.success(), "token install: {}", out.text);
    let conda = world.conda();
    let rc = std::fs::read_to_string(conda.user_condarc()).unwrap();
    assert!(
        rc.contains("    auth: anacondad\n    credential_type: api-key\n"),
        "{rc}"
    );
    let (bearer, token) = masked(&world);
    world.repo_requests();

    let search = conda.run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&search), [world.emu.url("/repo/main/noarch")]);
    let requests = world.repo_requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|(_, status, auth)| *auth == bearer && *status != 401),
        "the API key, though the repo token is preferred: {requests:?}"
    );

    // The repository refuses the key from now on: each refused request is sent again, once,
    // with the token, and conda finds the package.
    world
        .emu
        .post("/_emulator/expire", json!({"api_key": world.api_key}));
    let search = conda.run(&["search", "--json", PACKAGE]);
    assert_eq!(found_in(&search), [world.emu.url("/repo/main/noarch")]);
    let requests = world.repo_requests();
    let refused: Vec<_> = requests.iter().filter(|r| r.1 == 401).collect();
    assert!(!refused.is_empty(), "nothing was refused: {requests:?}");
    for (path, _, auth) in &refused {
        assert_eq!(*auth, bearer, "{requests:?}");
        let replays = requests
            .iter()
            .filter(|(p, status, a)| p == path && *status != 401 && *a == token)
            .count();
        assert_eq!(replays, 1, "{path}: {requests:?}");
    }
    assert!(
        requests
            .iter()
            .all(|(_, status, auth)| *auth == token || *status == 401),
        "{requests:?}"
    );
}

#[test]
fn with_two_sites_conda_sends_each_repository_its_own_sites_token() {
    let Some(venvs) = conda_or_skip("with_two_sites_conda_sends_each_repository") else {
        return;
    };
    let world = World::installed_in(venvs, runs_conda(&venvs.with_plugin));
    let onprem = spawn_emulator(&[]);
    let added = world.ctl(&[
        "sites",
        "add",
        "onprem",
        "--domain",
        &onprem.base_url,
        "--repo-url",
        &onprem.url("/repo/"),
    ]);
    assert!(added.status.success(), "{}", added.text);
    // Its login and token install, through the daemon the next command starts.
    let mut login = world
        .home
        .ctl()
        .args(["--at", "onprem", "login", "--api-key-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("anacondactl runs");
    std::io::Write::write_all(
        &mut login.stdin.take().expect("stdin"),
        onprem.mint_api_key().as_bytes(),
    )
    .expect("the key is written");
    let out = login.wait_with_output().expect("login ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = world.ctl(&[
        "--at", "onprem", "token", "install", "--org", "acme", "--yes",
    ]);
    assert!(out.status.success(), "{}", out.text);
    let condarc = std::fs::read_to_string(world.home.path().join(".condarc")).unwrap();
    assert!(condarc.contains(&onprem.url("/*")), "{condarc}");

    let conda = world.conda();
    world.repo_requests();
    onprem.post("/_emulator/reset", json!({}));
    let (here, there) = (
        world.emu.url("/repo/acme/internal"),
        onprem.url("/repo/acme/internal"),
    );
    let search = conda.run(&[
        "search",
        "--json",
        "--override-channels",
        "-c",
        &here,
        "-c",
        &there,
        PACKAGE,
    ]);
    let mut found = found_in(&search);
    found.sort();
    let mut expected = vec![format!("{here}/noarch"), format!("{there}/noarch")];
    expected.sort();
    assert_eq!(found, expected);
    let shown = |token: String| format!("token {}****", &token[..4]);
    let here_token = shown(world.emu.org_token("acme").expect("a token here"));
    let there_token = shown(onprem.org_token("acme").expect("a token there"));
    assert_ne!(here_token, there_token);
    let requests = world.repo_requests();
    assert!(
        !requests.is_empty() && requests.iter().all(|(_, _, auth)| *auth == here_token),
        "{requests:?}"
    );
    let log = onprem.get("/_emulator/log");
    let sent: Vec<&str> = log["entries"]
        .as_array()
        .expect("log entries")
        .iter()
        .filter(|e| e["method"].as_str() == Some("GET"))
        .filter(|e| e["path"].as_str().is_some_and(|p| p.starts_with("/repo/")))
        .map(|e| e["authorization"].as_str().unwrap_or_default())
        .collect();
    assert!(
        !sent.is_empty() && sent.iter().all(|auth| *auth == there_token),
        "{sent:?}"
    );
}

#[test]
fn after_token_install_with_channels_all_conda_finds_the_org_only_package_with_acmes_token() {
    let Some(venvs) = conda_or_skip("after_token_install_with_channels_all_conda_finds") else {
        return;
    };
    let world = World::logged_in(venvs, |home| home);
    // A second org's token and one of its channels, so that "acme's token on nothing else's
    // requests" has something to be false about.
    let out = world.ctl(&["token", "install", "--org", "globex", "--yes"]);
    assert!(out.status.success(), "token install globex: {}", out.text);
    let out = world.ctl(&[
        "token",
        "install",
        "--org",
        "acme",
        "--yes",
        "--channels",
        "all",
    ]);
    assert!(out.status.success(), "token install acme: {}", out.text);
    let internal = world.emu.url("/repo/acme/internal");
    assert!(
        out.text.contains(&format!("  {internal}\n")),
        "the success message lists what conda searches: {}",
        out.text
    );
    let conda = Conda::new(&world.home, &world.venvs.with_plugin);
    let globex = world.emu.url("/repo/globex/internal");
    write(
        &conda.condarc_env_file(),
        &format!("channels:\n  - {globex}\n"),
    );
    world.repo_requests();

    let org_only = anacondad_tests::emulator::ORG_ONLY_PACKAGE;
    let search = conda.run(&["search", "--json", org_only]);
    search.assert_success("conda search");
    let answer = search.json();
    let channels: Vec<&str> = answer[org_only]
        .as_array()
        .unwrap_or_else(|| panic!("no {org_only} in {answer}"))
        .iter()
        .filter_map(|record| record["channel"].as_str())
        .collect();
    assert_eq!(channels, [format!("{internal}/noarch")]);

    let acme = world.emu.org_token("acme").expect("acme has a token");
    let acme_sent = format!("token {}****", &acme[..4]);
    let requests = world.repo_requests();
    let acme_requests: Vec<_> = requests
        .iter()
        .filter(|(path, _, _)| path.starts_with("/repo/acme/"))
        .collect();
    assert!(
        acme_requests.iter().any(|(path, status, _)| path
            == "/repo/acme/internal/noarch/repodata.json"
            && *status == 200),
        "{requests:?}"
    );
    assert!(
        acme_requests.iter().all(|(_, _, auth)| *auth == acme_sent),
        "{requests:?}"
    );
    let others: Vec<_> = requests
        .iter()
        .filter(|(path, _, _)| path.starts_with("/repo/globex/"))
        .collect();
    assert!(!others.is_empty(), "{requests:?}");
    assert!(
        others.iter().all(|(_, _, auth)| *auth != acme_sent),
        "{requests:?}"
    );
}

/// An `anacondactl` that writes each command line it is run with (URLs and options, never a
/// secret) to `log`, then runs the real one: how a test counts the processes conda starts.
fn counting_anacondactl(home: &TestHome, log: &std::path::Path) -> std::path::PathBuf {
    wrapped_anacondactl(home, log, "")
}

/// The counting `anacondactl`, running the shell lines `before` first.
fn wrapped_anacondactl(home: &TestHome, log: &std::path::Path, before: &str) -> std::path::PathBuf {
    let wrapper = home.path().join("counting-anacondactl");
    write(
        &wrapper,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n{before}exec '{}' \"$@\"\n",
            log.display(),
            anacondad_tests::harness::bin("anacondactl").display()
        ),
    );
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("the wrapper is made executable");
    wrapper
}

#[test]
fn a_conda_search_of_acmes_channels_and_the_default_ones_runs_one_anacondactl() {
    let Some(venvs) = conda_or_skip("a_conda_search_of_acmes_channels_and_the_default_ones") else {
        return;
    };
    let world = World::logged_in(venvs, |home| home);
    let out = world.ctl(&[
        "token",
        "install",
        "--org",
        "acme",
        "--yes",
        "--channels",
        "all",
    ]);
    assert!(out.status.success(), "token install: {}", out.text);
    let log = world.home.path().join("anacondactl-runs.log");
    let conda = Conda::new(&world.home, &world.venvs.with_plugin)
        .with_env("ANACONDACTL", counting_anacondactl(&world.home, &log));
    world.repo_requests();

    let org_only = anacondad_tests::emulator::ORG_ONLY_PACKAGE;
    let search = conda.run(&["search", "--json", org_only]);
    search.assert_success("conda search");
    let internal = world.emu.url("/repo/acme/internal");
    let answer = search.json();
    let channels: Vec<&str> = answer[org_only]
        .as_array()
        .unwrap_or_else(|| panic!("no {org_only} in {answer}"))
        .iter()
        .filter_map(|record| record["channel"].as_str())
        .collect();
    assert_eq!(channels, [format!("{internal}/noarch")]);

    // acme's two channels and main, r and msys2, each in two subdirs: ten directories, four
    // scopes, one process.
    let runs = std::fs::read_to_string(&log).unwrap_or_default();
    let runs: Vec<&str> = runs.lines().collect();
    assert_eq!(
        runs.len(),
        1,
        "anacondactl ran {} times: {runs:#?}",
        runs.len()
    );
    // Every request carried acme's token, and each channel's repodata was served with it.
    let acme = world.emu.org_token("acme").expect("acme has a token");
    let sent = format!("token {}****", &acme[..4]);
    let requests = world.repo_requests();
    assert!(
        requests.iter().all(|(_, _, auth)| *auth == sent),
        "{requests:?}"
    );
    for channel in ["acme/internal", "acme/tools", "main", "r", "msys2"] {
        let served = format!("/repo/{channel}/noarch/repodata.json");
        assert!(
            requests
                .iter()
                .any(|(path, status, _)| *path == served && *status == 200),
            "{served}: {requests:?}"
        );
    }
}

#[test]
fn with_an_anacondactl_that_does_not_know_also_the_plugin_asks_one_url_at_a_time() {
    let Some(venvs) = conda_or_skip("with_an_anacondactl_that_does_not_know_also") else {
        return;
    };
    let world = World::installed(venvs);
    let log = world.home.path().join("anacondactl-runs.log");
    // What an anacondactl of an earlier release answers to `--also`: a usage error.
    let older = "case \"$*\" in *--also*) echo '{\"error\": \"unexpected argument --also\", \
                 \"reason\": \"usage\", \"exit_code\": 2}'; exit 2;; esac\n";
    let conda = world
        .conda()
        .with_env("ANACONDACTL", wrapped_anacondactl(&world.home, &log, older));
    world.repo_requests();

    let search = conda.run(&["search", "--json", PACKAGE]);
    let main = world.emu.url("/repo/main");
    assert!(
        found_in(&search).contains(&format!("{main}/noarch")),
        "{}",
        said(&search)
    );
    let runs = std::fs::read_to_string(&log).unwrap_or_default();
    let runs: Vec<&str> = runs.lines().collect();
    // The refused call, then one per scope (main, r, msys2); never `--also` again.
    assert_eq!(runs.len(), 4, "{runs:#?}");
    assert!(runs[0].contains("--also"), "{runs:#?}");
    assert!(
        runs[1..].iter().all(|run| !run.contains("--also")),
        "{runs:#?}"
    );
    let requests = world.repo_requests();
    assert!(
        requests
            .iter()
            .all(|(_, _, auth)| auth.starts_with("token ")),
        "{requests:?}"
    );
}
