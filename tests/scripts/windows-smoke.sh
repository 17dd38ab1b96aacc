#!/usr/bin/env bash
# End-to-end smoke test of the Windows build under wine: anacondad, anacondactl and
# anaconda-emulator built for x86_64-pc-windows-gnu (linked with mingw-w64), talking over the
# user's named pipe. Login with an API key from stdin, `token install --yes --org acme` with
# file storage, `credential get`, a second daemon refused, `daemon stop`; then the Credential
# Manager store, which is reported as skipped (with the reason) where wine cannot serve it.
#
#   tests/scripts/windows-smoke.sh
#
# Installs wine (Debian `wine64`) and the cross toolchain (see cross-env.sh) when missing.
# Everything runs in a temporary WINEPREFIX and temporary home, removed at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source tests/scripts/cross-env.sh

if ! command -v wine >/dev/null 2>&1 || ! [ -x /usr/lib/wine/wine64 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: wine64 wine" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wine64 wine >&2
fi

target=x86_64-pc-windows-gnu
start=$(date +%s)
# ANACONDAD_WINDOWS_BIN: a directory of already built .exe files, to test those instead.
bin=${ANACONDAD_WINDOWS_BIN:-}
if [ -z "$bin" ]; then
  cross_cargo build --locked --target "$target" -p anacondad -p anacondactl -p anacondad-tests \
    --bin anacondad --bin anacondactl --bin anaconda-emulator
  echo "windows-smoke: Windows build done in $(( $(date +%s) - start )) s" >&2
  bin=$cross_dir/$target/debug
fi

work=$(mktemp -d)
emulator_pid=""
cleanup() {
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null || true
  wineserver -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export WINEPREFIX=$work/wineprefix WINEDEBUG=-all
# No Mono or Gecko installer prompts in a headless prefix.
export WINEDLLOVERRIDES="mscoree,mshtml="
wineboot -i >/dev/null 2>&1 || true
# Rust's standard library needs bcryptprimitives!ProcessPrng, which wine 8.0 does not have.
system32=$WINEPREFIX/drive_c/windows/system32
if [ ! -e "$system32/bcryptprimitives.dll" ]; then
  echo "windows-smoke: this wine has no bcryptprimitives.dll; using tests/scripts/wine's" >&2
  x86_64-w64-mingw32-gcc -O2 -shared -Wl,--kill-at -o "$system32/bcryptprimitives.dll" \
    tests/scripts/wine/bcryptprimitives.c -ladvapi32
fi

fail() {
  echo "windows-smoke: FAILED: $*" >&2
  for log in "${local_app_data:-/nonexistent}"/anacondad/anacondad.log "$work"/daemon2.err; do
    [ -f "$log" ] && { echo "--- $log" >&2; tail -20 "$log" >&2; }
  done
  exit 1
}

winvar() { winepath -u "$(wine cmd /c "echo %$1%" 2>/dev/null | tr -d '\r')" 2>/dev/null; }
home=$(winvar USERPROFILE)
local_app_data=$(winvar LOCALAPPDATA)
[ -d "$home" ] || fail "wine's profile directory '$home' does not exist"
wine "$bin/anaconda-emulator.exe" >"$work/emulator.out" 2>"$work/emulator.err" &
emulator_pid=$!
for _ in $(seq 1 600); do
  [ -s "$work/emulator.out" ] && break
  kill -0 "$emulator_pid" 2>/dev/null || fail "the emulator exited: $(cat "$work/emulator.err")"
  sleep 0.1
done
url=$(head -1 "$work/emulator.out" | tr -d '\r')
case "$url" in http://127.0.0.1:*) ;; *) fail "the emulator printed no URL (got '$url')" ;; esac
echo "windows-smoke: emulator (Windows build) at $url" >&2

# The Windows processes' environment: the emulator as the service, file storage for the first
# round. Wine sets USERPROFILE and LOCALAPPDATA itself (the prefix's C:\users\<user>), which
# the temporary prefix makes a temporary home.
export ANACONDA_AUTH_DOMAIN=$url CONDA_TOKEN_REPO_URL=$url/repo/ ANACONDAD_STORAGE=file
unset XDG_CONFIG_HOME XDG_STATE_HOME XDG_RUNTIME_DIR ANACONDAD_SOCKET
ctl() { wine "$bin/anacondactl.exe" "$@" 2>>"$work/ctl.err" | tr -d '\r'; }

key=$(curl -sf -X POST -H 'content-type: application/json' -d '{}' "$url/_emulator/api-keys" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')

# 1. login: the first command starts the daemon (detached, no console) on the pipe.
printf '%s\n' "$key" | wine "$bin/anacondactl.exe" login --api-key-stdin >"$work/login.out" 2>&1 ||
  fail "login: $(cat "$work/login.out")"
status=$(ctl --json daemon status) || fail "daemon status: $(cat "$work/ctl.err")"
pipe=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["socket"])' <<<"$status")
case "$pipe" in '\\.\pipe\anacondad-S-1-'*) ;; *) fail "the daemon serves '$pipe', not the user's pipe" ;; esac
echo "windows-smoke: ok: login over $pipe" >&2

