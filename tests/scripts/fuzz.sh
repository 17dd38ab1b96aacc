#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a bounded time (default 25 s each; FUZZ_SECONDS=N to
# change it, e.g. FUZZ_SECONDS=1800 for a long run), on the nightly toolchain through
# cargo-fuzz (installed from crates.io when missing). Exits non-zero on the first crash; the
# input that crashed is in fuzz/artifacts/<target>/. ANACONDAD_SKIP_FUZZ=1 skips it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${ANACONDAD_SKIP_FUZZ:-}" = 1 ]; then
  echo "fuzz: skipped (ANACONDAD_SKIP_FUZZ=1)" >&2
  exit 0
fi
seconds=${FUZZ_SECONDS:-25}
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal >&2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked >&2
fi
cd "$root/fuzz"
# No sanitizer: the project has no unsafe code (workspace lint), and the build is much faster.
cargo +nightly fuzz build -s none >&2
for target in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$target"
  echo "fuzz: $target for ${seconds}s" >&2
  cargo +nightly fuzz run -s none "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 >&2
done
echo "fuzz: every target ran ${seconds}s without a crash" >&2
