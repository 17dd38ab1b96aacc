#!/usr/bin/env bash
# Builds `ana`, Anaconda's official CLI, from its vendored source
# (../shared/vendor/anaconda-cli-*.tar.gz, or ANACONDAD_ANA_SOURCE) for the tests that run it
# beside the daemon, and prints the binary's path. The build lives outside the clone, under
# ${XDG_CACHE_HOME:-~/.cache}/anacondad-tests/ana/<sha256 of the tarball>/, so it survives a
# fresh clone and a `cargo clean` and is redone only when the tarball changes: cold, a few
# minutes (a debug build of its dependencies); warm, a hash of the tarball and a file check.
# Without a tarball it prints nothing and exits 0 (the ana tests then fail unless
# ANACONDAD_SKIP_ANA=1).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source=${ANACONDAD_ANA_SOURCE:-}
if [ -z "$source" ]; then
  for candidate in "$root"/../shared/vendor/anaconda-cli-*.tar.gz /work/shared/vendor/anaconda-cli-*.tar.gz; do
    [ -f "$candidate" ] && source=$candidate && break
  done
fi
if [ -z "$source" ]; then
  echo "build-ana: no anaconda-cli source tarball (set ANACONDAD_ANA_SOURCE)" >&2
  exit 0
fi
hash=$(sha256sum "$source" | cut -c1-16)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/anacondad-tests/ana/$hash
bin=$cache/target/debug/ana
if [ ! -x "$bin" ]; then
  mkdir -p "$cache/src"
  tar -xzf "$source" -C "$cache/src" --strip-components=1
  # Its version comes from git, which the tarball lacks: the name says it (0.2.4-17-g...).
  version=$(basename "$source" .tar.gz)
  version=${version#anaconda-cli-}
  version=${version%%-*}
  # No debug info and no incremental state: the tests only run it, and that halves the
  # build's size on disk.
  (cd "$cache/src" && PKG_VERSION=$version CARGO_TARGET_DIR=$cache/target \
    CARGO_PROFILE_DEV_DEBUG=0 CARGO_INCREMENTAL=0 cargo build --locked --quiet) >&2
  # Only the binary is needed again.
  find "$cache/target/debug" -mindepth 1 -maxdepth 1 ! -name ana -exec rm -rf {} +
  rm -rf "$cache/src"
fi
echo "$bin"
