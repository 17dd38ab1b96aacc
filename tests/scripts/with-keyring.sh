#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked gnome-keyring (a real Secret
# Service), in a throw-away XDG_DATA_HOME so no real keyring is touched.
#   tests/scripts/with-keyring.sh cargo test --workspace
set -euo pipefail
if [ -z "${ANACONDAD_IN_KEYRING_SESSION:-}" ]; then
  export ANACONDAD_IN_KEYRING_SESSION=1
  exec dbus-run-session -- "$0" "$@"
fi
keyring_home=$(mktemp -d)
trap 'rm -rf "$keyring_home"' EXIT
export XDG_DATA_HOME=$keyring_home/data
mkdir -p "$XDG_DATA_HOME"
eval "$(printf 'anacondad-test' | gnome-keyring-daemon --daemonize --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
# The daemon registers its bus name a moment after it forks; a client that asks earlier makes
# D-Bus start a second, locked gnome-keyring.
gdbus wait --session --timeout 10 org.freedesktop.secrets
"$@"
