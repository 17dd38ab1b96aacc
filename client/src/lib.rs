//! anacondactl: the thin command-line client of anacondad. It holds no secrets and talks to no
//! one but the daemon.

pub mod ci_args;
pub mod cli;
pub mod commands;
pub mod connection;
pub mod exit;
pub mod json;
pub mod launch;
pub mod manpages;
pub mod mask;
pub mod progress;
pub mod prompt;
pub mod render;
pub mod upgrade;

/// `println!` for everything the CLI shows: the text goes through
/// [`render::terminal_safe`] first.
#[macro_export]
macro_rules! outln {
    () => { ::std::println!() };
    ($($arg:tt)*) => {
        ::std::println!("{}", $crate::render::terminal_safe(&::std::format!($($arg)*)))
    };
}

/// `print!` through [`render::terminal_safe`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        ::std::print!("{}", $crate::render::terminal_safe(&::std::format!($($arg)*)))
    };
}

/// `eprintln!` through [`render::terminal_safe`].
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        ::std::eprintln!("{}", $crate::render::terminal_safe(&::std::format!($($arg)*)))
    };
}
