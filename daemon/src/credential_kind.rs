//! [`CredentialKind`]: the two credentials a repository takes, as conda's `credential_type`,
//! anaconda-auth and our `credential_preference` name them. A leaf: the configuration, the
//! `.condarc` editor and the answers all speak it.

/// Which credential answers a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    RepoToken,
    ApiKey,
}

impl CredentialKind {
    /// The name anaconda-auth's `credential_type` and our `credential_preference` use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RepoToken => "repo-token",
            Self::ApiKey => "api-key",
        }
    }
}

impl std::str::FromStr for CredentialKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "repo-token" => Ok(Self::RepoToken),
            "api-key" => Ok(Self::ApiKey),
            other => Err(format!(
                "`{other}` is not a credential type: use repo-token or api-key"
            )),
        }
    }
}
