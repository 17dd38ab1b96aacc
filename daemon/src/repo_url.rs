//! The one rule from a URL to the repository channel it belongs to: everything that asks
//! "which org is this URL of?" (the credential answer, the watcher, the plugin through the
//! answer's scope) goes through [`RepoUrl::channel_of`].

use url::Url;

/// The channels directly under the repository that make up conda's `defaults`, in the
/// seed workflow's order. Any token of the repository (and the API key) may read them.
pub const DEFAULT_CHANNEL_NAMES: [&str; 3] = ["main", "r", "msys2"];
/// Anaconda's other channels directly under the repository, which users add to
/// `default_channels` themselves (`ana feature enable main-x` adds `main-x`, early-access
/// builds). Like the default channels they belong to no organisation: any token of the
/// repository (and the API key) may read them, and none is missing a token.
pub const ANACONDA_CHANNEL_NAMES: [&str; 1] = ["main-x"];

/// Where under the repository a URL points.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// The repository itself, nothing below it.
    Root,
    /// One of [`DEFAULT_CHANNEL_NAMES`] or [`ANACONDA_CHANNEL_NAMES`].
    Default(String),
    /// `<repo>/<org>/...`: an organisation's channels.
    Org(String),
}

/// A repository base URL, always ending in `/` (e.g. `https://repo.anaconda.cloud/repo/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoUrl(Url);

impl RepoUrl {
    /// Wraps an already checked URL, adding the trailing `/` when missing.
    pub fn new(mut url: Url) -> Self {
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Self(url)
    }

    pub fn url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The channel of `url`, or `None` for a URL outside the repository. A `/t/<token>/` URL
    /// is outside: it carries its own credential.
    pub fn channel_of(&self, url: &Url) -> Option<Channel> {
        if url.origin() != self.0.origin() {
            return None;
        }
        let rest = url.path().strip_prefix(self.0.path())?;
        Some(channel_named(rest.split('/').next().unwrap_or("")))
    }

    /// The channel of a channel URL as written in a `.condarc` (`<repo>/acme/internal`),
    /// which may lack the repository's trailing `/`.
    pub fn channel_of_str(&self, channel: &str) -> Option<Channel> {
        let url = Url::parse(channel.trim()).ok()?;
        self.channel_of(&url)
    }

    /// The URL prefix that every URL of `channel` starts with: what one answer covers. The
    /// root has none (an answer for it covers only that URL).
    pub fn scope(&self, channel: &Channel) -> Option<String> {
        match channel {
            Channel::Root => None,
            Channel::Default(name) | Channel::Org(name) => Some(format!("{}{name}/", self.0)),
        }
    }

    /// The prefix of the one channel `url` is in: `<repo>/<org>/<channel>/` for an org's
    /// channel, else [`RepoUrl::scope`]. What a refusal is scoped to: an account may read some
    /// of an org's channels and not others.
    pub fn channel_scope(&self, url: &Url) -> Option<String> {
        let channel = self.channel_of(url)?;
        let Channel::Org(org) = &channel else {
            return self.scope(&channel);
        };
        let rest = url.path().strip_prefix(self.0.path())?;
        let mut segments = rest.split('/').skip(1);
        match (segments.next(), segments.next()) {
            (Some(name), Some(_)) if !name.is_empty() => Some(format!("{}{org}/{name}/", self.0)),
            _ => self.scope(&channel),
        }
    }

    /// `<repo>/<org>/`, the prefix of an org's channels.
    pub fn org_url(&self, org: &str) -> String {
        format!("{}{org}/", self.0)
    }

    /// `<repo>/main`, `<repo>/r`, `<repo>/msys2`: conda's `default_channels`.
    pub fn default_channels(&self) -> Vec<String> {
        DEFAULT_CHANNEL_NAMES
            .iter()
            .map(|name| format!("{}{name}", self.0))
            .collect()
    }
}

impl std::fmt::Display for RepoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

fn channel_named(segment: &str) -> Channel {
    if segment.is_empty() {
        Channel::Root
    } else if DEFAULT_CHANNEL_NAMES.contains(&segment) || ANACONDA_CHANNEL_NAMES.contains(&segment)
    {
        Channel::Default(segment.to_owned())
    } else {
        Channel::Org(segment.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> RepoUrl {
        RepoUrl::new(Url::parse("https://repo.example/repo").unwrap())
    }

    fn channel(url: &str) -> Option<Channel> {
        repo().channel_of(&Url::parse(url).unwrap())
    }

    #[test]
    fn default_org_and_root_urls_are_told_apart() {
        assert_eq!(
            channel("https://repo.example/repo/main/noarch/repodata.json"),
            Some(Channel::Default("main".into()))
        );
        assert_eq!(
            channel("https://repo.example/repo/acme/internal/linux-64/repodata.json"),
            Some(Channel::Org("acme".into()))
        );
        assert_eq!(channel("https://repo.example/repo/"), Some(Channel::Root));
    }

    #[test]
    fn main_x_is_anacondas_channel_not_an_organisations() {
        assert_eq!(
            channel("https://repo.example/repo/main-x/noarch/repodata.json"),
            Some(Channel::Default("main-x".into()))
        );
        assert_eq!(
            repo().default_channels(),
            [
                "https://repo.example/repo/main",
                "https://repo.example/repo/r",
                "https://repo.example/repo/msys2"
            ],
            "default_channels as anacondad writes it has no main-x"
        );
    }

    #[test]
    fn a_channel_scope_is_one_channel_of_an_org() {
        let scope = |url: &str| repo().channel_scope(&Url::parse(url).unwrap());
        assert_eq!(
            scope("https://repo.example/repo/acme/restricted/noarch/repodata.json").as_deref(),
            Some("https://repo.example/repo/acme/restricted/")
        );
        assert_eq!(
            scope("https://repo.example/repo/acme/restricted").as_deref(),
            Some("https://repo.example/repo/acme/")
        );
        assert_eq!(
            scope("https://repo.example/repo/main/noarch/repodata.json").as_deref(),
            Some("https://repo.example/repo/main/")
        );
        assert_eq!(scope("https://repo.example/repo/"), None);
        assert_eq!(scope("https://other.example/repo/acme/x/"), None);
    }

    #[test]
    fn urls_outside_the_repository_have_no_channel() {
        assert_eq!(channel("https://repo.example:8443/repo/main/"), None);
        assert_eq!(channel("http://repo.example/repo/main/"), None);
        assert_eq!(channel("https://other.example/repo/main/"), None);
        assert_eq!(channel("https://repo.example/t/secret/repo/main/"), None);
        assert_eq!(channel("https://repo.example/repository/main/"), None);
    }

    #[test]
    fn the_scope_of_an_answer_is_its_channels_prefix() {
        let repo = repo();
        assert_eq!(
            repo.scope(&Channel::Org("acme".into())).as_deref(),
            Some("https://repo.example/repo/acme/")
        );
        assert_eq!(repo.scope(&Channel::Root), None);
        assert_eq!(
            repo.default_channels(),
            [
                "https://repo.example/repo/main",
                "https://repo.example/repo/r",
                "https://repo.example/repo/msys2"
            ]
        );
        assert_eq!(
            repo.channel_of_str("https://repo.example/repo/globex/internal"),
            Some(Channel::Org("globex".into()))
        );
    }
}
