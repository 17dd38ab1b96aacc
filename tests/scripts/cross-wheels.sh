#!/usr/bin/env bash
# Builds the `anacondad` wheel (pyproject.toml at the root) for the platforms this Linux
# machine cannot build natively, with maturin and the release profile, checks each one, and
# prints a table: wheel, size, checks passed, build time.
#
#   tests/scripts/cross-wheels.sh                       # all four
#   tests/scripts/cross-wheels.sh x86_64-pc-windows-gnu # some of them
#
# Targets: x86_64-pc-windows-gnu (mingw-w64), aarch64-apple-darwin and x86_64-apple-darwin
# (zig), aarch64-unknown-linux-gnu (manylinux_2_17, linked by zig). The compiler is Debian's
# (cross-env.sh): rustup here has only the x86_64 Linux standard library, so the standard
# library is built from source for each target (CARGO_UNSTABLE_BUILD_STD, allowed by
# RUSTC_BOOTSTRAP=1).
#
# The checks, per wheel: the platform tag; `anacondad` and `anacondactl` (`.exe` on Windows)
# in the wheel's scripts directory; `file` names the right format and architecture; the
# conda plugin package and the entry points (conda plugin, keyring backend) byte-identical to
# those of this machine's wheel (tests/scripts/build-wheel.sh); the Windows wheel's
# `anacondactl.exe --version` under wine. Nothing of the macOS or aarch64 wheels is run.
# The macOS wheels need a macOS SDK for Apple's frameworks (SDKROOT=.../MacOSX.sdk); without
# one they are reported as not built, and the exit status is 1.
#
# Cache: the wheels and their results live outside the clone, under
# ${XDG_CACHE_HOME:-~/.cache}/anacondad-tests/cross-wheels/<key>/, the key a hash of every
# tracked file the wheel is built from, of this script and of the compiler's version; a
# second run with the same sources only prints the table (ANACONDAD_CROSS_WHEELS_CACHE moves
# it). Cargo's own build directory is target/cross-wheels (nothing under target/debug).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

all_targets=(x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin aarch64-unknown-linux-gnu)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for target in "${targets[@]}"; do
  case " ${all_targets[*]} " in
    *" $target "*) ;;
    *) echo "cross-wheels: unknown target '$target' (known: ${all_targets[*]})" >&2; exit 2 ;;
  esac
done

# What the wheel is built from: the workspace's manifests and lock file, the crates the two
# binaries compile, the plugin, and this script (its flags).
source_files=(Cargo.toml Cargo.lock pyproject.toml README.md daemon client proto
  packaging/wheel packaging/conda-plugin tests/scripts/cross-wheels.sh tests/scripts/cross-env.sh)
compiler=$(/usr/bin/rustc --version 2>/dev/null || echo "no /usr/bin/rustc")
key=$(
  {
    echo "$compiler"
    git ls-files -z --cached --others --exclude-standard -- "${source_files[@]}" |
      xargs -0 sha256sum
  } | sha256sum | cut -c1-16
)
cache_root=${ANACONDAD_CROSS_WHEELS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/anacondad-tests/cross-wheels}
cache=$cache_root/$key

# Targets whose wheel and result are not cached yet.
todo=()
for target in "${targets[@]}"; do
  [ -f "$cache/$target/result" ] || todo+=("$target")
done

