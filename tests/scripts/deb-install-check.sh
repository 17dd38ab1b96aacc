#!/usr/bin/env bash
# Builds the .deb from built binaries, installs it with `dpkg -i`, checks that the installed
# `anacondactl --version`, `man anacondactl` and the bash completion work, then removes the
# package again (`dpkg -r`), so the machine is left as it was. Fails when any of that fails.
#
#   tests/scripts/deb-install-check.sh [BIN_DIR]     # default: target/debug
#
# Needs root (CI runs as root) or password-less sudo; skipped, with a message, otherwise. A
# machine that already has a package named anacondad is not touched.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin_dir=${1:-$root/target/debug}
say() { echo "deb-install-check: $*" >&2; }

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then
    sudo="sudo -n"
  else
    say "skipped: installing a package needs root or password-less sudo"
    exit 0
  fi
fi
if dpkg-query -W -f='${Status}' anacondad 2>/dev/null | grep -q 'ok installed'; then
  say "skipped: a package anacondad is installed on this machine already; it is left alone"
  exit 0
fi
if ! command -v man >/dev/null 2>&1; then
  say "installing man-db"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends man-db >&2
fi

out=$(mktemp -d)
installed=""
cleanup() {
  if [ -n "$installed" ]; then
    $sudo dpkg -r anacondad >/dev/null || say "could not remove the package: run \`dpkg -r anacondad\`"
  fi
  rm -rf "$out"
}
trap cleanup EXIT

deb=$(DEB_MAINTAINER=${DEB_MAINTAINER:-"anacondad tests <tests@anacondad.invalid>"} \
  "$root/packaging/deb/build-deb.sh" --bin-dir "$bin_dir" --out-dir "$out" --fast)
# Minimal images may exclude /usr/share/man from every installation (a path-exclude in
# /etc/dpkg/dpkg.cfg.d); take our pages in all the same, as a user of the package would want.
installed=yes
$sudo dpkg -i --path-include='/usr/share/man/man1/anacondactl*' "$deb" >/dev/null

fail() { say "FAILED: $*"; exit 1; }
clean_env=(env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 HOME="$out")

expected="anacondactl $(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
version=$("${clean_env[@]}" anacondactl --version) || fail "anacondactl --version exited with $?"
[ "$version" = "$expected" ] || fail "anacondactl --version said '$version', not '$expected'"
[ "$("${clean_env[@]}" sh -c 'command -v anacondactl')" = /usr/bin/anacondactl ] ||
  fail "the anacondactl on PATH is not the packaged /usr/bin/anacondactl"
"${clean_env[@]}" anacondad --version >/dev/null || fail "anacondad --version failed"

for page in anacondactl anacondactl-service-install anacondactl-doctor anacondad; do
  text=$("${clean_env[@]}" MANPAGER=cat MANWIDTH=100 man "$page" 2>&1) || fail "man $page: $text"
  grep -q '^SYNOPSIS' <<<"$text" || fail "man $page has no SYNOPSIS:"$'\n'"$text"
  grep -q "$page" <<<"$text" || fail "man $page does not name $page:"$'\n'"$text"
done
dpkg -L anacondad | grep -qx /usr/share/man/man1/anacondactl.1.gz || fail "the page is not gzipped in man1"
dpkg -L anacondad | grep -qx /usr/share/man/man1/anacondad.1.gz || fail "anacondad.1 is not gzipped in man1"

completion=/usr/share/bash-completion/completions/anacondactl
words=$(bash -c "source $completion; COMP_WORDS=(anacondactl serv); COMP_CWORD=1; COMP_LINE='anacondactl serv'; COMP_POINT=\${#COMP_LINE}; _anacondactl anacondactl serv anacondactl; echo \"\${COMPREPLY[*]}\"") ||
  fail "the bash completion does not load"
[ "$words" = service ] || fail "bash completes 'anacondactl serv' to '$words', not 'service'"

say "ok: $deb installed; $version; man anacondactl, man anacondad and bash completion work; removing it"
