#!/bin/sh
# check-fuzz.sh: the libFuzzer target of the libvirt series, a series of
# its own on top of it (libvirt/fuzz/patches, in build/libvirt-fuzz;
# tests/fuzz/qemuxmlfuzz: domain XML through parse, validation, format,
# re-parse and the QEMU command line) built with clang, ASan and UBSan in
# build/libvirt-fuzz-build.  First "meson test --suite fuzz" (each capabilities
# set once over the seed inputs), then fuzzing with each of the three
# capabilities sets, x86_64 (QEMU 10.0), x86_64+memmaptype (the reference
# QEMU) and x86_64+spmem (QEMU 11.1), on a corpus in build/fuzz/CAPS that
# starts with the seeds and grows from run to run.
#
#   FUZZ_TIME=N   seconds of fuzzing per capabilities set (default 20)
#   FUZZ_RUNS=N   executions per capabilities set instead (a campaign)
#   FUZZ_PARALLEL=1  the three sets at once
#   FUZZ_SETS="..."  only these capabilities sets
#   FUZZ_BUILD_ONLY=1  only the build, with its own summary line
#                 ("fuzz-build: ..."): make check builds while the parts
#                 that wait on guests run, and fuzzes after them
#   FUZZ_TARGET=PROGRAM FUZZ_SEEDS=DIR FUZZ_OUT=DIR  fuzz PROGRAM (seeded
#                 from DIR, corpus and logs in FUZZ_OUT) instead of building
#                 and fuzzing libvirt's target: tests/fuzz-selftest.sh uses
#                 it to check that crashes and UBSan reports fail the run
#
# A crash (also a sanitizer report, a leak or a definition that does not
# survive its formatted XML) fails the run; its input is kept in
# build/fuzz/crash-* and its report in build/fuzz/CAPS.log.  Prints
# "fuzz: N passed, N failed" over the seed runs and the fuzzing runs, and
# the executions of each.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
src="$top/build/libvirt-fuzz"
bld="$top/build/libvirt-fuzz-build"
out=${FUZZ_OUT:-$top/build/fuzz}
log="$top/build/fuzz-test.log"
mkdir -p "$out"
# Every run's exit code is written afresh: none of an earlier run may count.
rm -f "$out"/*.rc
# UBSan reports and goes on by default: make it abort, so libFuzzer sees a
# crash (ASan and LSan already abort)
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

t0=$(date +%s)
rc=0
if [ -n "${FUZZ_TARGET:-}" ]; then
    target=$FUZZ_TARGET dict=
    seedfiles=$(find "$FUZZ_SEEDS" -type f)
    seeds="no seed runs" seed_ok=0 seed_failed=0
    t1=$t0 t2=$t0
else
    target="$bld/tests/fuzz/qemuxmlfuzz" dict="-dict=$src/tests/fuzz/qemuxmlfuzz.dict"
    part=fuzz${FUZZ_BUILD_ONLY:+-build}    # the summary line's prefix
    # only the QEMU driver is fuzzed: the others are left out of the build;
    # line tables are all the debug information a crash report needs
    # (file:line in its stack), and they cost less to compile
    CC=clang-14     # what scripts/deps.sh installs (Debian 12 has no plain "clang" in it)
    export CC
    "$top/scripts/check-built.sh" tree:libvirt-fuzz || {
        echo "$part: 0 passed, 1 failed (build/libvirt-fuzz is not the exported series)"
        exit 1
    }
    libvirt_src=$src
    libvirt_setup "$bld" "$top/build/fuzz-setup.log" \
        -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-gline-tables-only \
        -Dgit_werror=disabled -Ddocs=disabled \
        -Ddriver_libxl=disabled -Ddriver_lxc=disabled -Ddriver_ch=disabled \
        -Ddriver_vbox=disabled -Ddriver_esx=disabled -Ddriver_hyperv=disabled \
        -Ddriver_openvz=disabled -Ddriver_vmware=disabled -Ddriver_vz=disabled \
        -Ddriver_bhyve=disabled -Dnss=disabled -Dwireshark_dissector=disabled \
        -Dbash_completion=disabled -Dhost_validate=disabled || {
        echo "$part: 0 passed, 1 failed (meson setup of $bld failed)"
        exit 1
    }
    nice ninja -C "$bld" fuzz >"$top/build/fuzz-ninja.log" 2>&1 || {
        grep -E -A5 'error|FAILED' "$top/build/fuzz-ninja.log" | head -60 >&2
        echo "$part: 0 passed, 1 failed (the build failed: $top/build/fuzz-ninja.log)"
        exit 1
    }
    t1=$(date +%s)
    if [ -n "${FUZZ_BUILD_ONLY:-}" ]; then
        echo "$part: 1 passed, 0 failed (${bld#$top/}: $(grep -cE ': warning: ' "$top/build/fuzz-ninja.log" || true) compiler warnings; $((t1 - t0)) s)"
        exit 0
    fi

    (cd "$bld" && meson test --no-rebuild --suite fuzz --print-errorlogs) >"$log" 2>&1 || rc=$?
    seeds=$(meson_counts "$log" 2>/dev/null)
    seed_ok=$(echo "$seeds" | awk '{print $1}')
    seed_failed=$(echo "$seeds" | awk '{print $3}')
    t2=$(date +%s)

    # the seed inputs, as meson test passes them
    seedfiles=$(cd "$bld" && meson introspect --tests | python3 -c '
import json, sys
t = [t for t in json.load(sys.stdin) if t["name"] == "qemuxmlfuzz-x86_64"][0]
print("\n".join(a for a in t["cmd"][1:] if not a.startswith("-")))')
fi
if [ -n "${FUZZ_RUNS:-}" ]; then
    limit="-runs=$FUZZ_RUNS"
else
    limit="-max_total_time=${FUZZ_TIME:-20}"
fi
# fuzz CAPS: one libFuzzer run, its output in $out/CAPS.log
fuzz() {
    corpus="$out/$1"
    mkdir -p "$corpus"
    for f in $seedfiles; do
        [ -e "$corpus/$(basename "$f")" ] || cp "$f" "$corpus/"
    done
    (cd "$out" && VIR_TEST_FUZZ_CAPS="$1" nice "$target" \
        $dict "$limit" -timeout=30 \
        -print_final_stats=1 -artifact_prefix="$out/" "$corpus") \
        >"$out/$1.log" 2>&1
}
# fuzz_rc CAPS: fuzz CAPS, its exit code in $out/CAPS.rc whatever it is
fuzz_rc() {
    local r=0
    fuzz "$1" || r=$?
    echo "$r" > "$out/$1.rc"
}
sets=${FUZZ_SETS:-x86_64 x86_64+memmaptype x86_64+spmem}
# FUZZ_PARALLEL=1: the three at once (a campaign on an otherwise idle machine)
for caps in $sets; do
    if [ -n "${FUZZ_PARALLEL:-}" ]; then
        fuzz_rc "$caps" &
    else
        fuzz_rc "$caps"
    fi
done
wait
passed=0
failed=0
total=0
for caps in $sets; do
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$caps.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$caps.log" | tail -1)
    cov=$(sed -n 's/^#[0-9]*[[:space:]]*DONE[[:space:]]*cov: \([0-9]*\).*/\1/p' "$out/$caps.log" | tail -1)
    if [ "$(cat "$out/$caps.rc" 2>/dev/null)" = 0 ]; then
        passed=$((passed + 1))
        crash=0
    else
        failed=$((failed + 1))
        crash=1
        grep -m1 -E '^qemuxmlfuzz: [a-z].*: |ERROR: [A-Za-z]*Sanitizer|runtime error|deadly signal' \
            "$out/$caps.log" >&2 || echo "fuzz $caps: exit code $(cat "$out/$caps.rc" 2>/dev/null || echo none)" >&2
        echo "fuzz $caps: see $out/$caps.log and $(grep -o "$out/[a-z]*-[0-9a-f]*" "$out/$caps.log" | tail -1)" >&2
    fi
    total=$((total + ${execs:-0}))
    echo "fuzz $caps: ${execs:-0} executions (${rate:-0}/s), $crash crashes, coverage ${cov:-?} edges, corpus $(ls "$out/$caps" 2>/dev/null | wc -l) inputs"
done
t3=$(date +%s)
echo "fuzz: $((seed_ok + passed)) passed, $((seed_failed + failed)) failed (seed runs: $seeds; fuzzing: $total executions; build $((t1 - t0)) s, seed runs $((t2 - t1)) s, fuzzing $((t3 - t2)) s)"
[ "$rc" -eq 0 ] || echo "check-fuzz: see $log" >&2
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
