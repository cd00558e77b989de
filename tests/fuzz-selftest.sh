#!/bin/bash
# fuzz-selftest.sh: scripts/check-fuzz.sh must fail on what it is there to
# find.  It fuzzes a deliberately broken target (tests/fuzz-selftest/
# target.c, clang + libFuzzer + ASan + UBSan) with three "capabilities
# sets": one clean, one that crashes on its seed input, one whose seed input
# makes UBSan report (which, by default, goes on).  Each way, the three at
# once and one after another, with exit code files of 0 left from an
# earlier run in its output directory: the script must exit non-zero and
# count 1 passed, 2 failed.  Ends with "fuzz-selftest: N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/spm-fuzzself.XXXXXX)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; shift; printf '    %s\n' "$@"; }

if ! clang-14 -g -O1 -fsanitize=fuzzer,address,undefined \
        -o "$work/target" "$top/tests/fuzz-selftest/target.c" 2> "$work/cc.log"; then
    fail "the broken target does not build" "$(cat "$work/cc.log")"
    echo "fuzz-selftest: $passed passed, $failed failed"
    exit 1
fi
mkdir "$work/seeds"
printf 'BOOM' > "$work/seeds/boom"
printf 'UBUB!' > "$work/seeds/ubub"
printf 'fine' > "$work/seeds/fine"

for mode in parallel sequential; do
    out="$work/out-$mode"
    mkdir -p "$out"
    for caps in clean crash ubsan; do echo 0 > "$out/$caps.rc"; done     # stale
    case $mode in parallel) par=1 ;; sequential) par= ;; esac
    rc=0
    # (reports unsymbolized: llvm-symbolizer is slow and nothing here needs it)
    env ASAN_OPTIONS=symbolize=0 UBSAN_OPTIONS=symbolize=0 FUZZ_TARGET="$work/target" FUZZ_SEEDS="$work/seeds" FUZZ_OUT="$out" \
        FUZZ_SETS="clean crash ubsan" FUZZ_TIME=3 \
        FUZZ_PARALLEL="$par" \
        "$top/scripts/check-fuzz.sh" > "$work/$mode.log" 2>&1 || rc=$?
    summary=$(grep '^fuzz: ' "$work/$mode.log")
    if [ "$rc" -ne 0 ] && printf '%s' "$summary" | grep -q '^fuzz: 1 passed, 2 failed' &&
       grep -q '^fuzz clean: .* 0 crashes' "$work/$mode.log" &&
       grep -q '^fuzz crash: .* 1 crashes' "$work/$mode.log" &&
       grep -q '^fuzz ubsan: .* 1 crashes' "$work/$mode.log" &&
       grep -q 'ERROR: AddressSanitizer' "$out/crash.log" &&
       grep -q 'runtime error: signed integer overflow' "$out/ubsan.log"; then
        ok "check-fuzz.sh ($mode) fails on a crash and on a UBSan report, not on a clean target: $summary"
    else
        fail "check-fuzz.sh ($mode): exit $rc" "$(cat "$work/$mode.log")"
    fi
done

echo "fuzz-selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
