//! `anacondad::conda_rules` against the real conda: for fixture layouts of condarc files, the
//! effective `channels`, `default_channels` and `channel_settings` are what
//! `conda config --show --json` prints, the `channel_settings` entry chosen for a URL is the
//! one conda's own `get_session` picks, and the installations found are the two test venvs
//! with and without our plugin.
//!
//! Needs the real conda of tests/scripts/setup-venv.sh; without it these tests fail, unless
//! ANACONDAD_SKIP_REAL_CONDA=1 says to skip them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anacondad::conda_rules::Platform;
use anacondad::conda_rules::effective::{CondaSource, EffectiveConfig, SearchPathInput, effective};
use anacondad::conda_rules::installs::{FoundBy, InstallSearch, find_installations};
use anacondad_tests::conda::{Conda, conda_or_skip};
use anacondad_tests::harness::TestHome;
use serde_json::Value;

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("a directory");
    std::fs::write(path, text).expect("written");
    path.to_path_buf()
}

/// The search-path description of the environment `conda` runs with.
fn input_for(conda: &Conda<'_>, home: &TestHome) -> SearchPathInput {
    SearchPathInput {
        env: conda
            .env()
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect::<BTreeMap<_, _>>(),
        home: home.path().to_path_buf(),
        conda_root: conda.venv().to_path_buf(),
        platform: Platform::Unix,
        system_dirs: None,
    }
}

