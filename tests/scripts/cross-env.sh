# Sourced by cross-check.sh and windows-smoke.sh: installs (when missing) and sets up the cross
# toolchain, and defines `cross_cargo`, Debian's cargo for a foreign target.
#
# - Debian's rustc-web/cargo-web/rust-web-src/rust-web-clippy (1.96, bookworm-security) build
#   the standard library for any target (-Zbuild-std, allowed by RUSTC_BOOTSTRAP=1), so no
#   prebuilt foreign standard library has to be downloaded.
# - gcc-mingw-w64-x86-64 compiles C (ring) and links for x86_64-pc-windows-gnu.
# - zig (PyPI `ziglang`, in its own virtualenv) compiles C for aarch64-apple-darwin, through a
#   wrapper that drops the Apple-clang flags cc-rs adds and zig does not take.
root=${root:?}
cross_dir=$root/target/cross
cross_venv=${ANACONDAD_CROSS_VENV:-$root/target/cross-venv}

cross_missing=()
for pair in /usr/bin/cargo:cargo-web /usr/bin/rustc:rustc-web /usr/bin/cargo-clippy:rust-web-clippy \
  /usr/bin/x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64; do
  [ -x "${pair%%:*}" ] || cross_missing+=("${pair#*:}")
done
# The standard library's source, which -Zbuild-std compiles.
[ -d /usr/lib/rustlib/src/rust/library ] || cross_missing+=(rust-web-src)
if [ ${#cross_missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${cross_missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${cross_missing[@]}" >&2
fi

mkdir -p "$cross_dir/bin"
if ! "$cross_venv/bin/python" -c 'import ziglang' 2>/dev/null; then
  python3 -m venv "$cross_venv" >&2
  "$cross_venv/bin/pip" install --quiet --disable-pip-version-check ziglang >&2
fi
# cc-rs calls the C compiler as Apple clang: `-arch arm64`, `-mmacosx-version-min=V` and
# `--target=T` mean nothing to zig, which gets the target from its own -target.
cat >"$cross_dir/bin/zig-cc-aarch64-macos" <<EOF
#!/usr/bin/env bash
args=()
skip=0
for a in "\$@"; do
  if [ \$skip = 1 ]; then skip=0; continue; fi
  case "\$a" in
    -arch) skip=1 ;;
    -mmacosx-version-min=*|--target=*) ;;
    *) args+=("\$a") ;;
  esac
done
exec "$cross_venv/bin/python" -m ziglang cc -target aarch64-macos "\${args[@]}"
EOF
cat >"$cross_dir/bin/zig-ar" <<EOF
#!/usr/bin/env bash
exec "$cross_venv/bin/python" -m ziglang ar "\$@"
EOF
chmod +x "$cross_dir/bin/zig-cc-aarch64-macos" "$cross_dir/bin/zig-ar"

export CC_aarch64_apple_darwin=$cross_dir/bin/zig-cc-aarch64-macos
export AR_aarch64_apple_darwin=$cross_dir/bin/zig-ar
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc

# Debian's cargo, rustc and clippy first on PATH (cargo finds cargo-clippy and rustc there);
# RUSTC_BOOTSTRAP lets the stable compiler take -Zbuild-std.
cross_cargo() {
  local sub=$1
  shift
  env PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
    CARGO_TARGET_DIR="$cross_dir" \
    /usr/bin/cargo "$sub" -Zbuild-std=std,panic_abort "$@"
}
