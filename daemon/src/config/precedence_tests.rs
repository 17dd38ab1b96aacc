//! Which source wins for each key: defaults, the last login, anaconda-auth's file, ours, the
//! variables and the flags; the default site by key and by domain; a bad file's error.

use std::path::{Path, PathBuf};

use super::origin::Source;
use super::*;

struct Home {
    dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

impl Home {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            vars: Vec::new(),
        }
    }

    fn ours(&self) -> PathBuf {
        self.dir.path().join("config/anacondad/config.toml")
    }

    fn theirs(&self) -> PathBuf {
        self.dir.path().join(".anaconda/config.toml")
    }

    fn write(&self, path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn var(mut self, key: &str, value: &str) -> Self {
        self.vars.push((key.into(), value.into()));
        self
    }

    fn env(&self) -> EnvSnapshot {
        let home = self.dir.path();
        let mut pairs = vec![
            ("HOME".to_owned(), home.display().to_string()),
            (
                "XDG_CONFIG_HOME".to_owned(),
                home.join("config").display().to_string(),
            ),
            (
                "XDG_STATE_HOME".to_owned(),
                home.join("state").display().to_string(),
            ),
        ];
        pairs.extend(self.vars.iter().cloned());
        pairs.into_iter().collect()
    }

    fn resolve(&self) -> Result<DaemonConfig, ConfigError> {
        DaemonConfig::resolve(&self.env(), self.dir.path().join("s.sock"), "host")
    }

    fn config(&self) -> DaemonConfig {
        self.resolve().unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The value and source `config show` gives for `key` of site `site`.
fn shown(config: &DaemonConfig, site: &str, key: &str) -> (String, Source) {
    let origins = config
        .site_origins
        .iter()
        .find(|o| o.name == site)
        .unwrap_or_else(|| panic!("no site {site}: {:?}", config.site_origins));
    let origin = origins
        .keys
        .iter()
        .find(|o| o.key == key)
        .unwrap_or_else(|| panic!("no {key} in {origins:?}"));
    (origin.value.clone(), origin.source.clone())
}

fn global(config: &DaemonConfig, key: &str) -> (String, Source) {
    let origin = config.origins.iter().find(|o| o.key == key).unwrap();
    (origin.value.clone(), origin.source.clone())
}

/// A key; anaconda-auth's `[plugin.auth]` line; our line; our variable; the client's variable.
type Row<'a> = (
    &'a str,
    &'a str,
    &'a str,
    (&'a str, &'a str),
    Option<(&'a str, &'a str)>,
);

#[test]
fn each_site_key_comes_from_theirs_then_ours_then_our_variable_then_the_clients() {
    let table: &[Row<'_>] = &[
        (
            "domain",
            "domain = \"theirs.example\"",
            "domain = \"ours.example\"",
            ("ANACONDAD_DOMAIN", "ourvar.example"),
            Some(("ANACONDA_AUTH_DOMAIN", "client.example")),
        ),
        (
            "ssl_verify",
            "ssl_verify = true",
            "ssl_verify = false",
            ("ANACONDAD_SSL_VERIFY", "1"),
            Some(("ANACONDA_AUTH_SSL_VERIFY", "0")),
        ),
        (
            "ca_bundle",
            "ssl_verify = \"HOME/theirs.pem\"",
            "ca_bundle = \"HOME/ours.pem\"",
            ("ANACONDAD_CA_BUNDLE", "HOME/ourvar.pem"),
            Some(("ANACONDA_AUTH_SSL_VERIFY", "HOME/client.pem")),
        ),
        (
            "proxy",
            "proxy_servers = { https = \"http://theirs:1\" }",
            "proxy = \"http://ours:2\"",
            ("ANACONDAD_PROXY", "http://ourvar:3"),
            None,
        ),
    ];
    for (key, theirs, ours, our_var, client_var) in table {
        let home = Home::new();
        // CA bundles must exist: `HOME` in a row is this home.
        let dir = home.dir.path().display().to_string();
        for pem in ["theirs", "ours", "ourvar", "client"] {
            home.write(&home.dir.path().join(format!("{pem}.pem")), "");
        }
        let at_home = |text: &str| text.replace("HOME", &dir);
        let (theirs, ours) = (at_home(theirs), at_home(ours));
        let our_var = (our_var.0, at_home(our_var.1));
        let client_var = client_var.map(|(var, v)| (var, at_home(v)));
        home.write(&home.theirs(), &format!("[plugin.auth]\n{theirs}\n"));
        let (value, source) = shown(&home.config(), &site_name(&home), key);
        assert_eq!(
            source,
            Source::AnacondaAuth(home.theirs()),
            "{key}: {value}"
        );
        home.write(&home.ours(), &format!("{ours}\n"));
        let (value, source) = shown(&home.config(), &site_name(&home), key);
        assert_eq!(source, Source::Ours(home.ours()), "{key}: {value}");
        let home = home.var(our_var.0, &our_var.1);
        let (value, source) = shown(&home.config(), &site_name(&home), key);
        assert_eq!(source, Source::Env(our_var.0.into()), "{key}");
        assert!(
            value.contains(our_var.1.trim_start_matches("http://")) || *key == "ssl_verify",
            "{key}: {value}"
        );
        if let Some((var, v)) = client_var {
            let home = home.var(var, &v);
            let (value, source) = shown(&home.config(), &site_name(&home), key);
            assert_eq!(source, Source::Env((*var).into()), "{key}");
            assert!(value.contains(&v) || *key == "ssl_verify", "{key}: {value}");
        }
    }
}

/// The implicit site's name in `home`.
fn site_name(home: &Home) -> String {
    home.config().default_site
}

#[test]
fn with_no_sites_anywhere_the_implicit_site_is_the_last_login_then_the_defaults() {
    let home = Home::new();
    let config = home.config();
    assert_eq!(config.sites.len(), 1);
    assert_eq!(config.default_site, "anaconda.com");
    assert_eq!(shown(&config, "anaconda.com", "domain").1, Source::Default);
    assert_eq!(
        shown(&config, "anaconda.com", "repo_url"),
        (
            "https://repo.anaconda.cloud/repo/".to_owned(),
            Source::DerivedFrom("domain")
        )
    );
    assert_eq!(
        config.sites[0].extra_repo_urls,
        ["https://repo.anaconda.com/"]
    );
    let mut api = crate::api::ApiConfig::new("1", "h");
    api.domain = "login.example".into();
    api.repo_url = "https://login.example/r/".into();
    site::save(&config.paths.site_file(), &site::SiteRecord::of(&api)).unwrap();
    let config = home.config();
    assert_eq!(config.default_site, "login.example");
    assert_eq!(
        shown(&config, "login.example", "repo_url"),
        (
            "https://login.example/r/".to_owned(),
            Source::LastLogin(config.paths.site_file())
        )
    );
    // anaconda-auth's file is above the last login, ours above it.
    home.write(
        &home.theirs(),
        "[plugin.auth]\ndomain = \"theirs.example\"\n",
    );
    assert_eq!(home.config().default_site, "theirs.example");
}

#[test]
fn an_on_premise_domain_without_a_repository_is_served_from_its_repo_path() {
    let home = Home::new();
    home.write(&home.ours(), "[sites.lab]\ndomain = \"lab.example\"\n");
    let config = home.config();
    assert_eq!(config.sites[0].api.repo_url, "https://lab.example/repo/");
    assert!(config.sites[0].extra_repo_urls.is_empty());
}

#[test]
fn sites_merge_by_name_and_ours_wins_key_by_key() {
    let home = Home::new();
    home.write(
        &home.theirs(),
        "[plugin.auth]\nssl_verify = false\n\
         [sites.work]\ndomain = \"work.example\"\nuse_unified_repo_api_key = true\n\
         [sites.cloud]\ndomain = \"anaconda.com\"\n",
    );
    home.write(
        &home.ours(),
        "[sites.work]\ndomain = \"work.example\"\nrepo_url = \"https://work.example/r/\"\n\
         [sites.lab]\ndomain = \"lab.example\"\nssl_verify = true\n",
    );
    let config = home.config();
    let names: Vec<_> = config.sites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["work", "lab", "cloud"],
        "ours in order, then theirs"
    );
    assert_eq!(config.default_site, "work", "the first site");
    let work = config.site(Some("work")).unwrap();
    assert!(work.use_unified_repo_api_key);
    assert_eq!(work.api.repo_url, "https://work.example/r/");
    assert_eq!(
        shown(&config, "work", "domain").1,
        Source::Ours(home.ours())
    );
    assert_eq!(
        shown(&config, "work", "use_unified_repo_api_key").1,
        Source::AnacondaAuth(home.theirs())
    );
    // [plugin.auth] is under every site; a site's own key is above it.
    assert!(!config.site(Some("cloud")).unwrap().api.ssl_verify);
    assert!(config.site(Some("lab")).unwrap().api.ssl_verify);
    let work_origins = config
        .site_origins
        .iter()
        .find(|o| o.name == "work")
        .unwrap();
    assert_eq!(
        work_origins.configured_in,
        [
            Source::Ours(home.ours()),
            Source::AnacondaAuth(home.theirs())
        ]
    );
}

