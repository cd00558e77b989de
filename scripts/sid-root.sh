#!/bin/sh
# sid-root.sh: build/sid, a minimal Debian sid root with the QEMU, SeaBIOS
# and OVMF packages pinned in sources/sid-root, for scripts/qemu-sid (QEMU
# 11.1 run from the bookworm machine through chroot).  debootstrap installs
# whatever the archive offers; the root is only kept when every pinned
# package has exactly its pinned version.
# Does nothing when the root was made from the current pins and script.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
pins="$top/sources/sid-root"
root="$top/build/sid"
stamp="$top/build/sid.stamp"

want=$(cat "$pins" "$0" | sha256sum | cut -c1-16)
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

pinned=$(sed -e '/^#/d' -e '/^$/d' "$pins" | LC_ALL=C sort)
include=$(printf '%s\n' "$pinned" | awk '{print $1}' | paste -sd, -)

# A previous run (or a debootstrap that died) must not have left anything
# mounted in there: rm -rf would go through it.
for d in "$root" "$root.tmp"; do
    if [ -d "$d" ] && awk -v d="$d/" 'index($2 "/", d) == 1 {f = 1} END {exit !f}' /proc/mounts; then
        echo "sid-root: something is mounted under $d; unmount it first" >&2
        exit 1
    fi
done
rm -rf "$root" "$root.tmp" "$root.tmp.pinned" "$root.tmp.installed" "$stamp"
mkdir -p "$top/build"

echo "sid-root: debootstrap sid (minbase + $include)" >&2
timeout 1800 nice debootstrap --variant=minbase --keyring="$keyring" --include="$include" \
    sid "$root.tmp" "$mirror" >"$top/build/sid-debootstrap.log" 2>&1 || {
        tail -20 "$top/build/sid-debootstrap.log" >&2
        echo "sid-root: debootstrap failed, see build/sid-debootstrap.log" >&2
        exit 1
    }

printf '%s\n' "$pinned" > "$root.tmp.pinned"
printf '%s\n' "$pinned" | awk '{print $1}' |
    xargs chroot "$root.tmp" dpkg-query -W -f '${Package} ${Version}\n' 2>/dev/null |
    LC_ALL=C sort > "$root.tmp.installed" || true
if ! cmp -s "$root.tmp.pinned" "$root.tmp.installed"; then
    echo "sid-root: the archive does not give the versions of sources/sid-root" >&2
    echo "sid-root: (- pinned, + installed by debootstrap now)" >&2
    diff "$root.tmp.pinned" "$root.tmp.installed" | sed -n 's/^< /- /p; s/^> /+ /p' >&2
    rm -rf "$root.tmp" "$root.tmp.pinned" "$root.tmp.installed"
    exit 1
fi
rm -f "$root.tmp.pinned" "$root.tmp.installed"

# The root is pinned: nothing is to be installed into it by hand.  Its
# sources.list (written by debootstrap) goes; should apt be used in there
# with sources given on its command line, sid's Release is past its
# Valid-Until date.
rm -f "$root.tmp/etc/apt/sources.list"
echo 'Acquire::Check-Valid-Until "false";' > "$root.tmp/etc/apt/apt.conf.d/80sid-root"
rm -rf "$root.tmp/var/cache/apt/archives/"*.deb "$root.tmp/var/lib/apt/lists/"*_Packages

mv "$root.tmp" "$root"
root_manifest "$root"
echo "$want" > "$stamp"
echo "sid-root: $(chroot "$root" /usr/bin/qemu-system-x86_64 --version | head -1) in ${root#$top/}"
