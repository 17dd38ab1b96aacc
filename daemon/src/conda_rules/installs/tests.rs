use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;

fn write(path: PathBuf, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A Unix conda installation at `prefix` with the given distributions (`name`, `version`,
/// entry points in group `conda`).
fn conda_at(prefix: &Path, dists: &[(&str, &str, &[&str])]) {
    let site = prefix.join("lib/python3.12/site-packages");
    write(prefix.join("bin/conda"), "#!/bin/sh\n");
    write(site.join("conda/__init__.py"), "");
    for (name, version, entry_points) in dists {
        let dir = site.join(format!("{}-{version}.dist-info", name.replace('-', "_")));
        write(
            dir.join("METADATA"),
            &format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n"),
        );
        if !entry_points.is_empty() {
            let lines: Vec<String> = entry_points
                .iter()
                .map(|e| format!("{e} = x.plugin"))
                .collect();
            write(
                dir.join("entry_points.txt"),
                &format!(
                    "[console_scripts]\nfoo = bar\n\n[conda]\n{}\n",
                    lines.join("\n")
                ),
            );
        }
    }
}

fn search(home: &Path, env: &[(&str, String)], system: Vec<PathBuf>) -> InstallSearch {
    InstallSearch {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
        home: home.to_path_buf(),
        platform: Platform::Unix,
        system_locations: Some(system),
    }
}

#[test]
fn installations_are_found_once_each_with_how_and_whether_they_can_load_our_handler() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let miniforge = home.join("miniforge3");
    conda_at(&miniforge, &[("conda", "26.7.1", &[])]);
    let opt = dir.path().join("opt/conda");
    conda_at(
        &opt,
        &[
            ("conda", "25.1.0", &[]),
            ("conda-anacondad", "0.1.0", &["anacondad"]),
            ("anaconda-auth", "0.15.3", &["anaconda-auth"]),
        ],
    );
    // Not a conda: a Python without conda in it.
    write(
        home.join("anaconda3/lib/python3.12/site-packages/six.py"),
        "",
    );
    let env = [
        ("CONDA_EXE", opt.join("bin/conda").display().to_string()),
        (
            "PATH",
            format!("/nonexistent:{}", miniforge.join("bin").display()),
        ),
    ];
    let found = find_installations(&search(&home, &env, vec![opt.clone()]));
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].prefix, std::fs::canonicalize(&opt).unwrap());
    assert_eq!(
        found[0].found_by,
        [FoundBy::CondaExe, FoundBy::Location(opt.clone())]
    );
    assert!(found[0].has_anacondad_plugin);
    assert_eq!(found[0].anaconda_auth.as_deref(), Some("0.15.3"));
    assert_eq!(found[0].conda_version.as_deref(), Some("25.1.0"));
    assert_eq!(
        found[1].found_by,
        [FoundBy::Path, FoundBy::Location(miniforge.clone())]
    );
    assert!(!found[1].has_anacondad_plugin);
    assert_eq!(found[1].anaconda_auth, None);
    assert_eq!(
        found[1].plugin_install_command(),
        format!("\"{}\" -m pip install anacondad", found[1].python.display())
    );
}

#[test]
fn our_distribution_without_the_entry_point_does_not_count() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("c");
    conda_at(
        &prefix,
        &[
            ("conda", "26.7.1", &[]),
            ("conda_anacondad", "0.1.0", &["something-else"]),
        ],
    );
    let env = [("CONDA_PREFIX", prefix.display().to_string())];
    let found = find_installations(&search(&dir.path().join("home"), &env, vec![]));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].found_by, [FoundBy::ActivePrefix]);
    assert!(!found[0].has_anacondad_plugin);
}

#[test]
fn entry_point_groups_are_read_as_ini_sections() {
    let text = "[console_scripts]\nanacondad = nope\n\n[conda]\n# comment\nanacondad = conda_anacondad.plugin\n other = x \n[more]\ny = z\n";
    assert_eq!(group_entries(text, "conda"), ["anacondad", "other"]);
    assert_eq!(normalise("Conda_Anacondad"), "conda-anacondad");
    assert_eq!(normalise("a.-_b"), "a-b");
}

#[test]
fn a_windows_installation_is_found_through_scripts_on_path_and_lib_site_packages() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("miniconda3");
    let site = prefix.join("Lib").join("site-packages");
    write(prefix.join("Scripts").join("conda.exe"), "");
    write(site.join("conda").join("__init__.py"), "");
    write(
        site.join("conda_anacondad-0.1.0.dist-info")
            .join("entry_points.txt"),
        "[conda]\nanacondad = conda_anacondad.plugin\n",
    );
    let search = InstallSearch {
        env: [(
            "PATH".to_string(),
            format!("C:\\nowhere;{}", prefix.join("Scripts").display()),
        )]
        .into_iter()
        .collect(),
        home: dir.path().join("home"),
        platform: Platform::Windows,
        system_locations: Some(vec![]),
    };
    let found = find_installations(&search);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].found_by, [FoundBy::Path]);
    assert_eq!(found[0].python, found[0].prefix.join("python.exe"));
    assert!(found[0].has_anacondad_plugin);
    // Without METADATA the name and version come from the directory's name.
    assert_eq!(found[0].conda_version, None);
}

#[test]
fn the_anacondad_wheel_counts_as_our_plugin_as_conda_anacondad_does() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("venv");
    conda_at(
        &prefix,
        &[
            ("conda", "26.7.1", &[]),
            ("anacondad", "0.1.0", &["anacondad"]),
        ],
    );
    let found = inspect(&prefix, Platform::Unix).expect("a conda");
    assert!(found.has_anacondad_plugin, "{found:?}");

    let other = dir.path().join("other");
    conda_at(
        &other,
        &[("conda", "26.7.1", &[]), ("anacondad", "0.1.0", &[])],
    );
    let found = inspect(&other, Platform::Unix).expect("a conda");
    assert!(
        !found.has_anacondad_plugin,
        "no entry point, no handler: {found:?}"
    );
}
