#!/bin/bash
# check-all.sh [PART...]: what "make check" runs.  Every part runs, in this
# order, even when an earlier one failed (a part that needs what an earlier
# one failed to make fails itself, with its own summary line); each has a
# time limit.  At the end, a table: each part's exit code, wall time and
# summary lines ("N passed, N failed ..."); the exit code is non-zero if
# any part failed or a test part printed no summary line.  Each part's
# whole output is also in build/check-logs/PART.log.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
logs="$top/build/check-logs"

# PART  MINUTES  COMMAND
parts=$(cat <<'EOT'
setup         60  scripts/setup.sh
libvirt       20  scripts/check-libvirt.sh
fuzz          25  env FUZZ_PARALLEL=1 scripts/check-fuzz.sh
fuzz-selftest 10  tests/fuzz-selftest.sh
qemu          20  scripts/check-qemu.sh
project       20  tests/run.sh
long-path     20  tests/long-path.sh
boot-all      30  tests/boot-all.sh
daemon        20  tests/daemon.sh
virt-manager  30  tests/virt-manager.sh
nova          45  tests/nova.sh
debs          60  env DEBS_NOCHECK=1 scripts/debs.sh
debs-e2e      30  tests/debs-e2e.sh
EOT
)
[ $# -eq 0 ] || parts=$(printf '%s\n' "$parts" | awk -v want=" $* " 'index(want, " " $1 " ")')

mkdir -p "$logs"
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
t_all=$SECONDS
bad=0
while read -r name minutes cmd; do
    [ -n "$name" ] || continue
    echo "==== $name: $cmd"
    t0=$SECONDS
    rc=0
    # timeout signals the part's whole process group
    timeout --kill-after=60 "$((minutes * 60))" bash -c "$cmd" </dev/null 2>&1 |
        tee "$logs/$name.log"
    rc=${PIPESTATUS[0]}
    secs=$((SECONDS - t0))
    [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || echo "$name: stopped after its time limit of $minutes min"
    lines=$(grep -aE '^[A-Za-z][A-Za-z0-9 +_./-]*: [0-9]+ passed, [0-9]+ failed' "$logs/$name.log")
    note=
    if [ "$name" != setup ] && [ "$name" != debs ] && [ -z "$lines" ]; then
        note="no summary line"
        [ "$rc" -ne 0 ] || rc=1
    fi
    [ "$rc" -eq 0 ] || bad=$((bad + 1))
    echo "==== $name: exit $rc, $secs s"
    {
        printf '%-14s %4s %6s  %s\n' "$name" "$rc" "$secs s" "${note:-$(printf '%s' "$lines" | head -1)}"
        printf '%s\n' "$lines" | sed -n '2,$p' | sed 's/^/                            /'
    } >> "$summary"
done <<< "$parts"

echo
echo "==== make check: part, exit code, wall time, summary"
cat "$summary"
total=$(grep -c . <<< "$parts")
echo "check: $((total - bad)) passed, $bad failed (parts; $((SECONDS - t_all)) s in all)"
[ "$bad" -eq 0 ]
