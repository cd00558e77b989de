#!/bin/bash
# nova.sh: the Nova series (build/nova, on trixie's nova 2:31.0.0-6+deb13u3)
# and the os-traits series it needs (build/os-traits), tested with Nova's
# own runner (stestr) in a Debian trixie root (build/trixie-nova) with
# nova's build dependencies and python3-placement (the functional tests run
# a real Placement in process) from apt:
#
# 1. os-traits' tests with its series.
# 2. The unit tests of the modules the series touches ($UNIT) and the
#    functional tests of the libvirt driver's NUMA support with fakelibvirt
#    and of the notification samples that carry ImageMetaPropsPayload's
#    version ($FUNC; all of test_instance would add 2 minutes), run with
#    the series (and the os-traits series), each stestr run under a
#    timeout.  On the pristine tree (tag "base", trixie's os-traits) stestr
#    lists the same selection, and runs only the listed tests that did not
#    pass with the series (failed, skipped or missing): a test that passes
#    with the series is not run again on base.  Checks: every module of
#    $UNIT and $FUNC lists tests on base and passes tests with the series,
#    every test that passes on base passes with the series (not failed,
#    skipped or missing), no test fails with the series that does not fail
#    on base,
#    the series' own tests (memmap in their name or module, and the named
#    ones below) ran and passed, and the functional tests boot a server
#    with hw:numa_memmap_type.1=spm only on the host whose domain
#    capabilities list 'spm', and one with a CPU-less SPM node and its
#    Generic Initiator only on hosts that also list acpiGenericInitiator.
# 3. Nova's style checks on the Python files the series touches: flake8
#    with Nova's [flake8] configuration (tox.ini) and its local hacking
#    checks (nova/hacking/checks.py), and mypy with Nova's [mypy]
#    configuration (setup.cfg) on those of its files that mypy checks.
#    Both run on base too; a finding the series adds fails (compared by
#    file, code and message, not line number).
#
# Prints "nova: N passed, N failed, N skipped" for the series (unit and
# functional), the same for base, "flake8: ..." and "mypy: ..." for the
# series, and ends with "nova-checks: N passed, N failed".  Exit status 1 if a check failed, 2 if something is missing.
# The trees are copied (git archive) into the root; nothing is written to
# build/nova.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

root="$top/build/trixie-nova"
tree="$top/build/nova"
ottree="$top/build/os-traits"
conc=${NOVA_CONCURRENCY:-2}
# Timeouts (seconds): one stestr run, the root's debootstrap, apt.
test_timeout=${NOVA_TEST_TIMEOUT:-3600}
root_timeout=${NOVA_ROOT_TIMEOUT:-1800}
apt_timeout=${NOVA_APT_TIMEOUT:-1800}

# NOVA_UNIT, NOVA_FUNC: other lists, for a quicker run of part of it (the
# checks of named tests then only look at tests of the modules listed).
UNIT="nova.tests.unit.virt.libvirt.test_config
nova.tests.unit.virt.libvirt.test_driver
nova.tests.unit.virt.libvirt.test_host
nova.tests.unit.virt.test_hardware
nova.tests.unit.objects
nova.tests.unit.notifications
nova.tests.unit.api.validation.extra_specs
nova.tests.unit.api.openstack.compute.test_migrate_server
nova.tests.unit.api.openstack.compute.test_servers
nova.tests.unit.api.openstack.compute.test_suspend_server
nova.tests.unit.compute.test_api
nova.tests.unit.scheduler.test_utils"
FUNC="nova.tests.functional.libvirt.test_numa_memmap_type
nova.tests.functional.libvirt.test_numa_servers
nova.tests.functional.libvirt.test_numa_live_migration
nova.tests.functional.notification_sample_tests.test_instance.TestInstanceNotificationSample.test_rebuild_server"
UNIT=${NOVA_UNIT:-$UNIT}
FUNC=${NOVA_FUNC:-$FUNC}
# The head of the loop run() and list() go through in the root's shell:
# each kind's test path and selection.
each_kind="for kind in unit func; do
            if [ \$kind = unit ]; then path=./nova/tests/unit; tests='$(echo $UNIT)'
            else path=./nova/tests/functional; tests='$(echo $FUNC)'; fi"

missing() { echo "nova: $*" >&2; exit 2; }
for t in "$tree" "$ottree"; do
    [ -d "$t/.git" ] && git -C "$t" rev-parse -q --verify base >/dev/null ||
        missing "no $t with tag base; run scripts/tree.sh nova os-traits"
