//! Our file's daemon-wide keys under `ANACONDAD_<KEY>`: values, defaults and errors.

use super::*;

fn env(pairs: &[(&str, &str)]) -> EnvSnapshot {
    pairs.iter().copied().collect()
}

#[test]
fn file_settings_are_overridden_by_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, "storage = \"system\"\nkeychain_timeout_secs = 9\n").unwrap();
    let s = Settings::load(&file, &env(&[])).unwrap();
    assert_eq!(s.storage, StorageMode::System);
    assert_eq!(s.keychain_timeout_secs, 9);
    let s = Settings::load(
        &file,
        &env(&[("ANACONDAD_STORAGE", "file"), ("ANACONDAD_SSL_VERIFY", "0")]),
    )
    .unwrap();
    assert_eq!(s.storage, StorageMode::File);
    assert_eq!(s.ssl_verify, Some(false));
}

#[test]
fn exports_are_off_by_default_and_listed_in_the_file_or_the_environment() {
    use crate::export::ExportTarget;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    assert!(Settings::load(&file, &env(&[])).unwrap().export.is_empty());
    std::fs::write(&file, "export = [\"rattler\"]\n").unwrap();
    let s = Settings::load(&file, &env(&[])).unwrap();
    assert_eq!(s.export, vec![ExportTarget::Rattler]);
    let s = Settings::load(&file, &env(&[("ANACONDAD_EXPORT", "mamba, rattler")])).unwrap();
    assert_eq!(s.export, vec![ExportTarget::Mamba, ExportTarget::Rattler]);
    std::fs::write(&file, "export = [\"conda\"]\n").unwrap();
    let err = Settings::load(&file, &env(&[])).unwrap_err().to_string();
    assert!(err.contains("conda") && err.contains("rattler"), "{err}");
}

#[test]
fn the_repo_token_goes_first_unless_the_file_or_the_environment_prefers_the_api_key() {
    use crate::credential_kind::CredentialKind;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    let s = Settings::load(&file, &env(&[])).unwrap();
    assert_eq!(s.credential_preference, CredentialKind::RepoToken);
    std::fs::write(&file, "credential_preference = \"api-key\"\n").unwrap();
    let s = Settings::load(&file, &env(&[])).unwrap();
    assert_eq!(s.credential_preference, CredentialKind::ApiKey);
    let vars = env(&[("ANACONDAD_CREDENTIAL_PREFERENCE", "repo-token")]);
    let s = Settings::load(&file, &vars).unwrap();
    assert_eq!(s.credential_preference, CredentialKind::RepoToken);
    std::fs::write(&file, "credential_preference = \"token\"\n").unwrap();
    let err = Settings::load(&file, &env(&[])).unwrap_err().to_string();
    assert!(
        err.contains("config.toml") && err.contains("`token`") && err.contains("api-key"),
        "{err}"
    );
}

#[test]
fn a_missing_file_means_defaults() {
    let s = Settings::load(Path::new("/nonexistent/config.toml"), &env(&[])).unwrap();
    assert_eq!(s.storage, StorageMode::Auto);
    assert_eq!(s.auth_handler, "anacondad");
}

#[test]
fn unknown_keys_and_bad_values_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, "storag = \"system\"\n").unwrap();
    let err = Settings::load(&file, &env(&[])).unwrap_err().to_string();
    assert!(
        err.contains("config.toml") && err.contains("storag"),
        "{err}"
    );
    std::fs::write(&file, "storage = \"vault\"\n").unwrap();
    let err = Settings::load(&file, &env(&[])).unwrap_err().to_string();
    assert!(err.contains("vault"), "{err}");
}

impl Settings {
    /// Our `config.toml` at `path` (a missing file means defaults) under the `ANACONDAD_<KEY>`
    /// variables of `env`.
    pub fn load(path: &Path, env: &EnvSnapshot) -> Result<Self, ConfigError> {
        let ours = our_file::read(path)?;
        let folded = Layer::fold([&ours.top, &variables::ours(env)?]);
        Ok(Self::from_keys(&folded.settings, &folded.site))
    }
}
