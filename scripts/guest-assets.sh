#!/bin/sh
# guest-assets.sh: the boot test's guest, from the pinned Debian binary
# packages of sources/guest, in build/guest/:
#   vmlinuz            the kernel
#   initramfs.cpio.gz  busybox + tests/guest-init as /init + the dax modules
#   OVMF.fd            UEFI firmware image for -bios
# Does nothing when the outputs were made from the current pins and init.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
pins="$top/sources/guest"
init="$top/tests/guest-init"
dl="$top/build/dl"
out="$top/build/guest"
stamp="$out/stamp"

want=$(cat "$pins" "$init" "$0" | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

command -v cpio >/dev/null || {
    "$top/scripts/apt-setup.sh"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cpio >/dev/null
}

# deb PACKAGE: the pinned .deb (scripts/lib.sh)
deb() { pinned_deb "$pins" "$1"; }

mkdir -p "$dl" "$out"
tmp=$(mktemp -d "$top/build/guest-assets.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

linux=$(deb linux-binary-7.2.13+deb14-amd64)
modules=$(deb linux-modules-7.2.13+deb14-amd64)
ovmf=$(deb ovmf-generic)
busybox=$(deb busybox-static)
dpkg-deb -x "$linux" "$tmp/linux"
dpkg-deb -x "$ovmf" "$tmp/ovmf"
dpkg-deb -x "$busybox" "$tmp/busybox"

# The initramfs: /init, a static busybox and /dev/console, which the kernel
# opens for init's stdio before anything has mounted devtmpfs.  Fixed
# owners, modes, times and order make the archive reproducible.
r="$tmp/root"
mkdir -p "$r/bin" "$r/dev" "$r/proc" "$r/sys" "$tmp/out"
install -m 0755 "$tmp/busybox/bin/busybox" "$r/bin/busybox"
install -m 0755 "$init" "$r/init"
# The guest's dax drivers, uncompressed (busybox insmod), no dependencies
# among them or on other modules (their .modinfo "depends=" is empty).
mkdir -p "$r/lib/modules"
dpkg-deb --fsys-tarfile "$modules" |
    tar -x -C "$tmp" --wildcards '*/drivers/dax/hmem/dax_hmem.ko.xz' \
        '*/drivers/dax/device_dax.ko.xz' '*/drivers/dax/kmem.ko.xz'
for ko in $(find "$tmp/usr/lib/modules" -name '*.ko.xz'); do
    xz -dc "$ko" > "$r/lib/modules/$(basename "$ko" .xz)"
done
mknod -m 0600 "$r/dev/console" c 5 1
find "$r" -exec touch -h -d @0 {} +
(cd "$r" && find . | LC_ALL=C sort |
    cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9n > "$tmp/out/initramfs.cpio.gz"

cp "$tmp"/linux/usr/lib/modules/*/vmlinuz "$tmp/out/vmlinuz"
cp "$tmp/ovmf/usr/share/ovmf/OVMF.fd" "$tmp/out/OVMF.fd"
# Renamed into place: a guest starting meanwhile gets old or new files,
# never half-written ones.
mv -f "$tmp"/out/* "$out/"
echo "$want" > "$stamp"
echo "guest-assets: $(ls "$tmp/linux/usr/lib/modules"), busybox, OVMF.fd in $out"
