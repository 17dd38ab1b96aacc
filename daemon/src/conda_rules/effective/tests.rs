use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;

fn input(root: &Path, env: &[(&str, &str)]) -> SearchPathInput {
    SearchPathInput {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        home: root.join("home"),
        conda_root: root.join("conda"),
        platform: Platform::Unix,
        system_dirs: Some(vec![root.join("etc")]),
    }
}

fn write(path: PathBuf, text: &str) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn values(items: &[Sourced<String>]) -> Vec<&str> {
    items.iter().map(|s| s.value.as_str()).collect()
}

#[test]
fn fnmatch_is_pythons_star_crosses_slashes_and_sets_work() {
    assert!(fnmatch(
        "repo.anaconda.cloud/repo/main/x",
        "repo.anaconda.cloud/*"
    ));
    assert!(!fnmatch(
        "repo.anaconda.cloud:8443/repo",
        "repo.anaconda.cloud/*"
    ));
    assert!(fnmatch("h/a/b", "h/?/b"));
    assert!(fnmatch("h/a", "h/[abc]"));
    assert!(!fnmatch("h/a", "h/[!abc]"));
    assert!(fnmatch("h/[x", "h/[x"));
    assert!(!fnmatch("H/a", "h/*"));
    assert!(fnmatch("h/", "h/*"));
}

#[test]
fn variables_expand_only_when_known_and_tilde_is_home() {
    let lookup = |n: &str| (n == "A").then(|| "x".to_string());
    assert_eq!(
        expand_vars("$A/${A}/%A%/$B/${B}/%B%/$", &lookup, true),
        "x/x/x/$B/${B}/%B%/$"
    );
    assert_eq!(expand_vars("%A%", &lookup, false), "%A%");
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        input(dir.path(), &[]).expand("~/.condarc"),
        dir.path().join("home/.condarc")
    );
}

#[test]
fn the_search_path_is_conda_order_with_condarc_d_sorted_and_odd_names_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let etc = write(root.join("etc/condarc"), "");
    let drop_b = write(root.join("conda/condarc.d/b.yml"), "");
    let drop_a = write(root.join("conda/condarc.d/a.yaml"), "");
    write(root.join("conda/condarc.d/notes.txt"), "");
    let user = write(root.join("home/.condarc"), "");
    let xdg = write(root.join("xdg/conda/condarc"), "");
    let prefix = write(root.join("env/.condarc"), "");
    let from_env = write(root.join("custom.yml"), "");
    write(root.join("ignored.rc"), "");
    let env = [
        ("XDG_CONFIG_HOME", root.join("xdg").display().to_string()),
        ("CONDA_PREFIX", root.join("env").display().to_string()),
        ("CONDARC", from_env.display().to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        search_path(&input(root, &env)),
        [etc, drop_a, drop_b, xdg, user, prefix, from_env.clone()]
    );
    let ignored = root.join("ignored.rc").display().to_string();
    assert!(
        !search_path(&input(root, &[("CONDARC", &ignored)])).contains(&root.join("ignored.rc"))
    );
}

#[test]
fn lists_merge_highest_precedence_first_and_final_stops_later_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let etc = write(
        root.join("etc/.condarc"),
        "channels:\n  - system\n  - shared\n",
    );
    let user = write(
        root.join("home/.condarc"),
        "channels:\n  - user\n  - shared\n",
    );
    let config = effective(&input(root, &[]));
    assert_eq!(values(&config.channels), ["user", "shared", "system"]);
    assert_eq!(config.channels[1].source, CondaSource::File(user.clone()));
    assert_eq!(config.channels[2].source, CondaSource::File(etc.clone()));
    assert!(!config.defaults_in_effect());

    write(root.join("etc/.condarc"), "channels: #!final\n  - system\n");
    assert_eq!(values(&effective(&input(root, &[])).channels), ["system"]);

    write(
        root.join("etc/.condarc"),
        "channels:\n  - pinned  #!top\n  - last  #!bottom\n",
    );
    let config = effective(&input(root, &[("CONDA_CHANNELS", "envchan, defaults")]));
    assert_eq!(
        values(&config.channels),
        ["pinned", "envchan", "defaults", "user", "shared", "last"]
    );
    assert_eq!(
        config.channels[1].source,
        CondaSource::EnvVar("CONDA_CHANNELS".into())
    );
    assert!(config.defaults_in_effect());
}

#[test]
fn default_channels_fall_back_to_condas_own_and_a_bad_file_is_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let bad = write(root.join("home/.condarc"), "channels: [unclosed\n");
    let config = effective(&input(root, &[]));
    assert_eq!(values(&config.default_channels), DEFAULT_CHANNELS_UNIX);
    assert_eq!(config.default_channels[0].source, CondaSource::Default);
    assert_eq!(config.problems.len(), 1, "{:?}", config.problems);
    assert_eq!(config.problems[0].source, CondaSource::File(bad));
}

