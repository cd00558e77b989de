#!/bin/sh
# build.sh: configure (once) and build the patched libvirt of build/libvirt
# in build/libvirt-build.  The QEMU driver, tests and docs are enabled; the
# QEMU user is root so that the embedded driver works without a
# libvirt-qemu account on the machine.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
src="$top/build/libvirt"
bld="$top/build/libvirt-build"
stamp="$top/build/libvirt-build.stamp"    # written only when the build succeeds
rm -f "$stamp"

# -g1: line tables and function names (backtraces, valgrind's reports),
# no variables or types; libvirt's default -g takes about 15% more
# compile time.
libvirt_setup "$bld" "$top/build/meson-setup.log" -Ddocs=enabled \
    -Ddriver_libvirtd=enabled -Ddriver_remote=enabled -Dc_args=-g1
# A build directory set up by another meson version (deps.sh installs
# bookworm-backports' meson) must be reconfigured before "meson test".
if ! meson introspect --buildoptions "$bld" >/dev/null 2>&1; then
    meson setup --reconfigure "$bld" "$src" >"$top/build/meson-setup.log" 2>&1
fi
ninja -C "$bld" >"$top/build/ninja.log" 2>&1 || {
    grep -E -A5 'error|FAILED' "$top/build/ninja.log" | head -60 >&2
    exit 1
}
tree_key libvirt > "$stamp"
echo "build: $(grep -cE ': warning: '  "$top/build/ninja.log" || true) compiler warnings, see build/ninja.log"
