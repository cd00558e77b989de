#!/bin/sh
# check-asan.sh: the patched libvirt of build/libvirt built with
# AddressSanitizer and UndefinedBehaviorSanitizer (gcc) in
# build/libvirt-asan, and its whole meson test suite run there.  Any
# sanitizer report fails the test it happens in (UBSan made to abort).
# The tests preload mock libraries, which ASan's link order check would
# refuse; it is switched off.  Prints "asan: N passed, N failed, N skipped"
# and the times.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
src="$top/build/libvirt"
bld="$top/build/libvirt-asan"
log="$top/build/asan-test.log"

t0=$(date +%s)
if [ ! -f "$bld/build.ninja" ]; then
    meson setup "$bld" "$src" \
        -Ddriver_qemu=enabled -Dtests=enabled -Ddocs=disabled \
        -Dqemu_user=root -Dqemu_group=root -Dno_git=true \
        -Ddriver_libvirtd=enabled -Ddriver_remote=enabled \
        -Db_sanitize=address,undefined -Db_lundef=false -Dgit_werror=disabled \
        >"$top/build/asan-setup.log" 2>&1 || {
            tail -30 "$top/build/asan-setup.log" >&2
            exit 1
        }
fi
nice ninja -C "$bld" >"$top/build/asan-ninja.log" 2>&1 || {
    grep -E -A5 'error|FAILED' "$top/build/asan-ninja.log" | head -60 >&2
    exit 1
}
t1=$(date +%s)
export ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1
rc=0
(cd "$bld" && meson test --no-rebuild --num-processes "$(nproc)" \
    --timeout-multiplier 4 --print-errorlogs) >"$log" 2>&1 || rc=$?
t2=$(date +%s)
sed -n '/^Ok:/,/^Timeout:/p' "$log"
ok=$(awk '/^Ok:/ {print $2}' "$log")
fail=$(awk '/^Fail:/ {f=$2} /^Unexpected Pass:/ {f+=$3} /^Timeout:/ {f+=$2} END {print f+0}' "$log")
skip=$(awk '/^Skipped:/ {print $2}' "$log")
reports=$(grep -c 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' "$log" || true)
echo "asan: ${ok:-0} passed, ${fail:-0} failed, ${skip:-0} skipped (sanitizer reports: $reports; build $((t1 - t0)) s, suite $((t2 - t1)) s)"
[ "$rc" -eq 0 ] || echo "check-asan: see $log" >&2
exit "$rc"
