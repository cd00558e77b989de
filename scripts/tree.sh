#!/bin/sh
# tree.sh: build/libvirt becomes a git work tree of the pristine libvirt base
# (tag "base") with libvirt/patches/series applied on top as commits.
#
# The tree is only recreated when the pinned source or the exported patches
# changed since it was made; it is never thrown away while it holds commits
# that were not exported with "make patches".
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
tree="$top/build/libvirt"
stamp="$top/build/libvirt.stamp"

want=$(series_hash)
if [ -d "$tree/.git" ] && [ -f "$stamp" ]; then
    read -r have head < "$stamp"
    now=$(git -C "$tree" rev-parse HEAD)
    if [ "$now" != "$head" ] || [ -n "$(git -C "$tree" status --porcelain)" ]; then
        if [ "$have" != "$want" ]; then
            echo "tree: $tree has unexported work and the exported series changed;" >&2
            echo "tree: run 'make patches' (or remove the tree) first" >&2
            exit 1
        fi
        exit 0      # work in progress on top of the current series
    fi
    [ "$have" = "$want" ] && exit 0
fi

orig=$("$top/scripts/fetch-source.sh" libvirt)
rm -rf "$tree" "$tree.tmp"
mkdir -p "$tree.tmp"
tar --no-same-owner -xf "$orig" -C "$tree.tmp"
mv "$tree.tmp"/libvirt-* "$tree"
rmdir "$tree.tmp"

cd "$tree"
# Upstream, subprojects/keycodemapdb is a git submodule; syntax-check relies
# on "git ls-tree" not listing its files, so make it a gitlink here too.
(cd subprojects/keycodemapdb && git init -q && git add -A &&
    git commit -q -m "keycodemapdb as shipped in libvirt $(basename "$orig")")
git init -q -b master
git -c advice.addEmbeddedRepo=false add -A
git commit -q -m "libvirt: pristine $(basename "$orig")"
git tag base

while read -r p; do
    case "$p" in ''|'#'*) continue ;; esac
    git am -q --keep-cr "$top/libvirt/patches/$p" || {
        echo "tree: $p does not apply; see 'git am --show-current-patch' in $tree" >&2
        exit 1
    }
done < "$top/libvirt/patches/series"

echo "$want $(git rev-parse HEAD)" > "$stamp"
echo "tree: $tree at $(git describe --always --tags) ($(git rev-list --count base..HEAD) patches)"