#[test]
fn the_default_site_is_named_by_key_or_by_domain_ours_over_theirs_variable_over_both() {
    let home = Home::new();
    home.write(
        &home.theirs(),
        "default_site = \"anaconda.com\"\n\
         [sites.cloud]\ndomain = \"anaconda.com\"\n[sites.work]\ndomain = \"work.example\"\n",
    );
    let config = home.config();
    assert_eq!(config.default_site, "cloud", "theirs, by domain");
    assert_eq!(config.api.domain, "anaconda.com");
    assert_eq!(
        global(&config, "default_site").1,
        Source::AnacondaAuth(home.theirs())
    );
    home.write(&home.ours(), "default_site = \"work\"\n");
    let config = home.config();
    assert_eq!(config.default_site, "work", "ours, by key");
    assert_eq!(global(&config, "default_site").1, Source::Ours(home.ours()));
    let by_var = home.var("ANACONDAD_DEFAULT_SITE", "cloud");
    assert_eq!(by_var.config().default_site, "cloud");
    // A domain variable naming a configured site's domain picks it.
    let by_domain = Home {
        dir: by_var.dir,
        vars: vec![("ANACONDA_AUTH_DOMAIN".into(), "https://work.example".into())],
    };
    let config = by_domain.config();
    assert_eq!(config.default_site, "work");
    assert_eq!(
        global(&config, "default_site").1,
        Source::Env("ANACONDA_AUTH_DOMAIN".into())
    );
}

