#!/bin/sh
# Assembles a .deb of anacondad from already built binaries, with dpkg-deb: the two binaries in
# /usr/bin, the systemd user units in /usr/lib/systemd/user (not enabled; see
# packaging/README.md), anacondactl's manual pages and its bash, zsh and fish completions. The
# pages and completions come from running the built anacondactl, so they match its --help.
#
#   cargo build --release --bins
#   packaging/deb/build-deb.sh [--bin-dir DIR] [--out-dir DIR] [--version V] [--arch A] [--fast]
#
# Defaults: --bin-dir target/release, --out-dir target/deb, the version of [workspace.package]
# in Cargo.toml, the architecture of `dpkg --print-architecture`. --fast skips compression
# (for tests). DEB_MAINTAINER sets the Maintainer field
# (default: git's user.name and user.email).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin_dir="$root/target/release"
out_dir="$root/target/deb"
version=""
arch=""
compression="-Zxz"

need_value() {
    if [ "$#" -lt 2 ] || [ -z "$2" ]; then
        echo "build-deb.sh: $1 needs a value" >&2
        exit 2
    fi
}
while [ "$#" -gt 0 ]; do
    case "$1" in
        --bin-dir) need_value "$@"; bin_dir=$2; shift 2 ;;
        --out-dir) need_value "$@"; out_dir=$2; shift 2 ;;
        --version) need_value "$@"; version=$2; shift 2 ;;
        --arch) need_value "$@"; arch=$2; shift 2 ;;
        --fast) compression="-Znone"; shift ;;
        -h | --help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "build-deb.sh: unknown argument '$1'; see --help" >&2; exit 2 ;;
    esac
done

if [ -z "$version" ]; then
    # The first `version = "..."` of the root manifest is the one in [workspace.package].
    version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
    if [ -z "$version" ]; then
        echo "build-deb.sh: no version in $root/Cargo.toml; pass --version" >&2
        exit 1
    fi
fi
[ -n "$arch" ] || arch=$(dpkg --print-architecture)

for name in anacondad anacondactl; do
    if [ ! -x "$bin_dir/$name" ]; then
        echo "build-deb.sh: $bin_dir/$name is missing; run \`cargo build --release --bins\` or pass --bin-dir" >&2
        exit 1
    fi
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg="$stage/pkg"
install -d -m 755 "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/lib/systemd/user" "$pkg/usr/share/doc/anacondad"
install -m 755 "$bin_dir/anacondad" "$bin_dir/anacondactl" "$pkg/usr/bin/"
install -m 644 "$root/packaging/systemd/anacondad.socket" "$root/packaging/systemd/anacondad.service" \
    "$pkg/usr/lib/systemd/user/"
install -m 644 "$root/packaging/README.md" "$pkg/usr/share/doc/anacondad/README.md"

# Manual pages (gzipped, without a timestamp: the same binary gives the same package) and
# completions, from the binary being packaged.
man1="$pkg/usr/share/man/man1"
install -d -m 755 "$man1" "$pkg/usr/share/bash-completion/completions" \
    "$pkg/usr/share/zsh/vendor-completions" "$pkg/usr/share/fish/vendor_completions.d"
# `manpages` writes anacondad.1 too, with the anacondad next to it.
if ! "$bin_dir/anacondactl" manpages "$man1" >/dev/null; then
    echo "build-deb.sh: $bin_dir/anacondactl could not write the manual pages (built for another machine?)" >&2
    exit 1
fi
chmod 644 "$man1"/*.1
gzip -9n "$man1"/*.1
"$bin_dir/anacondactl" completions bash >"$pkg/usr/share/bash-completion/completions/anacondactl"
"$bin_dir/anacondactl" completions zsh >"$pkg/usr/share/zsh/vendor-completions/_anacondactl"
"$bin_dir/anacondactl" completions fish >"$pkg/usr/share/fish/vendor_completions.d/anacondactl.fish"
chmod 644 "$pkg/usr/share/bash-completion/completions/anacondactl" \
    "$pkg/usr/share/zsh/vendor-completions/_anacondactl" \
    "$pkg/usr/share/fish/vendor_completions.d/anacondactl.fish"
cat >"$pkg/usr/share/doc/anacondad/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: anacondad
Source: https://github.com/anacondad/anacondad

Files: *
License: BSD-3-Clause
COPYRIGHT

# Shared-library dependencies of the binaries, as dpkg-shlibdeps finds them (it wants a
# debian/control next to it); plain libc6 where dpkg-dev is not installed.
depends="libc6"
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
    mkdir -p "$stage/src/debian"
    printf 'Source: anacondad\n\nPackage: anacondad\nArchitecture: any\n' >"$stage/src/debian/control"
    found=$(cd "$stage/src" && dpkg-shlibdeps -O -e "$pkg/usr/bin/anacondad" -e "$pkg/usr/bin/anacondactl" 2>/dev/null |
        sed -n 's/^shlibs:Depends=//p')
    [ -z "$found" ] || depends=$found
fi

maintainer=${DEB_MAINTAINER:-}
if [ -z "$maintainer" ]; then
    name=$(git config user.name 2>/dev/null || true)
    email=$(git config user.email 2>/dev/null || true)
    if [ -z "$name" ] || [ -z "$email" ]; then
        echo "build-deb.sh: set DEB_MAINTAINER='Your Name <you@example.org>' (no git user to take it from)" >&2
        exit 1
    fi
    maintainer="$name <$email>"
fi

size=$(du -sk "$pkg/usr" | cut -f1)
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: anacondad
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Suggests: gnome-keyring
Section: utils
Priority: optional
Homepage: https://github.com/anacondad/anacondad
Description: per-user daemon that owns your Anaconda credentials
 anacondad keeps Anaconda organisation repo tokens and the API key in the OS
 keychain, renews them before they expire and keeps .condarc right.
 anacondactl is its command line. The systemd user units are installed but
 not enabled: run \`anacondactl service install\` (or
 \`systemctl --user enable --now anacondad.socket\`).
CONTROL

mkdir -p "$out_dir"
deb="$out_dir/anacondad_${version}_${arch}.deb"
dpkg-deb --root-owner-group "$compression" --build "$pkg" "$deb" >/dev/null
echo "$deb"
