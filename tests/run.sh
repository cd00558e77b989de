#!/bin/bash
# Project tests: the patched virsh on the embedded QEMU driver with the
# machine's real QEMU binary.  Each test asserts what virsh prints or what
# stays defined, not only exit codes.  Ends with "N passed, N failed".
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
export EMBED="$top/build/embed-tests"
virsh="$top/scripts/virsh.sh"
example="$top/examples/spm-guest.xml"
work=$(mktemp -d)
trap 'rm -rf "$work" "$EMBED"' EXIT
rm -rf "$EMBED"

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; shift; printf '    %s\n' "$@"; }

# The example with cell 1 turned into ordinary RAM, written explicitly.
sed "s/memmapType='spm'/memmapType='normal'/" "$example" > "$work/normal.xml"
sed "s/memmapType='spm'/memmapType='hbm'/" "$example" > "$work/bogus.xml"

# 1. QEMU without -numa memmap-type: domain capabilities list only 'normal'.
caps=$("$virsh" domcapabilities --virttype qemu --arch x86_64 --machine q35 2>&1)
enum=$(printf '%s\n' "$caps" | sed -n "/<enum name='memmapType'>/,/<\/enum>/p")
if printf '%s' "$enum" | grep -q "<value>normal</value>" &&
   ! printf '%s' "$enum" | grep -q "<value>spm</value>"; then
    ok "domcapabilities reports memmapType normal only for $(/usr/bin/qemu-system-x86_64 --version | head -1)"
else
    fail "domcapabilities memmapType enum" "$enum"
fi

# 2. Defining the SPM example on that QEMU fails with libvirt's error and
#    defines nothing.
out=$("$virsh" define "$example" 2>&1) && rc=0 || rc=$?
if [ "$rc" -ne 0 ] &&
   printf '%s' "$out" | grep -q "memmapType='spm' of NUMA cell 1 is not supported by this QEMU binary" &&
   ! "$virsh" dominfo spm-guest >/dev/null 2>&1; then
    ok "define of memmapType='spm' is refused on a QEMU without support"
else
    fail "define of spm example on stock QEMU" "rc=$rc" "$out"
fi

# 3. The translation is refused the same way.
out=$("$virsh" domxml-to-native qemu-argv "$example" 2>&1) && rc=0 || rc=$?
if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -q "is not supported by this QEMU binary"; then
    ok "domxml-to-native of memmapType='spm' gives the unsupported error"
else
    fail "domxml-to-native of spm example" "rc=$rc" "$out"
fi

# 4. An explicit memmapType='normal' round trips and adds nothing to -numa.
if "$virsh" define "$work/normal.xml" >/dev/null 2>&1 &&
   "$virsh" dumpxml --inactive spm-guest > "$work/dump.xml" 2>&1 &&
   grep -q "<cell id='1' memory='262144' unit='KiB' memmapType='normal'/>" "$work/dump.xml"; then
    ok "explicit memmapType='normal' survives define/dumpxml"
else
    fail "normal round trip" "$(cat "$work/dump.xml" 2>/dev/null)"
fi
argv=$("$virsh" domxml-to-native qemu-argv "$work/normal.xml" 2>&1)
if printf '%s' "$argv" | grep -q -- "-numa node,nodeid=1,memdev=ram-node1" &&
   ! printf '%s' "$argv" | grep -q "memmap-type"; then
    ok "memmapType='normal' gives a plain -numa node"
else
    fail "normal command line" "$argv"
fi

# 5. Redefining with an invalid value fails with the XML error and leaves the
#    existing definition untouched.
cp "$work/dump.xml" "$work/before.xml"
out=$("$virsh" define "$work/bogus.xml" 2>&1) && rc=0 || rc=$?
"$virsh" dumpxml --inactive spm-guest > "$work/after.xml" 2>&1
if [ "$rc" -ne 0 ] &&
   printf '%s' "$out" | grep -q "Invalid value for attribute 'memmapType' in element 'cell': 'hbm'" &&
   cmp -s "$work/before.xml" "$work/after.xml"; then
    ok "invalid memmapType over an existing domain: clear error, old definition intact"
else
    fail "invalid redefine" "rc=$rc" "$out" "$(diff "$work/before.xml" "$work/after.xml")"
fi

# 6. Same for a redefinition that only this QEMU cannot do.
out=$("$virsh" define "$example" 2>&1) && rc=0 || rc=$?
"$virsh" dumpxml --inactive spm-guest > "$work/after.xml" 2>&1
if [ "$rc" -ne 0 ] && cmp -s "$work/before.xml" "$work/after.xml"; then
    ok "unsupported memmapType over an existing domain: old definition intact"
else
    fail "unsupported redefine" "rc=$rc" "$out"
fi

"$virsh" undefine spm-guest >/dev/null 2>&1 || true

echo "project: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
