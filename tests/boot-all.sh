#!/bin/bash
# boot-all.sh: the guest boot matrix of "make check": tests/boot.sh for
# every QEMU, firmware and memmapType the project supports, and the SPM
# layouts other than "one SPM node, last" (boot.sh ... layouts).  The two
# QEMUs' runs go on at once (a TCG guest keeps one core busy; each QEMU has
# its own driver root and guest names), each QEMU's one after another.
# Ends with "boot-all: N passed, N failed" over all of them.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
ref="$top/build/qemu-ref/bin/qemu-system-x86_64"
sid="$top/scripts/qemu-sid"
export BOOT_ROOTS
BOOT_ROOTS=$(mktemp -d /tmp/spm-boot.XXXXXX)
out=$(mktemp -d /tmp/spm-boot-out.XXXXXX)
trap 'rm -rf "$BOOT_ROOTS" "$out"' EXIT

# matrix EMULATOR FIRMWARE... -- TYPE...: boot.sh for each pair; its
# output, then a line "counted: PASSED FAILED" (a run that could not even
# count, exit 2 in set-up, is one failure).
matrix() {
    local emulator=$1 fws= fw type o rc p f
    shift
    while [ "$1" != -- ]; do fws="$fws $1"; shift; done
    shift
    for fw in $fws; do
        for type in "$@"; do
            rc=0
            o=$("$top/tests/boot.sh" "$emulator" "$fw" "$type") || rc=$?
            printf '%s\n' "$o"
            read -r p f <<< "$(printf '%s\n' "$o" | sed -n 's/^boot: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')"
            [ "$rc" -eq 0 ] || [ "${f:-0}" -gt 0 ] || f=$((${f:-0} + 1))
            echo "counted: ${p:-0} ${f:-0}"
        done
    done
}

# the reference QEMU (-numa node,memmap-type): its default SeaBIOS is the
# project's (scripts/qemu-build.sh)
matrix "$ref" seabios ovmf -- normal spm reserved layouts chain > "$out/ref" 2>&1 &
# Debian's QEMU 11.1 (-device sp-mem, no 'reserved'): its own SeaBIOS drops
# soft reserved E820 entries, hence the project's as <loader>
matrix "$sid" seabios-patched ovmf -- normal spm layouts chain > "$out/sid" 2>&1 &
wait

grep -hv '^counted: ' "$out/ref" "$out/sid"
read -r passed failed <<< "$(awk '/^counted: / {p += $2; f += $3} END {print p + 0, f + 0}' "$out/ref" "$out/sid")"
# both matrices must have counted all their runs
runs=$(grep -c '^counted: ' "$out/ref" "$out/sid" | awk -F: '{n += $2} END {print n}')
[ "$runs" -eq 18 ] || { echo "boot-all: $runs of 18 runs counted" >&2; failed=$((failed + 1)); }
echo "boot-all: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
