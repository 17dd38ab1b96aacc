#!/usr/bin/env bash
# Creates (once) the Python virtualenv the compatibility tests use: the real anaconda-auth
# 0.15.3 from PyPI, plus requests and a build backend (setuptools >= 77 builds wheels without
# the separate `wheel` package) for the conda plugin tests, which install
# packaging/conda-plugin with `pip install --no-build-isolation`. Prints the venv's path.
#
# The real conda goes into the same venv, with our plugin (packaging/conda-plugin) installed
# next to it, and into a second venv, <venv>/no-plugin, without the plugin (conda's
# `--no-plugins` still imports every installed plugin, so a baseline needs its own venv).
# conda is not on PyPI: its source comes from ANACONDAD_CONDA_SOURCE (a .tar.gz or a
# directory), else ../shared/vendor/conda-*.tar.gz next to the repository. Without either the
# venv is made without conda, and the real-conda tests fail unless ANACONDAD_SKIP_REAL_CONDA=1.
# Each step leaves a marker, so a second run costs a few file checks; the plugin is reinstalled
# when its source changes.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${ANACONDAD_TEST_VENV:-$root/target/test-venv}
stamp=$venv/.anacondad-ready-2
pip_flags=(--quiet --disable-pip-version-check)
if [ ! -f "$stamp" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install "${pip_flags[@]}" \
    'anaconda-auth==0.15.3' 'keyring>=24' 'requests>=2.31' 'setuptools>=77' >&2
  touch "$stamp"
fi
# py-rattler (pixi's networking layer) for the export tests, once.
if [ ! -f "$venv/.anacondad-rattler-ready" ]; then
  "$venv/bin/pip" install "${pip_flags[@]}" 'py-rattler==0.28.0' >&2
  touch "$venv/.anacondad-rattler-ready"
fi
# The real pip and uv for the wheels-index tests (their keyring look-ups), once.
if [ ! -f "$venv/.anacondad-pip-uv-ready" ]; then
  "$venv/bin/pip" install "${pip_flags[@]}" --upgrade 'pip>=24.2' 'uv>=0.5' >&2
  touch "$venv/.anacondad-pip-uv-ready"
fi
# What the tests look for, whatever the version of this script that made the venv.
touch "$venv/.anacondad-ready"

# conda's run-time dependencies on PyPI (its pyproject.toml, minus menuinst, which is not on
# PyPI for every Python and serves only menu shortcuts), and its build backend.
conda_deps=(
  archspec "backports.zstd>=1.3.0" "boltons>=23.0.0" charset-normalizer
  "conda-package-handling>=2.2.0" "distro>=1.5.0" "frozendict>=2.4.2" jsonpatch
  "msgpack>=1.1.1" "packaging>=23.0" "platformdirs>=3.10.0" "pluggy>=1.6.0" "pycosat>=0.6.3"
  "requests>=2.28,<3" "ruamel.yaml>=0.11.14,<0.20" "setuptools>=77" "tqdm>=4"
  "truststore>=0.8.0" zstandard hatchling hatch-vcs
)

conda_source=${ANACONDAD_CONDA_SOURCE:-}
if [ -z "$conda_source" ]; then
  for candidate in "$root"/../shared/vendor/conda-*.tar.gz; do
    [ -f "$candidate" ] && conda_source=$candidate
  done
fi

# A copy of $conda_source in the new directory $1 (a build writes conda/_version.py into the
# tree it builds, so it builds a copy).
unpack_conda_source() {
  if [ -d "$conda_source" ]; then
    cp -r "$conda_source" "$1"
  else
    mkdir "$1"
    tar -xzf "$conda_source" -C "$1" --strip-components=1
  fi
}

# The version conda is built as: ANACONDAD_CONDA_VERSION, else the tarball's name says it.
conda_version() {
  local version
  version=$(basename "$conda_source" .tar.gz)
  version=${version#conda-}
  case $version in [0-9]*) ;; *) version=0.0.0 ;; esac
  echo "${ANACONDAD_CONDA_VERSION:-$version}"
}

# Installs conda from $conda_source into the venv $1 (made when missing), once per source.
install_conda() {
  local target=$1 marker=$1/.anacondad-conda-ready
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$conda_source" ]; then
    return
  fi
  [ -x "$target/bin/python" ] || python3 -m venv "$target" >&2
  "$target/bin/pip" install "${pip_flags[@]}" "${conda_deps[@]}" >&2
  local scratch
  scratch=$(mktemp -d)
  unpack_conda_source "$scratch/conda-src"
  SETUPTOOLS_SCM_PRETEND_VERSION=$(conda_version) \
    "$target/bin/pip" install "${pip_flags[@]}" --no-deps --no-build-isolation \
    "$scratch/conda-src" >&2
  rm -rf "$scratch"
  printf '%s' "$conda_source" >"$marker"
}

# A wheelhouse of conda (a wheel built from $conda_source) and its run-time dependencies, with
# requirements.txt naming them, so a test can make a fresh virtualenv with the real conda
# offline in seconds (tests/tests/wheel.rs installs our wheel into one). Once per source.
make_wheelhouse() {
  local house=$1 marker=$1/.anacondad-wheelhouse-ready
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$conda_source" ]; then
    return
  fi
  rm -rf "$house"
  mkdir -p "$house"
  local deps=() dep
  for dep in "${conda_deps[@]}"; do
    case $dep in hatchling | hatch-vcs) ;; *) deps+=("$dep") ;; esac
  done
  printf '%s\n' "${deps[@]}" >"$house/requirements.txt"
  "$venv/no-plugin/bin/pip" wheel "${pip_flags[@]}" -w "$house" -r "$house/requirements.txt" >&2
  local scratch
  scratch=$(mktemp -d)
  unpack_conda_source "$scratch/conda-src"
  SETUPTOOLS_SCM_PRETEND_VERSION=$(conda_version) \
    "$venv/no-plugin/bin/pip" wheel "${pip_flags[@]}" --no-deps --no-build-isolation \
    -w "$house" "$scratch/conda-src" >&2
  rm -rf "$scratch"
  printf '%s' "$conda_source" >"$marker"
}

if [ -n "$conda_source" ]; then
  if [ ! -e "$conda_source" ]; then
    echo "setup-venv: ANACONDAD_CONDA_SOURCE=$conda_source does not exist" >&2
    exit 1
  fi
  install_conda "$venv"
  install_conda "$venv/no-plugin"
  make_wheelhouse "$venv/wheelhouse"
  # Our plugin, from a copy (a build writes into the tree it builds), whenever its source
  # differs from what was installed last.
  plugin_src=$root/packaging/conda-plugin
  plugin_hash=$(cd "$plugin_src" && find . -type f \( -name '*.py' -o -name '*.toml' \) \
    -not -path '*/build/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  if [ "$(cat "$venv/.anacondad-plugin-ready" 2>/dev/null)" != "$plugin_hash" ]; then
    scratch=$(mktemp -d)
    cp -r "$plugin_src" "$scratch/plugin"
    rm -rf "$scratch/plugin/build" "$scratch"/plugin/src/*.egg-info
    "$venv/bin/pip" install "${pip_flags[@]}" --no-deps --no-index --no-build-isolation \
      --force-reinstall "$scratch/plugin" >&2
    rm -rf "$scratch"
    printf '%s' "$plugin_hash" >"$venv/.anacondad-plugin-ready"
  fi
else
  echo "setup-venv: no conda source (set ANACONDAD_CONDA_SOURCE to conda's source tarball" \
    "or directory); the venv has no conda" >&2
fi

echo "$venv"