#[test]
fn only_a_bottom_flag_on_the_dashs_own_line_moves_a_channel_settings_entry() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let url = "https://repo.anaconda.cloud/repo/main/noarch/repodata.json";
    let is_ours = |s: &ChannelSetting| s.auth() == Some("anacondad");
    write(
        root.join("etc/.condarc"),
        "channel_settings:\n  - channel: https://repo.anaconda.cloud/*\n    auth: other\n",
    );
    // On the key's line the comment belongs to the mapping: conda does not move the entry.
    write(
        root.join("home/.condarc"),
        "channel_settings:\n  - channel: https://repo.anaconda.cloud/*  #!bottom\n    \
         auth: anacondad\n",
    );
    let config = effective(&input(root, &[]));
    let found = config.settings_for(url, is_ours);
    assert_eq!(found.chosen.and_then(|s| s.value.auth()), Some("other"));
    // On the dash's own line it flags the item, which goes last and wins.
    write(
        root.join("home/.condarc"),
        "channel_settings:\n  - #!bottom\n    channel: https://repo.anaconda.cloud/*\n    \
         auth: anacondad\n",
    );
    let config = effective(&input(root, &[]));
    let found = config.settings_for(url, is_ours);
    assert_eq!(found.chosen.and_then(|s| s.value.auth()), Some("anacondad"));
}

#[test]
fn the_last_matching_channel_settings_entry_wins_and_shadows_ours() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ours =
        "channel_settings:\n  - channel: https://repo.anaconda.cloud/*\n    auth: anacondad\n";
    let user = write(root.join("home/.condarc"), ours);
    let url = "https://repo.anaconda.cloud/repo/main/noarch/repodata.json";
    let is_ours = |s: &ChannelSetting| s.auth() == Some("anacondad");
    let config = effective(&input(root, &[]));
    let found = config.settings_for(url, is_ours);
    assert_eq!(
        found.chosen.map(|s| s.source.clone()),
        Some(CondaSource::File(user.clone()))
    );
    assert!(found.shadowing_ours.is_empty() && found.ours_matches);

    // A lower-precedence file's entry comes later in the merged list, so it wins.
    let etc = write(
        root.join("etc/.condarc"),
        "channel_settings:\n  - channel: https://repo.anaconda.cloud/repo/*\n    auth: other\n",
    );
    let config = effective(&input(root, &[]));
    let found = config.settings_for(url, is_ours);
    assert_eq!(found.chosen.and_then(|s| s.value.auth()), Some("other"));
    assert_eq!(found.shadowing_ours.len(), 1);
    assert_eq!(found.shadowing_ours[0].source, CondaSource::File(etc));
    // The scheme must be the same, and a port is part of the host.
    assert!(
        config
            .settings_for("http://repo.anaconda.cloud/repo/x", is_ours)
            .chosen
            .is_none()
    );
    assert!(
        !config
            .settings_for("https://repo.anaconda.cloud:8443/repo/x", is_ours)
            .ours_matches
    );
}

#[test]
fn urls_of_default_channels_have_the_canonical_name_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root.join("home/.condarc"),
        "default_channels:\n  - https://repo.anaconda.cloud/repo/main\n",
    );
    let config = effective(&input(root, &[]));
    assert_eq!(
        config.canonical_name("https://repo.anaconda.cloud/repo/main/linux-64/repodata.json"),
        "defaults"
    );
    assert_eq!(
        config.canonical_name("https://conda.anaconda.org/conda-forge/noarch/repodata.json"),
        "conda-forge"
    );
    assert_eq!(
        config.canonical_name("https://repo.anaconda.cloud/repo/acme/internal/noarch/x.conda"),
        "https://repo.anaconda.cloud/repo/acme/internal"
    );
}

#[test]
fn sharded_repodata_urls_get_no_canonical_name_as_in_conda() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root.join("home/.condarc"),
        "default_channels:\n  - https://h/pkgs/main\n",
    );
    let config = effective(&input(root, &[]));
    assert_eq!(
        config.canonical_name("https://h/pkgs/main/linux-64/repodata.json.zst"),
        "defaults"
    );
    assert_eq!(
        config.canonical_name("https://h/pkgs/main/noarch/"),
        "defaults"
    );
    // conda keeps the shards file in the channel's name, so it is no longer `defaults`.
    assert_ne!(
        config.canonical_name("https://h/pkgs/main/linux-64/repodata_shards.msgpack.zst"),
        "defaults"
    );
}

#[test]
fn windows_search_path_starts_at_programdata_and_ends_with_condarc() {
    let dir = tempfile::tempdir().unwrap();
    let mut windows = input(dir.path(), &[]);
    windows.platform = Platform::Windows;
    windows.system_dirs = None;
    let templates = search_path_templates(&windows);
    assert_eq!(
        templates[..3],
        [
            "C:/ProgramData/conda/.condarc",
            "C:/ProgramData/conda/condarc",
            "C:/ProgramData/conda/condarc.d/"
        ]
    );
    assert_eq!(templates.last().map(String::as_str), Some("$CONDARC"));
    assert_eq!(templates.len(), 3 + 4 * 3 + 1 + 3 + 1);
    let config = effective(&windows);
    assert_eq!(values(&config.default_channels), DEFAULT_CHANNELS_WIN);
}
