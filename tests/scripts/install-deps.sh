#!/usr/bin/env bash
# Installs the system packages the tests need (Debian/Ubuntu), only when one is missing:
# a real Secret Service (gnome-keyring under a private D-Bus session), secret-tool, setpriv,
# systemd-socket-activate, and man (for the installed package's manual page).
set -euo pipefail
declare -A provides=(
  [dbus-run-session]=dbus
  [gnome-keyring-daemon]=gnome-keyring
  [secret-tool]=libsecret-tools
  [setpriv]=util-linux
  [systemd-socket-activate]=systemd
  [gdbus]=libglib2.0-bin
  [man]=man-db
)
missing=()
for cmd in "${!provides[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${provides[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