#[test]
fn the_transport_variables_reach_every_site_the_domain_variable_only_the_default() {
    let home = Home::new()
        .var("ANACONDA_AUTH_SSL_VERIFY", "false")
        .var("CONDA_TOKEN_REPO_URL", "https://mirror.example/repo/");
    home.write(
        &home.ours(),
        "[sites.a]\ndomain = \"a.example\"\n[sites.b]\ndomain = \"b.example\"\n",
    );
    let config = home.config();
    assert!(config.sites.iter().all(|s| !s.api.ssl_verify));
    assert_eq!(
        config.site(Some("a")).unwrap().api.repo_url,
        "https://mirror.example/repo/"
    );
    assert_eq!(
        config.site(Some("b")).unwrap().api.repo_url,
        "https://b.example/repo/"
    );
}

#[test]
fn an_api_key_in_anaconda_auths_file_serves_the_default_site_and_is_never_shown() {
    let home = Home::new();
    home.write(&home.theirs(), "[plugin.auth]\napi_key = \"sekrit-key\"\n");
    let config = home.config();
    assert_eq!(
        config
            .store
            .env_api_key
            .as_ref()
            .map(|k| k.expose().to_owned()),
        Some("sekrit-key".to_owned())
    );
    let (value, source) = shown(&config, "anaconda.com", "api_key");
    assert_eq!(value, origin::REDACTED);
    assert_eq!(source, Source::AnacondaAuth(home.theirs()));
    let everything = format!("{:?}{:?}", config.origins, config.site_origins);
    assert!(!everything.contains("sekrit"), "{everything}");
    // The variable wins over the file.
    let home = home.var("ANACONDA_AUTH_API_KEY", "from-env");
    assert_eq!(
        shown(&home.config(), "anaconda.com", "api_key").1,
        Source::Env("ANACONDA_AUTH_API_KEY".into())
    );
}