if [ ${#todo[@]} -gt 0 ]; then
  # maturin and ziglang in one virtualenv: `--zig` runs `python -m ziglang` of the Python
  # on PATH, and cross-env.sh's zig wrappers use the same one.
  venv=${ANACONDAD_WHEEL_VENV:-${CARGO_TARGET_DIR:-$root/target}/wheel-venv}
  if ! "$venv/bin/maturin" --version >/dev/null 2>&1 || ! "$venv/bin/python" -c 'import ziglang' 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'maturin>=1.16,<2' ziglang >&2
  fi
  export ANACONDAD_CROSS_VENV=${ANACONDAD_CROSS_VENV:-$venv}
  source tests/scripts/cross-env.sh
  # zig for the macOS targets' C parts (x86_64 as well as aarch64; see cross-env.sh).
  sed 's/-target aarch64-macos/-target x86_64-macos/' "$cross_dir/bin/zig-cc-aarch64-macos" \
    >"$cross_dir/bin/zig-cc-x86_64-macos"
  chmod +x "$cross_dir/bin/zig-cc-x86_64-macos"
  export CC_x86_64_apple_darwin=$cross_dir/bin/zig-cc-x86_64-macos
  export AR_x86_64_apple_darwin=$cross_dir/bin/zig-ar

  for target in "${todo[@]}"; do
    out=$cache/$target
    rm -rf "$out"
    mkdir -p "$out"
    zig=(--zig)
    case "$target" in
      aarch64-unknown-linux-gnu) zig+=(--compatibility manylinux_2_17) ;;
      # mingw-w64 links (CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER, cross-env.sh).
      x86_64-pc-windows-gnu) zig=() ;;
    esac
    # The binaries link Apple's frameworks (Security, CoreFoundation, SystemConfiguration),
    # which zig does not ship: the link needs a macOS SDK (SDKROOT, as cargo-zigbuild reads
    # it). Without one the build would fail only at the link, after every crate compiled.
    if [[ "$target" == *-apple-darwin ]] && [ ! -d "${SDKROOT:-/nonexistent}/System/Library/Frameworks" ]; then
      echo "cross-wheels: $target needs a macOS SDK: set SDKROOT to a MacOSX.sdk" >&2
      echo 0 >"$out/seconds"
      printf '%s\t-\tnot built (no macOS SDK: SDKROOT unset)\t0\n' "$target" >"$out/result.failed"
      continue
    fi
    echo "cross-wheels: building $target" >&2
    start=$(date +%s)
    # Debian's cargo and rustc first on PATH, maturin's Python (with ziglang) before them.
    if env PATH="$venv/bin:/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
      CARGO_UNSTABLE_BUILD_STD=std,panic_abort CARGO_TARGET_DIR="$root/target/cross-wheels" \
      "$venv/bin/maturin" build --locked --release --target "$target" "${zig[@]}" \
      --out "$out" >"$out/build.log" 2>&1; then
      echo "$(( $(date +%s) - start ))" >"$out/seconds"
    else
      echo "$(( $(date +%s) - start ))" >"$out/seconds"
      echo "cross-wheels: $target did not build; the end of $out/build.log:" >&2
      tail -25 "$out/build.log" >&2
    fi
  done

  # This machine's wheel: the plugin files and entry points the others must carry too.
  reference=${ANACONDAD_TEST_WHEEL:-}
  [ -f "$reference" ] || reference=$(tests/scripts/build-wheel.sh)
  ref_dir=$(mktemp -d)
  trap 'rm -rf "$ref_dir"' EXIT
  python3 -m zipfile -e "$reference" "$ref_dir"

  # Wine for the Windows wheel's binary (as windows-smoke.sh sets it up).
  run_wine=0
  case " ${todo[*]} " in *" x86_64-pc-windows-gnu "*) run_wine=1 ;; esac
  if [ $run_wine = 1 ] && { ! command -v wine >/dev/null 2>&1 || ! [ -x /usr/lib/wine/wine64 ]; }; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wine64 wine >&2
  fi

  for target in "${todo[@]}"; do
    out=$cache/$target
    wheels=("$out"/anacondad-*.whl)
    passed=()
    failed=()
    check() { # name, then the command that must succeed
      local name=$1
      shift
      if "$@" >>"$out/checks.log" 2>&1; then passed+=("$name"); else failed+=("$name"); fi
    }
    [ -f "$out/result.failed" ] && continue
    if [ ${#wheels[@]} -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
      printf '%s\t-\tnot built (%s)\t%s\n' "$target" "$out/build.log" "$(cat "$out/seconds")" \
        >"$out/result.failed"
      continue
    fi
    wheel=${wheels[0]}
    name=$(basename "$wheel")
    unpacked=$out/unpacked
    rm -rf "$unpacked"
    python3 -m zipfile -e "$wheel" "$unpacked"
    scripts=$(echo "$unpacked"/anacondad-*.data/scripts)
    case "$target" in
      aarch64-unknown-linux-gnu)
        tag='manylinux_2_17_aarch64' ext='' format='ELF 64-bit LSB .*ARM aarch64' ;;
      aarch64-apple-darwin)
        tag='macosx_[0-9_]+_arm64' ext='' format='Mach-O 64-bit .*arm64' ;;
      x86_64-apple-darwin)
        tag='macosx_[0-9_]+_x86_64' ext='' format='Mach-O 64-bit .*x86_64' ;;
      x86_64-pc-windows-gnu)
        tag='win_amd64' ext='.exe' format='PE32\+ executable .*x86-64' ;;
    esac
    : >"$out/checks.log"
    # One of the platform tags (a compressed tag set: manylinux2014_aarch64.manylinux_2_17_aarch64).
    check tag grep -Eq -- "-py3-none-([a-z0-9_]+\.)*($tag)(\.[a-z0-9_]+)*\.whl\$" <<<"$name"
    for bin in anacondad anacondactl; do
      check "$bin$ext" test -s "$scripts/$bin$ext"
      check "file $bin" grep -Eq "$format" <<<"$(file -b "$scripts/$bin$ext" 2>&1)"
    done
    check plugin diff -r "$ref_dir/conda_anacondad" "$unpacked/conda_anacondad"
    check "entry points" diff "$(echo "$ref_dir"/anacondad-*.dist-info/entry_points.txt)" \
      "$(echo "$unpacked"/anacondad-*.dist-info/entry_points.txt)"
    if [ "$target" = x86_64-pc-windows-gnu ]; then
      prefix=$(mktemp -d)
      version=$(sed -n 's/^Version: //p' "$(echo "$unpacked"/anacondad-*.dist-info/METADATA)")
      wine_version() {
        WINEPREFIX=$prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" wineboot -i >/dev/null 2>&1 || true
        # wine 8.0 lacks bcryptprimitives!ProcessPrng, which Rust's standard library needs.
        local system32=$prefix/drive_c/windows/system32
        [ -e "$system32/bcryptprimitives.dll" ] ||
          x86_64-w64-mingw32-gcc -O2 -shared -Wl,--kill-at -o "$system32/bcryptprimitives.dll" \
            tests/scripts/wine/bcryptprimitives.c -ladvapi32
        local said
        said=$(WINEPREFIX=$prefix WINEDEBUG=-all wine "$scripts/anacondactl.exe" --version | tr -d '\r')
        echo "$said"
        [[ "$said" == *"$version"* ]]
      }
      check "wine --version" wine_version
      WINEPREFIX=$prefix wineserver -k 2>/dev/null || true
      rm -rf "$prefix"
    fi
    rm -rf "$unpacked"
    total=$(( ${#passed[@]} + ${#failed[@]} ))
    summary="${#passed[@]}/$total"
    [ ${#failed[@]} -eq 0 ] || summary="$summary (failed: $(IFS=,; echo "${failed[*]}"))"
    line=$(printf '%s\t%s\t%s\t%s' "$name" "$(stat -c %s "$wheel")" "$summary" "$(cat "$out/seconds")")
    if [ ${#failed[@]} -eq 0 ]; then echo "$line" >"$out/result"; else echo "$line" >"$out/result.failed"; fi
  done
fi

status=0
printf '%-62s %10s  %-10s %s\n' wheel size checks "build time"
for target in "${targets[@]}"; do
  out=$cache/$target
  if [ -f "$out/result" ]; then
    IFS=$'\t' read -r name size summary seconds <"$out/result"
  else
    status=1
    name="$target"
    size=-
    summary="FAILED"
    seconds=-
    [ -f "$out/result.failed" ] && IFS=$'\t' read -r name size summary seconds <"$out/result.failed"
    # The failed ones are built again next time.
    rm -f "$out/result.failed"
  fi
  [ "$size" = - ] || size="$(( size / 1024 )) KiB"
  [ "$seconds" = - ] || seconds="${seconds} s"
  printf '%-62s %10s  %-10s %s\n' "$name" "$size" "$summary" "$seconds"
done
echo "cross-wheels: cached in $cache" >&2
exit "$status"
