#!/bin/bash
# debs-e2e.sh: the packages of "make debs" as a trixie user gets them.  A
# trixie root (build/trixie-e2e) installs, through apt, QEMU from
# trixie-backports and libvirt-daemon-system + libvirt-daemon-driver-qemu
# from build/debs as a local repository; in a mount namespace of its own
# (/proc, /sys with its cgroups, /dev) the packages' init scripts start
# virtlogd and libvirtd, and virsh -c qemu:///system drives an SPM guest
# (TCG, the project's kernel + initramfs, OVMF).  What differs from a real
# trixie host: no systemd (the sysv init scripts instead), no AppArmor in
# the kernel (libvirt's security driver finds none; checked instead: QEMU
# runs as libvirt-qemu in its own cgroup).  Ends with
# "debs-e2e: N passed, N failed".
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
repo="$top/build/debs"
root="$top/build/trixie-e2e"
guest="$top/build/guest"
[ -f "$repo/Packages" ] || { echo "debs-e2e: no $repo/Packages; run 'make debs'" >&2; exit 2; }
"$top/scripts/guest-assets.sh" || exit 2

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; shift; printf '%s\n' "$@" | sed '/^$/d; s/^/    /'; }

# A fresh root for every run: what apt installs is what is tested.
rm -f "$root.stamp"
"$top/scripts/trixie-root.sh" trixie-e2e minbase || exit 2
mkdir -p "$root/srv/spm-debs" "$root/var/lib/libvirt/images"
cp "$repo"/*.deb "$repo"/Packages* "$root/srv/spm-debs/"
echo "deb [trusted=yes] file:/srv/spm-debs ./" > "$root/etc/apt/sources.list.d/spm.list"
# as the README tells users: the local repository (origin "") wins over a
# newer Debian point release of the same packages
printf 'Package: *\nPin: origin ""\nPin-Priority: 990\n' > "$root/etc/apt/preferences.d/spm"
# no service may start while apt installs
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
cp "$guest/vmlinuz" "$guest/initramfs.cpio.gz" "$guest/OVMF.fd" "$root/var/lib/libvirt/images/"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
log="$top/build/debs-e2e-apt.log"
if in_root timeout 1800 apt-get -q update > "$log" 2>&1 &&
   in_root timeout 1800 apt-get -q -y --no-install-recommends -t trixie-backports install qemu-system-x86 >> "$log" 2>&1 &&
   in_root timeout 1800 apt-get -q -y --no-install-recommends install libvirt-daemon-system libvirt-daemon-driver-qemu >> "$log" 2>&1; then
    vers=$(in_root dpkg-query -W -f '${Package} ${Version}\n' libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-daemon qemu-system-x86)
    if printf '%s\n' "$vers" | grep -qx "libvirt-daemon-driver-qemu .*+spm1" &&
       printf '%s\n' "$vers" | grep -qx "libvirt-daemon-system .*+spm1" &&
       printf '%s\n' "$vers" | grep -qx "qemu-system-x86 .*~bpo13.*" &&
       in_root apt-cache policy libvirt-daemon-system | grep -q ' 990 file:/srv/spm-debs'; then
        ok "apt installs ours and trixie-backports' QEMU: $(printf '%s\n' "$vers" | paste -sd, - | sed 's/,/, /g')"
    else
        fail "installed versions (all +spm1, our repository pinned at 990)" "$vers" \
            "$(in_root apt-cache policy libvirt-daemon-system)"
    fi
else
    fail "apt-get install" "$(tail -20 "$log")"
    echo "debs-e2e: $passed passed, $failed failed"
    exit 1
fi
rm -f "$root/usr/sbin/policy-rc.d"
# the package's default network would want dnsmasq and a bridge: not here
rm -f "$root/etc/libvirt/qemu/networks/autostart/default.xml"

sed -e "s|</os>|  <loader type='rom'>/var/lib/libvirt/images/OVMF.fd</loader>\n    <kernel>/var/lib/libvirt/images/vmlinuz</kernel>\n    <initrd>/var/lib/libvirt/images/initramfs.cpio.gz</initrd>\n    <cmdline>console=ttyS0 quiet panic=-1 spm-test=hold</cmdline>\n  </os>|" \
    -e "s|<serial type='pty'/>|<serial type='file'>\n      <source path='/var/log/libvirt/qemu/spm-guest.serial'/>\n    </serial>|" \
    -e "/<console type='pty'\/>/d" "$top/examples/spm-guest.xml" > "$root/root/spm-guest.xml"
sed "s/memmapType='spm'/memmapType='hbm'/" "$root/root/spm-guest.xml" > "$root/root/bogus.xml"

# The rest runs in a mount namespace of its own, with the daemons.
rm -f "$root/run-result"
export -f ok fail in_root
export root passed failed
unshare -m --propagation private bash -c '
set -u
# the root as a mount point of its own, as a container has it (libvirt
# makes "/" a slave mount in the namespace it starts QEMU in)
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
virsh() { in_root timeout 120 virsh -c qemu:///system "$@"; }
serial="$root/var/log/libvirt/qemu/spm-guest.serial"
stop_all() {
    in_root virsh -c qemu:///system destroy spm-guest >/dev/null 2>&1
    in_root /etc/init.d/libvirtd stop >/dev/null 2>&1
    in_root /etc/init.d/virtlogd stop >/dev/null 2>&1
    pkill -f "^/usr/sbin/(libvirtd|virtlogd)" 2>/dev/null
}
trap stop_all EXIT

in_root /etc/init.d/virtlogd start >/dev/null 2>&1
in_root /etc/init.d/libvirtd start >/dev/null 2>&1
for i in $(seq 50); do virsh version >/dev/null 2>&1 && break; sleep 0.2; done
if v=$(virsh version 2>&1); then
    ok "the init scripts start virtlogd and libvirtd: $(printf "%s\n" "$v" | grep -i "running hypervisor")"
else
    fail "libvirtd does not answer" "$v"
fi

caps=$(virsh domcapabilities --virttype qemu --machine q35 2>&1 |
    sed -n "/<enum name=.memmapType.>/,/<\/enum>/p" | grep -o "<value>[a-z]*</value>" | paste -sd" " -)
[ "$caps" = "<value>normal</value> <value>spm</value>" ] &&
    ok "domcapabilities of QEMU 11.1: memmapType $caps" || fail "domcapabilities" "$caps"

out=$(virsh define /root/spm-guest.xml 2>&1; virsh start spm-guest 2>&1)
for i in $(seq 600); do grep -q "^spm-test: end" "$serial" 2>/dev/null && break; sleep 0.2; done
e820=$(tr -d "\r" < "$serial" 2>/dev/null | grep -E "BIOS-e820: \[mem 0x0000000100000000-0x000000013fffffff\] +soft reserved")
srat=$(tr -d "\r" < "$serial" 2>/dev/null | grep -F "ACPI: SRAT: Node 1 PXM 1 [mem 0x100000000-0x13fffffff]")
efi=$(tr -d "\r" < "$serial" 2>/dev/null | grep -x "spm-test: firmware efi")
if [ -n "$e820" ] && [ -n "$srat" ] && [ -n "$efi" ]; then
    ok "the guest (booted by OVMF) sees node 1 [4 GiB, 5 GiB) soft reserved in E820 and in the SRAT"
else
    fail "guest view of node 1" "$out" "$(tr -d "\r" < "$serial" 2>/dev/null | grep -E "e820|SRAT" | tail -12)"
fi

pid=$(cat "$root/run/libvirt/qemu/spm-guest.pid" 2>/dev/null)
uid=$(awk "/^Uid:/ {print \$2}" "/proc/$pid/status" 2>/dev/null)
want=$(in_root id -u libvirt-qemu)
cg=$(grep -m1 -o "machine[^ ]*" "/proc/$pid/cgroup" 2>/dev/null)
[ -n "$uid" ] && [ "$uid" = "$want" ] && [ -n "$cg" ] &&
    ok "QEMU $pid runs as libvirt-qemu (uid $uid) in cgroup $cg" ||
    fail "confinement" "uid=$uid, libvirt-qemu is $want" "$(cat /proc/$pid/cgroup 2>/dev/null)"

# the memory devices QEMU has (not the id of the QMP reply)
memdevs() { virsh qemu-monitor-command spm-guest "{\"execute\":\"query-memory-devices\"}" 2>&1 |
    grep -o "\"id\":\"[^\"]*\"" | grep -v "\"id\":\"libvirt-[0-9]*\""; }
# the live XML of the guest'"'"'s CPU and NUMA cells (libvirt 11.3 drops the
# alias of a model=none USB controller on reconnect, unrelated to NUMA)
cpuxml() { virsh dumpxml spm-guest | sed -n "/<cpu/,/<\/cpu>/p"; }
live0=$(cpuxml); inactive0=$(virsh dumpxml --inactive spm-guest); md0=$(memdevs)
for sig in TERM KILL; do
    pkill -$sig -f "^/usr/sbin/libvirtd"
    sleep 1
    in_root /etc/init.d/libvirtd start >/dev/null 2>&1
    for i in $(seq 50); do virsh version >/dev/null 2>&1 && break; sleep 0.2; done
    state=$(virsh domstate spm-guest 2>&1)
    live=$(cpuxml); inactive=$(virsh dumpxml --inactive spm-guest); md=$(memdevs)
    if kill -0 "$pid" 2>/dev/null && [ "$state" = running ] && [ "$live" = "$live0" ] &&
       [ "$inactive" = "$inactive0" ] && printf "%s" "$live" | grep -q "memmapType=.spm." &&
       [ "$md" = "$md0" ] && [ "$md" = "\"id\":\"spm-node1\"" ]; then
        ok "after SIG$sig and a restart libvirtd has QEMU $pid back: running, live <cpu> and inactive XML unchanged, memmapType=spm, device $md"
    else
        fail "restart after SIG$sig" "state=$state" "md=$md (before $md0)" "$(diff <(echo "$live0") <(echo "$live") | head)"
    fi
done

out=$(virsh save spm-guest /var/lib/libvirt/images/spm.save 2>&1)
if printf "%s" "$out" | grep -qF "memmapType" && [ "$(virsh domstate spm-guest)" = running ] &&
   [ ! -e "$root/var/lib/libvirt/images/spm.save" ]; then
    ok "save is refused, the guest keeps running: $(printf "%s\n" "$out" | grep -m1 memmapType | sed "s/^error: //")"
else
    fail "save" "$out"
fi

out=$(virsh define /root/bogus.xml 2>&1)
if printf "%s" "$out" | grep -qF "hbm" && [ "$(virsh dumpxml --inactive spm-guest)" = "$inactive0" ] &&
   [ "$(virsh domstate spm-guest)" = running ]; then
    ok "an invalid memmapType over the running guest is refused, definition unchanged"
else
    fail "invalid redefinition" "$out"
fi
echo "$passed $failed" > "$root/run-result"
' ; rc=$?
read -r passed failed < "$root/run-result" 2>/dev/null || failed=$((failed + 1))
rm -f "$root/run-result"
echo "debs-e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
