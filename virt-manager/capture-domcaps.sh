#!/bin/sh
# capture-domcaps.sh DIR: the domain capabilities files of the virt-manager
# series' tests, as "virsh domcapabilities" of the libvirt series (the
# embedded driver of build/libvirt-build) reports them for x86_64
# guests (q35) of three QEMU binaries:
#   qemu-x86_64-domcaps-memmap-spm.xml       Debian's QEMU 11.1 (sp-mem)
#   qemu-x86_64-domcaps-memmap-reserved.xml  the reference QEMU (-numa memmap-type)
#   qemu-x86_64-domcaps-memmap-normal.xml    Debian 12's QEMU 7.2 (neither)
# Only the emulator's path is rewritten (to /usr/bin/qemu-system-x86_64):
# everything else is what libvirt printed on this machine (TCG; the
# firmware descriptors of Debian 12's ovmf package, which must be
# installed, as on any host that gives guests UEFI).  The virt-manager
# series commits the result.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=$1
ls /usr/share/qemu/firmware/*.json >/dev/null 2>&1 || {
    echo "capture-domcaps: no firmware descriptors: apt-get install ovmf" >&2
    exit 1
}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
capture() {
    "$top/build/libvirt-build/run" "$top/build/libvirt-build/tools/virsh" \
        -c "qemu:///embed?root=$root" domcapabilities --emulatorbin "$2" \
        --arch x86_64 --machine q35 --virttype qemu |
        sed "s,<path>$2</path>,<path>/usr/bin/qemu-system-x86_64</path>," > "$out/$1"
    echo "capture-domcaps: $out/$1 ($2)"
}
capture qemu-x86_64-domcaps-memmap-spm.xml "$top/scripts/qemu-sid"
capture qemu-x86_64-domcaps-memmap-reserved.xml "$top/build/qemu-ref/bin/qemu-system-x86_64"
capture qemu-x86_64-domcaps-memmap-normal.xml /usr/bin/qemu-system-x86_64
