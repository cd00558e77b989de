#!/bin/bash
# boot.sh [EMULATOR [FIRMWARE [MEMMAP]]]: boot real guests through the
# patched libvirt and check what the guest kernel sees of NUMA node 1.
#
#   EMULATOR  QEMU binary, the domain's <emulator>
#             (default $BOOT_EMULATOR, else /usr/bin/qemu-system-x86_64)
#   FIRMWARE  seabios          the emulator's own SeaBIOS (no <loader>)
#             seabios-patched  build/firmware/bios-256k.bin (scripts/seabios-build.sh)
#             ovmf             build/guest/OVMF.fd as a ROM (-bios)
#   MEMMAP    memmapType of cell 1: normal (default), spm or reserved;
#             or "layouts": the SPM layouts other than "one SPM node, last"
#             (an SPM node between normal ones, two SPM nodes, SPM nodes
#             before a normal last node with <maxMemory>, i440fx);
#             or "chain": what a driver in the guest sees (device -> node
#             -> SRAT -> soft reserved -> dax), see chain() below;
#             or "bench": not a test, figures for make bench (bench())
#
# Each guest is q35 under TCG with ACPI and boots build/guest/vmlinuz with
# an initramfs (scripts/guest-assets.sh) whose /init prints the firmware's
# E820 table and the SRAT memory affinity entries on the serial console, a
# file, then powers off.  Cell 0 holds the CPU, cell 1 only memory.
# Ends with "boot: N passed, N failed".  $BOOT_TIMEOUT: seconds per boot.
# Runs for the same EMULATOR must not overlap: they share its driver root.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
emulator=${1:-${BOOT_EMULATOR:-/usr/bin/qemu-system-x86_64}}
firmware=${2:-seabios}
memmap=${3:-normal}
timeout=${BOOT_TIMEOUT:-120}
guest="$top/build/guest"
logs="$top/build/boot-logs"
virsh="$top/build/libvirt-build/tools/virsh"

# fwkind: what the guest must report (tests/guest-init), proof that this
# firmware booted it
case $firmware in
    seabios) loader= fwkind=bios ;;
    seabios-patched) loader="$top/build/firmware/bios-256k.bin" fwkind=bios ;;
    ovmf) loader="$guest/OVMF.fd" fwkind=efi ;;
    *) echo "boot: unknown firmware '$firmware'" >&2; exit 2 ;;
esac
case $memmap in
    normal|spm|reserved|layouts|chain|bench) ;;
    *) echo "boot: unknown memmapType '$memmap'" >&2; exit 2 ;;
