//! [`CondaView`]: the condas a user runs and conda's effective configuration, as far as our
//! settings go, for `condarc check`, `status` and `token install`'s plan. Computed from
//! [`crate::conda_rules`] with the caller's environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::conda_rules::Platform;
use crate::conda_rules::effective::{
    self, ChannelSetting, CondaSource, EffectiveConfig, SearchPathInput,
};
use crate::conda_rules::installs::{CondaInstall, FoundBy, InstallSearch, find_installations};
use crate::condarc_text::{ANACONDAD_AUTH_HANDLER, CondarcSettings};

/// The handler name anaconda-auth's conda plugin registers.
pub const ANACONDA_AUTH_HANDLER: &str = "anaconda-auth";

/// Where to look: the environment conda runs with and the home.
#[derive(Debug, Clone)]
pub struct ViewInput {
    pub env: BTreeMap<String, String>,
    pub home: PathBuf,
    pub platform: Platform,
    /// Replaces the machine-wide install locations and conda's system directories when set
    /// (tests).
    pub system: Option<Vec<PathBuf>>,
}

/// A `channel_settings` entry conda uses instead of ours for one of our URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowing {
    /// The first of our URLs it takes.
    pub url: String,
    pub channel: String,
    pub auth: Option<String>,
    pub source: CondaSource,
    /// Our entry's glob and where it is (none when our entry is not in effect at all).
    pub ours: String,
    pub ours_source: Option<CondaSource>,
    /// The handler our entry names.
    pub ours_auth: String,
    /// True when flagging our entry `#!bottom` puts it after this one (`condarc apply` then
    /// writes the flag): the entry is in a file conda reads before ours.
    pub fixed_by_flag: bool,
}

impl Shadowing {
    /// One line that says which entry wins, where it is, and what to do.
    pub fn finding(&self) -> String {
        let auth = match &self.auth {
            Some(a) => format!("auth `{a}`"),
            None => "no auth".to_owned(),
        };
        let ours_at = match &self.ours_source {
            Some(s) => format!(" in {s}"),
            None => String::new(),
        };
        let fix = if self.fixed_by_flag {
            "`anacondactl condarc apply` flags ours `#!bottom`, which puts it last".to_owned()
        } else {
            format!("remove that entry, or set its auth to `{}`", self.ours_auth)
        };
        format!(
            "shadowed entry: for {} conda uses the channel_settings entry for {} ({auth}) in {} \
             instead of ours for {}{ours_at} (conda uses the last matching entry, and entries \
             of lower-precedence files come last); {fix}",
            self.url, self.channel, self.source, self.ours,
        )
    }
}

/// An entry of a file conda reads before ours that matches our URLs, put before ours only
/// because ours is flagged `#!bottom` (anaconda-auth's conda package's drop-in, typically).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outranked {
    pub channel: String,
    pub auth: Option<String>,
    pub source: CondaSource,
}

/// A `channel_settings` entry for one of the two handlers whose `credential_type` neither
/// handler knows: every request through it fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCredentialType {
    pub channel: String,
    pub value: String,
    pub source: CondaSource,
}

impl UnknownCredentialType {
    pub fn finding(&self) -> String {
        format!(
            "unknown credential_type: the channel_settings entry for {} in {} has \
             credential_type `{}`, so conda's requests through it fail; write api-key or \
             repo-token there, or remove the key",
            self.channel, self.source, self.value
        )
    }
}

/// conda on this machine, as far as our settings go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondaView {
    pub installations: Vec<CondaInstall>,
    pub defaults_in_effect: bool,
    /// conda's effective `channels`, highest precedence first.
    pub channels: Vec<String>,
    /// conda's effective `default_channels`: what `defaults` in `channels` stands for.
    pub default_channels: Vec<String>,
    pub shadowing: Vec<Shadowing>,
    /// Entries ours wins over only by its `#!bottom` flag.
    pub outranked: Vec<Outranked>,
    /// Entries naming `anacondad` or `anaconda-auth` with a `credential_type` neither knows.
    pub unknown_credential_types: Vec<UnknownCredentialType>,
    /// The files conda reads, lowest precedence first.
    pub files: Vec<PathBuf>,
    pub auth_handler: String,
    /// True when at least one installation can load `auth_handler`.
    pub handler_loadable: bool,
}

