#!/bin/sh
# virsh.sh ARGS...: the patched virsh from the build directory, talking to
# the embedded QEMU driver whose state lives in $EMBED, by default a
# directory of this clone's under /var/tmp.  Not under the clone itself:
# QEMU's monitor sockets lie in the driver root, and a socket path has at
# most 107 bytes.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
root=${EMBED:-/var/tmp/spm-embed-$(printf '%s' "$top" | sha256sum | cut -c1-8)}
mkdir -p "$root"
# $VIRSH_TIMEOUT: seconds before the call is given up (tests set it)
exec ${VIRSH_TIMEOUT:+timeout "$VIRSH_TIMEOUT"} "$top/build/libvirt-build/tools/virsh" -q -c "qemu:///embed?root=$root" "$@"
