#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (apt packages, the Python
# virtualenv with the real anaconda-auth and the real conda), builds the binaries and the wheel
# (maturin), builds the .deb from them and checks it installed (dpkg -i, `anacondactl
# --version`, `man anacondactl`, then dpkg -r), runs a bounded fuzz run of each target, runs every test inside a private D-Bus
# session with an unlocked gnome-keyring, then checks the macOS and Windows builds and
# smoke-tests the Windows one under wine. Every step runs; the exit status is the first
# failure's.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tests/scripts/install-deps.sh
ANACONDAD_TEST_VENV=$(tests/scripts/setup-venv.sh)
export ANACONDAD_TEST_VENV
cargo build --workspace --bins --locked
# ana, built from its vendored source once per tarball, cached outside the clone.
ANACONDAD_ANA_BIN=$(tests/scripts/build-ana.sh)
[ -n "$ANACONDAD_ANA_BIN" ] && export ANACONDAD_ANA_BIN
status=0
# The wheel of `pip install anacondad` (maturin; tests/tests/wheel.rs installs it into a fresh
# virtualenv with the real conda). The dev profile: after the build above only its two
# binaries are compiled again, in seconds.
if ANACONDAD_TEST_WHEEL=$(tests/scripts/build-wheel.sh); then
  export ANACONDAD_TEST_WHEEL
else
  status=1
fi
# A bounded run of each fuzz target (fuzz/, nightly); ANACONDAD_SKIP_FUZZ=1 skips it.
tests/scripts/fuzz.sh || status=$?
tests/scripts/deb-install-check.sh target/debug || status=$?
tests/scripts/with-keyring.sh cargo test --workspace --locked --no-fail-fast "$@" || status=$?
# The platforms this machine cannot run natively: macOS and Windows type-checked and linted,
# the Windows build run under wine. ANACONDAD_SKIP_CROSS=1 leaves them out of a quick run.
if [ "${ANACONDAD_SKIP_CROSS:-0}" != 1 ]; then
  tests/scripts/cross-check.sh || status=$?
  tests/scripts/windows-smoke.sh || status=$?
fi
# The wheels of the other platforms (manylinux aarch64, macOS arm64 and x86_64, Windows),
# cross-built in the release profile and checked: only with ANACONDAD_CROSS_WHEELS=1. Their
# cache is keyed by the sources, so any change to the Rust code builds all four again, which
# takes longer than the rest of this script; run it before a release, not on every change.
if [ "${ANACONDAD_CROSS_WHEELS:-0}" = 1 ]; then
  tests/scripts/cross-wheels.sh || status=$?
fi
exit "$status"
