//! File-level tests of `CondarcEditor`: symlinks, modes, backups, refusals and `check()`.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use anacondad::condarc_text::{
    CondarcEditor, CondarcError, CondarcSettings, CondarcState, plan, plan_for_path,
};

const MIRROR_CONDARC: &str = "\
# my settings
channels:
  - defaults
default_channels:  #!final
  - https://mirror.example.com/main
  - https://mirror.example.com/r
";

fn settings() -> CondarcSettings {
    CondarcSettings::new("https://repo.anaconda.cloud/repo/")
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
}

/// Named so that `cargo test condarc` selects these tests.
mod condarc {
    use super::*;

    #[test]
    fn a_default_channels_the_user_built_on_ours_is_their_choice_and_stays() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".condarc");
        let editor = CondarcEditor::new(&file);
        editor.apply(&settings()).unwrap();
        // What `ana feature enable main-x --conda` runs: conda config --add puts it first.
        let configured = fs::read_to_string(&file).unwrap();
        let with_main_x = configured.replace(
            "default_channels:\n",
            "default_channels:\n  - https://repo.anaconda.cloud/repo/main-x\n",
        );
        write(&file, &with_main_x);

        let report = editor.check(&settings()).unwrap();
        assert_eq!(report.state, CondarcState::Configured, "{report:?}");
        assert!(report.findings.is_empty(), "{report:?}");
        assert!(
            report.notes.iter().any(|n| n.contains("your choice")),
            "{report:?}"
        );
        assert!(!editor.apply(&settings()).unwrap().changed, "no repair");
        assert_eq!(fs::read_to_string(&file).unwrap(), with_main_x);

        // One that drops one of ours is not built on ours: that is drift, as before.
        write(
            &file,
            &configured.replace("  - https://repo.anaconda.cloud/repo/msys2\n", ""),
        );
        let report = editor.check(&settings()).unwrap();
        assert_eq!(report.state, CondarcState::Drifted, "{report:?}");
        assert!(report.notes.is_empty());
    }

    #[test]
    fn apply_writes_the_target_of_a_symlink_and_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let dotfiles = dir.path().join("dotfiles");
        fs::create_dir(&dotfiles).unwrap();
        let target = dotfiles.join("condarc");
        write(&target, MIRROR_CONDARC);
        let link = dir.path().join(".condarc");
        symlink("dotfiles/condarc", &link).unwrap();

        let applied = CondarcEditor::new(&link).apply(&settings()).unwrap();

        assert!(applied.changed);
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("dotfiles/condarc"));
        let written = fs::read_to_string(&target).unwrap();
        assert!(written.contains("auth: anacondad"));
        assert_eq!(
            fs::read_to_string(dir.path().join(".condarc.bak")).unwrap(),
            MIRROR_CONDARC
        );
    }

    #[test]
    fn read_only_file_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        write(&path, MIRROR_CONDARC);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();

        let err = CondarcEditor::new(&path).apply(&settings()).unwrap_err();

        assert!(matches!(err, CondarcError::ReadOnly { .. }), "{err}");
        assert!(err.to_string().contains("read-only"), "{err}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), MIRROR_CONDARC);
        assert_eq!(mode_of(&path), 0o444);
        assert!(!dir.path().join(".condarc.bak").exists());
    }

    #[test]
    fn file_in_a_directory_without_write_permission_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        fs::create_dir(&home).unwrap();
        let path = home.join(".condarc");
        write(&path, MIRROR_CONDARC);
        fs::set_permissions(&home, fs::Permissions::from_mode(0o555)).unwrap();

        let result = CondarcEditor::new(&path).apply(&settings());
        fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).unwrap();

        let err = result.unwrap_err();
        assert!(
            matches!(err, CondarcError::DirectoryNotWritable { .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("make the directory writable"),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), MIRROR_CONDARC);
        assert_eq!(
            fs::read_dir(&home).unwrap().count(),
            1,
            "no backup or temp file left"
        );
    }

    #[test]
    fn apply_keeps_the_file_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        write(&path, MIRROR_CONDARC);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();

        CondarcEditor::new(&path).apply(&settings()).unwrap();

        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(mode_of(&dir.path().join(".condarc.bak")), 0o600);
    }

    #[test]
    fn missing_file_is_created_with_mode_0644_and_no_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");

        let applied = CondarcEditor::new(&path).apply(&settings()).unwrap();

        assert!(applied.changed);
        assert_eq!(applied.backup_path, None);
        assert_eq!(mode_of(&path), 0o644);
        assert!(
            fs::read_to_string(&path)
                .unwrap()
                .starts_with("channel_settings:\n")
        );
        assert!(!dir.path().join(".condarc.bak").exists());
    }

    #[test]
    fn backup_is_written_once_and_keeps_the_config_from_before_anacondad() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        let bak = dir.path().join(".condarc.bak");
        write(&path, MIRROR_CONDARC);
        let editor = CondarcEditor::new(&path);

        let first = editor.apply(&settings()).unwrap();
        assert!(first.backup_written);
        assert_eq!(first.backup_path.as_deref(), Some(bak.as_path()));
        assert_eq!(fs::read_to_string(&bak).unwrap(), MIRROR_CONDARC);

        // The user switches the handler by hand; re-applying must not replace the original backup.
        let configured = fs::read_to_string(&path).unwrap();
        write(
            &path,
            &configured.replace("auth: anacondad", "auth: anaconda-auth"),
        );
        let again = editor.apply(&settings()).unwrap();
        assert!(again.changed);
        assert!(!again.backup_written);
        assert_eq!(again.backup_path.as_deref(), Some(bak.as_path()));
        assert_eq!(fs::read_to_string(&bak).unwrap(), MIRROR_CONDARC);
        assert_eq!(fs::read_to_string(&path).unwrap(), configured);
    }

    #[test]
    fn backup_holding_an_anacondad_configured_file_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        let ours = "channel_settings:\n  - channel: https://x.example/*\n    auth: anacondad\n";
        write(&dir.path().join(".condarc.bak"), ours);
        write(&path, MIRROR_CONDARC);

        let applied = CondarcEditor::new(&path).apply(&settings()).unwrap();

        assert!(applied.backup_written);
        assert_eq!(
            fs::read_to_string(dir.path().join(".condarc.bak")).unwrap(),
            MIRROR_CONDARC
        );
    }

    #[test]
    fn second_apply_changes_nothing_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        write(&path, MIRROR_CONDARC);
        let editor = CondarcEditor::new(&path);
        editor.apply(&settings()).unwrap();
        let after_first = fs::read(&path).unwrap();
        let bak_mtime = fs::metadata(dir.path().join(".condarc.bak"))
            .unwrap()
            .modified()
            .unwrap();
        let inode = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap());

        let second = editor.apply(&settings()).unwrap();

        assert!(!second.changed);
        assert!(second.changes.is_empty());
        assert!(second.diff.is_empty());
        assert_eq!(second.summary(), "already configured: nothing to change");
        assert_eq!(fs::read(&path).unwrap(), after_first);
        assert_eq!(
            std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap()),
            inode,
            "not rewritten"
        );
        assert_eq!(
            fs::metadata(dir.path().join(".condarc.bak"))
                .unwrap()
                .modified()
                .unwrap(),
            bak_mtime
        );
        assert!(!editor.plan(&settings()).unwrap().changed);
    }

    #[test]
    fn malformed_file_is_refused_with_line_and_column_and_left_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        let broken = "channels:\n  - defaults\ndefault_channels: [a, b\nssl_verify: true\n";
        write(&path, broken);

        let err = CondarcEditor::new(&path).apply(&settings()).unwrap_err();

        let CondarcError::Malformed { line, column, .. } = &err else {
            panic!("expected Malformed, got {err}");
        };
        assert!(*line >= 3, "line {line}");
        assert!(*column >= 1);
        let message = err.to_string();
        assert!(
            message.contains(&format!(
                "line {line}, column {column} of {}",
                path.display()
            )),
            "{message}"
        );
        assert!(
            message.contains("then run `anacondactl condarc apply`"),
            "{message}"
        );
        assert_eq!(fs::read(&path).unwrap(), broken.as_bytes());
        assert!(!dir.path().join(".condarc.bak").exists());
    }

    #[test]
    fn keys_of_the_wrong_type_are_refused_where_they_are() {
        let cases = [
            (
                "channels: [defaults]\ndefault_channels: https://x.example/main\n",
                "default_channels",
                2,
                19,
            ),
            (
                "channel_settings:\n  channel: https://repo.anaconda.cloud/*\n  auth: x\n",
                "channel_settings",
                2,
                3,
            ),
            (
                "channel_settings:\n  - https://repo.anaconda.cloud/*\n",
                "channel_settings",
                2,
                3,
            ),
            ("- defaults\n- conda-forge\n", "the top level", 1, 1),
        ];
        for (text, key, want_line, want_column) in cases {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(".condarc");
            write(&path, text);
            let err = CondarcEditor::new(&path).apply(&settings()).unwrap_err();
            match &err {
                CondarcError::WrongType {
                    key: k,
                    line,
                    column,
                    ..
                } => {
                    assert_eq!(
                        (k.as_str(), *line, *column),
                        (key, want_line, want_column),
                        "{text}"
                    );
                }
                other => panic!("{text}: expected WrongType, got {other}"),
            }
            assert!(err.to_string().contains(&path.display().to_string()));
            assert_eq!(fs::read_to_string(&path).unwrap(), text);
            assert!(!dir.path().join(".condarc.bak").exists());
        }
    }

    #[test]
    fn an_edit_that_would_change_another_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        // `channels` aliases our list: editing it in place would change `channels` too.
        let text = "default_channels: &dc\n  - https://mirror.example.com/main\nchannels: *dc\n";
        write(&path, text);

        let err = CondarcEditor::new(&path).apply(&settings()).unwrap_err();

        assert!(matches!(err, CondarcError::UnsafeEdit { .. }), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn crlf_file_stays_crlf() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        write(&path, "channels:\r\n  - defaults\r\n");

        CondarcEditor::new(&path).apply(&settings()).unwrap();

        let written = fs::read_to_string(&path).unwrap();
        assert_eq!(
            written.matches('\n').count(),
            written.matches("\r\n").count()
        );
        assert!(written.contains("auth: anacondad\r\n"));
    }

    #[test]
    fn remove_channel_settings_removes_only_our_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        let text = "\
channel_settings:  # plugins
  - channel: https://conda.example.com/*
    auth: other
  # ours
  - channel: https://repo.anaconda.cloud/*  # installed by anacondad
    auth: anacondad
  - channel: https://b.example.com/*
    auth: b
