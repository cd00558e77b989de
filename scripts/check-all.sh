#!/bin/bash
# check-all.sh [PART...]: what "make check" runs.  Every part runs, in this
# order, even when an earlier one failed (a part that needs what an earlier
# one failed to make fails itself, with its own summary line); each has a
# time limit.  A part passes only if it exits 0 and its output ends its
# run with its own summary line: pytest's closing line for the project's
# tests (no skipped test allowed there), else "SUMMARY: N passed, N
# failed ..." with the part's own prefix; an earlier line of that shape
# (from a sub-run) does not count.  At the end, a table: each part's exit
# code, wall time, share of the CPUs kept busy (by any process) and
# summary; the exit code is non-zero if any part failed, an unknown part
# was named, or no part ran.  Each part's whole
# output is also in build/check-logs/PART.log.
# A part whose name starts with "+" runs alongside the one above it (parts
# that leave most of the two CPUs idle, waiting on guests and daemons; and
# the fuzz target's compile, at nice 19, to take the time they leave: the
# fuzz part after them then finds it built):
# their outputs are printed when the last of them is done, in table order,
# each still with its own time limit, exit code, wall time and summary;
# the share of the CPUs is their group's.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
logs=${CHECK_LOGS:-$top/build/check-logs}
# the trees must be what the exported series give (scripts/check-built.sh;
# SPM_EXPORTED= make check-project tests work in progress)
export SPM_EXPORTED=${SPM_EXPORTED-1}