impl CondaView {
    /// The view with `target` holding `planned` (a plan), or as the files are (`None`).
    pub fn compute(
        input: &ViewInput,
        settings: &CondarcSettings,
        target: &Path,
        planned: Option<&str>,
    ) -> Self {
        let installations = find_installations(&InstallSearch {
            env: input.env.clone(),
            home: input.home.clone(),
            platform: input.platform,
            system_locations: input.system.clone(),
        });
        // The conda a user runs first decides which installation files are read.
        let conda_root = installations
            .first()
            .map(|i| i.prefix.clone())
            .or_else(|| input.env.get("CONDA_ROOT").map(PathBuf::from))
            .unwrap_or_else(|| input.home.clone());
        let search = SearchPathInput {
            env: input.env.clone(),
            home: input.home.clone(),
            conda_root,
            platform: input.platform,
            system_dirs: input.system.clone(),
        };
        let config = match planned {
            Some(text) => effective::effective_planned(&search, target, text),
            None => effective::effective(&search),
        };
        let handler_loadable = installations
            .iter()
            .any(|i| can_load(i, &settings.auth_handler));
        Self {
            defaults_in_effect: config.defaults_in_effect(),
            channels: config.channels.iter().map(|c| c.value.clone()).collect(),
            default_channels: config
                .default_channels
                .iter()
                .map(|c| c.value.clone())
                .collect(),
            shadowing: shadowing(&config, settings),
            outranked: outranked(&config, settings, target),
            unknown_credential_types: unknown_credential_types(&config),
            files: config.files.clone(),
            auth_handler: settings.auth_handler.clone(),
            handler_loadable,
            installations,
        }
    }

    /// Lines for `condarc check` and `status`: what keeps conda from using our settings.
    pub fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.defaults_in_effect {
            out.push(format!(
                "defaults is not in effect: conda's channels are [{}], so default_channels is \
                 never searched (since conda 25.3 an empty channels no longer means defaults); \
                 `anacondactl condarc apply` adds defaults to channels where that puts it in \
                 effect, else add it by hand to the file that sets channels (a `#!final` there \
                 keeps later files from adding to it)",
                self.channels.join(", ")
            ));
        }
        out.extend(self.entry_findings());
        out
    }

    /// [`CondaView::findings`] about our entry only (a site other than the default one has
    /// nothing to do with `defaults`).
    pub fn entry_findings(&self) -> Vec<String> {
        let mut out: Vec<String> = self.shadowing.iter().map(Shadowing::finding).collect();
        out.extend(
            self.unknown_credential_types
                .iter()
                .map(UnknownCredentialType::finding),
        );
        out.extend(self.plugin_findings());
        out
    }

    /// Which condas can and cannot load the handler, when it matters: always one line per
    /// installation that cannot, and the way out when none can.
    pub fn plugin_findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        // With no conda found there is nothing to check against: the installations' lines
        // say so, and it is not counted against the configuration.
        for install in &self.installations {
            if can_load(install, &self.auth_handler) {
                continue;
            }
            let mut line = format!(
                "missing plugin: the conda at {} cannot load the `{}` auth handler, so it sends \
                 no credential",
                install.prefix.display(),
                self.auth_handler
            );
            if self.auth_handler == ANACONDAD_AUTH_HANDLER {
                line.push_str(&format!(
                    "; install the plugin with `{}`",
                    install.plugin_install_command()
                ));
                if install.anaconda_auth.is_some() {
                    line.push_str(
                        ", or use anaconda-auth's handler, installed there: `anacondactl \
                         condarc apply --auth-handler anaconda-auth`",
                    );
                }
            } else if self.auth_handler == ANACONDA_AUTH_HANDLER {
                line.push_str(&format!(
                    "; install anaconda-auth with `\"{}\" -m pip install anaconda-auth`",
                    install.python.display()
                ));
            }
            out.push(line);
        }
        out
    }
}

/// Whether `install` has a conda plugin registering `handler`.
pub fn can_load(install: &CondaInstall, handler: &str) -> bool {
    match handler {
        ANACONDAD_AUTH_HANDLER => install.has_anacondad_plugin,
        ANACONDA_AUTH_HANDLER => install.anaconda_auth.is_some(),
        _ => false,
    }
}

/// How an installation was found, as shown.
pub fn found_by_label(how: &FoundBy) -> String {
    match how {
        FoundBy::CondaExe => "CONDA_EXE".to_owned(),
        FoundBy::Path => "PATH".to_owned(),
        FoundBy::ActivePrefix => "CONDA_PREFIX".to_owned(),
        FoundBy::Location(path) => path.display().to_string(),
    }
}

