//! Where a headless job's API key is found without the `ANACONDA_AUTH_API_KEY` variable, as
//! anaconda-auth finds it (pydantic-settings' secrets directory): a file named
//! `ANACONDA_AUTH_API_KEY` (any case) in `ANACONDA_SECRETS_DIR`, by default `/run/secrets`,
//! where docker (`--secret`, compose `secrets:`) and Kubernetes mount secrets. The variable
//! wins over the file, as in anaconda-auth.

use std::path::{Path, PathBuf};

use super::EnvSnapshot;
use super::layer::Layer;
use super::origin::{Source, Sourced};
use crate::secret::Secret;

/// The variable, and the name of the file in the secrets directory.
const API_KEY_NAME: &str = "ANACONDA_AUTH_API_KEY";
/// pydantic-settings' default secrets directory in anaconda-auth.
const DEFAULT_SECRETS_DIR: &str = "/run/secrets";

/// The secrets directory's API key as a layer, below the existing client's variables (its
/// `ANACONDA_AUTH_API_KEY` wins over the file, as in anaconda-auth).
pub fn layer(env: &EnvSnapshot) -> Layer {
    let mut layer = Layer::default();
    layer.site.api_key = api_key_from_secrets_dir(env);
    layer
}

/// The API key in the secrets directory, with the file it came from; `None` when there is no
/// such file, or it is empty, or not a regular file.
pub fn api_key_from_secrets_dir(env: &EnvSnapshot) -> Option<Sourced<Secret>> {
    let dir = env
        .path("ANACONDA_SECRETS_DIR")
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SECRETS_DIR));
    let file = secret_file(&dir)?;
    match crate::fsutil::read_regular_text(&file) {
        Ok(Some(text)) if !text.trim().is_empty() => Some(Sourced::new(
            Secret::new(text.trim()),
            Source::SecretFile(file),
        )),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(path = %file.display(), error = %e, "the API key's secret file is unreadable");
            None
        }
    }
}

/// `dir/ANACONDA_AUTH_API_KEY`, else an entry of `dir` of that name in another case.
fn secret_file(dir: &Path) -> Option<PathBuf> {
    let exact = dir.join(API_KEY_NAME);
    if exact.is_file() {
        return Some(exact);
    }
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .eq_ignore_ascii_case(API_KEY_NAME)
        })
        .map(|e| e.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with_dir(dir: &Path) -> EnvSnapshot {
        [("ANACONDA_SECRETS_DIR", dir.display().to_string())]
            .into_iter()
            .collect()
    }

    #[test]
    fn the_key_is_read_from_its_file_in_the_secrets_dir_and_said_to_come_from_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("anaconda_auth_api_key"), "key-from-file\n").unwrap();
        let found = api_key_from_secrets_dir(&env_with_dir(dir.path())).expect("found");
        assert_eq!(found.value.expose(), "key-from-file");
        assert_eq!(
            found.source,
            Source::SecretFile(dir.path().join("anaconda_auth_api_key"))
        );
    }

    #[test]
    fn an_empty_file_or_none_is_no_key() {
        let dir = tempfile::tempdir().unwrap();
        assert!(api_key_from_secrets_dir(&env_with_dir(dir.path())).is_none());
        std::fs::write(dir.path().join(API_KEY_NAME), " \n").unwrap();
        assert!(api_key_from_secrets_dir(&env_with_dir(dir.path())).is_none());
    }
}
