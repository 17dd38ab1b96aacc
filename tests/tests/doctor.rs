//! `anacondactl doctor` end to end: the real CLI and daemon against the emulator, each check in
//! its ok, warn and fail states, `--json` parsed; `--fix` on conda's configuration; and the
//! conda plugin's `conda doctor` check and error hint with the real conda.

use std::process::Output;

use anacondad_tests::conda::{Conda, conda_or_skip};
use anacondad_tests::harness::TestHome;
use anacondad_tests::harness::doctor_check as check;
use anacondad_tests::{EmulatorProcess, spawn_emulator};
use serde_json::{Value, json};

/// `doctor`'s exit status when a check fails (client/src/exit.rs).
const EXIT_DOCTOR_FAILED: i32 = 9;

/// `anacondactl doctor --json <args>`: the parsed report and the exit status.
fn doctor(home: &TestHome, args: &[&str]) -> (Value, i32, Output) {
    let mut all = vec!["doctor", "--json"];
    all.extend_from_slice(args);
    let out = home.run_ctl(&all);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let code = out.status.code().unwrap_or(-1);
    (report, code, out)
}

fn state(report: &Value, id: &str) -> String {
    check(report, id)["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn evidence(report: &Value, id: &str) -> String {
    check(report, id)["evidence"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn fix(report: &Value, id: &str) -> String {
    check(report, id)["fix"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Logged in with a minted API key and acme's token installed (which wrote `~/.condarc`).
fn installed(emu: &EmulatorProcess) -> TestHome {
    let home = TestHome::against(emu);
    home.login_with_api_key(&emu.mint_api_key());
    let out = home.run_ctl(&["token", "install", "--org", "acme", "--yes"]);
    assert!(
        out.status.success(),
        "token install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    home
}

#[test]
fn a_working_setup_passes_every_check_and_exits_zero() {
    let emu = spawn_emulator(&[]);
    let home = installed(&emu);
    let (report, code, _) = doctor(&home, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["fail"], 0, "{report:#}");
    for id in [
        "daemon.reachable",
        "daemon.version",
        "daemon.started_by",
        "storage.usable",
        "storage.file_mode",
        "service.dns",
        "service.reachable",
        "service.clock",
        "api_key.valid",
        "api_key.expiry",
        "token.acme.valid",
        "token.acme.renewal",
        "anaconda_auth.storage",
        "conda.condarc",
        "conda.defaults",
        "conda.shadowing",
    ] {
        assert_eq!(state(&report, id), "ok", "{id}: {report:#}");
    }
    assert!(evidence(&report, "daemon.started_by").contains("anacondactl, on demand"));
    assert!(evidence(&report, "storage.file_mode").contains("0600"));
    assert!(evidence(&report, "token.acme.valid").contains("HTTP 200"));
    assert!(evidence(&report, "token.acme.renewal").contains("renews by itself on"));
    assert!(evidence(&report, "api_key.valid").contains("user demo"));
    // Checks come in reading order: the daemon first, conda last.
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids[0], "daemon.reachable");
    assert!(ids.last().unwrap().starts_with("conda."), "{ids:?}");
}

#[test]
fn the_text_report_names_each_fix_and_a_failure_exits_nine() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let out = home.run_ctl(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(EXIT_DOCTOR_FAILED), "{text}");
    assert!(text.contains("fix: anacondactl login"), "{text}");
    assert!(
        text.contains("fix: anacondactl condarc apply (or doctor --fix)"),
        "{text}"
    );
    assert!(text.contains("failure(s)"), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("conda.condarc"), "{err}");
}

#[test]
fn a_service_that_is_down_fails_its_check_and_the_tokens_and_skips_the_api_key() {
    let emu = spawn_emulator(&[]);
    let home = installed(&emu);
    drop(emu);
    let (report, code, _) = doctor(&home, &[]);
    assert_eq!(code, EXIT_DOCTOR_FAILED);
    assert_eq!(state(&report, "service.reachable"), "fail", "{report:#}");
    assert!(
        evidence(&report, "service.reachable").contains("connection failed"),
        "{report:#}"
    );
    assert!(fix(&report, "service.reachable").contains("network"));
    assert_eq!(state(&report, "api_key.valid"), "warn");
    assert!(evidence(&report, "api_key.valid").contains("not checked"));
    assert_eq!(state(&report, "token.acme.valid"), "fail");
    assert!(fix(&report, "token.acme.valid").contains("network"));
    // Nothing about the clock can be said without an answer.
    assert!(
        !report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "service.clock")
    );
}

#[test]
fn tls_with_an_unknown_ca_fails_and_passes_with_the_ca_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let emu = spawn_emulator(&["--tls", "--ca-out", ca.to_str().unwrap()]);
    let home = TestHome::against(&emu);
    let (report, code, _) = doctor(&home, &[]);
    assert_eq!(code, EXIT_DOCTOR_FAILED);
    assert_eq!(state(&report, "service.reachable"), "fail", "{report:#}");
    let seen = evidence(&report, "service.reachable");
    assert!(seen.contains("TLS failed"), "{seen}");
    assert!(seen.contains("the system's trust store"), "{seen}");
    assert!(fix(&report, "service.reachable").contains("ANACONDA_AUTH_SSL_VERIFY"));

    let trusted = TestHome::against(&emu).with_env("ANACONDA_AUTH_SSL_VERIFY", &ca);
    let (report, _, _) = doctor(&trusted, &[]);
    assert_eq!(state(&report, "service.reachable"), "ok", "{report:#}");
    let seen = evidence(&report, "service.reachable");
    assert!(seen.contains("TLS verified"), "{seen}");
    assert!(
        seen.contains(&format!("CA bundle {}", ca.display())),
        "{seen}"
    );
}

#[test]
fn a_skewed_service_clock_warns_past_a_minute_and_fails_past_five() {
    for (offset, expected) in [("0", "ok"), ("-120", "warn"), ("3600", "fail")] {
        let emu = spawn_emulator(&["--date-offset-secs", offset]);
        let home = TestHome::against(&emu);
        let (report, _, _) = doctor(&home, &[]);
        assert_eq!(
            state(&report, "service.clock"),
            expected,
            "offset {offset}: {report:#}"
        );
        if expected != "ok" {
            assert!(fix(&report, "service.clock").contains("timedatectl"));
        }
        if offset == "3600" {
            assert!(
                evidence(&report, "service.clock").contains("behind the service's"),
                "{report:#}"
            );
        }
    }
}

#[test]
fn a_token_revoked_at_the_service_fails_and_names_token_refresh() {
    let emu = spawn_emulator(&[]);
    let home = installed(&emu);
    // A reissue elsewhere revokes the token the daemon holds.
    emu.post("/_emulator/orgs/acme/token", json!({}));
    let (report, code, _) = doctor(&home, &[]);
    assert_eq!(code, EXIT_DOCTOR_FAILED);
    assert_eq!(state(&report, "token.acme.valid"), "fail", "{report:#}");
    assert!(evidence(&report, "token.acme.valid").contains("HTTP 401"));
    assert_eq!(
        fix(&report, "token.acme.valid"),
        "anacondactl token refresh --org acme"
    );
    assert_eq!(state(&report, "api_key.valid"), "ok");
}

#[test]
fn no_login_warns_and_an_api_key_the_service_refuses_fails() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let (report, _, _) = doctor(&home, &[]);
    assert_eq!(state(&report, "api_key.valid"), "warn", "{report:#}");
    assert_eq!(fix(&report, "api_key.valid"), "anacondactl login");
    assert_eq!(state(&report, "tokens"), "warn");

    let home = installed(&emu);
    let key = std::fs::read_to_string(home.path().join(".anaconda/keyring")).unwrap();
    assert!(!key.is_empty());
    emu.post(
        "/_emulator/faults",
        json!({"path_prefix": "/api/account", "kind": "status", "status": 401, "count": 5}),
    );
    let (report, code, _) = doctor(&home, &[]);
    assert_eq!(code, EXIT_DOCTOR_FAILED);
    assert_eq!(state(&report, "api_key.valid"), "fail", "{report:#}");
    assert_eq!(fix(&report, "api_key.valid"), "anacondactl login --force");
}

#[test]
fn a_missing_keychain_fails_storage_and_auto_falls_back_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = format!("unix:path={}", dir.path().join("no-bus").display());
    let emu = spawn_emulator(&[]);
    let system = TestHome::against(&emu)
        .with_env("ANACONDAD_STORAGE", "system")
        .with_env("DBUS_SESSION_BUS_ADDRESS", &nowhere);
    let (report, code, _) = doctor(&system, &[]);
    assert_eq!(code, EXIT_DOCTOR_FAILED);
    assert_eq!(state(&report, "storage.usable"), "fail", "{report:#}");
    assert!(fix(&report, "storage.usable").contains("storage = \"file\""));

    let auto = TestHome::against(&emu)
        .with_env("ANACONDAD_STORAGE", "auto")
        .with_env("DBUS_SESSION_BUS_ADDRESS", &nowhere);
    let (report, _, _) = doctor(&auto, &[]);
    assert_eq!(state(&report, "storage.usable"), "warn", "{report:#}");
    assert_eq!(state(&report, "storage.file_mode"), "ok");
}

