#!/bin/sh
# check-asan.sh: the patched libvirt of build/libvirt built with
# AddressSanitizer and UndefinedBehaviorSanitizer (gcc) in
# build/libvirt-asan, and its whole meson test suite run there.  An ASan
# report fails the test it happens in; UBSan reports are collected from the
# log (gcc's UBSan runtime cannot suppress them) and any not listed in
# tests/sanitizers/known-libvirt.txt (libvirt 11.3.0's own) fails the run.
# The tests preload mock libraries, which ASan's link order check would
# refuse; it is switched off.  Prints "asan: N passed, N failed, N skipped"
# and the times.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
bld="$top/build/libvirt-asan"
log="$top/build/asan-test.log"

t0=$(date +%s)
libvirt_setup "$bld" "$top/build/asan-setup.log" -Ddocs=disabled \
    -Ddriver_libvirtd=enabled -Ddriver_remote=enabled \
    -Db_sanitize=address,undefined -Db_lundef=false -Dgit_werror=disabled
nice ninja -C "$bld" >"$top/build/asan-ninja.log" 2>&1 || {
    grep -E -A5 'error|FAILED' "$top/build/asan-ninja.log" | head -60 >&2
    exit 1
}
t1=$(date +%s)
export ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1
rc=0
(cd "$bld" && meson test --no-rebuild --num-processes "$(nproc)" \
    --timeout-multiplier 4 --print-errorlogs) >"$log" 2>&1 || rc=$?
t2=$(date +%s)
counts=$(meson_counts "$log")
# all tests' output (meson prints that of failed tests only)
tlog="$bld/meson-logs/testlog.txt"
asan=$(grep -c 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer' "$tlog" || true)
grep -v '^#' "$top/tests/sanitizers/known-libvirt.txt" | sed '/^$/d' > "$bld/known.txt"
ubsan=$(grep -c 'runtime error:' "$tlog" || true)
unknown=$(grep 'runtime error:' "$tlog" | sed 's/^ *//' | grep -v -F -f "$bld/known.txt" || true)
echo "asan: $counts (ASan/LSan reports: $asan; UBSan reports: $ubsan, $(printf '%s' "$unknown" | grep -c . || true) not known as libvirt's own; build $((t1 - t0)) s, suite $((t2 - t1)) s)"
[ -z "$unknown" ] || { printf '%s\n' "$unknown" >&2; rc=1; }
[ "$rc" -eq 0 ] || echo "check-asan: see $log" >&2
exit "$rc"
