use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;

const REPO: &str = "https://repo.example/repo/";

fn write(path: PathBuf, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A Unix conda at `prefix` with the given distributions and their `conda` entry points.
fn conda_at(prefix: &Path, dists: &[(&str, &[&str])]) {
    let site = prefix.join("lib/python3.12/site-packages");
    write(prefix.join("bin/conda"), "#!/bin/sh\n");
    write(site.join("conda/__init__.py"), "");
    for (name, entry_points) in dists {
        let dir = site.join(format!("{}-1.0.dist-info", name.replace('-', "_")));
        write(
            dir.join("METADATA"),
            &format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n\n"),
        );
        let lines: Vec<String> = entry_points.iter().map(|e| format!("{e} = x")).collect();
        write(
            dir.join("entry_points.txt"),
            &format!("[conda]\n{}\n", lines.join("\n")),
        );
    }
}

fn input(home: &Path, env: &[(&str, String)]) -> ViewInput {
    ViewInput {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
        home: home.to_path_buf(),
        platform: Platform::Unix,
        system: Some(Vec::new()),
    }
}

#[test]
fn defaults_not_in_effect_and_a_conda_without_our_plugin_are_findings_that_say_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    conda_at(
        &home.join("miniforge3"),
        &[("anaconda-auth", &["anaconda-auth"])],
    );
    write(home.join(".condarc"), "channels:\n  - conda-forge\n");
    let settings = CondarcSettings::new(REPO);
    let view = CondaView::compute(&input(home, &[]), &settings, &home.join(".condarc"), None);
    assert!(!view.defaults_in_effect);
    assert_eq!(view.channels, ["conda-forge"]);
    assert!(!view.handler_loadable);
    let findings = view.findings().join("\n");
    assert!(findings.contains("defaults is not in effect"), "{findings}");
    assert!(findings.contains("missing plugin"), "{findings}");
    let python = home.join("miniforge3/bin/python");
    assert!(
        findings.contains(&format!("\"{}\" -m pip install", python.display())),
        "{findings}"
    );
    assert!(
        findings.contains("--auth-handler anaconda-auth"),
        "{findings}"
    );

    // anaconda-auth's handler is there, so with it nothing is missing.
    let mut theirs = settings.clone();
    theirs.auth_handler = ANACONDA_AUTH_HANDLER.to_owned();
    let view = CondaView::compute(&input(home, &[]), &theirs, &home.join(".condarc"), None);
    assert!(view.handler_loadable);
    assert!(view.plugin_findings().is_empty());
}

#[test]
fn a_planned_file_counts_before_it_exists_and_puts_defaults_in_effect() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    conda_at(
        &home.join("miniconda3"),
        &[("conda-anacondad", &["anacondad"])],
    );
    let rc = home.join(".condarc");
    let settings = CondarcSettings::new(REPO);
    let before = CondaView::compute(&input(home, &[]), &settings, &rc, None);
    assert!(!before.defaults_in_effect);
    assert!(before.handler_loadable);
    let after = CondaView::compute(
        &input(home, &[]),
        &settings,
        &rc,
        Some("channels:\n  - defaults\n"),
    );
    assert!(after.defaults_in_effect);
    assert_eq!(after.files, [rc]);
}

#[test]
fn an_entry_of_a_lower_file_that_wins_over_ours_is_named_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let root = home.join("miniconda3");
    conda_at(&root, &[("conda-anacondad", &["anacondad"])]);
    let site = root.join("condarc.d/site.yml");
    write(
        site.clone(),
        "channel_settings:\n  - channel: https://repo.example/repo/*\n    auth: site-sso\n",
    );
    let rc = home.join(".condarc");
    write(
        rc.clone(),
        "channels: [defaults]\nchannel_settings:\n  - channel: https://repo.example/*\n    auth: anacondad\n",
    );
    let view = CondaView::compute(&input(home, &[]), &CondarcSettings::new(REPO), &rc, None);
    assert_eq!(view.shadowing.len(), 1, "{:?}", view.shadowing);
    let shadow = &view.shadowing[0];
    assert_eq!(shadow.channel, "https://repo.example/repo/*");
    assert_eq!(shadow.source, CondaSource::File(site.clone()));
    assert_eq!(shadow.ours_source, Some(CondaSource::File(rc.clone())));
    let finding = shadow.finding();
    assert!(finding.starts_with("shadowed entry:"), "{finding}");
    assert!(finding.contains(&site.display().to_string()), "{finding}");

    // A narrower entry that names our handler too takes nothing away.
    write(
        site,
        "channel_settings:\n  - channel: https://repo.example/repo/*\n    auth: anacondad\n",
    );
    let view = CondaView::compute(&input(home, &[]), &CondarcSettings::new(REPO), &rc, None);
    assert!(view.shadowing.is_empty(), "{:?}", view.shadowing);
}

#[test]
fn an_entry_with_a_credential_type_no_handler_knows_is_a_finding_naming_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    conda_at(
        &home.join("miniconda3"),
        &[("conda-anacondad", &["anacondad"])],
    );
    let rc = home.join(".condarc");
    write(
        rc.clone(),
        "channels: [defaults]\nchannel_settings:\n  - channel: https://repo.example/*\n    \
         auth: anacondad\n    credential_type: api_key\n  - channel: https://other.example/*\n    \
         auth: site-sso\n    credential_type: whatever\n",
    );
    let view = CondaView::compute(&input(home, &[]), &CondarcSettings::new(REPO), &rc, None);
    // The entry of another handler is that handler's business.
    assert_eq!(
        view.unknown_credential_types,
        [UnknownCredentialType {
            channel: "https://repo.example/*".to_owned(),
            value: "api_key".to_owned(),
            source: CondaSource::File(rc.clone()),
        }]
    );
    let findings = view.findings().join("\n");
    assert!(
        findings.contains("unknown credential_type")
            && findings.contains(&rc.display().to_string())
            && findings.contains("api-key or repo-token"),
        "{findings}"
    );

    for known in ["api-key", "repo-token"] {
        write(
            rc.clone(),
            &format!(
                "channels: [defaults]\nchannel_settings:\n  - channel: https://repo.example/*\n    \
                 auth: anacondad\n    credential_type: {known}\n"
            ),
        );
        let view = CondaView::compute(&input(home, &[]), &CondarcSettings::new(REPO), &rc, None);
        assert!(view.unknown_credential_types.is_empty(), "{known}");
    }
}
