#!/bin/bash
# daemon.sh: fault tests of the patched libvirt as a real daemon.
# virtlogd and virtqemud of build/libvirt-build run as root, straight from
# the build tree (its "run" script), in a private mount namespace whose
# /var/local (the build's state directory) and /usr/local/etc (its
# configuration) and /run (its runtime state: sockets, pid files) are
# directories under build/daemon-test, so nothing of the machine is
# touched.  virsh talks to virtqemud's socket.  For each QEMU,
# the reference QEMU (-numa memmap-type) and Debian's QEMU 11.1 (sp-mem),
# an SPM guest is defined and started, then:
#
#   - virtqemud is restarted after SIGTERM, then after SIGKILL: the same
#     QEMU process is reconnected, the guest is running, its live and
#     inactive XML are unchanged; with sp-mem, save and migrate are still
#     refused with libvirt's memmapType message;
#   - virtqemud is killed (SIGKILL) in the middle of "virsh start": after a
#     restart the guest is running with its QEMU reconnected, or shut off
#     with no QEMU left, and its definition is intact;
#   - QEMU is killed: the guest is shut off (crashed), its definition
#     intact, and it starts again;
#   - an invalid memmapType defined over the running guest's definition is
#     refused and the definition stays as it was;
#   - a definition of two newlines is refused and virtqemud lives on;
#   - 20 concurrent virsh clients define, dump and undefine SPM guests and
#     try to define invalid ones for $DAEMON_STRESS seconds (default 15):
#     virtqemud does not crash, every invalid one is refused, every valid
#     one reads back with its SPM cell, none is left behind.
#
# Ends with "daemon: N passed, N failed".
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SPM_DAEMON_NS:-}" ]; then
    exec env SPM_DAEMON_NS=1 unshare --mount --propagation private "$0" "$@"
fi
. "$top/scripts/lib.sh"

bld="$top/build/libvirt-build"
state="$top/build/daemon-test"
sid="$top/build/sid"
run="$bld/run"
stress=${DAEMON_STRESS:-15}
[ -x "$bld/src/virtqemud" ] && [ -x "$bld/src/virtlogd" ] ||
    { echo "daemon: no build in $bld; run 'make build'" >&2; exit 2; }

rm -rf "$state"
mkdir -p "$state/var/log/libvirt/qemu" "$state/var/lib/libvirt" \
    "$state/var/cache/libvirt" "$state/run/libvirt" "$state/etc/libvirt" "$state/work"
work="$state/work"
mount --bind "$state/var" /var/local
mount --bind "$state/run" /run
mkdir -p /usr/local/etc && mount --bind "$state/etc" /usr/local/etc
# The sid QEMU runs chrooted in build/sid: it must see the same state
# directory (monitor sockets, pid files) at the same path.
mkdir -p "$sid/var/local" && mount --bind "$state/var" "$sid/var/local"
cat > "$state/etc/libvirt/qemu.conf" <<'EOF'
# cgroups are read-only here (a container); nothing else differs from
# the defaults of this build (QEMU runs as root).
cgroup_controllers = [ ]
EOF
sock=/run/libvirt/virtqemud-sock
virsh() { timeout 120 "$run" "$bld/tools/virsh" -q -c "qemu:///system?socket=$sock" "$@"; }

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; shift; printf '%s\n' "$@" | sed '/^$/d; s/^/    /'; }