esac
[ -x "$emulator" ] || { echo "boot: no emulator $emulator" >&2; exit 2; }
case $emulator in /*) ;; *) emulator="$PWD/$emulator" ;; esac   # libvirt wants it absolute
[ -x "$virsh" ] || { echo "boot: no $virsh; run 'make build'" >&2; exit 2; }
"$top/scripts/guest-assets.sh" || exit 2
[ -z "$loader" ] || [ -f "$loader" ] || { echo "boot: no firmware $loader" >&2; exit 2; }

# One embedded driver root per QEMU binary: its capabilities cache and
# definitions never mix with another binary's.  Under a short temporary
# directory ($BOOT_ROOTS, shared by the runs of tests/boot-all.sh, or one of
# this run's), never under the clone: QEMU's monitor socket lies below it,
# and a socket path has at most 107 bytes.  QEMU's stderr goes to a plain
# file there: virtlogd only runs with a system libvirt.
if [ -z "${BOOT_ROOTS:-}" ]; then
    BOOT_ROOTS=$(mktemp -d /tmp/spm-boot.XXXXXX)
    trap 'rm -rf "$BOOT_ROOTS"' EXIT
fi
root="$BOOT_ROOTS/$(printf '%s' "$emulator" | sha256sum | cut -c1-8)"
mkdir -p "$root/etc" "$logs"
# In the guests' names, so that runs for two QEMUs may boot at once.
case $emulator in
    */qemu-sid) tag=sid ;;
    */qemu-ref/*) tag=ref ;;
    *) tag=$(printf '%s' "$emulator" | sha256sum | cut -c1-4) ;;
esac
echo "$emulator" > "$root/emulator"
echo 'stdio_handler = "file"' > "$root/etc/qemu.conf"

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; shift; printf '%s\n' "$@" | sed '/^$/d; s/^/    /'; }

MiB=$((1 << 20))
GiB=$((1 << 30))

# RAM below 4 GiB of a q35 guest with $1 bytes of RAM: 2 GiB once there
# are 2.75 GiB or more, else all of it (hw/i386/pc_q35.c).  The rest of
# RAM continues at 4 GiB.
lowmem() { echo $(($1 >= 0xb0000000 ? 2 * GiB : $1)); }
# gpa OFFSET RAM: guest physical address of RAM offset OFFSET.
gpa() {
    local low
    low=$(lowmem "$2")
    echo $(($1 < low ? $1 : 4 * GiB + $1 - low))
}
# devmem RAM: where the device memory region of a q35 guest with RAM bytes
# of RAM starts: the first GiB boundary after the RAM above 4 GiB (pc.c,
# pc_get_device_memory_range).  An sp-mem device is the first device there.
devmem() {
    local above=$(($1 - $(lowmem "$1")))
    echo $(( (4 * GiB + above + GiB - 1) / GiB * GiB ))
}

# How this QEMU gives cell 1 its type, as libvirt's command line for the
# guest says: "memmap-type" (the cell's RAM retyped in place) or "sp-mem"
# (a device in the device memory region; the cell's RAM is not in -m).
mechanism() {   # DOMAIN_XML
    local argv
    argv=$(timeout 300 "$virsh" -q -c "qemu:///embed?root=$root" domxml-to-native qemu-argv "$1" 2>&1)
    case $argv in
        *'"driver":"sp-mem"'*) echo sp-mem ;;
        *memmap-type=*) echo memmap-type ;;
        *) echo none ;;
    esac
}

# domain_xml NAME CELL0_MIB CELL1_MIB SERIAL_LOG: cell 0 with the CPU,
# cell 1 memory only with $memmap.  $machine, $cells (<cell> elements
# instead of those two), $maxmem (<maxMemory>), $devices (more devices),
# $qemuargs (<qemu:arg> elements) and $initargs (kernel command line)
# change it.
machine=q35
cells=
maxmem=
devices=
qemuargs=
initargs=
domain_xml() {
    cat <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$1</name>
  ${maxmem:+<maxMemory slots='2' unit='MiB'>$maxmem</maxMemory>}
  <memory unit='MiB'>$(($2 + $3))</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='$machine'>hvm</type>
    ${loader:+<loader type='rom'>$loader</loader>}
    <kernel>$guest/vmlinuz</kernel>
    <initrd>$guest/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0 quiet panic=-1${initargs:+ $initargs}</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
  <cpu>
    <numa>
${cells:-      <cell id='0' cpus='0' memory='$2' unit='MiB'/>
      <cell id='1' memory='$3' unit='MiB' memmapType='$memmap'/>}
    </numa>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$emulator</emulator>
    <controller type='usb' model='none'/>
    <serial type='file'>
      <source path='$4'/>
    </serial>
    <memballoon model='none'/>
${devices}  </devices>
${qemuargs:+  <qemu:commandline>
$qemuargs  </qemu:commandline>
}</domain>
EOF
}

# session_open/session_run/session_close/errors: one virsh for a guest's
# whole life (the embedded driver lives inside the virsh process)
. "$top/scripts/virsh-session.sh"

# Interrupted: QEMU, started daemonized, would outlive virsh.
name=
interrupted() {
    [ -z "$vpid" ] || session_close
    [ -z "$name" ] || [ ! -f "$root/run/qemu/$name.pid" ] ||
        kill "$(cat "$root/run/qemu/$name.pid")" 2>/dev/null
    exit 1
}
trap interrupted INT TERM

# leftovers NAME: a QEMU of the guest, or a running domain's status file.
leftovers() {
    pgrep -af -- "-name guest=$1," || true
    ls "$root/run/qemu/$1.xml" 2>/dev/null || true
}

# E820 entries of a serial log as "START LAST CLASS" (decimal); CLASS is
# ram, soft, reserved or other.  Kernel 7.x names the types "System RAM",
# "device reserved", "soft reserved"; older ones "usable" and "reserved".
e820() {
    tr -d '\r' < "$1" |
    sed -n 's/^spm-test: BIOS-e820: \[mem 0x\([0-9a-f]*\)-0x\([0-9a-f]*\)\] *\(.*\)$/\1 \2 \3/p' |
    while read -r s e t; do
        case $t in
            'System RAM'|usable) t=ram ;;
            'soft reserved') t=soft ;;
            'device reserved'|reserved) t=reserved ;;
            *) t=other ;;
        esac
        echo "$((16#$s)) $((16#$e)) $t"
    done
}
# bytes LOG CLASS START LAST: how many bytes of [START, LAST] E820 entries
# of CLASS cover (neighbours may be merged with the range or split it).
bytes() {
    local n=0 s e t
    while read -r s e t; do
        [ "$t" = "$2" ] || continue
        [ "$s" -ge "$3" ] || s=$3
        [ "$e" -le "$4" ] || e=$4
        [ "$s" -gt "$e" ] || n=$((n + e - s + 1))
    done < <(e820 "$1")
    echo "$n"
}

# secs T0 T1: seconds between two $EPOCHREALTIME values, one decimal.
secs() {
    local d=$(( (${2/./} - ${1/./}) / 100000 ))
    echo "$((d / 10)).$((d % 10))"
}

# verdict LOG START LAST NEED: what is wrong with node 1 at [START, LAST] in
# the guest's report for cell 1's memmapType; nothing if all is right.
# NEED: System RAM bytes a normal node must have at least.
verdict() {
    local size=$(($3 - $2 + 1))
    local srat
    srat="spm-test: ACPI: SRAT: Node 1 PXM 1 [mem $(printf '0x%08x-0x%08x' "$2" "$3")]"
    case $memmap in
        normal)
            [ "$(bytes "$1" ram "$2" "$3")" -ge "$4" ] || echo "not System RAM in E820"
            [ "$(bytes "$1" soft "$2" "$3")" -eq 0 ] || echo "soft reserved in E820"
            grep -qF "$srat" "$1" || echo "no '$srat'" ;;
        spm)
            [ "$(bytes "$1" soft "$2" "$3")" -eq "$size" ] || echo "not soft reserved in E820"
            grep -qF "$srat" "$1" || echo "no '$srat'" ;;
        reserved)
            [ "$(bytes "$1" reserved "$2" "$3")" -eq "$size" ] || echo "not reserved in E820"
            ! grep -q 'SRAT: Node 1 PXM 1 \[mem' "$1" || echo "node 1 has SRAT memory affinity" ;;
    esac
}

# boot LABEL CELL0_MIB CELL1_MIB: boot the guest, check node 1.
boot() {
    name="boot-$tag-$firmware-$memmap-$1"
    local log="$logs/$name.serial" xml="$logs/$name.xml"
    local c0=$(($2 * MiB)) c1=$(($3 * MiB)) total start last range mech
    domain_xml "$name" "$2" "$3" "$log" > "$xml"
    mech=$(mechanism "$xml")
    if [ "$mech" = sp-mem ]; then
        total=$c0
        start=$(devmem "$c0")
        last=$((start + c1 - 1))
    else
        total=$((c0 + c1))
        start=$(gpa "$c0" "$total")
        last=$(gpa $((c0 + c1 - 1)) "$total")
    fi
    range=$(printf '0x%08x-0x%08x' "$start" "$last")
    local what="$name: node 1 [$range] $memmap"
    [ "$mech" = none ] || what="$what ($mech)"
    if [ $((last - start + 1)) -ne "$c1" ]; then
        fail "$what: crosses 4 GiB, not a boot case"
        return
    fi

    run_guest "$name" "$xml" "$log" || return
    # The firmware keeps its own tables at the top of RAM below 4 GiB
    # (SeaBIOS 128 KiB, OVMF some MiB): an ordinary node there is mostly,
    # not all, System RAM.
    local need=$c1 why
    [ $((last + 1)) -ne "$(lowmem "$total")" ] || need=$((c1 * 7 / 8))
    why=$(verdict "$log" "$start" "$last" "$need")
    if [ -z "$why" ]; then
        ok "$what ($took)"
    else
        fail "$what: ${why//$'\n'/; }" "$(tr -d '\r' < "$log" | grep -E 'BIOS-e820|SRAT')"
    fi
}

# run_guest NAME XML LOG: define and start the guest, wait for its report
# and poweroff.  Sets $took; on failure reports it (with $what) and returns 1.
took=
run_guest() {
    local name=$1 xml=$2 log=$3
    local state t0 t1 t2 deadline
    rm -f "$log"
    session_open "$logs/$name.virsh"
    session_run destroy "$name"     # leftovers of an interrupted run
    session_run undefine "$name"
    session_run define "$xml"
    t0=$EPOCHREALTIME
    session_run start "$name"
    t1=$EPOCHREALTIME
    if ! grep -q "^Domain '$name' defined" "$vlog"; then
        state="not defined"
    elif ! grep -q "^Domain '$name' started" "$vlog"; then
        state="not started"
    else
        # The guest powers itself off after its report; libvirt then ends
        # QEMU (on_poweroff).
        deadline=$((SECONDS + timeout))
        while pgrep -f -- "-name guest=$name," >/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
            sleep 0.1
        done
        if pgrep -f -- "-name guest=$name," >/dev/null; then
            state="still running after $timeout s"
        elif ! tr -d '\r' < "$log" | grep -q '^spm-test: end$'; then
            state="stopped before its report"
        elif ! tr -d '\r' < "$log" | grep -qx "spm-test: firmware $fwkind"; then
            state="booted by the wrong firmware: $(tr -d '\r' < "$log" | grep '^spm-test: firmware'), want $fwkind"
        else
            state=reported
        fi
    fi
    t2=$EPOCHREALTIME
    session_run destroy "$name"     # normally "domain is not running" by now
    session_run undefine "$name"
    session_close
    local left
    left=$(leftovers "$name")
    took="$(secs "$t0" "$t1") s to start, $(secs "$t1" "$t2") s to poweroff"

    if [ "$state" != reported ]; then
        fail "$what: guest $state" "$(errors)" "serial console: $log"
        return 1
    elif [ -n "$left" ]; then
        fail "$what: left behind after the session" "$left"
        return 1
    fi
}

# srat LOG: the guest's SRAT memory ranges as "PXM START LAST" (decimal).
# The PXM is libvirt's cell id; Linux numbers its nodes in the order it
# meets the PXMs, so its "Node" may differ.
srat() {
    tr -d '\r' < "$1" |
    sed -n 's/^spm-test: ACPI: SRAT: Node [0-9]* PXM \([0-9]*\) \[mem 0x\([0-9a-f]*\)-0x\([0-9a-f]*\)\].*/\1 \2 \3/p' |
    while read -r n s e; do echo "$n $((16#$s)) $((16#$e))"; done
}

