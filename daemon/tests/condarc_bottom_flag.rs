//! Our `channel_settings` entry flagged `#!bottom` (`CondarcSettings::entry_at_bottom`): the
//! flag goes on the dash's own line, the one form conda reads as a mapping item's flag; the
//! edit is made once; removing the entry removes its flag; `check()` reports a missing flag.

use std::path::Path;

use anacondad::condarc_text::{
    CondarcEditor, CondarcSettings, CondarcState, plan, remove_channel_settings_plan,
};

const REPO: &str = "https://repo.anaconda.cloud/repo/";

fn at_bottom() -> CondarcSettings {
    CondarcSettings {
        entry_at_bottom: true,
        ..CondarcSettings::new(REPO)
    }
}

const UNFLAGGED: &str = "\
channel_settings:
  - channel: https://repo.anaconda.cloud/*
    auth: anaconda-auth
  - channel: https://other.example/*
    auth: site-sso
";

#[test]
fn a_new_entry_is_written_flagged_on_the_line_of_its_dash() {
    let edited = plan(None, &at_bottom()).unwrap();
    assert!(
        edited.updated.starts_with(
            "channel_settings:\n  - #!bottom\n    channel: https://repo.anaconda.cloud/*\n    \
             auth: anacondad\n"
        ),
        "{}",
        edited.updated
    );
    assert!(
        edited
            .changes
            .iter()
            .any(|c| c.contains("flagged `#!bottom`")),
        "{:?}",
        edited.changes
    );
}

#[test]
fn an_existing_entry_gets_the_flag_and_our_handler_in_place() {
    let edited = plan(Some(UNFLAGGED), &at_bottom()).unwrap();
    assert!(
        edited.updated.starts_with(
            "channel_settings:\n  - #!bottom\n    channel: https://repo.anaconda.cloud/*\n    \
             auth: anacondad\n  - channel: https://other.example/*\n    auth: site-sso\n"
        ),
        "{}",
        edited.updated
    );
    let again = plan(Some(&edited.updated), &at_bottom()).unwrap();
    assert!(!again.changed, "{:?}", again.changes);
}

#[test]
fn an_entry_already_ours_gets_only_the_flag() {
    let ours = plan(Some(UNFLAGGED), &CondarcSettings::new(REPO)).unwrap();
    assert!(!ours.updated.contains("#!bottom"), "{}", ours.updated);
    let flagged = plan(Some(&ours.updated), &at_bottom()).unwrap();
    assert_eq!(flagged.changes.len(), 1, "{:?}", flagged.changes);
    assert!(
        flagged.changes[0].contains("flag the entry for https://repo.anaconda.cloud/*"),
        "{:?}",
        flagged.changes
    );
    // Without the setting, a flag in the file stays.
    let kept = plan(Some(&flagged.updated), &CondarcSettings::new(REPO)).unwrap();
    assert!(!kept.changed, "{:?}", kept.changes);
}

#[test]
fn removing_a_flagged_entry_takes_its_flag_out_too() {
    let flagged = "\
channel_settings:
  - #!bottom
    channel: https://repo.anaconda.cloud/*
    auth: anacondad
  - channel: https://other.example/*
    auth: site-sso
";
    let removed = remove_channel_settings_plan(Path::new(".condarc"), Some(flagged), REPO)
        .unwrap()
        .updated;
    assert!(
        removed.starts_with(
            "channel_settings:\n  - channel: https://other.example/*\n    auth: site-sso\n"
        ),
        "{removed}"
    );
    assert!(!removed.contains("#!bottom"), "{removed}");
}

#[test]
fn check_finds_a_missing_flag_and_accepts_the_flagged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".condarc");
    let editor = CondarcEditor::new(&path);
    editor.apply(&CondarcSettings::new(REPO)).unwrap();
    let report = editor.check(&at_bottom()).unwrap();
    assert_eq!(report.state, CondarcState::Drifted, "{:?}", report.findings);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.contains("is not flagged `#!bottom`")),
        "{:?}",
        report.findings
    );
    editor.apply(&at_bottom()).unwrap();
    let report = editor.check(&at_bottom()).unwrap();
    assert_eq!(
        report.state,
        CondarcState::Configured,
        "{:?}",
        report.findings
    );
}
