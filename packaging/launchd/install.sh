#!/bin/sh
# Installs anacondad as a per-user LaunchAgent (macOS): fills in the plist template next to this
# script with the anacondad binary and your home, writes it to ~/Library/LaunchAgents and loads
# it into your GUI session.
#
#   packaging/launchd/install.sh              # install and start
#   packaging/launchd/install.sh --print      # print the filled-in plist, change nothing
#   packaging/launchd/install.sh --uninstall  # stop and remove
#
# The binary is $ANACONDAD, else the `anacondad` on PATH.
set -eu

label=com.anaconda.anacondad
here=$(cd "$(dirname "$0")" && pwd)
template="$here/$label.plist"
agents="$HOME/Library/LaunchAgents"
target="$agents/$label.plist"
domain="gui/$(id -u)"

mode=install
case "${1:-}" in
    "") ;;
    --print) mode=print ;;
    --uninstall) mode=uninstall ;;
    -h | --help)
        sed -n '2,10s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *)
        echo "install.sh: unknown argument '$1'; use --print, --uninstall or nothing" >&2
        exit 2
        ;;
esac

if [ "$mode" = uninstall ]; then
    launchctl bootout "$domain/$label" 2>/dev/null || true
    rm -f "$target"
    echo "removed $target"
    exit 0
fi

binary=${ANACONDAD:-$(command -v anacondad || true)}
if [ -z "$binary" ]; then
    echo "install.sh: anacondad is not on PATH; install it first or set ANACONDAD=/path/to/anacondad" >&2
    exit 1
fi
case "$binary" in
    /*) ;;
    *)
        echo "install.sh: ANACONDAD must be an absolute path, not '$binary'" >&2
        exit 1
        ;;
esac
if [ ! -x "$binary" ]; then
    echo "install.sh: $binary is not an executable file; set ANACONDAD=/path/to/anacondad" >&2
    exit 1
fi
# The values go into XML and a sed replacement: refuse the few characters that would need escaping.
for value in "$binary" "$HOME"; do
    case "$value" in
        *[\&\<\>\|\\]*)
            echo "install.sh: '$value' contains one of & < > | \\; move it to a plainer path" >&2
            exit 1
            ;;
    esac
done

render() {
    sed -e "s|@ANACONDAD@|$binary|g" -e "s|@HOME@|$HOME|g" "$template"
}

if [ "$mode" = print ]; then
    render
    exit 0
fi

mkdir -p "$agents" "$HOME/Library/Logs"
render >"$target.tmp"
mv "$target.tmp" "$target"
# A loaded older copy must go first: bootstrap refuses a label that is already loaded.
launchctl bootout "$domain/$label" 2>/dev/null || true
launchctl bootstrap "$domain" "$target"
echo "installed $target; anacondad runs now and at every login (log: ~/Library/Logs/anacondad.log)"