# spm_cells SIZE:TYPE...: $cells for cells of these sizes (MiB) and
# memmapTypes, cell 0 with the CPU; sets $total (MiB), $want ("CELL:BYTES"
# of each SPM cell), $nspm and $normal (the normal cells).
spm_cells() {
    local i=0 spec size type
    cells= total=0 want= nspm=0 normal=
    for spec in "$@"; do
        size=${spec%%:*} type=${spec#*:}
        cells="$cells      <cell id='$i'$([ "$i" = 0 ] && echo " cpus='0'") memory='$size' unit='MiB' memmapType='$type'/>
"
        [ "$type" != spm ] || { want="$want $i:$((size * MiB))"; nspm=$((nspm + 1)); }
        [ "$type" != normal ] || normal="$normal $i"
        total=$((total + size))
        i=$((i + 1))
    done
    cells=${cells%$'\n'}
}

# srat_range LOG NODE: "START LAST" of NODE's one SRAT memory range; fails
# (printing what there is) unless there is exactly one.
srat_range() {
    local ranges n s e
    ranges=$(srat "$1" | awk -v n="$2" '$1 == n')
    if [ "$(printf '%s\n' "$ranges" | grep -c .)" -ne 1 ]; then
        echo "SRAT ranges '$ranges', want one"
        return 1
    fi
    read -r n s e <<< "$ranges"
    echo "$s $e"
}

# layout LABEL SIZE:TYPE...: boot a guest whose cells have these sizes (MiB)
# and memmapTypes (cell 0 gets the CPU) and check every SPM node from what
# the guest reports: one SRAT range of the cell's exact size with the cell's
# PXM, all of it soft reserved in E820, overlapped by no SRAT range of
# another PXM (such as QEMU's hotplug range); and no byte of a normal
# node's SRAT ranges soft reserved.
layout() {
    local label=$1 total want nspm normal
    shift
    spm_cells "$@"
    name="layout-$tag-$firmware-$label"
    local log="$logs/$name.serial" xml="$logs/$name.xml"
    what="$name ($machine${maxmem:+, maxMemory $maxmem MiB}: $*)"
    domain_xml "$name" "$total" 0 "$log" > "$xml"
    cells=
    run_guest "$name" "$xml" "$log" || return
    local why= node bytes n s e ranges
    for node in $want; do
        bytes=${node#*:} node=${node%:*}
        ranges=$(srat_range "$log" "$node") || { why="$why; node $node: $ranges"; continue; }
        read -r s e <<< "$ranges"
        [ $((e - s + 1)) -eq "$bytes" ] || why="$why; node $node: SRAT range of $((e - s + 1)) bytes, want $bytes"
        [ "$(bytes "$log" soft "$s" "$e")" -eq $((e - s + 1)) ] || why="$why; node $node: not all soft reserved in E820"
        srat "$log" | awk -v n="$node" -v s="$s" -v e="$e" \
            '$1 != n && $2 <= e && $3 >= s {print "node " $1 " overlaps"; exit}' |
            grep -q . && why="$why; node $node: an SRAT range of another node overlaps it"
    done
    for node in $normal; do
        ranges=$(srat "$log" | awk -v n="$node" '$1 == n {print $2, $3}')
        [ -n "$ranges" ] || { why="$why; normal node $node: no SRAT range"; continue; }
        while read -r s e; do
            [ "$(bytes "$log" soft "$s" "$e")" -eq 0 ] ||
                why="$why; normal node $node: soft reserved bytes in $(printf '0x%x-0x%x' "$s" "$e")"
        done <<< "$ranges"
    done
    if [ -z "$why" ]; then
        ok "$what: every SPM node exact, soft reserved, alone; normal nodes not soft reserved ($took)"
    else
        fail "$what${why}" "$(tr -d '\r' < "$log" | grep -E 'BIOS-e820|SRAT')"
    fi
}

# reject LABEL CELL0_MIB CELL1_MIB REGEX: a guest that QEMU, not libvirt,
# refuses.  QEMU's error (matching REGEX) must reach the user through
# virsh, and nothing may stay running.
reject() {
    name="reject-$tag-$firmware-$memmap-$1"
    local xml="$logs/$name.xml"
    domain_xml "$name" "$2" "$3" "$logs/$name.serial" > "$xml"
    session_open "$logs/$name.virsh"
    session_run destroy "$name"
    session_run undefine "$name"
    session_run define "$xml"
    session_run start "$name"
    session_run domstate "$name"
    session_run destroy "$name"     # should QEMU have accepted it after all
    session_run undefine "$name"
    session_close
    local left
    left=$(leftovers "$name")
    if grep -q "^Domain '$name' defined" "$vlog" &&
       grep -q "^error: Failed to start domain '$name'" "$vlog" &&
       errors | grep -qE -- "$4" &&
       grep -qx "shut off" "$vlog" &&
       [ -z "$left" ]; then
        ok "$name: QEMU refuses it, through virsh: $(errors | grep -oE -- "$4" | head -1)"
    else
        fail "$name: expected QEMU to refuse it with /$4/" "$(errors)" "$left"
    fi
}

# A PCI expander bus for each of nodes 0 and 1 (guest buses 0x40 and 0x80),
# each with a root port and a virtio device behind it: 0000:41:00.0 is the
# device of node 0, 0000:81:00.0 the "accelerator" of node 1.
chain_devices() {
    local n
    for n in 0 1; do
        cat <<EOF
    <controller type='pci' index='$((2 * n + 1))' model='pcie-expander-bus'>
      <target busNr='$((64 * (n + 1)))'><node>$n</node></target>
    </controller>
    <controller type='pci' index='$((2 * n + 2))' model='pcie-root-port'>
      <address type='pci' bus='$((2 * n + 1))' slot='0'/>
    </controller>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
      <alias name='ua-dev$n'/>
      <address type='pci' bus='$((2 * n + 2))' slot='0'/>
    </rng>
EOF
    done
}
# The ACPI Generic Initiator of node 1's device.  libvirt gives it only to
# host devices (<acpi nodeset='1'/>), which this machine cannot assign: the
# same object libvirt emits for one (tests/qemuxmlconfdata/
# numa-memmap-type-accelerator.*.args), for the emulated device instead.
chain_gi="    <qemu:arg value='-object'/>
    <qemu:arg value='{\"qom-type\":\"acpi-generic-initiator\",\"id\":\"gi0\",\"pci-dev\":\"ua-dev1\",\"node\":1}'/>
"

# chain LABEL GI SIZE:TYPE...: boot a guest with these cells (cell 0 gets
# the CPU, the others none), the two devices and, if GI is "gi", the
# Generic Initiator; check every link a driver walks.  Device of node 0 in
# node 0; node 1's device in node 1 with the initiator, in no node (-1)
# without it.  For each SPM node: exactly one dax device with it as
# target_node, whose range is the node's one SRAT range, of the cell's
# size and all soft reserved in E820; /dev/daxX.Y opens; once kmem has it
# and its blocks are online, the node's MemTotal is the cell's size.  No
# other dax devices.  $adjacent: the SPM cells are neighbours in guest
# physical memory, so the guest sees one soft reserved range; without HMAT
# Linux makes one dax device of it, whose target_node is the first SPM
# node (measured, kernel 7.2.13): check exactly that.  $hmat: the guest has
# an HMAT (node 0's own latency and bandwidth only), whose memory targets
# (one per SRAT range) make Linux split the range per node again.
adjacent=
hmat=
chain() {
    local label=$1 gi=$2 total want nspm
    shift 2
    spm_cells "$@"
    [ -z "$hmat" ] || cells="$cells
      <interconnects>
        <latency initiator='0' target='0' type='access' value='5'/>
        <bandwidth initiator='0' target='0' type='access' value='204800' unit='KiB'/>
      </interconnects>"
    name="chain-$tag-$firmware-$label"
    local log="$logs/$name.serial" xml="$logs/$name.xml"
    what="$name ($*${gi:+, Generic Initiator}${hmat:+, HMAT})"
    devices=$(chain_devices)$'\n' initargs=spm-test=chain qemuargs=${gi:+$chain_gi} \
        domain_xml "$name" "$total" 0 "$log" > "$xml"
    cells=
    run_guest "$name" "$xml" "$log" || return
    local why= node bytes n s e ranges dax t r z want1 lines first= sum=0
    if [ -n "$adjacent" ]; then
        # the SRAT ranges stay per node; the dax device is one, of both
        for node in $want; do
            bytes=${node#*:} node=${node%:*}
            ranges=$(srat_range "$log" "$node") || { why="$why; node $node: $ranges"; continue; }
            read -r s e <<< "$ranges"
            [ $((e - s + 1)) -eq "$bytes" ] && [ "$(bytes "$log" soft "$s" "$e")" -eq "$bytes" ] ||
                why="$why; node $node: SRAT range '$s-$e' not exact or not soft reserved"
            first=${first:-$node}
            sum=$((sum + bytes))
        done
        want="$first:$sum" nspm=1
    fi
    lines=$(tr -d '\r' < "$log" | sed -n 's/^spm-test: //p')
    pcinode() { printf '%s\n' "$lines" | sed -n "s/^pci $1 .* numa_node \(-\{0,1\}[0-9]*\)$/\1/p"; }
    [ "$(pcinode 0000:41:00.0)" = 0 ] || why="$why; node 0's device: numa_node '$(pcinode 0000:41:00.0)', want 0"
    want1=$([ -n "$gi" ] && echo 1 || echo -1)
    [ "$(pcinode 0000:81:00.0)" = "$want1" ] || why="$why; node 1's device: numa_node '$(pcinode 0000:81:00.0)', want $want1"
    n=$(printf '%s\n' "$lines" | grep -c '^dax dax[0-9.]* target_node')
    [ "$n" -eq "$nspm" ] || why="$why; $n dax devices, want $nspm"
    for node in $want; do
        bytes=${node#*:} node=${node%:*}
        ranges=$(srat_range "$log" "$node") || { why="$why; node $node: $ranges"; continue; }
        read -r s e <<< "$ranges"
        [ -z "$adjacent" ] || e=$((s + bytes - 1))
        [ $((e - s + 1)) -eq "$bytes" ] || why="$why; node $node: SRAT range of $((e - s + 1)) bytes, want $bytes"
        [ "$(bytes "$log" soft "$s" "$e")" -eq "$bytes" ] || why="$why; node $node: not all soft reserved in E820"
        dax=$(printf '%s\n' "$lines" | awk -v n="$node" '$1 == "dax" && $3 == "target_node" && $4 == n')
        if [ "$(printf '%s\n' "$dax" | grep -c .)" -ne 1 ]; then
            why="$why; node $node: dax devices '$dax', want one"
            continue
        fi
        read -r _ d _ t _ r _ z <<< "$dax"
        [ $((r)) -eq "$s" ] && [ "$z" -eq $((e - s + 1)) ] ||
            why="$why; node $node: $d at $r size $z, SRAT range $(printf '0x%x' "$s") size $((e - s + 1))"
        printf '%s\n' "$lines" | grep -qx "dax $d open ok" || why="$why; node $node: /dev/$d does not open"
        printf '%s\n' "$lines" | grep -qx "node $node MemTotal $((bytes / 1024)) kB" ||
            why="$why; node $node: $(printf '%s\n' "$lines" | grep "^node $node " || echo 'no MemTotal'), want $((bytes / 1024)) kB after kmem"
    done
    if [ -z "$why" ] && [ -n "$adjacent" ]; then
        ok "$what: adjacent SPM nodes, one dax device with target_node $first for both ($took)"
    elif [ -z "$why" ]; then
        ok "$what: device, node, SRAT, soft reserved and dax agree ($took)"
    else
        fail "$what${why}" "$(printf '%s\n' "$lines" | grep -E '^(pci|dax|node|ACPI: SRAT)')"
    fi
}

# bench TYPE GIB: boot a guest with 2 GiB of normal RAM in cell 0 (q35
# keeps exactly that below 4 GiB, so that cell 1 lies above 4 GiB with
# either mechanism) and GIB GiB of TYPE in cell 1, with the chain report; print the seconds from
# "virsh start" to the guest's first chain line, and QEMU's resident and
# peak resident memory (VmRSS, VmHWM) at that moment: the guest has booted,
# no driver has touched the SPM node yet.
bench() {
    name="bench-$tag-$firmware-$1-$2"
    local log="$logs/$name.serial" xml="$logs/$name.xml" pid= t0 t1= rss= hwm=
    cells="      <cell id='0' cpus='0' memory='2048' unit='MiB'/>
      <cell id='1' memory='$2' unit='GiB' memmapType='$1'/>"
    initargs=spm-test=chain domain_xml "$name" $((2048 + $2 * 1024)) 0 "$log" > "$xml"
    cells=
    rm -f "$log"
    session_open "$logs/$name.virsh"
    session_run destroy "$name"
    session_run undefine "$name"
    session_run define "$xml"
    t0=$EPOCHREALTIME
    session_run start "$name"
    local deadline=$((SECONDS + timeout))
    while [ "$SECONDS" -lt "$deadline" ]; do
        [ -n "$pid" ] || pid=$(cat "$root/run/qemu/$name.pid" 2>/dev/null)
        if grep -q '^spm-test: pci ' "$log" 2>/dev/null; then
            t1=$EPOCHREALTIME
            rss=$(awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$pid/status" 2>/dev/null)
            hwm=$(awk '/^VmHWM:/ {print int($2 / 1024)}' "/proc/$pid/status" 2>/dev/null)
            break
        fi
        sleep 0.05
    done
    while pgrep -f -- "-name guest=$name," >/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.1
    done
    session_run destroy "$name"
    session_run undefine "$name"
    session_close
    if [ -n "$t1" ] && [ -n "$rss" ]; then
        echo "bench: $1 $2 GiB: $(secs "$t0" "$t1") s to the first chain line, QEMU RSS $rss MiB, peak $hwm MiB"
    elif grep -q "^error: Failed to start" "$logs/$name.virsh"; then
        echo "bench: $1 $2 GiB: not started: $(errors | tr '\n' ' ')"
    else
        echo "bench: $1 $2 GiB: no chain line within $timeout s"
    fi
}

if [ "$memmap" = bench ]; then
    echo "boot: $("$emulator" --version | head -1), firmware $firmware, bench"
    for size in 1 4 16; do
        bench normal "$size"
        bench spm "$size"
    done
    exit 0
fi

if [ "$memmap" = chain ]; then
    echo "boot: $("$emulator" --version | head -1), firmware $firmware, the driver's chain"
    chain spm gi 2048:normal 1024:spm
    chain no-gi '' 2048:normal 1024:spm
    chain no-spm gi 2048:normal 1024:normal
    adjacent=yes chain two-spm gi 1024:normal 512:spm 256:spm
    hmat=yes chain two-spm-hmat gi 1024:normal 512:spm 256:spm
    # node 1 without CPUs or memory (memory='0', a bare -numa node): the
    # Generic Initiator alone brings it online for its device
    chain memoryless-gi gi 2048:normal 0:normal
    echo "boot: $passed passed, $failed failed"
    exit 0
fi

if [ "$memmap" = layouts ]; then
    echo "boot: $("$emulator" --version | head -1), firmware $firmware, SPM layouts"
    layout middle 1024:normal 512:spm 512:normal
    layout two-spm 1024:normal 512:spm 256:spm
    maxmem=8192 layout maxmem 1024:normal 512:spm 256:spm 512:normal
    machine=pc layout i440fx 1024:normal 512:spm
    echo "boot: $passed passed, $failed failed"
    exit 0
fi

echo "boot: $("$emulator" --version | head -1), firmware $firmware, cell 1 memmapType='$memmap'"
boot above4g 2048 1024      # node 1 at [4 GiB, 5 GiB)
boot below4g 512 256        # node 1 at [512 MiB, 768 MiB)
# 2 TiB fit neither this host nor TCG's default 40 address bits: QEMU
# refuses what libvirt lets through.
reject huge 1024 $((2 << 20)) \
    "qemu-system-x86_64: (cannot set up guest memory 'ram-node1'|.*phys-bits too low).*"
# A node retyped in place must not cross 4 GiB: [1 GiB, 2 GiB) + [4 GiB,
# 5 GiB).  (An sp-mem device lies above RAM: nothing to cross.)
domain_xml probe 1024 2048 /dev/null > "$logs/probe.xml"
[ "$(mechanism "$logs/probe.xml")" != memmap-type ] || reject cross4g 1024 2048 \
    "qemu-system-x86_64: memmap-type=$memmap of NUMA node 1: .* crosses the end of RAM below 4 GiB.*"

echo "boot: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
