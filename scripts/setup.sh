#!/bin/bash
# setup.sh: the set-up part of "make check": "make build" (the compiles:
# libvirt, the reference QEMU, SeaBIOS, the guest; the sid root) and, at
# the same time, the two trixie roots whose making is mostly download and
# unpacking: build/trixie first (scripts/debs.sh builds the packages in
# it), then build/trixie-nova with Nova's test dependencies
# (tests/nova.sh).  Once "make build" is done and build/trixie is there,
# the packages are built (DEBS_NOCHECK=1 scripts/debs.sh, as the debs part
# runs it: that part then only finds them up to date) while the Nova root
# is still being made; debs.sh builds Nova's and os-traits' packages in
# that root last, and takes its lock (build/trixie-nova.lock) to wait for
# it.  Each is remade only when its inputs changed, so
# the parts that use them would make them the same way; here their waits
# overlap the compiles.  The roots' output is in
# build/check-logs/setup-roots.log, the packages' in setup-debs.log; each
# piece's exit code, wall time and CPU time are printed at the end, and
# the last line is the roots' ("setup: trixie roots made (exit N) in N s").  Exit status 1
# if any piece failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# cpu_now: $cpu, the CPU seconds (user + system) of this shell's children
# that have ended so far, for the CPU time of each piece ("times" run in
# this shell: in a subshell it would count only the subshell's children)
cpu_now() {
    local f=$state.cpu$BASHPID
    times > "$f"
    cpu=$(awk 'NR == 2 {for (i = 1; i <= 2; i++) {split($i, f, "m"); t += f[1] * 60 + f[2]}
                        printf "%d\n", t}' "$f")
}
mk="make --no-print-directory -j3 -Otarget"
# the trees first: nova's debian/control says what its root needs
$mk tree || exit 1
mkdir -p build/check-logs
log=build/check-logs/setup-roots.log
debslog=build/check-logs/setup-debs.log
# the roots' job says here when build/trixie is done: "EXIT SECONDS"
state=$(mktemp)
trap 'rm -f "$state" "$state".*' EXIT
(
    t0=$SECONDS rc=0 r=0
    scripts/trixie-root.sh || r=1
    echo "$r $((SECONDS - t0))" > "$state.new" && mv "$state.new" "$state"
    cpu_now && c1=$cpu
    echo "setup: build/trixie (exit $r) in $((SECONDS - t0)) s (CPU $c1 s)"
    rc=$r r=0 t1=$SECONDS
    flock build/trixie-nova.lock env NOVA_PREPARE_ONLY=1 tests/nova.sh || r=1
    cpu_now
    echo "setup: build/trixie-nova (exit $r) in $((SECONDS - t1)) s (CPU $((cpu - c1)) s)"
    [ "$r" -eq 0 ] || rc=1
    echo "setup: trixie roots made (exit $rc) in $((SECONDS - t0)) s"
    exit $rc
) > "$log" 2>&1 &
roots=$!
rc=0
t0=$SECONDS && cpu_now && c0=$cpu
$mk build || rc=1
cpu_now
times="setup: make build (exit $rc) in $((SECONDS - t0)) s (CPU $((cpu - c0)) s)"

# The packages, once build/trixie is there (the compiles are done: the
# two CPUs are theirs; the Nova root, mostly download and unpacking, goes
# on alongside).
while [ ! -s "$state" ] && kill -0 "$roots" 2>/dev/null; do
    sleep 1
done
read -r trixie _ < "$state" || trixie=1
t0=$SECONDS && cpu_now && c0=$cpu
if [ "$trixie" = 0 ]; then
    echo "setup: the packages (DEBS_NOCHECK=1 scripts/debs.sh), output in $debslog"
    env DEBS_NOCHECK=1 scripts/debs.sh > "$debslog" 2>&1
    d=$?
    cpu_now
    times="$times
setup: build/debs (exit $d) in $((SECONDS - t0)) s (CPU $((cpu - c0)) s): $(tail -1 "$debslog")"
    [ "$d" -eq 0 ] || times="$times
$(tail -20 "$debslog")"
else
    echo "setup: no build/trixie (see $log): the packages are not built" > "$debslog"
    d=1
    times="$times
$(cat "$debslog")"
fi
[ "$d" -eq 0 ] || rc=1

# each piece's time; then, as ever, the roots' last line (after the end
# of their log if they failed)
r=0
wait "$roots" || r=1
printf '%s\n' "$times"
grep -aE '^setup: build/trixie(-nova)? \(exit [0-9]+\) in ' "$log"
[ "$r" -eq 0 ] || { rc=1; tail -20 "$log"; }
tail -1 "$log"
exit $rc