#[test]
fn anaconda_auths_keyring_path_and_storage_are_read_and_a_flag_names_the_socket() {
    let home = Home::new();
    home.write(
        &home.theirs(),
        "[plugin.auth]\nkeyring_path = \"~/elsewhere/keyring\"\npreferred_token_storage = \"system\"\n",
    );
    let mut config = home.config();
    assert_eq!(
        config.paths.anaconda_keyring,
        home.dir.path().join("elsewhere/keyring")
    );
    assert_eq!(
        global(&config, "anaconda_auth.preferred_token_storage"),
        ("system".to_owned(), Source::AnacondaAuth(home.theirs()))
    );
    assert_eq!(global(&config, "socket").1, Source::Default);
    let by_var = Home {
        dir: tempfile::tempdir().unwrap(),
        vars: vec![("ANACONDAD_SOCKET".into(), "/run/s.sock".into())],
    };
    let mut by_flag = by_var.config();
    assert_eq!(
        global(&by_flag, "socket").1,
        Source::Env("ANACONDAD_SOCKET".into())
    );
    by_flag.socket_from_flag("--socket");
    assert_eq!(
        global(&by_flag, "socket").1,
        Source::Flag("--socket".into())
    );
    config.socket_from_flag("--socket");
    let home = home.var("ANACONDA_AUTH_KEYRING_PATH", "/var/k");
    assert_eq!(
        home.config().paths.anaconda_keyring,
        PathBuf::from("/var/k")
    );
}

#[test]
fn a_bad_file_names_itself_and_the_key() {
    let home = Home::new();
    home.write(&home.ours(), "[sites.lab]\ndomian = \"lab.example\"\n");
    let err = home.resolve().unwrap_err().to_string();
    assert!(
        err.contains(&home.ours().display().to_string())
            && err.contains("[sites.lab]")
            && err.contains("domian"),
        "{err}"
    );
    home.write(
        &home.ours(),
        "default_site = \"nowhere\"\n[sites.lab]\ndomain = \"lab.example\"\n",
    );
    let err = home.resolve().unwrap_err().to_string();
    assert!(err.contains("nowhere") && err.contains("lab"), "{err}");
    home.write(
        &home.ours(),
        "[sites.a]\ndomain = \"x.example\"\n[sites.b]\ndomain = \"https://X.example\"\n",
    );
    let err = home.resolve().unwrap_err().to_string();
    assert!(
        err.contains("\"a\"") && err.contains("\"b\"") && err.contains("x.example"),
        "{err}"
    );
    std::fs::remove_file(home.ours()).unwrap();
}

#[test]
fn a_malformed_anaconda_auth_file_is_left_out_and_said_with_its_file_and_key() {
    let home = Home::new();
    for (body, says) in [
        ("[sites.w]\ndomain = 7\n", "[sites.w] domain"),
        ("[sites.w]\nssl_verify = 7\n", "ssl_verify"),
        ("[sites]\nx = 1\n", "[sites.x]"),
        ("not toml = = =\n", "anaconda-auth's configuration"),
        ("[sites.w]\ndomain = \"not a domain\"\n", "domain"),
    ] {
        home.write(&home.theirs(), body);
        let config = home.resolve().unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(config.default_site, "anaconda.com", "{body}");
        let warning = config.warnings.join("\n");
        assert!(
            warning.contains("left out")
                && warning.contains(&home.theirs().display().to_string())
                && warning.contains(says),
            "{body}: {warning}"
        );
    }
}

#[test]
fn a_default_of_anaconda_com_is_a_site_even_when_no_table_names_it() {
    let home = Home::new();
    home.write(
        &home.theirs(),
        "default_site = \"anaconda.com\"\n[sites.work]\ndomain = \"work.example\"\n",
    );
    let config = home.config();
    let names: Vec<_> = config.sites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["work", "anaconda.com"]);
    assert_eq!(config.default_site, "anaconda.com");
    assert_eq!(config.api.repo_url, "https://repo.anaconda.cloud/repo/");
}

#[test]
fn the_flags_are_the_top_layer() {
    let home = Home::new().var("ANACONDAD_SOCKET", "/run/by-variable.sock");
    let mut flags = Layer::default();
    flags.locations.socket =
        Some(Source::Flag("--socket".into()).says(PathBuf::from("/run/by-flag.sock")));
    let config =
        DaemonConfig::resolve_with_flags(&home.env(), "/run/by-flag.sock".into(), "host", &flags)
            .unwrap();
    assert_eq!(
        global(&config, "socket"),
        (
            "/run/by-flag.sock".to_owned(),
            Source::Flag("--socket".into())
        )
    );
}
