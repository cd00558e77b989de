#!/bin/sh
# capsprobe.sh QEMU NAME: record QEMU's capabilities with libvirt's own
# tests/qemucapsprobe as tests/qemucapabilitiesdata/caps_NAME.replies of
# build/libvirt, then regenerate the outputs derived from it (.xml and
# domaincapsdata).  The result is committed to the series by hand, after
# reading it: see README.md.
#   e.g. capsprobe.sh build/qemu-ref/bin/qemu-system-x86_64 10.2.0_x86_64+memmaptype
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
qemu=$(realpath "$1")
data="$top/build/libvirt/tests/qemucapabilitiesdata/caps_$2"
bld="$top/build/libvirt-build"

ninja -C "$bld" tests/qemucapsprobe >/dev/null
"$bld/tests/qemucapsprobe" "$qemu" > "$data.replies"
cd "$bld"
VIR_TEST_REGENERATE_OUTPUT=1 meson test --no-rebuild qemucapabilitiestest \
    qemucaps2xmltest domaincapstest >/dev/null || true
meson test --no-rebuild qemucapabilitiestest qemucaps2xmltest domaincapstest
git -C "$top/build/libvirt" status --short
