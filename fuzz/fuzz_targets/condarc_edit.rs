//! The `.condarc` editor on arbitrary text: it may refuse a file, never panic; what it writes
//! must parse as YAML, and planning its own output again must change nothing.
#![no_main]

use std::path::Path;

use anacondad::condarc_text::{
    CondarcSettings, plan, remove_channel_settings_plan, restore_default_channels_plan,
};
use libfuzzer_sys::fuzz_target;

const REPO: &str = "https://repo.anaconda.cloud/repo/";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The input may hold a second document after a NUL: the backup for a restore.
    let (original, backup) = text.split_once('\0').unwrap_or((text, text));
    let settings = CondarcSettings::new(REPO);
    if let Ok(planned) = plan(Some(original), &settings) {
        assert!(
            yaml_parses(&planned.updated),
            "the planned file is not YAML:\n{}",
            planned.updated
        );
        let again = plan(Some(&planned.updated), &settings)
            .expect("the editor's own output is accepted again");
        assert!(!again.changed, "a second plan changes:\n{}", again.diff);
    }
    let path = Path::new(".condarc");
    if let Ok(removed) = remove_channel_settings_plan(path, Some(original), REPO) {
        assert!(yaml_parses(&removed.updated), "{}", removed.updated);
    }
    if let Ok(restored) =
        restore_default_channels_plan(path, Some(original), Path::new(".condarc.bak"), backup)
    {
        assert!(yaml_parses(&restored.updated), "{}", restored.updated);
    }
});

fn yaml_parses(text: &str) -> bool {
    yaml_serde::from_str::<yaml_serde::Value>(text).is_ok()
}
