#!/bin/sh
# demo.sh: the example guest on the embedded QEMU driver with the machine's
# QEMU: what domain capabilities say, what happens to the SPM example, and
# the round trip + command line of the same guest with an explicit
# memmapType='normal'.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export EMBED="$top/build/embed"
virsh="$top/scripts/virsh.sh"
example="$top/examples/spm-guest.xml"
normal=$(mktemp)
trap 'rm -f "$normal"' EXIT
sed "s/memmapType='spm'/memmapType='normal'/" "$example" > "$normal"

echo "== QEMU: $(/usr/bin/qemu-system-x86_64 --version | head -1)"
echo "== domcapabilities: accepted <cell memmapType> values"
"$virsh" domcapabilities --virttype qemu --arch x86_64 --machine q35 |
    sed -n "/<numa /,/<\/numa>/p"
echo
echo "== the example asks for:"
grep "memmapType" "$example"
echo "== virsh define $example"
"$virsh" define "$example" || echo "(refused by libvirt, nothing defined)"
echo
echo "== the same guest with memmapType='normal': define + dumpxml"
"$virsh" define "$normal"
"$virsh" dumpxml --inactive spm-guest | sed -n '/<numa>/,/<\/numa>/p'
echo "== its QEMU command line (-numa part)"
"$virsh" domxml-to-native qemu-argv "$normal" | tr ' ' '\n' | grep -A1 -- '^-numa\|memory-backend' | grep -v '^--$'
"$virsh" undefine spm-guest >/dev/null