# 2. token install with file storage: the token is stored and .condarc written.
ctl token install --yes --org acme >"$work/install.out" || fail "token install: $(cat "$work/ctl.err")"
[ -s "$home/.anaconda/keyring" ] || fail "token install stored nothing in the keyring file"
grep -q 'auth: anacondad' "$home/.condarc" || fail ".condarc has no anacondad entry"
echo "windows-smoke: ok: token install --yes --org acme (file storage, .condarc)" >&2

# 3. credential get: the header is the org's current token at the service.
answer=$(ctl --json credential get "$url/repo/acme/noarch/repodata.json") ||
  fail "credential get: $(cat "$work/ctl.err")"
token=$(curl -sf "$url/_emulator/orgs/acme/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
header=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["header_value"])' <<<"$answer")
[ "$header" = "token $token" ] || fail "credential get answered another credential"
echo "windows-smoke: ok: credential get" >&2

# 4. a second daemon on the same pipe is refused with exit code 3.
set +e
wine "$bin/anacondad.exe" --foreground >/dev/null 2>"$work/daemon2.err"
code=$?
set -e
[ "$code" -eq 3 ] || fail "a second daemon exited with $code, not 3"
grep -q "already serving" "$work/daemon2.err" || fail "the second daemon did not say why"
echo "windows-smoke: ok: a second daemon is refused" >&2

# 5. daemon stop: it stops, and the pipe is gone.
ctl daemon stop | grep -q "anacondad stopped" || fail "daemon stop: $(cat "$work/ctl.err")"
ctl --json daemon stop | grep -Eq '"running": *false' || fail "the daemon still answers after stop"
echo "windows-smoke: ok: daemon stop" >&2

# 6. Credential Manager (storage = system): wine's advapi32 keeps credentials in its registry.
export ANACONDAD_STORAGE=system
if printf '%s\n' "$key" | wine "$bin/anacondactl.exe" login --api-key-stdin >"$work/login2.out" 2>&1 &&
  backend=$(ctl --json daemon status | python3 -c 'import json,sys; print(json.load(sys.stdin)["storage"]["backend"])') &&
  [ "$backend" = "system" ] && ctl whoami >/dev/null; then
  echo "windows-smoke: ok: Credential Manager store (wine's implementation)" >&2
else
  echo "windows-smoke: skipped: the Credential Manager store: wine did not serve it" \
    "($(tail -1 "$work/login2.out" "$work/ctl.err" 2>/dev/null | tr '\n' ' '))" >&2
fi
ctl daemon stop >/dev/null || true

echo "windows-smoke: passed in $(( $(date +%s) - start )) s" >&2
