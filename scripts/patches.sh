#!/bin/sh
# patches.sh: export the commits base..HEAD of build/libvirt as the series
# in libvirt/patches/ (git format-patch), replacing the previous export.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
tree="$top/build/libvirt"
out="$top/libvirt/patches"

[ -z "$(git -C "$tree" status --porcelain)" ] || {
    echo "patches: $tree has uncommitted changes; commit them first" >&2
    exit 1
}
rm -f "$out"/[0-9][0-9][0-9][0-9]-*.patch
git -C "$tree" format-patch -q --no-signature --zero-commit --no-numbered \
    -o "$out" base..HEAD
(cd "$out" && ls [0-9][0-9][0-9][0-9]-*.patch 2>/dev/null || true) > "$out/series"
echo "$(series_hash) $(git -C "$tree" rev-parse HEAD)" > "$top/build/libvirt.stamp"
echo "patches: $(wc -l < "$out/series") patches in libvirt/patches/"
