#!/usr/bin/env bash
# Type-checks and lints the workspace for the platforms this Linux machine cannot run natively:
# macOS (aarch64-apple-darwin) and Windows (x86_64-pc-windows-gnu). Uses Debian's Rust
# (rustc-web, with its standard library source, built per target with -Zbuild-std), mingw-w64
# for Windows' C parts and zig (from PyPI) for macOS' C parts; installs them when missing.
#
#   tests/scripts/cross-check.sh                 # both targets
#   tests/scripts/cross-check.sh x86_64-pc-windows-gnu
#
# Output goes to target/cross (never the host's target/). The rustup toolchain on PATH is left
# alone: every cross command runs Debian's /usr/bin/cargo and /usr/bin/rustc explicitly.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source tests/scripts/cross-env.sh

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-apple-darwin x86_64-pc-windows-gnu)
for target in "${targets[@]}"; do
  start=$(date +%s)
  echo "cross-check: $target" >&2
  # The libraries and binaries: the test suites run the real binaries on Linux and are
  # Unix-only by design.
  cross_cargo clippy --locked --target "$target" --workspace --lib --bins -- -D warnings
  echo "cross-check: $target clean in $(( $(date +%s) - start )) s" >&2
done