#[cfg(unix)]
#[test]
fn a_keyring_file_other_users_can_read_fails_with_chmod() {
    use std::os::unix::fs::PermissionsExt;
    let emu = spawn_emulator(&[]);
    let home = installed(&emu);
    let keyring = home.path().join(".anaconda/keyring");
    std::fs::set_permissions(&keyring, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (report, _, _) = doctor(&home, &[]);
    assert_eq!(state(&report, "storage.file_mode"), "fail", "{report:#}");
    assert_eq!(
        fix(&report, "storage.file_mode"),
        format!("chmod 600 {}", keyring.display())
    );
}

#[test]
fn units_that_are_not_installed_warn_and_name_service_install() {
    let emu = spawn_emulator(&[]);
    let home = TestHome::against(&emu);
    let (report, _, _) = doctor(&home, &[]);
    let units: Vec<&Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["section"] == "service units")
        .collect();
    assert!(!units.is_empty(), "{report:#}");
    for unit in units {
        assert_eq!(unit["state"], "warn", "{unit}");
        let seen = unit["evidence"].as_str().unwrap();
        // Without a user manager the units cannot be asked about; that is said instead.
        if !seen.contains("not reachable") {
            assert!(seen.contains("not installed"), "{seen}");
            assert_eq!(unit["fix"], "anacondactl service install");
        }
    }
}

