#!/bin/bash
# demo.sh: examples/spm-guest.xml on the embedded QEMU driver of the
# patched libvirt, for each QEMU the project knows (the reference QEMU with
# -numa memmap-type, Debian's QEMU 11.1 with sp-mem, Debian 12's with
# neither): what domain capabilities offer, the define/dumpxml round trip,
# the QEMU command line, and a boot (TCG, the project's test kernel +
# initramfs) that prints what the guest sees of its SPM node.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
virsh="$top/build/libvirt-build/tools/virsh"
example="$top/examples/spm-guest.xml"
guest="$top/build/guest"
. "$top/scripts/virsh-session.sh"
# embedded driver roots (QEMU's monitor sockets: at most 107 bytes) under a
# short temporary directory, wherever the clone is
roots=$(mktemp -d /tmp/spm-demo.XXXXXX)
trap 'rm -rf "$roots"' EXIT

# the example as it is, then booted: the test guest's kernel, the serial
# console in a file
prepare() {     # EMULATOR SERIAL_LOG [FIRMWARE]
    local loader=
    [ -z "${3:-}" ] || loader="<loader type='rom'>$3</loader>\n    "
    sed -e "s|<emulator>.*</emulator>|<emulator>$1</emulator>|" "$example" \
        > "$root/spm-guest.xml"
    sed -e "s|</os>|  $loader<kernel>$guest/vmlinuz</kernel>\n    <initrd>$guest/initramfs.cpio.gz</initrd>\n    <cmdline>console=ttyS0 quiet panic=-1 spm-test=chain</cmdline>\n  </os>|" \
        -e "s|<serial type='pty'/>|<serial type='file'>\n      <source path='$2'/>\n    </serial>|" \
        -e "/<console type='pty'\/>/d" "$root/spm-guest.xml" > "$root/spm-guest-boot.xml"
}

demo() {        # NAME LABEL EMULATOR [FIRMWARE]
    root="$roots/$1"
    shift
    local log="$root/serial.log" v="timeout 300 $virsh -q -c qemu:///embed?root=$root"
    rm -rf "$root"
    mkdir -p "$root/etc"
    echo 'stdio_handler = "file"' > "$root/etc/qemu.conf"
    prepare "$2" "$log" "${3:-}"

    echo "======== $1: $("$2" --version | head -1)${3:+, firmware ${3##*/}}"
    echo "== virsh domcapabilities: <cell memmapType> values this QEMU accepts"
    $v domcapabilities --emulatorbin "$2" --virttype qemu --arch x86_64 --machine q35 |
        sed -n "/<enum name='memmapType'>/,/<\/enum>/p"
    echo "== virsh define examples/spm-guest.xml; virsh dumpxml (NUMA part and the"
    echo "   sp-mem device QEMU 11.1 stores the cell's memory as)"
    if ! $v define "$root/spm-guest.xml" >/dev/null; then
        echo "(refused by libvirt, nothing defined)"
        echo
        return
    fi
    $v dumpxml --inactive spm-guest |
        sed -n -e '/<numa>/,/<\/numa>/p' -e "/<memory model='sp-mem'/,/<\/memory>/p"
    echo "== virsh domxml-to-native qemu-argv (memory and NUMA part)"
    $v domxml-to-native qemu-argv --domain spm-guest | sed 's/ -/\n-/g' |
        grep -E -e '^-m ' -e '^-numa ' -e '^-object .*memory-backend' -e '^-device .*sp-mem' |
        sed 's/^/   /'
    echo "== virsh start spm-guest (it prints its memory map and powers off)"
    $v undefine spm-guest >/dev/null
    session_open "$root/virsh.log"
    session_run define "$root/spm-guest-boot.xml"
    session_run start spm-guest
    local deadline=$((SECONDS + 120))
    while ! grep -q '^spm-test: end' "$log" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.2
    done
    sleep 1
    session_run destroy spm-guest
    session_run undefine spm-guest
    session_close
    # the guest powered itself off: "not running" is what destroy should say
    errors | grep -v -e "Failed to destroy" -e "domain is not running"
    echo "   the domain XML asks for:"
    grep memmapType "$example" | sed 's/^ */      /'
    echo "   the guest saw (E820 entries from 4 GiB on, SRAT memory affinity):"
    tr -d '\r' < "$log" | grep -v -e 'BIOS-e820: \[gap' -e 'BIOS-e820: \[mem 0x00000000' |
        sed -n 's/^spm-test: \(BIOS-e820\|ACPI: SRAT\)/      \1/p'
    echo "   a driver's view: dax_hmem's dax device of the soft reserved range,"
    echo "   whether it opens, and node 1 once kmem has onlined it:"
    tr -d '\r' < "$log" | sed -n 's/^spm-test: \(dax \|node 1 \)/      \1/p'
    accelerator "$2"
    echo
}

