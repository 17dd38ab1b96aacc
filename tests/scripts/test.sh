#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (apt packages, the Python
# virtualenv with the real anaconda-auth), builds the binaries, then runs every test inside a
# private D-Bus session with an unlocked gnome-keyring; a bounded fuzz run comes first.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tests/scripts/install-deps.sh
ANACONDAD_TEST_VENV=$(tests/scripts/setup-venv.sh)
export ANACONDAD_TEST_VENV
cargo build --workspace --bins --locked
# A bounded run of each fuzz target (fuzz/, nightly); ANACONDAD_SKIP_FUZZ=1 skips it.
tests/scripts/fuzz.sh
exec tests/scripts/with-keyring.sh cargo test --workspace --locked --no-fail-fast "$@"