/// What `conda config --show channels default_channels channel_settings --json` prints, with
/// `default_channels` (printed as channel objects) turned back into URLs.
fn condas_view(conda: &Conda<'_>) -> (Vec<String>, Vec<String>, Vec<BTreeMap<String, String>>) {
    let run = conda.run(&[
        "config",
        "--show",
        "channels",
        "default_channels",
        "channel_settings",
        "--json",
    ]);
    run.assert_success("conda config --show");
    let shown = run.json();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("a list: {v}"))
            .iter()
            .map(|s| s.as_str().expect("a string").to_owned())
            .collect()
    };
    let default_channels = shown["default_channels"]
        .as_array()
        .expect("default_channels")
        .iter()
        .map(|c| {
            format!(
                "{}://{}/{}",
                c["scheme"].as_str().unwrap_or_default(),
                c["location"].as_str().unwrap_or_default(),
                c["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let settings = shown["channel_settings"]
        .as_array()
        .expect("channel_settings")
        .iter()
        .map(|entry| {
            entry
                .as_object()
                .expect("a mapping")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .collect();
    (strings(&shown["channels"]), default_channels, settings)
}

fn ours(config: &EffectiveConfig) -> (Vec<String>, Vec<String>, Vec<BTreeMap<String, String>>) {
    (
        config.channels.iter().map(|c| c.value.clone()).collect(),
        config
            .default_channels
            .iter()
            .map(|c| c.value.clone())
            .collect(),
        config
            .channel_settings
            .iter()
            .map(|s| s.value.keys.iter().cloned().collect())
            .collect(),
    )
}

#[test]
fn the_condarc_token_install_writes_alone_leaves_defaults_out_of_channels_as_conda_says() {
    let Some(venvs) = conda_or_skip("the_condarc_token_install_writes_alone") else {
        return;
    };
    let home = TestHome::new();
    let conda = Conda::new(&home, &venvs.with_plugin);
    let user = write(
        &conda.user_condarc(),
        "channel_settings:\n  - channel: https://repo.anaconda.cloud/*\n    auth: anacondad\n\
         default_channels:\n  - https://repo.anaconda.cloud/repo/main\n  \
         - https://repo.anaconda.cloud/repo/r\n  - https://repo.anaconda.cloud/repo/msys2\n",
    );
    let config = effective(&input_for(&conda, &home));
    assert_eq!(ours(&config), condas_view(&conda));
    assert!(!config.defaults_in_effect());
    assert_eq!(config.files, std::slice::from_ref(&user));
    assert!(
        config
            .default_channels
            .iter()
            .all(|c| c.source == CondaSource::File(user.clone()))
    );
}

#[test]
fn every_file_of_the_search_path_with_flags_and_variables_merges_as_conda_merges() {
    let Some(venvs) = conda_or_skip("every_file_of_the_search_path_merges") else {
        return;
    };
    let home = TestHome::new();
    let root = home.path().join("croot");
    let prefix = home.path().join("active-env");
    let conda = Conda::new(&home, &venvs.with_plugin)
        .with_env("CONDA_ROOT", &root)
        .with_env("CONDA_PREFIX", &prefix)
        .with_env("CONDA_CHANNELS", "from-env-var")
        .with_env("MY_HOST", "mirror.example.com");
    let config_home = home.path().join("config");
    write(
        &root.join("condarc.d/10-site.yml"),
        "channels:\n  - site-a\n  - site-pinned  #!top\n\
         channel_settings:\n  - channel: https://repo.anaconda.cloud/repo/*\n    auth: site-handler\n",
    );
    write(
        &root.join("condarc.d/20-more.yaml"),
        "channels:\n  - site-b\n  - site-last  #!bottom\n",
    );
    write(
        &root.join("condarc.d/ignored.txt"),
        "channels:\n  - never\n",
    );
    write(
        &config_home.join("conda/condarc"),
        "channels:\n  - xdg\n  - site-a\n",
    );
    write(
        &home.path().join(".conda/condarc"),
        "default_channels:\n  - https://$MY_HOST/main\n  - https://repo.anaconda.cloud/repo/r\n",
    );
    write(
        &conda.user_condarc(),
        "channels:\n  - user\n  - defaults\n\
         channel_settings:\n  - channel: https://repo.anaconda.cloud/*\n    auth: anacondad\n\
         default_channels:\n  - https://repo.anaconda.cloud/repo/main\n",
    );
    write(&prefix.join(".condarc"), "channels:\n  - prefix\n");
    write(
        &conda.condarc_env_file(),
        "channels:\n  - condarc-var\n\
         channel_settings:\n  - channel: https://repo.anaconda.cloud/*\n    auth: env-handler\n",
    );
    let config = effective(&input_for(&conda, &home));
    assert_eq!(ours(&config), condas_view(&conda));
    assert_eq!(config.files.len(), 7, "{:#?}", config.files);
    assert!(config.defaults_in_effect());
    assert!(config.problems.is_empty(), "{:?}", config.problems);

    // A key marked final in a low file stops every later one.
    write(
        &config_home.join("conda/condarc"),
        "channels: #!final\n  - xdg\n  - site-a\n",
    );
    let config = effective(&input_for(&conda, &home));
    assert_eq!(ours(&config), condas_view(&conda));
    assert!(!config.defaults_in_effect());
}

#[test]
fn the_channel_settings_entry_for_a_url_is_the_one_condas_get_session_picks() {
    let Some(venvs) = conda_or_skip("the_channel_settings_entry_for_a_url") else {
        return;
    };
    let home = TestHome::new();
    let root = home.path().join("croot");
    let conda = Conda::new(&home, &venvs.with_plugin).with_env("CONDA_ROOT", &root);
    write(
        &root.join("condarc.d/site.yml"),
        "channel_settings:\n  - channel: https://repo.anaconda.cloud/repo/acme/*\n    auth: site-acme\n\
         \x20 - channel: http://repo.anaconda.cloud/*\n    auth: site-plain-http\n",
    );
    write(
        &conda.user_condarc(),
        "channel_settings:\n  - channel: https://repo.anaconda.cloud/*\n    auth: anacondad\n\
         \x20 - channel: defaults\n    auth: by-name\n\
         \x20 - channel: https://repo.anaconda.cloud:8443/*\n    auth: with-port\n\
         default_channels:\n  - https://repo.anaconda.cloud/repo/main\n",
    );
    write(
        &conda.condarc_env_file(),
        "channel_settings:\n  - channel: https://repo.anaconda.cloud/repo/r/*\n    auth: env-r\n",
    );
    let urls = [
        "https://repo.anaconda.cloud/repo/main/noarch/repodata.json",
        "https://repo.anaconda.cloud/repo/main/linux-64/repodata_shards.msgpack.zst",
        "https://repo.anaconda.cloud/repo/acme/internal/noarch/repodata.json",
        "https://repo.anaconda.cloud/repo/r/noarch/repodata.json",
        "https://repo.anaconda.cloud/repo/globex/tools/noarch/x-1-0.conda",
        "http://repo.anaconda.cloud/repo/main/noarch/repodata.json",
        "https://repo.anaconda.cloud:8443/repo/main/noarch/repodata.json",
        "https://conda.anaconda.org/conda-forge/noarch/repodata.json",
    ];
    // conda's own choice: get_session with the handler lookup and the session replaced by
    // stand-ins that return the chosen entry's `auth`.
    let code = "import json, sys\n\
        from conda.base.context import context, reset_context\n\
        reset_context()\n\
        import conda.gateways.connection.session as session\n\
        session.CondaSession = lambda auth=None: auth\n\
        manager = context.plugin_manager\n\
        manager.get_auth_handler = lambda name: (lambda channel_name: name)\n\
        print(json.dumps([session.get_session(url) for url in sys.argv[1:]]))\n";
    let out = conda.python(code, &urls);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let condas: Vec<Option<String>> = serde_json::from_slice(&out.stdout).expect("JSON");
    let config = effective(&input_for(&conda, &home));
    let is_ours =
        |s: &anacondad::conda_rules::effective::ChannelSetting| s.auth() == Some("anacondad");
    let mine: Vec<Option<String>> = urls
        .iter()
        .map(|url| {
            config
                .settings_for(url, is_ours)
                .chosen
                .and_then(|s| s.value.auth().map(str::to_owned))
        })
        .collect();
    assert_eq!(mine, condas, "for {urls:#?}");
    // Ours is shadowed for acme's channels, by the site file's entry.
    let acme = config.settings_for(urls[2], is_ours);
    assert_eq!(acme.shadowing_ours.len(), 1);
    assert_eq!(
        acme.shadowing_ours[0].source,
        CondaSource::File(root.join("condarc.d/site.yml"))
    );
}

#[test]
fn the_two_test_condas_are_found_with_and_without_our_handler() {
    let Some(venvs) = conda_or_skip("the_two_test_condas_are_found") else {
        return;
    };
    let home = TestHome::new();
    // A venv's `conda` entry point is bin/conda; one is on PATH, the other named by CONDA_EXE.
    let env: BTreeMap<String, String> = [
        (
            "CONDA_EXE".to_string(),
            venvs.without_plugin.join("bin/conda").display().to_string(),
        ),
        (
            "PATH".to_string(),
            format!("/nonexistent:{}", venvs.with_plugin.join("bin").display()),
        ),
    ]
    .into_iter()
    .collect();
    let found = find_installations(&InstallSearch {
        env,
        home: home.path().to_path_buf(),
        platform: Platform::Unix,
        system_locations: Some(Vec::new()),
    });
    let canonical = |p: &Path| std::fs::canonicalize(p).expect("a path");
    let without = found
        .iter()
        .find(|i| canonical(&i.prefix) == canonical(&venvs.without_plugin))
        .unwrap_or_else(|| panic!("no plugin-less conda in {found:#?}"));
    let with = found
        .iter()
        .find(|i| canonical(&i.prefix) == canonical(&venvs.with_plugin))
        .unwrap_or_else(|| panic!("no conda with the plugin in {found:#?}"));
    assert_eq!(without.found_by, [FoundBy::CondaExe]);
    assert_eq!(with.found_by, [FoundBy::Path]);
    assert!(!without.has_anacondad_plugin);
    assert!(with.has_anacondad_plugin);
    assert_eq!(without.anaconda_auth, None);
    assert_eq!(with.anaconda_auth.as_deref(), Some("0.15.3"));
    assert_eq!(with.conda_version.as_deref(), Some("26.7.1"));

    // What conda itself says about its handlers agrees.
    let code = "from conda.base.context import context, reset_context\n\
                reset_context()\n\
                print('anacondad' in [h.name for h in context.plugin_manager.get_hook_results('auth_handlers')])";
    for install in [with, without] {
        let out = Conda::new(&home, &install.prefix).python(code, &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let loads = String::from_utf8_lossy(&out.stdout).trim() == "True";
        assert_eq!(
            loads,
            install.has_anacondad_plugin,
            "{}",
            install.prefix.display()
        );
    }
}
