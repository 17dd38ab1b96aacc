//! Golden-file tests: each directory under `condarc-golden/` holds an `input.yml` (absent: the
//! file does not exist yet) and the `expected.yml` that planning the default settings into it
//! must produce, byte for byte.

use std::fs;
use std::path::{Path, PathBuf};

use anacondad::condarc_text::{CondarcSettings, plan};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/condarc-golden")
}

fn settings() -> CondarcSettings {
    CondarcSettings::new("https://repo.anaconda.cloud/repo/")
}

fn cases() -> Vec<(String, Option<String>, String)> {
    let mut cases: Vec<_> = fs::read_dir(golden_dir())
        .expect("golden dir")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.is_dir())
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let input = fs::read_to_string(dir.join("input.yml")).ok();
            let expected = fs::read_to_string(dir.join("expected.yml"))
                .unwrap_or_else(|e| panic!("{name}: expected.yml: {e}"));
            (name, input, expected)
        })
        .collect();
    cases.sort();
    cases
}

/// Named so that `cargo test condarc` selects these tests.
mod condarc {
    use super::*;

    #[test]
    fn every_golden_input_plans_to_its_expected_file() {
        let cases = cases();
        assert!(cases.len() >= 12, "only {} golden cases", cases.len());
        let mut failures = Vec::new();
        for (name, input, expected) in &cases {
            match plan(input.as_deref(), &settings()) {
                Ok(planned) if planned.updated == *expected => {
                    assert_eq!(
                        planned.changed,
                        input.as_deref() != Some(expected.as_str()),
                        "{name}: `changed` disagrees with the text"
                    );
                }
                Ok(planned) => failures.push(format!(
                    "{name}: got\n{}\n--- diff from input:\n{}",
                    planned.updated, planned.diff
                )),
                Err(e) => failures.push(format!("{name}: refused: {e}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }

    #[test]
    fn planning_a_planned_file_again_changes_nothing() {
        for (name, input, _) in cases() {
            let first =
                plan(input.as_deref(), &settings()).unwrap_or_else(|e| panic!("{name}: {e}"));
            let second =
                plan(Some(&first.updated), &settings()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                !second.changed,
                "{name}: second plan changed:\n{}",
                second.diff
            );
            assert!(second.changes.is_empty(), "{name}: {:?}", second.changes);
            assert_eq!(second.updated, first.updated, "{name}");
            assert!(second.diff.is_empty(), "{name}");
        }
    }

    #[test]
    fn every_comment_line_of_each_input_survives() {
        for (name, input, expected) in cases() {
            for line in input.iter().flat_map(|i| i.lines()) {
                if let Some(at) = line.find('#') {
                    let comment = line[at..].trim_end();
                    assert!(
                        expected.contains(comment),
                        "{name}: lost comment {comment:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn already_configured_file_plans_no_change() {
        let input = fs::read_to_string(golden_dir().join("already-configured/input.yml")).unwrap();
        let planned = plan(Some(&input), &settings()).unwrap();
        assert!(!planned.changed);
        assert_eq!(planned.updated, input);
        assert_eq!(planned.summary(), "already configured: nothing to change");
    }
}
