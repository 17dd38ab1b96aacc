//! anacondactl
