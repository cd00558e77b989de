#!/bin/sh
# virsh.sh ARGS...: the patched virsh from the build directory, talking to
# the embedded QEMU driver whose state lives under build/embed (or $EMBED).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
root=${EMBED:-$top/build/embed}
mkdir -p "$root"
exec "$top/build/libvirt-build/tools/virsh" -q -c "qemu:///embed?root=$root" "$@"
