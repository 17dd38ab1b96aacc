//! The one rule for a Python package index under a site's repository, shared by the daemon
//! (which credential pair the keyring backend answers with) and the CLI (which URL `export
//! --for pip|uv` writes): Anaconda's wheels index takes `__token__` and the API key; a Package
//! Security Manager's PyPI channel takes the token as the username and the literal password
//! `x-auth-token` (its documented form: `https://<token>:x-auth-token@<host>/api/repo/<channel>/simple`).
//!
//! Which repository is a Package Security Manager is not written anywhere a client can read:
//! it is told by its documented layout, a repository at `/api/repo/` (conda's `channel_alias`
//! `https://<host>/api/repo`). That is an assumption; anaconda.com's is `/repo/`.

/// The password a Package Security Manager's PyPI channel takes with the token as username.
pub const PSM_PASSWORD: &str = "x-auth-token";
/// The username Anaconda's wheels index takes with the API key as password.
pub const WHEELS_USERNAME: &str = "__token__";
/// The channel of Anaconda's wheels index under its repository.
pub const WHEELS_CHANNEL: &str = "anaconda-wheels";

/// How an index under a repository takes its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexForm {
    /// Anaconda's wheels index: `__token__` + the API key; the username goes into the URL.
    AnacondaWheels,
    /// A Package Security Manager's PyPI channel: the token as the username, `x-auth-token` as
    /// the password; nothing goes into the URL (the username is the secret).
    PackageSecurityManager,
}

impl IndexForm {
    /// The form of the indexes under `repo_url` (see the module's doc for the rule).
    pub fn of(repo_url: &str) -> Self {
        let path = repo_url.split_once("://").map_or(repo_url, |(_, rest)| {
            rest.split_once('/').map_or("", |(_, p)| p)
        });
        if path.trim_end_matches('/').ends_with("api/repo") {
            Self::PackageSecurityManager
        } else {
            Self::AnacondaWheels
        }
    }

    /// The basic-auth pair (username, password) that carries `token` to such an index.
    pub fn credential(self, token: &str) -> (String, String) {
        match self {
            Self::AnacondaWheels => (WHEELS_USERNAME.to_owned(), token.to_owned()),
            Self::PackageSecurityManager => (token.to_owned(), PSM_PASSWORD.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repository_at_api_repo_is_a_package_security_managers() {
        assert_eq!(
            IndexForm::of("https://psm.example/api/repo/"),
            IndexForm::PackageSecurityManager
        );
        assert_eq!(
            IndexForm::of("http://127.0.0.1:8080/api/repo"),
            IndexForm::PackageSecurityManager
        );
        assert_eq!(
            IndexForm::of("https://repo.anaconda.cloud/repo/"),
            IndexForm::AnacondaWheels
        );
        assert_eq!(
            IndexForm::PackageSecurityManager.credential("t0k"),
            ("t0k".to_owned(), "x-auth-token".to_owned())
        );
        assert_eq!(
            IndexForm::AnacondaWheels.credential("k3y"),
            ("__token__".to_owned(), "k3y".to_owned())
        );
    }
}
