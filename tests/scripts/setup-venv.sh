#!/usr/bin/env bash
# Creates (once) the Python virtualenv the compatibility tests use: the real anaconda-auth
# 0.15.3 from PyPI, plus requests for the conda plugin tests. Prints the venv's path.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${ANACONDAD_TEST_VENV:-$root/target/test-venv}
stamp=$venv/.anacondad-ready-1
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'anaconda-auth==0.15.3' 'keyring>=24' 'requests>=2.31' >&2
  touch "$stamp"
fi
echo "$venv"
