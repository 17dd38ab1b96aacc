//! [`Layer`]: what one source says, every key optional and each value with where it came from;
//! and the one rule that folds them ([`Layer::overlay`], ripgrep's: a later layer's value
//! replaces an earlier one's, and brings its source along, so `config show` reads each value's
//! origin off the folded layer).
//!
//! The layers, lowest first (`DaemonConfig::resolve` lists them in this order):
//! the defaults; (the implicit site only) the last login; anaconda-auth's `[plugin.auth]`; our
//! `config.toml`'s top level; anaconda-auth's and then our `[sites.<name>]` (`sites.rs`);
//! `ANACONDAD_<KEY>`; the existing client's variables; the daemon's flags.
//!
//! A new source is one more layer: a [`Source`](super::origin::Source) variant that names it
//! (what `config show` prints), a reader that returns a `Layer` whose values carry it, and its
//! place in `resolve`'s lists: among `variables` for a source of variables (a secrets directory,
//! a `.env` file: its site keys then reach the sites as the variables' do, its other keys fold
//! with the rest), nothing else changes.

use std::path::PathBuf;

use super::origin::{Sourced, overlay};
use super::settings::SettingKeys;
use super::site_keys::SiteKeys;

/// Where the files the daemon reads are: located before they are read.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    /// The socket served.
    pub socket: Option<Sourced<PathBuf>>,
    /// Our `config.toml`.
    pub config_file: Option<Sourced<PathBuf>>,
    /// anaconda-auth's `config.toml`.
    pub anaconda_auth_config: Option<Sourced<PathBuf>>,
    /// anaconda-auth's keyring file.
    pub anaconda_keyring: Option<Sourced<PathBuf>>,
}

/// What one source says; `None` anywhere says nothing.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    /// The daemon-wide keys.
    pub settings: SettingKeys,
    /// A site's keys said at the top level (of a file, of the environment); `sites.rs` says
    /// which sites each source's keys reach.
    pub site: SiteKeys,
    /// The site served when a request names none (a name or a domain).
    pub default_site: Option<Sourced<String>>,
    pub locations: Locations,
}

impl Layer {
    /// Every value `above` says replaces ours.
    pub fn overlay(&mut self, above: &Layer) {
        self.settings.overlay(&above.settings);
        self.site.overlay(&above.site);
        overlay(&mut self.default_site, &above.default_site);
        let (mine, theirs) = (&mut self.locations, &above.locations);
        overlay(&mut mine.socket, &theirs.socket);
        overlay(&mut mine.config_file, &theirs.config_file);
        overlay(&mut mine.anaconda_auth_config, &theirs.anaconda_auth_config);
        overlay(&mut mine.anaconda_keyring, &theirs.anaconda_keyring);
    }

    /// `layers` folded, lowest first.
    pub fn fold<'a>(layers: impl IntoIterator<Item = &'a Layer>) -> Layer {
        let mut folded = Layer::default();
        for layer in layers {
            folded.overlay(layer);
        }
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::super::origin::Source;
    use super::*;
    use proptest::prelude::*;

    fn source(i: usize) -> Source {
        Source::Env(format!("LAYER_{i}"))
    }

    proptest! {
        /// Whatever the layers say, each key's folded value is the highest layer's that says it,
        /// and its origin is that layer.
        #[test]
        fn the_highest_layer_that_says_a_key_wins_and_is_its_origin(
            said in proptest::collection::vec(
                (proptest::option::of(any::<u16>()), proptest::option::of("[a-z]{1,8}")),
                0..8,
            )
        ) {
            let layers: Vec<Layer> = said
                .iter()
                .enumerate()
                .map(|(i, (port, site))| {
                    let mut layer = Layer::default();
                    layer.settings.browser_login_port = port.map(|p| Sourced::new(p, source(i)));
                    layer.default_site = site.clone().map(|s| Sourced::new(s, source(i)));
                    layer
                })
                .collect();
            let folded = Layer::fold(&layers);
            let top_port = said.iter().enumerate().rev().find_map(|(i, (p, _))| p.map(|p| (p, i)));
            let got_port = folded.settings.browser_login_port.map(|s| (s.value, s.source));
            prop_assert_eq!(got_port, top_port.map(|(p, i)| (p, source(i))));
            let top_site = said
                .iter()
                .enumerate()
                .rev()
                .find_map(|(i, (_, s))| s.clone().map(|s| (s, i)));
            let got_site = folded.default_site.map(|s| (s.value, s.source));
            prop_assert_eq!(got_site, top_site.map(|(s, i)| (s, source(i))));
        }
    }
}
