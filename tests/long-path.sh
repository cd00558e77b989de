#!/bin/bash
# long-path.sh: the project's tests from a clone at a path of 150+
# characters, as a user may clone it.  The tracked files (as they are in
# this work tree) are copied there; its build/ is this clone's build/,
# bind-mounted in a private mount namespace, so nothing is rebuilt.  From
# there: tests/run.sh, a boot of an SPM guest on each QEMU (the reference
# QEMU with its SeaBIOS, QEMU 11.1 with OVMF) and the demo.  Every UNIX
# socket (QEMU monitors, libvirt's) must stay under 108 bytes wherever the
# clone is.  Ends with "long-path: N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SPM_LONGPATH_NS:-}" ]; then
    exec env SPM_LONGPATH_NS=1 unshare --mount --propagation private "$0" "$@"
fi
base=$(mktemp -d /tmp/spm-long.XXXXXX)
trap 'umount "$long/build" 2>/dev/null; rm -rf "$base"' EXIT
long="$base/$(printf 'a-clone-at-a-path-as-long-as-users-make-them-%s' 1 2 3)"
mkdir -p "$long/build"
# the tracked files as they are in the work tree (less any deleted there)
git -C "$top" ls-files -z | while IFS= read -r -d '' f; do
    [ ! -e "$top/$f" ] || printf '%s\0' "$f"
done | tar -C "$top" --null -T - -cf - | tar -C "$long" -xf -
mount --bind "$top/build" "$long/build"
# The libvirt build seen at another path than the one it was built at
# would look for its driver modules where "make install" puts them: tell
# it to use its build directory (as virt-manager's tests here do).
export LIBVIRT_DIR_OVERRIDE=1

passed=0
failed=0
# sub LABEL CMD...: run CMD (a project test script) from the long clone and
# add up its "NAME: N passed, N failed" line; no such line is a failure.
sub() {
    local label=$1 out rc=0 p f
    shift
    out=$("$@" 2>&1) || rc=$?
    read -r p f <<< "$(printf '%s\n' "$out" | sed -n 's/^[a-z-]*: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' | tail -1)"
    if [ -z "$p" ]; then
        failed=$((failed + 1))
        echo "FAIL: $label: no summary line (exit $rc)"
        printf '%s\n' "$out" | tail -15 | sed 's/^/    /'
        return
    fi
    [ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || f=1
    passed=$((passed + p)) failed=$((failed + f))
    echo "$label: $p passed, $f failed (exit $rc)"
    [ "$f" -eq 0 ] || printf '%s\n' "$out" | grep -A3 '^FAIL' | head -30 | sed 's/^/    /'
}

echo "long-path: a clone at ${#long} characters: $long"
sub "tests/run.sh" "$long/tests/run.sh"
sub "boot, reference QEMU" "$long/tests/boot.sh" "$long/build/qemu-ref/bin/qemu-system-x86_64" seabios spm
sub "boot, QEMU 11.1" "$long/tests/boot.sh" "$long/scripts/qemu-sid" ovmf spm

# the demo asserts nothing itself: its guests must have reported, on both
# QEMUs, node 1 soft reserved and a dax device for it
out=$("$long/scripts/demo.sh" 2>&1)
n=$(printf '%s\n' "$out" | grep -c 'dax dax[0-9.]* target_node 1 ')
if [ "$n" -eq 2 ] && ! printf '%s\n' "$out" | grep -q 'too big for destination\|must be less than 108'; then
    passed=$((passed + 1))
    echo "PASS: make demo's guests on both QEMUs report node 1's dax device"
else
    failed=$((failed + 1))
    echo "FAIL: make demo: $n of 2 guests report node 1's dax device"
    printf '%s\n' "$out" | tail -30 | sed 's/^/    /'
fi

echo "long-path: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