/// The URLs our entry is for: the repository and its default channels' repodata.
fn our_urls(settings: &CondarcSettings) -> Vec<String> {
    let mut urls: Vec<String> = settings
        .default_channels()
        .unwrap_or_default()
        .into_iter()
        .map(|c| format!("{}/noarch/repodata.json", c.trim_end_matches('/')))
        .collect();
    urls.push(settings.repo_url.clone());
    urls
}

/// The entries for either handler whose `credential_type` is not `api-key` or `repo-token`
/// (both handlers refuse such an entry's requests).
fn unknown_credential_types(config: &EffectiveConfig) -> Vec<UnknownCredentialType> {
    config
        .channel_settings
        .iter()
        .filter(|s| {
            matches!(
                s.value.auth(),
                Some(ANACONDAD_AUTH_HANDLER | ANACONDA_AUTH_HANDLER)
            )
        })
        .filter_map(|s| {
            let value = s.value.get("credential_type")?;
            value
                .parse::<crate::credential_kind::CredentialKind>()
                .is_err()
                .then(|| UnknownCredentialType {
                    channel: s.value.channel().to_owned(),
                    value: value.to_owned(),
                    source: s.source.clone(),
                })
        })
        .collect()
}

/// The entries conda uses instead of ours, each once with the first URL it takes.
fn shadowing(config: &EffectiveConfig, settings: &CondarcSettings) -> Vec<Shadowing> {
    let Ok(pattern) = settings.channel_pattern() else {
        return Vec::new();
    };
    let is_ours = |s: &ChannelSetting| {
        s.channel() == pattern && s.auth() == Some(settings.auth_handler.as_str())
    };
    let ours_source = config
        .channel_settings
        .iter()
        .rfind(|s| is_ours(&s.value))
        .map(|s| s.source.clone());
    let mut out: Vec<Shadowing> = Vec::new();
    for url in our_urls(settings) {
        let found = config.settings_for(&url, is_ours);
        // The entry conda uses is the last; one naming our handler too does no harm.
        let winner = found
            .shadowing_ours
            .last()
            .copied()
            .filter(|e| e.value.auth() != Some(settings.auth_handler.as_str()));
        if let Some(entry) = winner {
            let known = out
                .iter()
                .any(|s| s.channel == entry.value.channel() && s.source == entry.source);
            if known {
                continue;
            }
            out.push(Shadowing {
                url: url.clone(),
                channel: entry.value.channel().to_owned(),
                auth: entry.value.auth().map(str::to_owned),
                source: entry.source.clone(),
                ours: pattern.clone(),
                ours_source: ours_source.clone(),
                ours_auth: settings.auth_handler.clone(),
                fixed_by_flag: false,
            });
        }
    }
    out
}

/// The entries for our URLs that our entry wins over thanks to its `#!bottom` flag: those
/// of files conda reads before `target` (without the flag they would come after ours).
fn outranked(
    config: &EffectiveConfig,
    settings: &CondarcSettings,
    target: &Path,
) -> Vec<Outranked> {
    let Ok(pattern) = settings.channel_pattern() else {
        return Vec::new();
    };
    let handler = settings.auth_handler.as_str();
    let is_ours = |s: &ChannelSetting| s.channel() == pattern && s.auth() == Some(handler);
    let rank = |source: &CondaSource| match source {
        CondaSource::File(path) => config.files.iter().position(|f| f == path),
        _ => None,
    };
    let Some(ours_rank) = config.files.iter().position(|f| f == target) else {
        return Vec::new();
    };
    let mut out: Vec<Outranked> = Vec::new();
    for url in our_urls(settings) {
        let found = config.settings_for(&url, is_ours);
        if !found.chosen.is_some_and(|c| is_ours(&c.value)) {
            continue;
        }
        for entry in config.entries_for(&url) {
            let earlier_file = rank(&entry.source).is_some_and(|r| r < ours_rank);
            if !earlier_file || entry.value.auth() == Some(handler) {
                continue;
            }
            let seen = out
                .iter()
                .any(|o| o.channel == entry.value.channel() && o.source == entry.source);
            if !seen {
                out.push(Outranked {
                    channel: entry.value.channel().to_owned(),
                    auth: entry.value.auth().map(str::to_owned),
                    source: entry.source.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