qpid_file=/run/libvirt/qemu/spm-guest.pid
dpid() { cat /run/virtqemud.pid 2>/dev/null; }
start_daemons() {
    [ -S /run/libvirt/virtlogd-sock ] ||
        "$run" "$bld/src/virtlogd" -d
    "$run" "$bld/src/virtqemud" -d
    local i
    for i in $(seq 100); do
        virsh version >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "daemon: virtqemud did not come up" >&2
    return 1
}
stop_daemon() {   # SIGNAL
    local pid
    pid=$(dpid)
    [ -n "$pid" ] || return 0
    kill -"$1" "$pid" 2>/dev/null
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    rm -f /run/virtqemud.pid
}
cleanup() {
    local p
    for p in /run/libvirt/qemu/*.pid; do
        [ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null
    done
    stop_daemon KILL
    [ -f /run/virtlogd.pid ] && kill "$(cat /run/virtlogd.pid)" 2>/dev/null
    sleep 0.5
    umount "$sid/var/local" 2>/dev/null
    if [ "$failed" -eq 0 ]; then rm -rf "$state"; else echo "daemon: kept $state"; fi
}
trap cleanup EXIT; [ -n "${DAEMON_DEBUG:-}" ] && trap - EXIT
trap 'exit 1' INT TERM

start_daemons || exit 2

# libvirt 11.3 itself (with or without the series) forgets the alias of a
# model='none' USB controller when it reconnects to a running guest: the
# live XML is compared less that.
norm_live() {
    perl -0pe "s|<controller type='usb' index='0' model='none'>\\s*<alias name='usb'/>\\s*</controller>|<controller type='usb' index='0' model='none'/>|" "$1"
}

qemu_alive() { [ -f "$qpid_file" ] && kill -0 "$(cat "$qpid_file")" 2>/dev/null; }

one_qemu() {   # LABEL EMULATOR SPMEM(yes|no)
    local label=$1 emu=$2 spmem=$3 xml="$work/$1.xml" out rc pid1 pid2
    sed "s|<emulator>.*</emulator>|<emulator>$emu</emulator>|" \
        "$top/examples/spm-guest.xml" > "$xml"
    virsh define "$xml" >/dev/null && virsh start spm-guest >/dev/null ||
        { fail "$label: define and start the SPM guest" "$(virsh start spm-guest 2>&1)"; return; }
    virsh dumpxml spm-guest > "$work/$label.live"
    virsh dumpxml --inactive spm-guest > "$work/$label.inactive"
    pid1=$(cat "$qpid_file")

    local sig
    for sig in TERM KILL; do
        stop_daemon $sig
        start_daemons || { fail "$label: virtqemud restart after SIG$sig"; return; }
        pid2=$(cat "$qpid_file" 2>/dev/null)
        virsh dumpxml spm-guest > "$work/$label.live2"
        virsh dumpxml --inactive spm-guest > "$work/$label.inactive2"
        if [ "$pid2" = "$pid1" ] && kill -0 "$pid1" 2>/dev/null &&
           [ "$(virsh domstate spm-guest)" = running ] &&
           cmp -s <(norm_live "$work/$label.live") <(norm_live "$work/$label.live2") &&
           cmp -s "$work/$label.inactive" "$work/$label.inactive2"; then
            ok "$label: after SIG$sig virtqemud reconnects the same QEMU ($pid1), running, live and inactive XML unchanged"
        else
            fail "$label: reconnect after SIG$sig" "pid $pid1 -> $pid2" \
                "$(diff "$work/$label.live" "$work/$label.live2")" \
                "$(diff "$work/$label.inactive" "$work/$label.inactive2")"
        fi
        if [ "$spmem" = yes ]; then
            out=$(virsh save spm-guest "$work/$label.save" 2>&1; virsh migrate spm-guest "qemu:///system?socket=$sock" 2>&1)
            if [ "$(printf '%s\n' "$out" | grep -c "the memory of NUMA cell 1 with memmapType='spm' is an sp-mem device")" = 2 ] &&
               [ ! -e "$work/$label.save" ] && [ "$(virsh domstate spm-guest)" = running ]; then
                ok "$label: after SIG$sig save and migrate are still refused with the memmapType message, guest running"
            else
                fail "$label: save/migrate after SIG$sig" "$out"
            fi
        fi
    done

    # Killed in the middle of "virsh start".
    virsh destroy spm-guest >/dev/null
    local delay verdict outcome=""
    for delay in 0.2 0.5 1.0; do
        virsh start spm-guest >/dev/null 2>&1 &
        local vpid=$!
        sleep "$delay"
        stop_daemon KILL
        wait "$vpid" 2>/dev/null
        start_daemons || { fail "$label: restart after a kill during start"; return; }
        virsh dumpxml --inactive spm-guest > "$work/$label.inactive3"
        local st
        st=$(virsh domstate spm-guest)
        if [ "$st" = running ] && qemu_alive; then
            verdict=running
        elif [ "$st" = "shut off" ] && ! pgrep -f "guest=spm-guest" >/dev/null; then
            verdict="shut off"
        else
            verdict="half-started ($st)"
        fi
        cmp -s "$work/$label.inactive" "$work/$label.inactive3" || verdict="$verdict, definition changed"
        outcome="$outcome ${delay}s:$verdict"
        [ "$st" = running ] && virsh destroy spm-guest >/dev/null
    done
    if ! printf '%s' "$outcome" | grep -q 'half\|changed'; then
        ok "$label: virtqemud killed during start (after$outcome): running and reconnected or cleanly shut off, definition intact"
    else
        fail "$label: kill during start" "$outcome" "$(diff "$work/$label.inactive" "$work/$label.inactive3")"
    fi

    # QEMU killed.
    virsh start spm-guest >/dev/null
    pid1=$(cat "$qpid_file")
    kill -9 "$pid1"
    for i in $(seq 50); do
        [ "$(virsh domstate spm-guest)" = "shut off" ] && break
        sleep 0.1
    done
    virsh dumpxml --inactive spm-guest > "$work/$label.inactive4"
    if [ "$(virsh domstate --reason spm-guest)" = "shut off (crashed)" ] &&
       cmp -s "$work/$label.inactive" "$work/$label.inactive4" &&
       virsh start spm-guest >/dev/null && [ "$(virsh domstate spm-guest)" = running ]; then
        ok "$label: QEMU killed: shut off (crashed), definition intact, starts again"
    else
        fail "$label: QEMU killed" "$(virsh domstate --reason spm-guest 2>&1)" \
            "$(diff "$work/$label.inactive" "$work/$label.inactive4")"
    fi

    # An invalid definition over the running guest's.
    sed "s/memmapType='spm'/memmapType='hbm'/" "$work/$label.inactive" > "$work/$label.bad.xml"
    rc=0
    out=$(virsh define "$work/$label.bad.xml" 2>&1) || rc=$?
    virsh dumpxml --inactive spm-guest > "$work/$label.inactive5"
    if [ "$rc" -ne 0 ] &&
       printf '%s' "$out" | grep -qF "Invalid value for attribute 'memmapType' in element 'cell': 'hbm'" &&
       cmp -s "$work/$label.inactive" "$work/$label.inactive5" &&
       [ "$(virsh domstate spm-guest)" = running ]; then
        ok "$label: invalid memmapType over the running guest refused ($(printf '%s' "$out" | tail -1 | cut -c1-100)), definition unchanged"
    else
        fail "$label: invalid redefinition" "rc=$rc" "$out"
    fi

    # A document of newlines, which killed libvirt 11.3.0's virtqemud
    # (CVE-2026-61478; the base carries upstream's fix): refused with a
    # parse error, the same daemon serves on.
    local dpid0 i
    dpid0=$(dpid)
    printf '\n\n' > "$work/$label.newlines.xml"
    rc=0
    out=$(virsh define "$work/$label.newlines.xml" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -q "Start tag expected" &&
       [ "$(dpid)" = "$dpid0" ] && kill -0 "$dpid0" 2>/dev/null &&
       [ "$(virsh domstate spm-guest)" = running ]; then
        ok "$label: a definition of two newlines refused ($(printf '%s' "$out" | grep -m1 'at line' | cut -c1-60)), same virtqemud, guest running"
    else
        fail "$label: definition of newlines" "rc=$rc, daemon $dpid0 -> $(dpid)" "$out"
    fi

    # Concurrent clients.
    mkdir -p "$work/$label.stress"
    for i in $(seq 20); do
        (
            end=$((SECONDS + stress)) n=0 bad=0
            sed -e "s|<name>spm-guest</name>|<name>c$i</name>|" "$xml" > "$work/$label.stress/c$i.xml"
            sed -e "s|<name>spm-guest</name>|<name>bad$i</name>|" \
                -e "s/memmapType='spm'/memmapType='bogus'/" "$xml" > "$work/$label.stress/bad$i.xml"
            while [ "$SECONDS" -lt "$end" ]; do
                n=$((n + 1))
                virsh define "$work/$label.stress/c$i.xml" >/dev/null 2>&1 || bad=$((bad + 1))
                virsh dumpxml --inactive "c$i" 2>/dev/null | grep -q "memmapType='spm'" || bad=$((bad + 1))
                virsh undefine "c$i" >/dev/null 2>&1 || bad=$((bad + 1))
                # refused, and for the right reason
                virsh define "$work/$label.stress/bad$i.xml" 2>&1 |
                    grep -qF "Invalid value for attribute 'memmapType' in element 'cell': 'bogus'" ||
                    bad=$((bad + 1))
            done
            echo "$n $bad" > "$work/$label.stress/r$i"
        ) &
    done
    wait
    local rounds errors left
    rounds=$(cat "$work/$label.stress"/r* | awk '{n += $1} END {print n + 0}')
    errors=$(cat "$work/$label.stress"/r* | awk '{n += $2} END {print n + 0}')
    left=$(virsh list --all --name | grep -E '^(c|bad)[0-9]+$' | wc -l)
    if [ "$(dpid)" = "$dpid0" ] && kill -0 "$dpid0" 2>/dev/null &&
       [ "$rounds" -ge 20 ] && [ "$errors" = 0 ] && [ "$left" = 0 ] &&
       [ "$(virsh domstate spm-guest)" = running ]; then
        ok "$label: 20 concurrent clients, $rounds rounds in ${stress}s (define/dump/undefine SPM + define invalid): no crash, every invalid refused, every valid intact"
    else
        fail "$label: concurrent clients" "rounds $rounds, errors $errors, left $left, daemon $dpid0 -> $(dpid)"
    fi

    virsh destroy spm-guest >/dev/null 2>&1
    virsh undefine spm-guest >/dev/null 2>&1
}

one_qemu ref "$top/build/qemu-ref/bin/qemu-system-x86_64" no
one_qemu sid "$top/scripts/qemu-sid" yes

echo "daemon: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
