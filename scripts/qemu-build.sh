#!/bin/sh
# qemu-build.sh: configure (once) and build the reference QEMU of build/qemu
# (Debian's qemu source + qemu/patches): qemu-system-x86_64 and the qtests
# the project runs.  The binary is copied to build/qemu-ref/bin; QEMU finds
# its data relative to itself, in build/qemu-ref/share/qemu, which gets the
# project's SeaBIOS (build/firmware) and, from Debian's packages, the
# option ROMs (qemu-system-data), VGA BIOSes (seabios) and NIC boot ROMs
# (ipxe-qemu).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
src="$top/build/qemu"
bld="$top/build/qemu-build"
dst="$top/build/qemu-ref"
log="$top/build/qemu-build.log"
stamp="$dst.stamp"      # written only when the build succeeds
rm -f "$stamp"
targets="qemu-system-x86_64 tests/qtest/numa-memmap-test tests/qtest/numa-test
         tests/qtest/bios-tables-test"

# No debug information: less to compile, and the binary's
# devices and QMP schema (what libvirt probes) are the same.
opts="--prefix=$dst --target-list=x86_64-softmmu --disable-docs --disable-user
      --disable-tools --disable-guest-agent --disable-install-blobs
      --disable-download --disable-debug-info"
# shellcheck disable=SC2086
opts=$(echo $opts)
# a build directory configured with other options is configured anew
if setup_needed "$bld" "$opts"; then
    mkdir -p "$bld"
    # shellcheck disable=SC2086
    (cd "$bld" && "$src/configure" $opts) >"$log" 2>&1 || {
            tail -30 "$log" >&2
            exit 1
        }
    setup_done "$bld" "$opts"
fi
ninja -C "$bld" $targets >>"$log" 2>&1 || {
    grep -E -A5 'error:|FAILED' "$log" | cut -c1-300 | head -40 >&2
    exit 1
}

mkdir -p "$dst/bin" "$dst/share/qemu"
install -m 755 "$bld/qemu-system-x86_64" "$dst/bin/"
for rom in linuxboot_dma.bin linuxboot.bin multiboot_dma.bin multiboot.bin \
           kvmvapic.bin pvh.bin; do
    install -m 644 "/usr/share/qemu/$rom" "$dst/share/qemu/"
done
# bios.bin: old machine types; bios-microvm.bin: microvm
install -m 644 /usr/share/seabios/vgabios-*.bin /usr/share/seabios/bios.bin \
    /usr/share/seabios/bios-microvm.bin /usr/lib/ipxe/qemu/efi-*.rom \
    "$dst/share/qemu/"
install -m 644 "$top/build/firmware/bios-256k.bin" "$dst/share/qemu/"
echo "$(tree_key qemu) $(cat "$top/build/firmware/bios-256k.bin.stamp")" > "$stamp"
echo "qemu: $("$dst/bin/qemu-system-x86_64" --version | head -1) in ${dst#$top/}"
