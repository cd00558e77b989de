#!/bin/sh
# check-libvirt.sh: run libvirt's whole meson test suite (syntax-check
# included, since build/libvirt is a git work tree) on the patched build.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
"$top/scripts/check-built.sh" libvirt || { echo "libvirt: 0 passed, 1 failed (no build of the current tree)"; exit 1; }
cd "$top/build/libvirt-build"
log="$top/build/meson-test.log"
rc=0
meson test --no-rebuild --num-processes "$(nproc)" --print-errorlogs >"$log" 2>&1 || rc=$?
# meson's own summary (Ok/Fail/Skipped lines), then one line a CI reader
# can count on.
counts=$(meson_counts "$log")
echo "libvirt: $counts"
if [ "$rc" -ne 0 ]; then
    grep -E '^ *[0-9]+/[0-9]+ .*(FAIL|ERROR|TIMEOUT)' "$log" >&2 || true
    echo "check-libvirt: see $log" >&2
fi
exit "$rc"
