//! Support for the end-to-end tests: temporary homes, the real binaries, and the emulator of
//! the Anaconda service.

pub mod conda;
pub mod emulator;
pub mod harness;
pub mod in_process;
mod process;

pub use process::{EMULATOR_BIN_ENV, EmulatorProcess, emulator_binary, spawn_emulator};