#[test]
fn fix_repairs_the_condarc_findings_and_leaves_a_good_file_byte_identical() {
    let emu = spawn_emulator(&[]);
    let home = installed(&emu);
    let condarc = home.path().join(".condarc");
    let good = std::fs::read(&condarc).unwrap();

    let (report, code, _) = doctor(&home, &["--fix"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["fixed"], json!([]));
    assert_eq!(std::fs::read(&condarc).unwrap(), good);

    // The user drops `defaults` from channels: conda no longer searches the repository.
    let text = String::from_utf8(good.clone()).unwrap();
    let edited = text.replace("  - defaults\n", "  - conda-forge\n");
    assert_ne!(edited, text, "{text}");
    std::fs::write(&condarc, &edited).unwrap();
    let (report, code, _) = doctor(&home, &[]);
    assert_eq!(code, EXIT_DOCTOR_FAILED);
    assert_eq!(state(&report, "conda.defaults"), "fail", "{report:#}");
    assert_eq!(check(&report, "conda.defaults")["fixable"], true);

    // Without a terminal the question needs --yes, and nothing is written.
    let out = home.run_ctl(&["doctor", "--fix"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&condarc).unwrap(), edited);

    let (report, code, _) = doctor(&home, &["--fix", "--yes"]);
    assert_eq!(code, 0, "{report:#}");
    assert_ne!(report["fixed"], json!([]));
    assert_eq!(state(&report, "conda.defaults"), "ok", "{report:#}");
    assert_eq!(state(&report, "conda.condarc"), "ok");
}

/// A home with acme installed whose doctor then finds `conda` (through `CONDA_EXE`) in `venv`
/// (installed first without it: `token install` refuses to configure a handler no conda found
/// can load).
fn with_conda(emu: &EmulatorProcess, venv: &std::path::Path) -> TestHome {
    installed(emu).with_env("CONDA_EXE", venv.join("bin/conda"))
}

#[test]
fn a_conda_without_our_plugin_fails_and_names_the_install_command() {
    let Some(venvs) = conda_or_skip("a_conda_without_our_plugin_fails") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = with_conda(&emu, &venvs.without_plugin);
    let (report, code, _) = doctor(&home, &[]);
    assert_eq!(code, EXIT_DOCTOR_FAILED);
    let prefix = venvs.without_plugin.display().to_string();
    let id = format!("conda.handler.{prefix}");
    assert_eq!(state(&report, &id), "fail", "{report:#}");
    assert!(evidence(&report, &id).contains("CONDA_EXE"), "{report:#}");
    assert!(fix(&report, &id).contains("pip install"), "{report:#}");

    let with = with_conda(&emu, &venvs.with_plugin);
    let (report, _, _) = doctor(&with, &[]);
    let id = format!("conda.handler.{}", venvs.with_plugin.display());
    assert_eq!(state(&report, &id), "ok", "{report:#}");
}

#[test]
fn an_entry_in_another_file_that_shadows_ours_fails_and_names_that_file() {
    let Some(venvs) = conda_or_skip("an_entry_in_another_file_that_shadows_ours") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = with_conda(&emu, &venvs.with_plugin);
    // A site-wide drop-in (read before ~/.condarc) with a narrower glob: conda takes it for
    // every request under /repo/, as real_conda.rs shows conda doing.
    let site_root = home.path().join("site-conda");
    let other = site_root.join("condarc.d/site.yml");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::fs::write(
        &other,
        format!(
            "channel_settings:\n  - channel: {}/repo/*\n    auth: site-sso\n",
            emu.base_url
        ),
    )
    .unwrap();
    let home = home.with_env("CONDA_ROOT", &site_root);
    let (report, code, _) = doctor(&home, &[]);
    assert_eq!(code, EXIT_DOCTOR_FAILED, "{report:#}");
    let shadowing: Vec<&Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("conda.shadowing."))
        })
        .collect();
    assert!(!shadowing.is_empty(), "{report:#}");
    assert_eq!(shadowing[0]["state"], "fail");
    assert!(
        shadowing[0]["evidence"]
            .as_str()
            .unwrap()
            .contains("site-sso"),
        "{report:#}"
    );
    assert!(
        shadowing[0]["fix"]
            .as_str()
            .unwrap()
            .contains(&other.display().to_string())
    );
}