# examples/spm-accelerator.xml: the same SPM node with an assigned device
# in it (expander bus, ACPI Generic Initiator).  This machine has no device
# to assign: define and dumpxml only, and the command line libvirt's own
# tests record for that layout.
accelerator() {     # EMULATOR
    local v="timeout 300 $virsh -q -c qemu:///embed?root=$root"
    sed -e "s|<emulator>.*</emulator>|<emulator>$1</emulator>|" -e "s/type='kvm'/type='qemu'/" \
        "$top/examples/spm-accelerator.xml" > "$root/spm-accelerator.xml"
    echo "== virsh define examples/spm-accelerator.xml; virsh dumpxml (the accelerator)"
    $v define "$root/spm-accelerator.xml" >/dev/null || return 0
    $v dumpxml --inactive spm-accelerator | sed -n "/<hostdev/,/<\/hostdev>/p"
    $v undefine spm-accelerator >/dev/null
    echo "   its Generic Initiator on the command line (tests/qemuxmlconfdata/numa-memmap-type-accelerator):"
    grep -h -e 'acpi-generic-initiator' \
        "$top"/build/libvirt/tests/qemuxmlconfdata/numa-memmap-type-accelerator.x86_64-latest.abi-update+spmem.args |
        sed 's/^/      /; s/ \\$//'
}

demo ref "reference QEMU (-numa memmap-type)" "$top/build/qemu-ref/bin/qemu-system-x86_64"
demo sid "Debian's QEMU 11.1 (-device sp-mem)" "$top/scripts/qemu-sid" "$guest/OVMF.fd"
demo stock "Debian 12's QEMU (neither mechanism)" /usr/bin/qemu-system-x86_64

# virt-install (virt-manager with its series) writes such a cell from the
# command line: --print-xml on the reference QEMU's embedded driver (an
# embedded driver's client needs an event loop: scripts/with-event-loop.py).
echo "======== virt-install --cpu ...,numa.cell1.memmapType=spm --print-xml (reference QEMU)"
root="$roots/virt-install"
rm -rf "$root" && mkdir -p "$root"
(cd "$top/build/virt-manager" &&
    LD_LIBRARY_PATH="$top/build/libvirt-build/src" LIBVIRT_DIR_OVERRIDE=1 PYTHONDONTWRITEBYTECODE=1 \
    /usr/bin/python3 "$top/scripts/with-event-loop.py" ./virt-install \
        --connect "qemu:///embed?root=$root" --name spm-demo --virt-type qemu --machine q35 \
        --osinfo generic --memory 3072 --vcpus 2 --import --disk none --network none \
        --graphics none --features acpi=on \
        --boot emulator="$top/build/qemu-ref/bin/qemu-system-x86_64" \
        --cpu numa.cell0.cpus=0-1,numa.cell0.memory=2097152,numa.cell1.memory=1048576,numa.cell1.memmapType=spm \
        --print-xml) | sed -n '/<numa>/,/<\/numa>/p'
