#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (apt packages, the Python
# virtualenv with the real anaconda-auth), builds the binaries, checks the macOS and Windows
# builds and smoke-tests the Windows one under wine, then runs every test inside a private
# D-Bus session with an unlocked gnome-keyring.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tests/scripts/install-deps.sh
ANACONDAD_TEST_VENV=$(tests/scripts/setup-venv.sh)
export ANACONDAD_TEST_VENV
cargo build --workspace --bins --locked
# The platforms this machine cannot run natively: macOS and Windows type-checked and linted,
# the Windows build run under wine. ANACONDAD_SKIP_CROSS=1 leaves them out of a quick run.
if [ "${ANACONDAD_SKIP_CROSS:-0}" != 1 ]; then
  tests/scripts/cross-check.sh
  tests/scripts/windows-smoke.sh
fi
exec tests/scripts/with-keyring.sh cargo test --workspace --locked --no-fail-fast "$@"
