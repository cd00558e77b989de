#!/bin/bash
# Project tests: the patched virsh on the embedded QEMU driver with real
# QEMU binaries: the machine's (Debian 12, neither mechanism), the
# reference QEMU (-numa node,memmap-type) and Debian's QEMU 11.1 (sp-mem).  Each test asserts what virsh prints or what
# stays defined, not only exit codes.  Ends with "N passed, N failed".
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
virsh="$top/scripts/virsh.sh"
export VIRSH_TIMEOUT=300     # no virsh call may hang the suite
example="$top/examples/spm-guest.xml"
# Embedded driver roots hold QEMU's monitor sockets, whose paths have at
# most 107 bytes: they live under a short temporary directory, never under
# the clone (which may be anywhere).
work=$(mktemp -d /tmp/spm-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
export EMBED="$work/r0"

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; shift; printf '    %s\n' "$@"; }

# fresh_root: an empty embedded driver root at $EMBED whose guests can run
# (QEMU's output to a plain file: no virtlogd here).
fresh_root() {
    rm -rf "$EMBED"
    mkdir -p "$EMBED/etc"
    echo 'stdio_handler = "file"' > "$EMBED/etc/qemu.conf"
}

# check_define_refused XML MESSAGE LABEL: defining XML (no spm-guest
# defined yet) fails with MESSAGE and defines nothing.
check_define_refused() {
    local out rc=0
    out=$("$virsh" define "$1" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -qF -- "$2" &&
       ! "$virsh" dominfo spm-guest >/dev/null 2>&1; then
        ok "$3"
    else
        fail "$3" "rc=$rc" "$out"
    fi
}

# check_redefine_refused XML BEFORE MESSAGE LABEL: defining XML over the
# existing spm-guest fails with MESSAGE, and the definition stays BEFORE.
check_redefine_refused() {
    local out rc=0
    out=$("$virsh" define "$1" 2>&1) || rc=$?
    "$virsh" dumpxml --inactive spm-guest > "$work/after.xml" 2>&1
    if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -qF -- "$3" &&
       cmp -s "$2" "$work/after.xml"; then
        ok "$4"
    else
        fail "$4" "rc=$rc" "$out" "$(diff "$2" "$work/after.xml")"
    fi
}

# check_memmap_enum EMULATOR LABEL VALUE...: domain capabilities of
# EMULATOR list exactly VALUE... as <cell memmapType> values.
check_memmap_enum() {
    local emulator=$1 label=$2 got want
    shift 2
    got=$("$virsh" domcapabilities --emulatorbin "$emulator" --virttype qemu \
              --arch x86_64 --machine q35 2>&1 |
          sed -n "/<enum name='memmapType'>/,/<\/enum>/s/.*<value>\(.*\)<\/value>.*/\1/p" |
          tr '\n' ' ')
    want="$* "
    if [ "$got" = "$want" ]; then
        ok "domcapabilities reports memmapType $* for $label"
    else
        fail "domcapabilities memmapType enum of $label: got '$got', want '$want'"
    fi
}

# The example with cell 1 turned into ordinary RAM, written explicitly.
sed "s/memmapType='spm'/memmapType='normal'/" "$example" > "$work/normal.xml"
sed "s/memmapType='spm'/memmapType='hbm'/" "$example" > "$work/bogus.xml"

# 1. QEMU without -numa memmap-type: domain capabilities list only 'normal'.
check_memmap_enum /usr/bin/qemu-system-x86_64 "$(/usr/bin/qemu-system-x86_64 --version | head -1)" normal

# 2. Defining the SPM example on that QEMU fails with libvirt's error and
#    defines nothing.
check_define_refused "$example" \
    "memmapType='spm' of NUMA cell 1 is not supported by this QEMU binary" \
    "define of memmapType='spm' is refused on a QEMU without support"

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
   grep -q "<cell id='1' memory='1048576' unit='KiB' memmapType='normal'/>" "$work/dump.xml"; then
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
check_redefine_refused "$work/bogus.xml" "$work/dump.xml" \
    "Invalid value for attribute 'memmapType' in element 'cell': 'hbm'" \
    "invalid memmapType over an existing domain: clear error, old definition intact"

# 6. Same for a redefinition that only this QEMU cannot do.
check_redefine_refused "$example" "$work/dump.xml" \
    "memmapType='spm' of NUMA cell 1 is not supported by this QEMU binary" \
    "unsupported memmapType over an existing domain: clear error, old definition intact"

"$virsh" undefine spm-guest >/dev/null 2>&1 || true

# The same on the reference QEMU (-numa node,memmap-type): its own driver
# root, the example with its <emulator>.
ref="$top/build/qemu-ref/bin/qemu-system-x86_64"
export EMBED="$work/r1"
rm -rf "$EMBED"
sed "s|<emulator>.*</emulator>|<emulator>$ref</emulator>|" "$example" > "$work/ref.xml"
sed "s/memmapType='spm'/memmapType='reserved'/" "$work/ref.xml" > "$work/ref-reserved.xml"
sed -e "/<cell id='1'/s/ memmapType='spm'//" \
    -e "/<cell id='0'/s|/>| memmapType='spm'/>|" "$work/ref.xml" > "$work/ref-first.xml"

# 7. Domain capabilities list all three values.
check_memmap_enum "$ref" "the reference QEMU" normal spm reserved

# 8. The SPM example defines and round trips.
if "$virsh" define "$work/ref.xml" >/dev/null 2>&1 &&
   "$virsh" dumpxml --inactive spm-guest > "$work/ref-dump.xml" 2>&1 &&
   grep -q "<cell id='1' memory='1048576' unit='KiB' memmapType='spm'/>" "$work/ref-dump.xml"; then
    ok "memmapType='spm' survives define/dumpxml on the reference QEMU"
else
    fail "spm round trip on the reference QEMU" "$(cat "$work/ref-dump.xml" 2>/dev/null)"
fi

# 9. Its command line: memory backends for every cell, memmap-type on cell 1.
argv=$("$virsh" domxml-to-native qemu-argv --domain spm-guest 2>&1)
if printf '%s' "$argv" | grep -q -- "-numa node,nodeid=0,cpus=0-1,memdev=ram-node0 " &&
   printf '%s' "$argv" | grep -q -- "-numa node,nodeid=1,memdev=ram-node1,memmap-type=spm "; then
    ok "memmapType='spm' becomes -numa node,...,memmap-type=spm"
else
    fail "spm command line" "$argv"
fi
argv=$("$virsh" domxml-to-native qemu-argv "$work/ref-reserved.xml" 2>&1)
if printf '%s' "$argv" | grep -q -- "-numa node,nodeid=1,memdev=ram-node1,memmap-type=reserved "; then
    ok "memmapType='reserved' becomes -numa node,...,memmap-type=reserved"
else
    fail "reserved command line" "$argv"
fi

# 10. A first cell that is not normal RAM: libvirt's error, old definition
#     untouched.  (Same UUID: a redefinition of the domain.)
uuid=$(sed -n 's|.*<uuid>\(.*\)</uuid>.*|\1|p' "$work/ref-dump.xml")
sed -i "s|<name>spm-guest</name>|&<uuid>$uuid</uuid>|" "$work/ref-first.xml"
check_redefine_refused "$work/ref-first.xml" "$work/ref-dump.xml" \
    "NUMA cell 0 with memmapType='spm' would hold the guest's low memory, which must be normal RAM" \
    "memmapType='spm' on cell 0 is refused by libvirt, old definition intact"
# 11. No memory device may add ordinary RAM to an SPM node: attaching a DIMM
#     to cell 1 is refused, the definition stays as it was.  (Memory hotplug
#     needs a normal last cell: QEMU gives it the hotplug region.)
with_hotplug() {
    sed -e "s|<memory unit='GiB'>3</memory>|<maxMemory slots='2' unit='GiB'>8</maxMemory>\n  &|" \
        -e "s|^\( *\)\(<cell id='1' .*memmapType='spm'/>\)|&\n\1<cell id='2' memory='512' unit='MiB'/>|" "$@"
}
with_hotplug "$work/ref.xml" > "$work/ref-hotplug.xml"
cat > "$work/dimm.xml" <<'EOT'
<memory model='dimm'>
  <target>
    <size unit='GiB'>1</size>
    <node>1</node>
  </target>
</memory>
EOT
"$virsh" undefine spm-guest >/dev/null 2>&1 || true
"$virsh" define "$work/ref-hotplug.xml" >/dev/null 2>&1
"$virsh" dumpxml --inactive spm-guest > "$work/hotplug-before.xml" 2>&1
out=$("$virsh" attach-device spm-guest "$work/dimm.xml" --config 2>&1) && rc=0 || rc=$?
"$virsh" dumpxml --inactive spm-guest > "$work/hotplug-after.xml" 2>&1
if [ "$rc" -ne 0 ] &&
   printf '%s' "$out" | grep -qF "memory device can't target guest node '1' with memmapType='spm'" &&
   grep -q "<cell id='1'" "$work/hotplug-before.xml" &&
   cmp -s "$work/hotplug-before.xml" "$work/hotplug-after.xml"; then
    ok "a DIMM on the SPM node is refused, definition unchanged"
else
    fail "DIMM on the SPM node" "rc=$rc" "$out" "$(diff "$work/hotplug-before.xml" "$work/hotplug-after.xml")"
fi
"$virsh" undefine spm-guest >/dev/null 2>&1 || true
#     And the SPM cell itself may not be the last cell of such a guest:
#     the hotplug region's SRAT entry would make it part of the SPM node.
sed "s|<memory unit='GiB'>3</memory>|<maxMemory slots='2' unit='GiB'>8</maxMemory>\n  &|" \
    "$work/ref.xml" > "$work/ref-hotplug-last.xml"
check_define_refused "$work/ref-hotplug-last.xml" \
    "NUMA cell 1 with memmapType='spm' is the last cell, which QEMU gives the memory hotplug region of <maxMemory>" \
    "<maxMemory> with the SPM cell last is refused, nothing defined"
rm -rf "$EMBED"

# Debian's QEMU 11.1 (-device sp-mem, run from the sid root).
sid="$top/scripts/qemu-sid"
export EMBED="$work/r2"
fresh_root
sed "s|<emulator>.*</emulator>|<emulator>$sid</emulator>|" "$example" > "$work/sid.xml"
sed "s/memmapType='spm'/memmapType='reserved'/" "$work/sid.xml" > "$work/sid-reserved.xml"

# 12. Domain capabilities list normal and spm, not reserved.
check_memmap_enum "$sid" "QEMU 11.1" normal spm

# 13. The same example XML becomes an sp-mem device; -m holds cell 0 only.
argv=$("$virsh" domxml-to-native qemu-argv "$work/sid.xml" 2>&1)
if printf '%s' "$argv" | grep -q -- "-m size=2097152k,maxmem=3145728k " &&
   printf '%s' "$argv" | grep -q -- "-numa node,nodeid=1 " &&
   printf '%s' "$argv" | grep -qF -- "-device '{\"driver\":\"sp-mem\",\"id\":\"spm-node1\",\"memdev\":\"ram-node1\",\"node\":1}'"; then
    ok "memmapType='spm' becomes -device sp-mem on QEMU 11.1"
else
    fail "QEMU 11.1 command line" "$argv"
fi

# 14. 'reserved' has no sp-mem equivalent: libvirt's error, nothing defined.
check_define_refused "$work/sid-reserved.xml" \
    "memmapType='reserved' of NUMA cell 1 is not supported by this QEMU binary" \
    "memmapType='reserved' is refused on QEMU 11.1"

# 15. A running guest with an sp-mem cell: its memory is what the XML says,
#     and save (QEMU would drop the SPM contents) is refused by libvirt with
#     the guest left running.  One virsh for the guest's life: the embedded
#     driver lives in it.
virsh="$top/build/libvirt-build/tools/virsh"
root=$EMBED
. "$top/scripts/virsh-session.sh"
"$top/scripts/guest-assets.sh" >/dev/null
sed -e "s|</os>|  <kernel>$top/build/guest/vmlinuz</kernel>\n    <initrd>$top/build/guest/initramfs.cpio.gz</initrd>\n    <cmdline>console=ttyS0 quiet</cmdline>\n  </os>|" \
    -e "s|<serial type='pty'/>|<serial type='file'><source path='$work/sid.serial'/></serial>|" \
    -e "/<console type='pty'\/>/d" "$work/sid.xml" > "$work/sid-boot.xml"
session_open "$work/sid-virsh.log"
session_run define "$work/sid-boot.xml"
session_run start --paused spm-guest
session_run dominfo spm-guest
session_run save spm-guest "$work/sid.save"
session_run domstate spm-guest
session_run destroy spm-guest
session_run undefine spm-guest
session_close
if grep -q "^error: Failed to save domain 'spm-guest'" "$vlog" &&
   grep -q "cannot migrate domain: the memory of NUMA cell 1 with memmapType='spm' is an sp-mem device, which QEMU cannot migrate" "$vlog" &&
   grep -qx "paused" "$vlog" && [ ! -e "$work/sid.save" ]; then
    ok "save of a running guest with an sp-mem cell is refused, guest still there"
else
    fail "save with sp-mem" "$(cat "$vlog")"
fi
if grep -Eq "^Max memory: +3145728 KiB" "$vlog" && grep -Eq "^Used memory: +3145728 KiB" "$vlog"; then
    ok "dominfo of the running guest: 3 GiB, as the XML says"
else
    fail "dominfo with sp-mem" "$(grep memory "$vlog")"
fi

# 15b. A known QEMU 11.1.3 bug: HMP "info numa" (and QMP x-query-numa)
#     abort QEMU when the guest has an sp-mem device (hw/core/numa.c walks
#     the memory devices and hits g_assert_not_reached() on sp-mem).
#     libvirt never sends either; "virsh qemu-monitor-command" can.  The
#     guest dies (crashed, shut off), its definition stays and it starts
#     again.  Asserts the bug: when a fixed QEMU lands, this check says so.
session_open "$work/sid-infonuma.log"
session_run define "$work/sid-boot.xml"
session_run start --paused spm-guest
session_run qemu-monitor-command spm-guest --hmp info numa
# libvirt sees QEMU's end a moment after the monitor command's error
for i in $(seq 20); do
    session_run domstate --reason spm-guest
    grep -q "^shut off" "$vlog" && break
    sleep 0.5
done
session_run dumpxml --inactive spm-guest
session_run start --paused spm-guest
session_run domstate spm-guest
session_run destroy spm-guest
session_run undefine spm-guest
session_close
qlog="$EMBED/log/qemu/spm-guest.log"
if grep -q "^shut off (crashed)" "$vlog" &&
   grep -q "should not be reached" "$qlog" 2>/dev/null &&
   grep -q "memmapType='spm'" "$vlog" && grep -qx "paused" "$vlog"; then
    ok "QEMU 11.1.3 aborts on HMP 'info numa' with sp-mem (known bug): guest crashed, definition kept, starts again"
else
    fail "HMP info numa with sp-mem" "$(cat "$vlog")" "$(tail -5 "$qlog" 2>/dev/null)"
fi

# 16. A cell size QEMU cannot map as sp-mem (1025 MiB) is rounded up to 2 MiB
#     when the guest starts, as libvirt does for memory modules: the live XML
#     shows it, the persistent definition keeps what the user wrote.
sed -e "s|<memory unit='GiB'>3</memory>|<memory unit='MiB'>3073</memory>|" \
    -e "s|<cell id='1' memory='1' unit='GiB'|<cell id='1' memory='1025' unit='MiB'|" \
    "$work/sid-boot.xml" > "$work/sid-unaligned.xml"
session_open "$work/sid-unaligned.log"
session_run define "$work/sid-unaligned.xml"
session_run start --paused spm-guest
session_run dumpxml spm-guest
session_run dumpxml --inactive spm-guest
session_run destroy spm-guest
session_run undefine spm-guest
session_close
if [ "$(grep -c "<cell id='1' memory='1050624' unit='KiB' memmapType='spm'/>" "$vlog")" = 1 ] &&
   [ "$(grep -c "<cell id='1' memory='1049600' unit='KiB' memmapType='spm'/>" "$vlog")" = 1 ] &&
   [ -z "$(errors)" ]; then
    ok "an sp-mem cell of 1025 MiB runs as 1026 MiB, the definition keeps 1025 MiB"
else
    fail "unaligned sp-mem cell" "$(cat "$vlog")"
fi
rm -rf "$EMBED"

# 17. A DIMM whose user-given base lies on the sp-mem range: libvirt puts
#     the sp-mem devices first, so QEMU refuses the DIMM (it checks overlaps
#     of memory devices) and its error reaches the user; nothing runs.
with_hotplug \
    -e "s|</devices>|  <memory model='dimm'><target><size unit='MiB'>512</size><node>0</node></target><address type='dimm' slot='0' base='0x100000000'/></memory>\n  </devices>|" \
    "$work/sid-boot.xml" > "$work/sid-dimm.xml"
fresh_root
session_open "$work/sid-dimm.log"
session_run define "$work/sid-dimm.xml"
session_run start spm-guest
session_run domstate spm-guest
session_run undefine spm-guest
session_close
if grep -q "^error: Failed to start domain 'spm-guest'" "$vlog" &&
   grep -qF "address range conflicts with memory device id='spm-node1'" "$vlog" &&
   grep -qx "shut off" "$vlog" && ! pgrep -f -- "-name guest=spm-guest," >/dev/null; then
    ok "a DIMM placed on the sp-mem range is refused by QEMU through virsh, nothing left running"
else
    fail "DIMM on the sp-mem range" "$(cat "$vlog")"
fi
rm -rf "$EMBED"

# 18. The balloon counts an sp-mem cell as guest memory, as QEMU with
#     memmap-type does (QEMU's own balloon counts only -m): dominfo and
#     dommemstat report all 3 GiB, and a target that would leave the guest
#     no ordinary RAM is refused while the guest keeps running.
sed "s|<memballoon model='none'/>|<memballoon model='virtio'/>|" "$work/sid-boot.xml" > "$work/sid-balloon.xml"
fresh_root
session_open "$work/sid-balloon.log"
session_run define "$work/sid-balloon.xml"
session_run start --paused spm-guest
session_run dominfo spm-guest
session_run dommemstat spm-guest
session_run setmem spm-guest 1048576
session_run domstate spm-guest
session_run destroy spm-guest
session_run undefine spm-guest
session_close
if grep -q "<memballoon model='virtio'" "$work/sid-balloon.xml" &&
   grep -Eq "^Used memory: +3145728 KiB" "$vlog" && grep -q "^actual 3145728" "$vlog" &&
   grep -qF "balloon target 1048576 KiB must be larger than the 1048576 KiB of the guest's memmapType='spm' NUMA cells" "$vlog" &&
   grep -qx "paused" "$vlog"; then
    ok "the balloon of an sp-mem guest counts the SPM cell; a target without RAM is refused"
else
    fail "balloon with sp-mem" "$(cat "$vlog")"
fi
rm -rf "$EMBED"

# 19. One XML, one guest ABI: a guest saved on the reference QEMU (the cell's
#     RAM retyped in place) is not restored by a QEMU that would use sp-mem
#     (other guest addresses); the image is left as it was and restores on
#     the reference QEMU.
export EMBED="$work/r3"
root=$EMBED
fresh_root
sed "s|<emulator>.*</emulator>|<emulator>$ref</emulator>|" "$work/sid-boot.xml" > "$work/ref-boot.xml"
session_open "$work/restore.log"
session_run define "$work/ref-boot.xml"
session_run start --paused spm-guest
session_run save spm-guest "$work/ref.save"
session_run save-image-dumpxml "$work/ref.save"
session_close
sed -n '/^<domain/,/^<\/domain>/p' "$vlog" |
    sed "s|<emulator>.*</emulator>|<emulator>$sid</emulator>|" > "$work/ref-save-on-sid.xml"
sum_before=$(sha256sum < "$work/ref.save")
session_open "$work/restore2.log"
session_run restore "$work/ref.save" --xml "$work/ref-save-on-sid.xml"
session_run domstate spm-guest
session_close
log2=$vlog
session_open "$work/restore3.log"
session_run restore "$work/ref.save"
session_run domstate spm-guest
session_run destroy spm-guest
session_run undefine spm-guest
session_close
if [ -s "$work/ref.save" ] && grep -q "<emulator>$sid</emulator>" "$work/ref-save-on-sid.xml" &&
   grep -qF "cannot load the saved or migrated state of NUMA cell 1 with memmapType='spm'" "$log2" &&
   grep -qx "shut off" "$log2" &&
   [ "$(sha256sum < "$work/ref.save")" = "$sum_before" ] &&
   grep -q "^Domain restored from" "$vlog" && grep -qx "paused" "$vlog"; then
    ok "a guest saved on the reference QEMU is not restored on QEMU 11.1 (sp-mem); image intact, restores on the reference QEMU"
else
    fail "cross-QEMU restore" "$(cat "$log2")" "$(cat "$vlog")"
fi
rm -rf "$EMBED"

# --- libvirt series: balloon translation on sp-mem (the libvirt series'
# --- block; keep other tests above it)
# 20. virsh setmem on a running sp-mem guest: QEMU's balloon counts -m (cell
#     0) only, so libvirt gives QEMU the target less the SPM cell.  2.5 GiB
#     of 3 GiB become a balloon target of 1.5 GiB, 1610612736 bytes, in
#     the QMP command libvirt sends (its debug log); HMP 'info balloon'
#     (safe, unlike 'info numa') shows QEMU's own view, 2 GiB of -m.  A
#     target of the SPM cell alone is an invalid argument.
export EMBED="$work/r4"
root=$EMBED
fresh_root
# the embedded driver runs in virsh: its debug log has the QMP commands
export LIBVIRT_LOG_FILTERS="1:qemu.qemu_monitor"
export LIBVIRT_LOG_OUTPUTS="1:file:$work/setmem-debug.log"
session_open "$work/sid-setmem.log"
unset LIBVIRT_LOG_FILTERS LIBVIRT_LOG_OUTPUTS
session_run define "$work/sid-balloon.xml"
session_run start --paused spm-guest
session_run setmem spm-guest 2621440 --live
session_run qemu-monitor-command spm-guest --hmp info balloon
session_run setmem spm-guest 1048576 --live
session_run domstate spm-guest
session_run destroy spm-guest
session_run undefine spm-guest
session_close
if grep -q '"execute":"balloon","arguments":{"value":1610612736}' "$work/setmem-debug.log" 2>/dev/null &&
   grep -Eq "^balloon: actual=2048([^0-9]|$)" "$vlog" &&
   grep -qF "error: invalid argument: balloon target 1048576 KiB must be larger than the 1048576 KiB of the guest's memmapType='spm' NUMA cells" "$vlog" &&
   grep -qx "paused" "$vlog"; then
    ok "setmem 2.5 GiB on an sp-mem guest gives QEMU's balloon 1.5 GiB; the SPM cell alone is an invalid argument"
else
    fail "setmem on an sp-mem guest" "$(cat "$vlog")" \
        "$(grep -o '"execute":"balloon"[^}]*}' "$work/setmem-debug.log" 2>/dev/null)"
fi
rm -rf "$EMBED"
# --- end of the libvirt series' block

echo "project: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
