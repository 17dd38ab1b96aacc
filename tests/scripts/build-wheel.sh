#!/usr/bin/env bash
# Builds the `anacondad` wheel (pyproject.toml at the root: both binaries and the conda plugin)
# with maturin, from a virtualenv of its own ($CARGO_TARGET_DIR or target/, wheel-venv: maturin,
# and ziglang for the wheels of other platforms). Prints the wheel's path.
#
#   tests/scripts/build-wheel.sh             # the tests' wheel: the dev profile, this machine
#   tests/scripts/build-wheel.sh --release   # the wheel to publish (the release profile)
#
# The tests' wheel reuses the workspace's debug build (`cargo build --workspace --bins`): only
# the two binaries are compiled again, in seconds. It is tagged with the glibc this machine's
# binaries need (manylinux_2_34 on Debian 12). Output: <target dir>/wheels/<profile>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
target_dir=${CARGO_TARGET_DIR:-$root/target}
venv=${ANACONDAD_WHEEL_VENV:-$target_dir/wheel-venv}
profile=dev
case "${1:-}" in
  "") ;;
  --release) profile=release ;;
  *) echo "build-wheel.sh: unknown argument '$1'; see the comment at its top" >&2; exit 2 ;;
esac

if ! "$venv/bin/maturin" --version >/dev/null 2>&1; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'maturin>=1.16,<2' ziglang >&2
fi

out=$target_dir/wheels/$profile
rm -rf "$out"
"$venv/bin/maturin" build --locked --quiet --profile "$profile" --out "$out" >&2
wheels=("$out"/anacondad-*.whl)
if [ ${#wheels[@]} -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
  echo "build-wheel.sh: expected one wheel in $out, found: ${wheels[*]}" >&2
  exit 1
fi
echo "${wheels[0]}"