# PART  MINUTES  SUMMARY  COMMAND   (SUMMARY: the prefix of the part's
# summary line, "pytest" for pytest's, "-" for a part with none).
# $CHECK_PARTS replaces the table (the harness's own tests).
parts=${CHECK_PARTS:-$(cat <<'EOT'
setup         90  -                scripts/setup.sh
libvirt       20  libvirt          scripts/check-libvirt.sh
fuzz-selftest 10  fuzz-selftest    tests/fuzz-selftest.sh
qemu          20  qemu             scripts/check-qemu.sh
project       20  pytest           tests/pytest.sh -n 2 test_embed.py test_spmem.py test_harness.py
boot-all      30  pytest           tests/pytest.sh -n 2 test_boot.py test_nova.py
nova          45  nova-checks      tests/nova.sh
debs          60  -                env DEBS_NOCHECK=1 scripts/debs.sh
debs-e2e      30  pytest           tests/pytest.sh --namespace test_debs.py
+long-path    20  pytest           tests/long-path.sh
+daemon       20  pytest           tests/pytest.sh --namespace test_daemon.py
+virt-manager 30  virt-manager-checks tests/virt-manager.sh
+virt-install 15  pytest           tests/pytest.sh test_virt_install.py
+fuzz-build   25  fuzz-build       env FUZZ_BUILD_ONLY=1 nice -n 19 scripts/check-fuzz.sh
fuzz          25  fuzz             env FUZZ_PARALLEL=1 scripts/check-fuzz.sh
EOT
)}
if [ $# -gt 0 ]; then
    for want in "$@"; do
        printf '%s\n' "$parts" | awk -v w="$want" '{sub(/^\+/, "", $1)} $1 == w {f = 1} END {exit !f}' || {
            echo "check: no part '$want'; the parts: $(printf '%s\n' "$parts" | awk '{sub(/^\+/, "", $1); print $1}' | paste -sd' ' -)" >&2
            exit 2
        }
    done
    # a "+" part stays alongside the part above only if that one is chosen too
    parts=$(printf '%s\n' "$parts" | awk -v want=" $* " '
        {n = $1; sub(/^\+/, "", n); on = index(want, " " n " ") > 0}
        on {if (!prev) sub(/^\+/, ""); print}
        {prev = on}')
fi

# summary LOG PREFIX: the part's summary line, the last of its kind
summary() {
    if [ "$2" = pytest ]; then
        grep -aE '^(=+ )?([0-9]+ [a-z]+(, )?)+ in [0-9.]+s( \([0-9:]+\))?( =+)?$' "$1" | tail -1
    else
        grep -aE "^$2: [0-9]+ passed, [0-9]+ failed" "$1" | tail -1
    fi
}
# The qemu part prints one line per QEMU test program: all count.
lines_of() {
    if [ "$2" = qemu ]; then grep -aE '^qemu [a-z-]+: [0-9]+ passed, [0-9]+ failed' "$1"; fi
}

# cpu_jiffies: the machine's busy and total CPU time so far (/proc/stat),
# for each part's share of the CPUs it kept busy (a part at 50% on two
# cores left one idle: it could share the machine with another)
cpu_jiffies() {
    awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit}' /proc/stat
}

mkdir -p "$logs"
table=$(mktemp)
state=$(mktemp -d)
trap 'rm -rf "$table" "$state"' EXIT

# run_part NAME MINUTES CMD FD: the part under its time limit (timeout
# signals the part's whole process group), its output in its log and, as
# it comes, on file descriptor FD (1 for a part alone, 3 on /dev/null for
# parts run together: not "> /dev/stdout", which opens the run's output
# file again and truncates it); "EXIT SECONDS" in $state/NAME.
run_part() {
    local name=$1 minutes=$2 cmd=$3 fd=$4 t0=$SECONDS rc
    timeout --kill-after=60 "$((minutes * 60))" bash -c "$cmd" </dev/null 2>&1 |
        tee "$logs/$name.log" >&"$fd"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "$name: stopped after its time limit of $minutes min" |
            tee -a "$logs/$name.log" >&"$fd"
    fi
    echo "$rc $((SECONDS - t0))" > "$state/$name"
}

# finish_part NAME PREFIX CPU MARK: its exit line and its row of the table
finish_part() {
    local name=$1 prefix=$2 cpu=$3 mark=$4 rc secs line= note=
    read -r rc secs < "$state/$name"
    if [ "$prefix" = qemu ]; then
        line=$(lines_of "$logs/$name.log" qemu)
        [ -n "$line" ] || note="no summary line"
    elif [ "$prefix" != - ]; then
        line=$(summary "$logs/$name.log" "$prefix")
        if [ -z "$line" ]; then
            note="no summary line"
        elif [ "$prefix" = pytest ] && printf '%s' "$line" | grep -qE ' (skipped|xfailed|xpassed)'; then
            note="skipped tests: every project test must run"
        fi
    fi
    [ -z "$note" ] || [ "$rc" -ne 0 ] || rc=1
    [ "$rc" -eq 0 ] || bad=$((bad + 1))
    echo "==== $name: exit $rc, $secs s"
    {
        printf '%-14s %4s %6s %4s  %s\n' "$mark$name" "$rc" "$secs s" "$cpu%" "$(printf '%s' "$line" | head -1)${note:+ ($note)}"
        printf '%s\n' "$line" | sed -n '2,$p' | sed 's/^/                                 /'
    } >> "$table"
}

# run_group: the parts gathered in g_name, g_min, g_prefix and g_cmd, the
# first alone or all at once
run_group() {
    local n=${#g_name[@]} i cpu busy0 total0 busy1 total1
    [ "$n" -gt 0 ] || return 0
    read -r busy0 total0 <<< "$(cpu_jiffies)"
    if [ "$n" -eq 1 ]; then
        echo "==== ${g_name[0]}: ${g_cmd[0]}"
        run_part "${g_name[0]}" "${g_min[0]}" "${g_cmd[0]}" 1
    else
        for ((i = 0; i < n; i++)); do
            echo "==== ${g_name[i]}: ${g_cmd[i]} (alongside ${g_name[*]}: output when all are done)"
            run_part "${g_name[i]}" "${g_min[i]}" "${g_cmd[i]}" 3 3>/dev/null &
        done
        wait
    fi
    read -r busy1 total1 <<< "$(cpu_jiffies)"
    cpu=$(( (busy1 - busy0) * 100 / (total1 - total0 > 0 ? total1 - total0 : 1) ))
    for ((i = 0; i < n; i++)); do
        if [ "$n" -gt 1 ]; then
            echo "==== ${g_name[i]}: its output"
            cat "$logs/${g_name[i]}.log"
        fi
        finish_part "${g_name[i]}" "${g_prefix[i]}" "$cpu" "$( ((i == 0)) || echo +)"
    done
    g_name=() g_min=() g_prefix=() g_cmd=()
}

t_all=$SECONDS
bad=0
ran=0
g_name=() g_min=() g_prefix=() g_cmd=()
while read -r name minutes prefix cmd; do
    [ -n "$name" ] || continue
    ran=$((ran + 1))
    case $name in
        +*) name=${name#+} ;;
        *) run_group ;;
    esac
    g_name+=("$name") g_min+=("$minutes") g_prefix+=("$prefix") g_cmd+=("$cmd")
done <<< "$parts"
run_group

echo
echo "==== make check: part, exit code, wall time, CPUs kept busy, summary"
cat "$table"
! grep -q '^+' "$table" ||
    echo "(+: ran alongside the part above; the parts run together show their group's share of the CPUs)"
[ "$ran" -gt 0 ] || { echo "check: no part ran" >&2; bad=1; }
echo "check: $((ran - bad)) passed, $bad failed (parts; $((SECONDS - t_all)) s in all)"
[ "$bad" -eq 0 ]
