#!/bin/sh
# check-series.sh: bisectability.  Check out every patch of the series in
# turn in a separate work tree, build it and run libvirt's test suite.
# CHECK_SERIES_FROM=N and CHECK_SERIES_TO=M check patches N to M only.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
src="$top/build/libvirt"
wt="$top/build/series"
bld="$top/build/series-build"

rm -rf "$wt" "$bld"
git -C "$src" worktree prune
git -C "$src" worktree add -q --detach "$wt" base
# the keycodemapdb gitlink has no submodule checkout in a work tree
rm -rf "$wt/subprojects/keycodemapdb"
cp -a "$src/subprojects/keycodemapdb" "$wt/subprojects/keycodemapdb"
meson setup "$bld" "$wt" -Ddriver_qemu=enabled -Dtests=enabled -Ddocs=disabled \
    -Dqemu_user=root -Dqemu_group=root -Dno_git=true >/dev/null

commits=$(git -C "$src" rev-list --reverse base..HEAD)
total=$(echo "$commits" | wc -l)
n=0
for c in $commits; do
    n=$((n + 1))
    [ "$n" -ge "${CHECK_SERIES_FROM:-1}" ] && [ "$n" -le "${CHECK_SERIES_TO:-$total}" ] || continue
    git -C "$wt" checkout -q "$c"
    printf '%s ' "$n/$total $(git -C "$wt" log -1 --format='%h %s')"
    ninja -C "$bld" >"$top/build/series-ninja.log" 2>&1 || { echo "BUILD FAILED"; exit 1; }
    (cd "$bld" && meson test --no-rebuild --num-processes "$(nproc)" --no-suite syntax-check \
        >"$top/build/series-test.log" 2>&1) || { echo "TESTS FAILED"; exit 1; }
    echo "ok"
done
git -C "$src" worktree remove --force "$wt"
