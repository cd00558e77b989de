#!/bin/bash
# boot-all.sh: the guest boot matrix of "make check": tests/boot.sh for
# every QEMU, firmware and memmapType the project supports, and the SPM
# layouts other than "one SPM node, last" (boot.sh ... layouts).  Ends with
# "boot-all: N passed, N failed" over all of them.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
ref="$top/build/qemu-ref/bin/qemu-system-x86_64"

passed=0
failed=0
run() {
    local out rc=0
    out=$("$top/tests/boot.sh" "$@") || rc=$?
    printf '%s\n' "$out"
    set -- $(printf '%s\n' "$out" | sed -n 's/^boot: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
    passed=$((passed + ${1:-0}))
    failed=$((failed + ${2:-0}))
    # a run that could not even count (exit 2: set-up) is a failure too
    [ "$rc" -eq 0 ] || [ "${2:-0}" -gt 0 ] || failed=$((failed + 1))
}

# the reference QEMU (-numa node,memmap-type): its default SeaBIOS is the
# project's (scripts/qemu-build.sh)
for fw in seabios ovmf; do
    for type in normal spm reserved layouts chain; do
        run "$ref" "$fw" "$type"
    done
done
# Debian's QEMU 11.1 (-device sp-mem, no 'reserved'): its own SeaBIOS drops
# soft reserved E820 entries, hence the project's as <loader>
for fw in seabios-patched ovmf; do
    for type in normal spm layouts chain; do
        run "$top/scripts/qemu-sid" "$fw" "$type"
    done
done

echo "boot-all: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
