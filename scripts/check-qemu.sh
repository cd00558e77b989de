#!/bin/sh
# check-qemu.sh: QEMU's own tests for the reference QEMU: the new
# numa-memmap-test and the existing qtests its change could break:
# numa-test, and bios-tables-test for pc and q35 (SRAT, HMAT, memory
# hotplug tables still match QEMU's expected blobs).  Prints one summary
# line per test program.
#
# Not run: bios-tables-test's dimmpxm cases, whose NVDIMM SSDT holds an
# address the firmware allocates (QEMU's expected blob comes from QEMU's own
# SeaBIOS build, not Debian's; Debian's unpatched SeaBIOS 1.17.0 gives the
# same mismatch), and the microvm cases, which need QEMU's bios-microvm.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
bld="$top/build/qemu-build"
"$top/scripts/check-built.sh" qemu || { echo "qemu build: 0 passed, 1 failed (no build of the current tree)"; exit 1; }
# the installed copy: it finds the firmware the tests boot
export QTEST_QEMU_BINARY="$top/build/qemu-ref/bin/qemu-system-x86_64"

rc=0
run() {
    t=$1
    shift
    log="$top/build/qtest-$t.log"
    r=0
    # TCG only: the qtests use KVM when /dev/kvm is readable and writable,
    # and under this machine's nested KVM bios-tables-test's FACP differs
    # from the expected blob.  In a private mount namespace (nothing changes
    # on the host) /dev/kvm becomes an empty file on a read-only bind mount,
    # which fails access(W_OK) even for root.
    (cd "$bld" && if [ -e /dev/kvm ]; then
         : > "$top/build/no-kvm"
         unshare -m sh -c 'mount --bind "$0" /dev/kvm &&
                           mount -o remount,bind,ro /dev/kvm && exec "$@"' \
             "$top/build/no-kvm" "tests/qtest/$t" --tap -k "$@"
     else
         "tests/qtest/$t" --tap -k "$@"
     fi) >"$log" 2>&1 || r=$?
    pass=$(grep -c '^ok ' "$log" || true)
    skip=$(grep -c '^ok .*# SKIP' "$log" || true)
    fail=$(grep -c -e '^not ok ' -e '^Bail out!' "$log" || true)
    # a test path (-p) under which no test ran (none matched, or all were
    # skipped) is a failure: nothing was tested
    nomatch=
    while [ $# -gt 0 ]; do
        [ "$1" != -p ] || grep -E "^(not )?ok [0-9]+ $2/" "$log" | grep -qv '# SKIP' ||
            nomatch="$nomatch $2"
        shift
    done
    [ $((pass - skip + fail)) -gt 0 ] || nomatch="$nomatch (any test)"
    [ -z "$nomatch" ] || fail=$((fail + 1))
    echo "qemu $t: $((pass - skip)) passed, $fail failed, $skip skipped${nomatch:+ (no test ran for:$nomatch)}"
    if [ "$r" -ne 0 ] || [ "$fail" -ne 0 ]; then
        grep -E '^not ok|^Bail out!|ERROR' "$log" | head -20 >&2
        echo "check-qemu: see $log" >&2
        rc=1
    fi
}
run numa-memmap-test
run numa-test
run bios-tables-test -p /x86_64/acpi/piix4 -p /x86_64/acpi/q35 \
    -s /x86_64/acpi/piix4/dimmpxm -s /x86_64/acpi/q35/dimmpxm
exit "$rc"