done
"$top/scripts/check-built.sh" tree:nova tree:os-traits || missing "the trees are not the exported series"

# The root: trixie minbase + what debian/control of the pinned nova asks
# for to build and test it, + python3-placement.  Remade when either
# changes.
timeout -k 30 "$root_timeout" "$top/scripts/trixie-root.sh" trixie-nova minbase ||
    missing "no trixie root (debootstrap failed or took over $root_timeout s)"
# python3-hacking (flake8 and hacking) is one of nova's build dependencies;
# mypy is not.
extra="python3-placement mypy"
want=$( (cat "$tree/debian/control"; echo $extra) | sha256sum | cut -c1-16)
in_root() {   # SECS CMD: in the root (scripts/in-root.sh)
    "$top/scripts/in-root.sh" "$root" "$1" "$2"
}
if [ "$(cat "$root/.nova-deps" 2>/dev/null)" != "$want" ]; then
    echo "nova: build dependencies of nova, $extra in build/trixie-nova" >&2
    rm -rf "$root/src" && mkdir -p "$root/src/nova/debian" &&
        cp "$tree/debian/control" "$root/src/nova/debian/"
    in_root "$apt_timeout" "apt-get -q update && apt-get -q -y --no-install-recommends build-dep /src/nova &&
        apt-get -q -y --no-install-recommends install $extra" \
        > "$top/build/nova-deps.log" 2>&1 ||
        { tail -20 "$top/build/nova-deps.log" >&2
          missing "apt-get failed or took over $apt_timeout s, see build/nova-deps.log"; }
    root_manifest "$root" deps
    echo "$want" > "$root/.nova-deps"
fi
# NOVA_PREPARE_ONLY=1 (scripts/setup.sh): only the root, while the rest
# builds
[ -z "${NOVA_PREPARE_ONLY:-}" ] || { echo "nova: build/trixie-nova is ready" >&2; exit 0; }

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; shift; printf '%s\n' "$@" | sed '/^$/d; s/^/    /'; }

# The trees as they are in git: base and series of nova, the os-traits
# series.  Nova finds its version and entry points (the extra spec
# validators are stevedore plugins) through the egg-info pbr writes.
work="$root/work"
rm -rf "$work" && mkdir -p "$work/base" "$work/series" "$work/os-traits"
git -C "$tree" archive base | tar -x -C "$work/base"
git -C "$tree" archive HEAD | tar -x -C "$work/series"
git -C "$ottree" archive HEAD | tar -x -C "$work/os-traits"
in_root 600 'for d in /work/base /work/series; do
    cd $d && python3 setup.py -q egg_info >/dev/null 2>&1; done' ||
    missing "pbr egg_info failed"

# run NAME DIR [PYTHONPATH [ONLY]]: $UNIT and $FUNC in DIR, or with ONLY
# only the test ids listed in $work/ONLY.unit and $work/ONLY.func; per-test
# results (test id, status) in $work/NAME.csv, output in $work/NAME.log; a
# run that did not finish in $test_timeout s, or left no results, is named
# in $work/NAME.broken.  Each run starts from an empty stestr repository,
# so "stestr last" never returns an earlier run.
run() {
    rm -f "$work/$1.broken"
    in_root $((2 * test_timeout + 600)) "cd $2 && export PYTHONPATH=${3:-}
        $each_kind
            : > /work/$1.\$kind.subunit
            if [ -n '${4:-}' ]; then
                [ -s /work/${4:-}.\$kind ] || continue
                tests=\"--load-list /work/${4:-}.\$kind\"
            fi
            rm -rf .stestr
            rc=0
            timeout -k 30 $test_timeout nice python3 -m stestr --test-path \$path \\
                run --concurrency $conc \$tests >&2 || rc=\$?
            [ \$rc -ne 124 ] && [ \$rc -ne 137 ] ||
                echo \"\$kind: stestr killed after $test_timeout s\" >> /work/$1.broken
            python3 -m stestr --test-path \$path last --subunit > /work/$1.\$kind.subunit ||
                echo \"\$kind: no stestr results\" >> /work/$1.broken
        done
        cat /work/$1.unit.subunit /work/$1.func.subunit | subunit2csv --no-passthrough" \
        > "$work/$1.raw" 2> "$work/$1.log"
    awk -F, 'NR > 1 && $1 != "test" {print $1 "," $2}' "$work/$1.raw" | sort -u > "$work/$1.csv"
}
# list NAME DIR: the test ids of $UNIT and $FUNC in DIR, as stestr's
# discovery finds them, in $work/NAME.unit and $work/NAME.func; a
# discovery that fails (an import error) is named in $work/NAME.broken.
list() {
    rm -f "$work/$1.broken"
    in_root 1200 "cd $2
        $each_kind
            rm -rf .stestr
            python3 -m stestr --test-path \$path init >/dev/null &&
            python3 -m stestr --test-path \$path list \$tests > /work/$1.\$kind.out ||
                echo \"\$kind: stestr list failed\" >> /work/$1.broken
        done" > "$work/$1.log" 2>&1
    for kind in unit func; do
        grep -E '^nova\.tests\.[^ ]+$' "$work/$1.$kind.out" | sort -u > "$work/$1.$kind"
        ! grep -q '_FailedTest' "$work/$1.$kind.out" ||
            echo "$kind: a module does not import: $(grep -m1 _FailedTest "$work/$1.$kind.out")" >> "$work/$1.broken"
    done
}
counts() {   # CSV
    awk -F, '{n[$2]++} END {printf "%d passed, %d failed, %d skipped\n",
        n["success"], n["fail"] + n["uxsuccess"], n["skip"]}' "$1"
}
ids() {      # CSV STATUS...
    local f=$1; shift
    awk -F, -v s=" $* " 'index(s, " " $2 " ") {print $1}' "$f" | sort -u
}

