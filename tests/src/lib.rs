//! test support
pub mod emulator;
mod process;

pub use process::{EMULATOR_BIN_ENV, EmulatorProcess, emulator_binary, spawn_emulator};
