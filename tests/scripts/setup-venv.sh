#!/usr/bin/env bash
# Creates (once) the Python virtualenv the compatibility tests use: the real anaconda-auth
# 0.15.3 from PyPI, plus requests and a build backend (setuptools >= 77 builds wheels without
# the separate `wheel` package) for the conda plugin tests, which install
# packaging/conda-plugin with `pip install --no-build-isolation`. Prints the venv's path.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${ANACONDAD_TEST_VENV:-$root/target/test-venv}
stamp=$venv/.anacondad-ready-2
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'anaconda-auth==0.15.3' 'keyring>=24' 'requests>=2.31' 'setuptools>=77' >&2
  touch "$stamp"
fi
# What the tests look for, whatever the version of this script that made the venv.
touch "$venv/.anacondad-ready"

echo "$venv"
