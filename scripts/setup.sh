#!/bin/bash
# setup.sh: the set-up part of "make check": "make build" (the compiles:
# libvirt, the reference QEMU, SeaBIOS, the guest; the sid root) and, at
# the same time, the two trixie roots whose making is mostly download and
# unpacking: build/trixie (scripts/debs.sh builds the packages in it) and
# build/trixie-nova with Nova's test dependencies (tests/nova.sh).  Each
# is remade only when its inputs changed, so the parts that use them
# would make them the same way; here their wait overlaps the compiles.
# The roots' output is in build/check-logs/setup-roots.log.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mk="make --no-print-directory -j3 -Otarget"
# the trees first: nova's debian/control says what its root needs
$mk tree || exit 1
mkdir -p build/check-logs
log=build/check-logs/setup-roots.log
(
    t0=$SECONDS rc=0
    scripts/trixie-root.sh || rc=1
    NOVA_PREPARE_ONLY=1 tests/nova.sh || rc=1
    echo "setup: trixie roots made (exit $rc) in $((SECONDS - t0)) s"
    exit $rc
) > "$log" 2>&1 &
roots=$!
rc=0
$mk build || rc=1
wait "$roots" || { rc=1; tail -20 "$log"; }
tail -1 "$log"
exit $rc
