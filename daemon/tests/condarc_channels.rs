//! The `channels` edit: `defaults` added at the end when conda would not search
//! `default_channels`, and taken out again by the restore from the backup.

use std::path::Path;

use anacondad::condarc_text::{CondarcSettings, plan, restore_default_channels_plan};

fn settings() -> CondarcSettings {
    let mut settings = CondarcSettings::new("https://repo.example/repo/");
    settings.add_defaults_to_channels = true;
    settings
}

const OURS: &str = "channel_settings:\n  - channel: https://repo.example/*\n    auth: anacondad\n\
                    default_channels:\n  - https://repo.example/repo/main\n  \
                    - https://repo.example/repo/r\n  - https://repo.example/repo/msys2\n";

#[test]
fn defaults_goes_after_the_users_channels_keeping_their_comments() {
    let original = "channels:  # mine\n  - conda-forge  # first\n  - bioconda\n\nsolver: classic\n";
    let planned = plan(Some(original), &settings()).unwrap();
    assert_eq!(
        planned.updated,
        format!(
            "channels:  # mine\n  - conda-forge  # first\n  - bioconda\n  - defaults\n\nsolver: \
             classic\n{OURS}"
        )
    );
    assert!(
        planned
            .changes
            .iter()
            .any(|c| c.starts_with("channels: add defaults after your channels")),
        "{:?}",
        planned.changes
    );
    // Already there: nothing to add.
    let again = plan(Some(&planned.updated), &settings()).unwrap();
    assert!(!again.changed, "{:?}", again.changes);
}

#[test]
fn an_absent_empty_or_one_line_flow_channels_gets_defaults_and_a_longer_flow_list_is_refused_with_what_to_do()
 {
    let planned = plan(None, &settings()).unwrap();
    assert_eq!(planned.updated, format!("{OURS}channels:\n  - defaults\n"));
    let planned = plan(Some("channels: []\n"), &settings()).unwrap();
    assert_eq!(planned.updated, format!("channels:\n  - defaults\n{OURS}"));
    let planned = plan(Some("channels: [conda-forge]\n"), &settings()).unwrap();
    assert_eq!(
        planned.updated,
        format!("channels: [conda-forge, defaults]\n{OURS}")
    );
    let err = plan(Some("channels: [conda-forge,\n  bioconda]\n"), &settings())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 1") && err.contains("`channels: [conda-forge, bioconda, defaults]`"),
        "{err}"
    );
}

#[test]
fn the_restore_takes_out_the_defaults_that_was_added() {
    let backup = "channels:\n  - conda-forge\n";
    let now = "channels:\n  - conda-forge\n  - defaults\ndefault_channels:\n  - https://repo.example/repo/main\n";
    let restored =
        restore_default_channels_plan(Path::new(".condarc"), Some(now), Path::new(".bak"), backup)
            .unwrap();
    assert_eq!(restored.updated, "channels:\n  - conda-forge\n");
    // A defaults the user had before stays.
    let backup = "channels:\n  - defaults\n";
    let now = "channels:\n  - defaults\ndefault_channels:\n  - https://repo.example/repo/main\n";
    let restored =
        restore_default_channels_plan(Path::new(".condarc"), Some(now), Path::new(".bak"), backup)
            .unwrap();
    assert_eq!(restored.updated, "channels:\n  - defaults\n");
}
