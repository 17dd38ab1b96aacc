//! test support
pub mod emulator;
mod process;

pub use process::{EmulatorProcess, spawn_emulator};
