#!/bin/sh
# trixie-root.sh [NAME VARIANT]: build/NAME, a Debian trixie root made by
# debootstrap --variant=VARIANT.  Default: build/trixie, the buildd root
# scripts/debs.sh builds the packages in (bookworm cannot build trixie's
# libvirt: its debhelper is too old; and its ~100 build dependencies must
# not land on this machine, where they would switch on meson "auto"
# features of the project's own libvirt build).  tests/test_debs.py makes a
# minbase root to install the packages in.
# Does nothing when the root was made from the current sources/trixie-build
# and script.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
. "$top/sources/trixie-build"
root="$top/build/${1:-trixie}"
variant=${2:-$variant}
stamp="$root.stamp"

want=$( (cat "$top/sources/trixie-build" "$0"; echo "$variant") | sha256sum | cut -c1-16)
if [ -d "$root" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    exit 0
fi

command -v debootstrap >/dev/null || {
    "$top/scripts/apt-setup.sh"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        debootstrap >/dev/null
}

# The mirror and keyring of the machine's own Debian entry.
archive || exit 1

for d in "$root" "$root.tmp"; do
    if [ -d "$d" ] && awk -v d="$d/" 'index($2 "/", d) == 1 {f = 1} END {exit !f}' /proc/mounts; then
        echo "trixie-root: something is mounted under $d; unmount it first" >&2
        exit 1
    fi
done
rm -rf "$root" "$root.tmp" "$stamp"
mkdir -p "$top/build"

echo "trixie-root: debootstrap --variant=$variant $suite" >&2
timeout 1800 nice debootstrap --variant="$variant" --keyring="$keyring" \
    "$suite" "$root.tmp" "$mirror" >"$top/build/trixie-debootstrap.log" 2>&1 || {
        tail -20 "$top/build/trixie-debootstrap.log" >&2
        echo "trixie-root: debootstrap failed, see build/trixie-debootstrap.log" >&2
        exit 1
    }
# Source entries too (apt-get build-dep), and the suite's backports.
sed 's/^deb /deb-src /' "$root.tmp/etc/apt/sources.list" >> "$root.tmp/etc/apt/sources.list"
sed -n "s/^deb \([^ ]*\) $suite /deb \1 $suite-backports /p" "$root.tmp/etc/apt/sources.list" \
    > "$root.tmp/etc/apt/sources.list.d/backports.list"
rm -rf "$root.tmp/var/cache/apt/archives/"*.deb
# apt's network time limits (scripts/apt-setup.sh)
[ ! -f /etc/apt/apt.conf.d/80spm-network ] || cp /etc/apt/apt.conf.d/80spm-network "$root.tmp/etc/apt/apt.conf.d/"

mv "$root.tmp" "$root"
root_manifest "$root"
echo "$want" > "$stamp"
echo "trixie-root: $suite ($variant) in ${root#$top/}" >&2
