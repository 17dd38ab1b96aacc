//! conda's view of the machine, computed the way conda computes it: the effective `channels`,
//! `default_channels` and `channel_settings` over every file of its search path
//! ([`effective`]), and the conda installations a user runs, with whether each can load our
//! auth handler ([`installs`]). Pure: the environment, home and file system roots come in as
//! values, nothing here reads `std::env`.

pub mod effective;
pub mod installs;

/// Which family of paths conda uses: its search path and install locations differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Unix,
    Windows,
}

impl Platform {
    /// The platform this daemon was built for.
    pub fn current() -> Self {
        if cfg!(windows) {
            Self::Windows
        } else {
            Self::Unix
        }
    }
}
