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
#    version ($FUNC; all of test_instance would add 2 minutes), once
#    on the pristine tree (tag "base", trixie's os-traits) and once with the
#    series (and the os-traits series).  Checks: no test fails with the
#    series that passes on base, the series' own tests (memmap in their
#    name or module) ran and passed, and the functional test boots a server
#    with hw:numa_memmap_type.1=spm only on the host whose domain
#    capabilities list 'spm'.
#
# Prints "nova: N passed, N failed, N skipped" for the series (unit and
# functional), the same for base, and ends with "nova-checks: N passed,
# N failed".  Exit status 1 if a check failed, 2 if something is missing.
# The trees are copied (git archive) into the root; nothing is written to
# build/nova.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

root="$top/build/trixie-nova"
tree="$top/build/nova"
ottree="$top/build/os-traits"
conc=${NOVA_CONCURRENCY:-2}

UNIT="nova.tests.unit.virt.libvirt.test_config
nova.tests.unit.virt.libvirt.test_driver
nova.tests.unit.virt.libvirt.test_host
nova.tests.unit.virt.test_hardware
nova.tests.unit.objects
nova.tests.unit.notifications
nova.tests.unit.api.validation.extra_specs
nova.tests.unit.api.openstack.compute.test_migrate_server
nova.tests.unit.api.openstack.compute.test_suspend_server
nova.tests.unit.compute.test_api
nova.tests.unit.scheduler.test_utils"
FUNC="nova.tests.functional.libvirt.test_numa_memmap_type
nova.tests.functional.libvirt.test_numa_servers
nova.tests.functional.libvirt.test_numa_live_migration
nova.tests.functional.notification_sample_tests.test_instance.TestInstanceNotificationSample.test_rebuild_server"

missing() { echo "nova: $*" >&2; exit 2; }
for t in "$tree" "$ottree"; do
    [ -d "$t/.git" ] && git -C "$t" rev-parse -q --verify base >/dev/null ||
        missing "no $t with tag base; run scripts/tree.sh nova os-traits"
done

# The root: trixie minbase + what debian/control of the pinned nova asks
# for to build and test it, + python3-placement.  Remade when either
# changes.
"$top/scripts/trixie-root.sh" trixie-nova minbase || missing "no trixie root"
want=$( (cat "$tree/debian/control"; echo python3-placement) | sha256sum | cut -c1-16)
in_root() {   # CMD: in the root, /proc mounted, in a mount namespace of its own
    unshare -m sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" \
        /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive PBR_VERSION=31.0.0 \
        sh -ec "$1"' "$root" "$1"
}
if [ "$(cat "$root/.nova-deps" 2>/dev/null)" != "$want" ]; then
    echo "nova: build dependencies of nova and python3-placement in build/trixie-nova" >&2
    rm -rf "$root/src" && mkdir -p "$root/src/nova/debian" &&
        cp "$tree/debian/control" "$root/src/nova/debian/"
    in_root "apt-get -q update && apt-get -q -y --no-install-recommends build-dep /src/nova &&
        apt-get -q -y --no-install-recommends install python3-placement" \
        > "$top/build/nova-deps.log" 2>&1 ||
        { tail -20 "$top/build/nova-deps.log" >&2; missing "apt-get failed, see build/nova-deps.log"; }
    echo "$want" > "$root/.nova-deps"
fi

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
in_root 'for d in /work/base /work/series; do
    cd $d && python3 setup.py -q egg_info >/dev/null 2>&1; done' ||
    missing "pbr egg_info failed"

# run NAME DIR [PYTHONPATH]: $UNIT and $FUNC in DIR; per-test results
# (test id, status) in $work/NAME.csv, output in $work/NAME.log
run() {
    local unit func
    unit=$(echo $UNIT) func=$(echo $FUNC)
    in_root "cd $2 && export PYTHONPATH=${3:-}
        nice python3 -m stestr run --concurrency $conc $unit >&2 || true
        python3 -m stestr last --subunit > /work/$1.unit.subunit
        nice python3 -m stestr --test-path ./nova/tests/functional run --concurrency $conc $func >&2 || true
        python3 -m stestr --test-path ./nova/tests/functional last --subunit > /work/$1.func.subunit
        cat /work/$1.unit.subunit /work/$1.func.subunit | subunit2csv --no-passthrough" \
        > "$work/$1.raw" 2> "$work/$1.log"
    awk -F, 'NR > 1 && $1 != "test" {print $1 "," $2}' "$work/$1.raw" | sort -u > "$work/$1.csv"
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
in_root 'cd /work/os-traits && python3 -m unittest discover -s os_traits/tests -t . 2>&1 | tail -4' \
    > "$work/os-traits.log" 2>&1
otran=$(sed -n 's/^Ran \([0-9]*\) tests.*/\1/p' "$work/os-traits.log")
if grep -qx OK "$work/os-traits.log"; then
    echo "os-traits: ${otran:-0} passed, 0 failed"
    ok "os-traits: its tests pass with the series ($(git -C "$ottree" rev-list --count base..HEAD) patch)"
else
    echo "os-traits: $(tail -1 "$work/os-traits.log")"
    fail "os-traits: tests fail" "$(cat "$work/os-traits.log")"
fi

# 2. Nova, base and series
t0=$(date +%s)
run base /work/base
t1=$(date +%s)
run series /work/series /work/os-traits
t2=$(date +%s)
[ -s "$work/series.csv" ] && [ -s "$work/base.csv" ] ||
    missing "the tests did not run: $(tail -5 "$work/series.log")"

echo "nova: $(counts "$work/series.csv")"
echo "    without the series (base): $(counts "$work/base.csv");" \
    "$(git -C "$tree" rev-list --count base..HEAD) patches; $((t1 - t0)) s base, $((t2 - t1)) s series"

ids "$work/base.csv" fail uxsuccess > "$work/base.failed"
new=$(ids "$work/series.csv" fail uxsuccess | comm -23 - "$work/base.failed")
if [ -z "$new" ]; then
    ok "no test fails with the series that passes without it ($(wc -l < "$work/base.failed") fail on base too)"
else
    fail "tests that pass without the series fail with it (see build/trixie-nova/work/series.log)" "$new"
fi
gone=$(ids "$work/base.csv" success | comm -23 - <(ids "$work/series.csv" success skip fail uxsuccess))
if [ -z "$gone" ]; then
    ok "every test of base ran with the series too"
else
    fail "tests of base missing with the series" "$gone"
fi
mine=$(grep -ci memmap "$work/series.csv")
bad=$(grep -i memmap "$work/series.csv" | grep -v ',success$' | cut -d, -f1)
if [ "$mine" -ge 30 ] && [ -z "$bad" ]; then
    ok "the series' $mine memmap type tests pass"
else
    fail "memmap type tests: $mine, not passing:" "$bad"
fi
ft=nova.tests.functional.libvirt.test_numa_memmap_type.NUMAMemmapTypeTest
for t in test_boot_only_on_capable_host test_no_capable_host \
         test_move_operations_keep_spm_node test_live_migration_refused \
         test_api_refuses_bad_requests test_suspend_refused; do
    if grep -qx "$ft.$t,success" "$work/series.csv"; then
        ok "functional: $t"
    else
        fail "functional: $t did not pass" "$(grep "$ft.$t" "$work/series.csv")"
    fi
done

echo "nova-checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
