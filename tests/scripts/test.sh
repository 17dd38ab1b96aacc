#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (apt packages, the Python
# virtualenv with the real anaconda-auth), builds the binaries, then runs every test inside a
# private D-Bus session with an unlocked gnome-keyring.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tests/scripts/install-deps.sh
ANACONDAD_TEST_VENV=$(tests/scripts/setup-venv.sh)
export ANACONDAD_TEST_VENV
cargo build --workspace --bins --locked
exec tests/scripts/with-keyring.sh cargo test --workspace --locked --no-fail-fast "$@"
