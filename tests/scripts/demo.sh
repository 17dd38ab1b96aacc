#!/usr/bin/env bash
# The demo: a local Anaconda service emulator, the daemon, and the one-command token workflow,
# end to end in a throw-away home. Nothing outside that home is touched.
#   login (device flow) -> token install -> token list -> the resulting ~/.condarc
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --workspace --bins --quiet
bin=$root/target/debug

demo_home=$(mktemp -d -t anacondad-demo-XXXXXX)
emulator_pid=""
cleanup() {
  HOME=$demo_home XDG_RUNTIME_DIR=$demo_home/run "$bin/anacondactl" daemon stop >/dev/null 2>&1 || true
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null || true
  rm -rf "$demo_home"
}
trap cleanup EXIT
mkdir -m 700 "$demo_home/run"

# The emulator prints its address on its first line; the device flow approves by itself.
exec 3< <("$bin/anaconda-emulator" --port 0 --device-interval 1 2>"$demo_home/emulator.log" & echo "pid $!")
read -r _ emulator_pid <&3
read -r base_url <&3

# Keep the user's session bus (and so their keychain) although XDG_RUNTIME_DIR moves.
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] && [ -S "${XDG_RUNTIME_DIR:-/nonexistent}/bus" ]; then
  export DBUS_SESSION_BUS_ADDRESS=unix:path=$XDG_RUNTIME_DIR/bus
fi
export HOME=$demo_home XDG_RUNTIME_DIR=$demo_home/run
export XDG_CONFIG_HOME=$demo_home/.config XDG_STATE_HOME=$demo_home/.local/state
export ANACONDA_AUTH_DOMAIN=$base_url CONDA_TOKEN_REPO_URL=$base_url/repo/
ctl=$bin/anacondactl

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step "anacondactl login"
"$ctl" login --no-browser
step "anacondactl token install --org acme --yes"
"$ctl" token install --org acme --yes
step "anacondactl token list"
"$ctl" token list
step "cat ~/.condarc"
cat "$HOME/.condarc"
step "anacondactl credential get $base_url/repo/main/noarch/repodata.json | cut -c1-12"
"$ctl" credential get "$base_url/repo/main/noarch/repodata.json" | cut -c1-12
step "anacondactl daemon status"
"$ctl" daemon status
