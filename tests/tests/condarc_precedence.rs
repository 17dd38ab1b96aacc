//! Which handler the real conda (26.7.1) picks for the repository when anaconda-auth's conda
//! package is installed too: that package ships `$CONDA_ROOT/condarc.d/anaconda-auth.yml`
//! with its own `channel_settings` entry for the same glob. conda concatenates
//! `channel_settings` with the higher-precedence file first and the last matching entry wins,
//! so the environment's drop-in beats the entry `token install` writes into `~/.condarc`, and a
//! drop-in of ours beside it (sorted before it, `anacondad.yml` > `anaconda-auth.yml`) would
//! lose too; only an entry flagged `#!bottom` goes after it. These facts are why the wheel
//! and the conda package ship no `condarc.d` file (README, "Install").
//!
//! `CONDA_ROOT`, which conda reads for `$CONDA_ROOT` of its search path, points the
//! environment's condarc.d at the test home.

use anacondad_tests::conda::{Conda, conda_or_skip};
use anacondad_tests::harness::TestHome;

const ANACONDA_AUTH_DROP_IN: &str =
    "channel_settings:\n  - channel: https://repo.anaconda.cloud/*\n    auth: anaconda-auth\n";
const OURS: &str =
    "channel_settings:\n  - channel: https://repo.anaconda.cloud/*\n    auth: anacondad\n";
const OURS_AT_THE_BOTTOM: &str = "channel_settings:\n  - #!bottom\n    channel: https://repo.anaconda.cloud/*\n    auth: anacondad\n";

/// The module of the handler conda's session uses for the repository's repodata, in a home
/// whose environment drop-ins and `~/.condarc` are as given.
fn handler_for_repository(drop_ins: &[(&str, &str)], user_condarc: Option<&str>) -> String {
    let venvs = conda_or_skip("condarc_precedence").expect("the real conda");
    let home = TestHome::new();
    let root = home.path().join("conda-root");
    std::fs::create_dir_all(root.join("condarc.d")).expect("condarc.d");
    for (name, text) in drop_ins {
        std::fs::write(root.join("condarc.d").join(name), text).expect("drop-in written");
    }
    if let Some(text) = user_condarc {
        std::fs::write(home.path().join(".condarc"), text).expect("~/.condarc written");
    }
    let conda = Conda::new(&home, &venvs.with_plugin).with_env("CONDA_ROOT", &root);
    let out = conda.python(
        "from conda.base.context import reset_context\n\
         reset_context()\n\
         from conda.gateways.connection.session import get_session\n\
         s = get_session('https://repo.anaconda.cloud/repo/main/noarch/repodata.json')\n\
         print(type(s.auth).__module__ if s.auth else None)",
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

const ANACONDA_AUTH: &str = "anaconda_auth._conda.auth_handler";
const ANACONDAD: &str = "conda_anacondad.auth";

#[test]
fn anaconda_auths_drop_in_in_the_environment_beats_the_entry_in_the_users_condarc() {
    if conda_or_skip("condarc_precedence").is_none() {
        return;
    }
    let drop_in = [("anaconda-auth.yml", ANACONDA_AUTH_DROP_IN)];
    assert_eq!(handler_for_repository(&drop_in, None), ANACONDA_AUTH);
    assert_eq!(handler_for_repository(&[], Some(OURS)), ANACONDAD);
    assert_eq!(handler_for_repository(&drop_in, Some(OURS)), ANACONDA_AUTH);
}

#[test]
fn a_drop_in_of_ours_beside_anaconda_auths_loses_too() {
    if conda_or_skip("condarc_precedence").is_none() {
        return;
    }
    let both = [
        ("anaconda-auth.yml", ANACONDA_AUTH_DROP_IN),
        ("anacondad.yml", OURS),
    ];
    assert_eq!(handler_for_repository(&both, None), ANACONDA_AUTH);
    assert_eq!(handler_for_repository(&both[1..], None), ANACONDAD);
}

#[test]
fn an_entry_flagged_bottom_in_the_users_condarc_wins_over_anaconda_auths_drop_in() {
    if conda_or_skip("condarc_precedence").is_none() {
        return;
    }
    let drop_in = [("anaconda-auth.yml", ANACONDA_AUTH_DROP_IN)];
    assert_eq!(
        handler_for_repository(&drop_in, Some(OURS_AT_THE_BOTTOM)),
        ANACONDAD
    );
}