# 1. os-traits
in_root 600 'cd /work/os-traits && python3 -m unittest discover -s os_traits/tests -t . 2>&1 | tail -4' \
    > "$work/os-traits.log" 2>&1
otran=$(sed -n 's/^Ran \([0-9]*\) tests.*/\1/p' "$work/os-traits.log")
# unittest ends with "OK" or "OK (skipped=N)": both are a pass
if grep -qE '^OK( \(skipped=[0-9]+\))?$' "$work/os-traits.log"; then
    echo "os-traits: ${otran:-0} passed, 0 failed"
    ok "os-traits: its tests pass with the series ($(git -C "$ottree" rev-list --count base..HEAD) patches)"
else
    echo "os-traits: $(tail -1 "$work/os-traits.log")"
    fail "os-traits: tests fail" "$(cat "$work/os-traits.log")"
fi

# 2. Nova with the series; on base, the listed tests that did not pass
# with it
t0=$(date +%s)
run series /work/series /work/os-traits
t1=$(date +%s)
list listed /work/base
for kind in unit func; do
    # (base-listed) minus (passed with the series): to run on base
    ids "$work/series.csv" success | comm -23 "$work/listed.$kind" - > "$work/rerun.$kind"
done
run base /work/base '' rerun
# Like with like: the same subset, with the same --load-list, with the
# series too, so that a test that depends on the order or company it ran
# in is judged in the same company on both trees.
[ ! -s "$work/rerun.unit" ] && [ ! -s "$work/rerun.func" ] || run subset /work/series /work/os-traits rerun
touch "$work/subset.csv"
[ -s "$work/listed.broken" ] && cat "$work/listed.broken" >> "$work/base.broken"
[ -s "$work/subset.broken" ] && cat "$work/subset.broken" >> "$work/series.broken"
t2=$(date +%s)
nlisted=$(cat "$work/listed.unit" "$work/listed.func" | wc -l)
nrerun=$(cat "$work/rerun.unit" "$work/rerun.func" | wc -l)
[ -s "$work/series.csv" ] && [ "$nlisted" -gt 0 ] ||
    missing "the tests did not run: $(tail -5 "$work/series.log") $(tail -5 "$work/listed.log")"

echo "nova: $(counts "$work/series.csv")"
echo "    without the series (base): $nlisted tests listed; the $nrerun of them that did not pass" \
    "with the series run on base: $(counts "$work/base.csv");" \
    "$(git -C "$tree" rev-list --count base..HEAD) patches; $((t1 - t0)) s series, $((t2 - t1)) s base"

for n in base series; do
    if [ -s "$work/$n.broken" ]; then
        fail "the test runs of $n did not complete" "$(cat "$work/$n.broken")"
    else
        ok "the test runs of $n completed"
    fi
done
# A module that ran no test (a typo in the lists, an import error that
# stestr reports as one failure) would make every comparison below vacuous.
empty=
for m in $UNIT $FUNC; do
    for n in base series; do
        # a module the series adds has nothing to run on base
        [ "$n" = series ] || git -C "$tree" cat-file -e "base:$(echo "$m" | tr . /).py" 2>/dev/null ||
            continue
        if [ "$n" = base ]; then
            cat "$work/listed.unit" "$work/listed.func"
        else
            ids "$work/series.csv" success
        fi | grep -qE "^$m(\.|\$)" || empty="$empty $m($n)"
    done
