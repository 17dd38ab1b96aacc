//! Support for the end-to-end tests: temporary homes, the real binaries, and the emulator of
//! the Anaconda service.

pub mod harness;