#[test]
fn conda_doctor_lists_our_check_and_shows_its_findings() {
    let Some(venvs) = conda_or_skip("conda_doctor_lists_our_check") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = installed(&emu);
    let conda = Conda::new(&home, &venvs.with_plugin);
    // conda doctor looks at an environment: an empty one at conda's root prefix.
    let meta = conda.root_prefix().join("conda-meta");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(meta.join("history"), "").unwrap();
    let prefix = conda.root_prefix().display().to_string();
    let listed = conda.run(&["doctor", "--list", "-p", &prefix]);
    listed.assert_success("conda doctor --list");
    assert!(listed.stdout().contains("anacondad"), "{}", listed.stdout());

    // A revoked token is what conda doctor should point at.
    emu.post("/_emulator/orgs/acme/token", json!({}));
    let run = conda.run(&["doctor", "--verbose", "-p", &prefix, "anacondad"]);
    let said = format!("{}{}", run.stdout(), run.stderr());
    assert!(said.contains("anacondad token acme"), "{said}");
    assert!(
        said.contains("fix: anacondactl token refresh --org acme"),
        "{said}"
    );
}

#[test]
fn a_refused_request_to_our_repository_shows_our_hint() {
    let Some(venvs) = conda_or_skip("a_refused_request_shows_our_hint") else {
        return;
    };
    let emu = spawn_emulator(&[]);
    let home = installed(&emu);
    let conda = Conda::new(&home, &venvs.with_plugin);
    std::fs::create_dir_all(conda.condarc_env_file().parent().unwrap()).unwrap();
    std::fs::write(conda.condarc_env_file(), "channels:\n  - defaults\n").unwrap();
    emu.post(
        "/_emulator/faults",
        json!({"path_prefix": "/t/", "kind": "status", "status": 401, "count": 100}),
    );
    emu.post(
        "/_emulator/faults",
        json!({"path_prefix": "/repo/", "kind": "status", "status": 401, "count": 100}),
    );
    let run = conda.run(&["search", "anacondad-hello"]);
    let said = format!("{}{}", run.stdout(), run.stderr());
    assert!(!run.success(), "{said}");
    assert!(said.contains("401"), "{said}");
    assert!(said.contains("anacondactl doctor"), "{said}");
}

#[test]
fn an_entry_with_an_unknown_credential_type_fails_doctor_and_condarc_check_naming_the_file() {
    let emu = spawn_emulator(&[]);
    let home = installed(&emu);
    let condarc = home.path().join(".condarc");
    let text = std::fs::read_to_string(&condarc).unwrap();
    assert!(text.contains("    auth: anacondad\n"), "{text}");
    std::fs::write(
        &condarc,
        text.replace(
            "    auth: anacondad\n",
            "    auth: anacondad\n    credential_type: api_key\n",
        ),
    )
    .unwrap();

    let (report, code, _) = doctor(&home, &[]);
    assert_eq!(code, EXIT_DOCTOR_FAILED, "{report:#}");
    let id = format!("conda.entry.{}/*", emu.base_url);
    assert_eq!(state(&report, &id), "fail", "{report:#}");
    assert!(evidence(&report, &id).contains("`api_key`"), "{report:#}");
    let fix = fix(&report, &id);
    assert!(
        fix.contains(&condarc.display().to_string()) && fix.contains("api-key or repo-token"),
        "{fix}"
    );

    let out = home.run_ctl(&["condarc", "check"]);
    assert_eq!(out.status.code(), Some(6));
    // Listed once, on standard output; the error line points at it.
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        listed.matches("unknown credential_type").count(),
        1,
        "{listed}"
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("see the finding above"), "{said}");
}