done
if [ -z "$empty" ]; then
    ok "every test module lists tests on base and passes tests with the series ($(echo $UNIT $FUNC | wc -w) modules)"
else
    fail "test modules without a passing test" $empty
fi

ids "$work/base.csv" fail uxsuccess > "$work/base.failed"
new=$(ids "$work/series.csv" fail uxsuccess | comm -23 - "$work/base.failed")
if [ -z "$new" ]; then
    ok "no test fails with the series that does not fail without it ($(wc -l < "$work/base.failed") fail on base too)"
else
    fail "tests that fail with the series and not without it (see build/trixie-nova/work/series.log)" "$new"
fi
# Every test that passes on base must pass with the series: not fail, not
# be skipped, not be missing (a test the series removed or renamed, or a
# run cut short).  Only tests that did not pass with the series ran on
# base: any of them that passes there is one.
# The subset ran on both trees: a test that passes in it on base must
# pass in it with the series (and, above, did not in the whole run).
gone=$(ids "$work/base.csv" success | comm -23 - <(ids "$work/subset.csv" success))
# every test of the subset must have a result on both trees: one that did
# not run at all (a run cut short) counts
unrun=$(cat "$work/rerun.unit" "$work/rerun.func" | sort | {
    comm -23 - <(cut -d, -f1 "$work/base.csv" | sort -u)
    cat "$work/rerun.unit" "$work/rerun.func" | sort | comm -23 - <(cut -d, -f1 "$work/subset.csv" | sort -u)
} | sort -u)
[ -z "$unrun" ] || gone=$(printf '%s\n%s\n' "$gone" "$unrun" | sed '/^$/d')
if [ -z "$gone" ]; then
    ok "every test that passes on base passes with the series ($nlisted listed on base, $nrerun of them run there)"
else
    fail "tests that pass on base and not with the series ($(echo "$gone" | wc -l)):" \
        "$(echo "$gone" | head -50 | while read -r t; do
            echo "$t: $(awk -F, -v t="$t" '$1 == t {print $2}' "$work/series.csv" | sort -u | paste -sd/ -)" |
                sed 's/: $/: missing/'; done)"
fi
# listed() TEST: is TEST in one of the modules of this run
listed() {
    local m
    for m in $UNIT $FUNC; do
        case $1 in "$m"|"$m".*) return 0 ;; esac
    done
    return 1
}
mine=$(grep -ci memmap "$work/series.csv")
bad=$(grep -i memmap "$work/series.csv" | grep -v ',success$' | cut -d, -f1)
if [ "$mine" -ge 30 ] && [ -z "$bad" ]; then
    ok "the series' $mine memmap type tests pass"
else
    fail "memmap type tests: $mine, not passing:" "$bad"
fi
# The series' tests of what the reviews of issues 19 and 25 asked for
# (CPU-less SPM nodes and Generic Initiators included), unit and
# functional: each must have passed.
u=nova.tests.unit f=nova.tests.functional.libvirt.test_numa_memmap_type
h=$u.virt.test_hardware d=$u.virt.libvirt.test_driver
for t in \
    $u.objects.test_instance_numa.TestInstanceNUMATopology.test_spm_cell_ids_of_claimed_topology \
    $u.objects.test_instance_numa.TestInstanceNUMATopology.test__migrate_legacy_instance_numa_cell_1_6_stamped_1_7 \
    $h.NUMAMemmapTypeConstraintsTestCase.{test_spm_node_fitted_to_host,test_normal_only,test_only_canonical_keys,test_spm_node_bios_image} \
    $h.NUMACPULessSPMNodeTestCase.{test_cpu_less_spm_node,test_cpu_less_normal_node,test_fit_dedicated} \
    $h.NUMAInitiatorsTestCase.{test_initiators,test_node_not_spm} \
    $d.LibvirtConnTestCase.{test_suspend_numa_memmap_type_spm,test_suspend_guest_for_snapshot__numa_memmap_type_spm,test_guest_add_pci_devices_numa_initiators} \
    $d.LibvirtDriverTestCase.{test_numa_memmap_type_traits__default_machine_type,test_numa_generic_initiator_traits} \
    $u.virt.libvirt.test_config.LibvirtConfigGuestTest.test_ConfigGuest_parse_sp_mem \
    $f.NUMAMemmapTypeTest.{test_boot_only_on_capable_host,test_no_capable_host,test_move_operations_keep_spm_node,test_live_migration_refused} \
    $f.NUMAMemmapTypeTest.{test_api_refuses_bad_requests,test_suspend_refused,test_cold_snapshot_refused,test_rebuild} \
    $f.NUMAAcceleratorNodeTest.{test_boot_and_move,test_evacuate,test_no_capable_host,test_api_refuses_bad_requests}
