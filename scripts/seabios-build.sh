#!/bin/sh
# seabios-build.sh: build/firmware/bios-256k.bin, the image QEMU loads for
# pc and q35 machines, from build/seabios (scripts/tree.sh seabios: Debian's
# SeaBIOS of sources/seabios + seabios/patches) the way Debian builds it.
# Rebuilds only when the tree's content or this script changed.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
tree="$top/build/seabios"
bld="$top/build/seabios-build"
out="$top/build/firmware"
log="$top/build/seabios-build.log"

# What debian/rules needs for this one target (no debhelper).
dpkg -s gcc make python3 dpkg-dev >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        gcc make python3 dpkg-dev >/dev/null
"$top/scripts/tree.sh" seabios

# The committed tree (content-addressed, so the same pin + series give the
# same key) plus any edits not committed yet.
want=$( (git -C "$tree" rev-parse 'HEAD^{tree}'; git -C "$tree" diff HEAD; cat "$0") |
    sha256sum | cut -c1-16)
if [ -f "$out/bios-256k.bin" ] && [ "$(cat "$out/bios-256k.bin.stamp" 2>/dev/null)" = "$want" ]; then
    exit 0
fi

# Build in a copy: debian/rules writes into the source tree, and the git
# tree must stay clean for tree.sh and patches.sh.
rm -rf "$bld"
mkdir -p "$bld" "$out"
tar -C "$tree" --exclude=.git -cf - . | tar -C "$bld" -xf -
# The version the image reports (SMBIOS type 0, a guest's
# /sys/class/dmi/id/bios_version) says "+spm": the guest tests tell this
# build from a stock SeaBIOS by it.  debian/rules writes build/env only
# when it is missing.
mkdir -p "$bld/build"
echo "EXTRAVERSION=-debian-$(dpkg-parsechangelog -l "$bld/debian/changelog" -SVersion)+spm" > "$bld/build/env"
# Debian's bios-256k-config (QEMU=y ROM_SIZE=256); debian/rules keeps its
# own targets serial but lets SeaBIOS's make run in parallel.
(cd "$bld" && MAKEFLAGS="-j$(nproc)" debian/rules build/bios-256k.bin) >"$log" 2>&1 || {
    tail -20 "$log" >&2
    exit 1
}
cp "$bld/build/bios-256k.bin" "$out/bios-256k.bin.new"
mv -f "$out/bios-256k.bin.new" "$out/bios-256k.bin"    # never half-written
echo "$want" > "$out/bios-256k.bin.stamp"
echo "seabios-build: SeaBIOS $(grep -ao '[0-9.]*-debian-[[:alnum:].+~-]*' "$out/bios-256k.bin" | head -1)" \
    "+ $(git -C "$tree" rev-list --count base..HEAD) patches in ${out#"$top"/}/bios-256k.bin"
