//! Property test: files composed from real-world fragments in any order, with LF or CRLF, are
//! always planned (every other key and comment kept, checked inside `plan`), and planning the
//! result again changes nothing.

use anacondad::condarc_text::{CondarcSettings, plan};
use proptest::prelude::*;

const CHANNELS: &[&str] = &[
    "",
    "channels:\n  - defaults\n  - conda-forge\n",
    "channels: [defaults, conda-forge]  # flow\n",
    "channels:\n- defaults\n",
];

const DEFAULT_CHANNELS: &[&str] = &[
    "",
    "default_channels:\n  - https://a.example/main\n",
    "default_channels: [https://a.example/main, 'https://a.example/r']  # upstream\n",
    "default_channels:  #!final\n  # lead\n  - \"https://a.example/main\"  # m\n  - https://a.example/r\n  - https://a.example/x\n  - https://a.example/y  #!top\n",
    "default_channels:\n- https://repo.anaconda.cloud/repo/main\n- https://repo.anaconda.cloud/repo/r\n- https://repo.anaconda.cloud/repo/msys2\n",
    "default_channels:\n",
    "default_channels: []\n",
];

const CHANNEL_SETTINGS: &[&str] = &[
    "",
    "channel_settings:\n  - channel: https://repo.anaconda.cloud/*\n    auth: anaconda-auth\n",
    "channel_settings:\n  - channel: https://o.example/*\n    auth: o\n",
    "channel_settings:\n-   channel: https://repo.anaconda.cloud/*   # ours\n    auth_domain: anaconda.com\n",
    "channel_settings: [{channel: 'https://o.example/*', auth: o}]\n",
    "channel_settings:\n  -\n    channel: https://repo.anaconda.cloud/*\n    auth: \"x\"\n",
    "channel_settings:\n",
];

const OTHERS: &[&str] = &[
    "# a comment\n",
    "\n",
    "ssl_verify: true  #!final\n",
    "proxy_servers:\n  http: http://p.example:3128\n",
    "envs_dirs: ['~/envs']\n",
    "always_yes: false\n",
];

fn file() -> impl Strategy<Value = (String, bool)> {
    (
        prop::sample::select(CHANNELS),
        prop::sample::select(DEFAULT_CHANNELS),
        prop::sample::select(CHANNEL_SETTINGS),
        prop::sample::subsequence(OTHERS, 0..=OTHERS.len()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(c, d, s, others, crlf, final_newline)| {
            let mut parts: Vec<&str> = vec![c, d, s];
            parts.extend(others);
            (Just(parts).prop_shuffle(), Just(crlf), Just(final_newline))
        })
        .prop_map(|(parts, crlf, final_newline)| {
            let mut text = parts.concat();
            if !final_newline && text.ends_with('\n') && !text.ends_with("\n\n") {
                text.pop();
            }
            if crlf {
                text = text.replace('\n', "\r\n");
            }
            (text, crlf)
        })
}

/// Named so that `cargo test condarc` selects these tests.
mod condarc {
    use super::*;

    proptest! {
        #[test]
        fn any_composed_file_is_planned_and_a_second_plan_changes_nothing((text, crlf) in file()) {
            let settings = CondarcSettings::new("https://repo.anaconda.cloud/repo/");
            let first = plan(Some(&text), &settings).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            let second = plan(Some(&first.updated), &settings).map_err(|e| TestCaseError::fail(format!("{e}\n{}", first.updated)))?;
            prop_assert!(!second.changed, "second plan changed:\n{}", second.diff);
            let parsed: yaml_serde::Value = yaml_serde::from_str(&first.updated).expect("plan output parses");
            let ours = parsed["channel_settings"]
                .as_sequence()
                .expect("channel_settings is a list")
                .iter()
                .filter(|e| e["channel"].as_str() == Some("https://repo.anaconda.cloud/*"))
                .map(|e| e["auth"].as_str())
                .collect::<Vec<_>>();
            prop_assert_eq!(ours, vec![Some("anacondad")]);
            let defaults: Vec<&str> = parsed["default_channels"].as_sequence().expect("a list").iter().filter_map(|v| v.as_str()).collect();
            prop_assert_eq!(defaults, settings.default_channels().unwrap());
            // A one-line file without a terminator gives no hint, and gets LF.
            if crlf && text.contains("\r\n") {
                prop_assert_eq!(first.updated.matches('\n').count(), first.updated.matches("\r\n").count());
            }
        }
    }
}