do
    listed "$t" || continue
    case $t in $u.*) kind=unit ;; *) kind=functional ;; esac
    if grep -qx "$t,success" "$work/series.csv"; then
        ok "$kind: ${t##*.}"
    else
        fail "$kind: ${t##*.} did not pass" "$(grep "^$t," "$work/series.csv" || echo missing)"
    fi
done

# 3. flake8 (Nova's configuration and hacking checks) and mypy (Nova's
# configuration) on the Python files the series touches, on base and with
# the series.  Findings are compared without line and column numbers, as
# a multiset: the series may move an existing finding, not add one.
touched=$(git -C "$tree" diff --name-only --diff-filter=AM base HEAD -- '*.py')
lint() {     # NAME DIR TOOL FILES...: findings "file: message" in $work/NAME.TOOL
    local name=$1 dir=$2 tool=$3; shift 3
    local files=
    for f in "$@"; do [ -f "$work/$dir/$f" ] && files="$files $f"; done
    case $tool in
    flake8) cmd="python3 -m flake8 $files" ;;
    mypy)   cmd="python3 -m mypy --config-file setup.cfg --no-incremental --no-error-summary $files" ;;
    esac
    in_root 1800 "cd /work/$dir && { [ -z '$files' ] || $cmd; }" > "$work/$name.$tool.out" 2>&1
    echo $? > "$work/$name.$tool.rc"
    case $tool in
    flake8) sed -n 's/^\([^: ]*\.py\):[0-9]*:[0-9]*: /\1: /p' "$work/$name.$tool.out" ;;
    mypy)   sed -n 's/^\([^: ]*\.py\):[0-9]*:\([0-9]*:\)\{0,1\} error: /\1: error: /p' "$work/$name.$tool.out" ;;
    esac | sort > "$work/$name.$tool"
}
# rc 0: clean, 1: findings; anything else (the tool missing, a crash, a
# timeout) is not a result
lint_check() {   # TOOL WHAT FILES...
    local tool=$1 what=$2; shift 2
    lint base base "$tool" "$@"
    lint series series "$tool" "$@"
    local rb rs added
    rb=$(cat "$work/base.$tool.rc") rs=$(cat "$work/series.$tool.rc")
    echo "$tool: $(wc -l < "$work/series.$tool") findings on $# files with the series, $(wc -l < "$work/base.$tool") on base"
    # status 1 with nothing parsed is a crash (a plugin that failed to
    # load, a traceback), not a finding
    [ "$rb" = 1 ] && [ ! -s "$work/base.$tool" ] && rb=crash
    [ "$rs" = 1 ] && [ ! -s "$work/series.$tool" ] && rs=crash
    if ! { [ "$rb" = 0 ] || [ "$rb" = 1 ]; } || ! { [ "$rs" = 0 ] || [ "$rs" = 1 ]; }; then
        fail "$tool did not run (status $rb on base, $rs with the series)" \
            "$(tail -5 "$work/series.$tool.out")"
        return
    fi
    added=$(comm -13 "$work/base.$tool" "$work/series.$tool")
    if [ -z "$added" ]; then
        ok "$tool: $what: nothing new"
    else
        fail "$tool: $what: the series adds (see build/trixie-nova/work/series.$tool.out)" "$added"
    fi
}
lint_check flake8 "Nova's [flake8] and hacking checks on the touched files" $touched
# the touched files that Nova's [mypy] "files" lists
mypy_files=$(in_root 60 'cd /work/series && python3 -c "
import configparser, glob, sys
c = configparser.ConfigParser()
c.read(\"setup.cfg\")
pats = [p.strip() for p in c[\"mypy\"][\"files\"].replace(\",\", \" \").split()]
listed = {f for p in pats for f in glob.glob(p)}
print(\" \".join(f for f in sys.argv[1:] if f in listed))
" '"$(echo $touched)")
if [ -n "$mypy_files" ]; then
    lint_check mypy "Nova's [mypy] checks on $mypy_files" $mypy_files
else
    fail "mypy: no touched file is one mypy checks (or setup.cfg was not read)"
fi

echo "nova-checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