ssl_verify: true
";
        write(&path, text);

        let applied = CondarcEditor::new(&path)
            .remove_channel_settings("https://repo.anaconda.cloud/repo/")
            .unwrap();

        assert!(applied.changed);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "\
channel_settings:  # plugins
  - channel: https://conda.example.com/*
    auth: other
  # ours
  # installed by anacondad
  - channel: https://b.example.com/*
    auth: b
ssl_verify: true
"
        );
    }

    #[test]
    fn removing_the_last_entry_drops_channel_settings_but_keeps_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        write(
            &path,
            "channels:\n  - defaults\nchannel_settings:  #!final\n  - channel: https://repo.anaconda.cloud/*\n    auth: anacondad\nalways_yes: true\n",
        );
        let editor = CondarcEditor::new(&path);

        editor
            .remove_channel_settings("https://repo.anaconda.cloud")
            .unwrap();

        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "channels:\n  - defaults\n#!final\nalways_yes: true\n"
        );
        assert!(
            !editor
                .remove_channel_settings("https://repo.anaconda.cloud")
                .unwrap()
                .changed
        );
    }

    #[test]
    fn restore_puts_back_the_default_channels_of_the_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        write(&path, MIRROR_CONDARC);
        let editor = CondarcEditor::new(&path);
        editor.apply(&settings()).unwrap();

        let restored = editor.restore_default_channels_from_backup().unwrap();

        assert!(restored.changed);
        assert!(!restored.backup_written);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("default_channels:  #!final\n  - https://mirror.example.com/main\n  - https://mirror.example.com/r\n"), "{text}");
        assert!(text.contains("auth: anacondad"), "{text}");
        assert_eq!(
            fs::read_to_string(dir.path().join(".condarc.bak")).unwrap(),
            MIRROR_CONDARC
        );
    }

    #[test]
    fn restore_removes_default_channels_when_the_backup_had_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        write(&path, "channels:\n  - defaults\n");
        let editor = CondarcEditor::new(&path);
        editor.apply(&settings()).unwrap();

        editor.restore_default_channels_from_backup().unwrap();

        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("default_channels"), "{text}");
        assert!(
            text.starts_with("channels:\n  - defaults\nchannel_settings:\n"),
            "{text}"
        );
    }

    #[test]
    fn restore_without_a_backup_says_there_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        write(&path, MIRROR_CONDARC);

        let err = CondarcEditor::new(&path)
            .restore_default_channels_from_backup()
            .unwrap_err();

        assert!(matches!(err, CondarcError::NoBackup { .. }), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), MIRROR_CONDARC);
    }

    #[test]
    fn check_reports_each_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        let editor = CondarcEditor::new(&path);

        assert_eq!(
            editor.check(&settings()).unwrap().state,
            CondarcState::NotConfigured
        );

        write(&path, MIRROR_CONDARC);
        let report = editor.check(&settings()).unwrap();
        assert_eq!(report.state, CondarcState::NotConfigured);
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.contains("no entry for https://repo.anaconda.cloud/*"))
        );

        editor.apply(&settings()).unwrap();
        let report = editor.check(&settings()).unwrap();
        assert_eq!(
            (report.state, report.findings.len()),
            (CondarcState::Configured, 0)
        );

        let configured = fs::read_to_string(&path).unwrap();
        write(
            &path,
            &configured.replace("auth: anacondad", "auth: anaconda-auth"),
        );
        let report = editor.check(&settings()).unwrap();
        assert_eq!(report.state, CondarcState::Drifted);
        assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
        assert!(report.findings[0].contains("uses auth `anaconda-auth`"));

        write(&path, "channels: [defaults\n");
        let report = editor.check(&settings()).unwrap();
        assert_eq!(report.state, CondarcState::Malformed);
        assert!(
            report.findings[0].contains("line "),
            "{:?}",
            report.findings
        );
    }

    #[test]
    fn plan_reads_the_file_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        write(&path, MIRROR_CONDARC);

        let plan = CondarcEditor::new(&path).plan(&settings()).unwrap();

        assert!(plan.changed);
        assert_eq!(plan.changes.len(), 2, "{:?}", plan.changes);
        assert!(
            plan.diff
                .contains("+  - https://repo.anaconda.cloud/repo/msys2"),
            "{}",
            plan.diff
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), MIRROR_CONDARC);
        assert!(!dir.path().join(".condarc.bak").exists());
    }

    #[test]
    fn concurrent_applies_leave_one_valid_configured_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        write(&path, MIRROR_CONDARC);
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || CondarcEditor::new(path).apply(&settings()).unwrap())
            })
            .collect();
        let changed = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|a| a.changed)
            .count();

        assert_eq!(
            changed, 1,
            "exactly one apply writes; the others see it done"
        );
        assert_eq!(
            CondarcEditor::new(&path).check(&settings()).unwrap().state,
            CondarcState::Configured
        );
        assert_eq!(
            fs::read_to_string(dir.path().join(".condarc.bak")).unwrap(),
            MIRROR_CONDARC
        );
    }

    #[test]
    fn invalid_repo_url_is_refused_with_an_example() {
        for url in [
            "repo.anaconda.cloud/repo",
            "ftp://h/repo/",
            "https://u:p@h/repo/",
            "https://h/repo/?x=1",
        ] {
            let err = CondarcSettings::new(url).channel_pattern().unwrap_err();
            assert!(
                matches!(err, CondarcError::InvalidRepoUrl { .. }),
                "{url}: {err}"
            );
            assert!(
                err.to_string()
                    .contains("https://repo.anaconda.cloud/repo/"),
                "{err}"
            );
        }
        assert_eq!(
            CondarcSettings::new("https://h.example:8443/repo")
                .channel_pattern()
                .unwrap(),
            "https://h.example:8443/*"
        );
        assert_eq!(
            CondarcSettings::new("https://h.example:8443/repo")
                .default_channels()
                .unwrap()[2],
            "https://h.example:8443/repo/msys2"
        );
    }

    #[test]
    fn errors_name_the_file_line_and_column_and_the_command_to_run_next() {
        let path = Path::new("/home/u/.condarc");
        let err = plan_for_path(
            path,
            Some("channels:\n  - defaults\n   bad: [\n"),
            &settings(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/home/u/.condarc is not valid YAML at line 3, column 7 (mapping values are not allowed in this context): \
             fix the YAML at line 3, column 7 of /home/u/.condarc, then run `anacondactl condarc apply`"
        );
    }

    #[test]
    fn a_duplicate_top_level_key_is_refused_at_its_second_occurrence() {
        let text = "default_channels:\n  - a\nchannels: []\ndefault_channels: []\n";
        let err = plan(Some(text), &settings()).unwrap_err();
        let CondarcError::Malformed { line, column, .. } = err else {
            panic!("expected Malformed, got {err}");
        };
        assert_eq!((line, column), (4, 1));
    }

    #[test]
    fn check_points_out_a_later_entry_that_overrides_ours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".condarc");
        let editor = CondarcEditor::new(&path);
        editor.apply(&settings()).unwrap();
        let configured = fs::read_to_string(&path).unwrap();
        write(
            &path,
            &configured.replace(
                "    auth: anacondad\n",
                "    auth: anacondad\n  - channel: https://repo.anaconda.cloud/repo/main*\n    auth: anaconda-auth\n",
            ),
        );

        let report = editor.check(&settings()).unwrap();

        assert_eq!(report.state, CondarcState::Configured);
        assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
        assert!(report.findings[0].contains("https://repo.anaconda.cloud/repo/main* overrides"));
    }
}
