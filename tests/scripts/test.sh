#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (apt packages, the Python
# virtualenv with the real anaconda-auth), builds the binaries, builds the .deb from them and
# checks it installed (dpkg -i, `anacondactl --version`, `man anacondactl`, then dpkg -r), then
# runs every test inside a private D-Bus session with an unlocked gnome-keyring.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tests/scripts/install-deps.sh
ANACONDAD_TEST_VENV=$(tests/scripts/setup-venv.sh)
export ANACONDAD_TEST_VENV
cargo build --workspace --bins --locked
status=0
tests/scripts/deb-install-check.sh target/debug || status=$?
tests/scripts/with-keyring.sh cargo test --workspace --locked --no-fail-fast "$@" || status=$?
exit "$status"
