#!/bin/sh
# check-valgrind.sh: the libvirt tests that exercise the series under
# libvirt's own valgrind setup (tests/meson.build: memcheck, full leak
# check, tests/.valgrind.supp, any error or leak fails the test) on the
# patched build.  Prints "valgrind: N passed, N failed" and the time.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
command -v valgrind >/dev/null || {
    "$top/scripts/apt-setup.sh"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
}
tests="qemuxmlconftest genericxml2xmltest domainconftest domaincapstest qemucapabilitiestest virschematest"
cd "$top/build/libvirt-build"
log="$top/build/valgrind-test.log"
t0=$(date +%s)
rc=0
# valgrind makes qemuxmlconftest ~50 times slower than meson's 30 s
# default timeout allows.
meson test --no-rebuild --setup valgrind --timeout-multiplier 40 \
    --num-processes "$(nproc)" --print-errorlogs $tests >"$log" 2>&1 || rc=$?
t1=$(date +%s)
counts=$(meson_counts "$log")
# what memcheck reported (nothing, when all is clean: the setup runs it --quiet)
errs=$(grep -c '== ERROR SUMMARY: [1-9]' "$log" || true)
leaks=$(grep -c '== *definitely lost: [1-9]' "$log" || true)
echo "valgrind: $counts ($tests; memcheck error summaries with errors: $errs, definite leaks: $leaks; $((t1 - t0)) s)"
[ "$rc" -eq 0 ] || echo "check-valgrind: see $log" >&2
exit "$rc"
