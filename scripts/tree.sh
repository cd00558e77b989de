#!/bin/sh
# tree.sh NAME...: build/NAME becomes a git work tree of the pinned Debian
# source described by sources/NAME (tag "base": the orig tarball, or the
# dpkg-source unpacked package with Debian's patches applied, upstream fixes
# "backports" lists from Debian's packaging, and what an "overlay" binary
# package of sources/NAME installs, where the archive has lost the pinned
# revision's source) with the project's series for it applied on top as
# commits.
#
# A tree is only recreated when its pinned source or exported patches
# changed since it was made; it is never thrown away while it holds commits
# that were not exported with "make patches".
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

# base_tree NAME: build/NAME becomes the pinned source of sources/NAME as
# a git repository, tag "base" (the current directory is then the tree)
base_tree() {
    src=$("$top/scripts/fetch-source.sh" "$1")
    rm -rf "$tree" "$tree.tmp"
    mkdir -p "$tree.tmp"
    case "$src" in
    *.dsc)
        # dpkg-source checks the files against the .dsc (which we checked
        # ourselves); the signature check it can't do here is only noise.
        dpkg-source -x "$src" "$tree.tmp/src" >"$tree.tmp/log" 2>&1 || {
            cat "$tree.tmp/log" >&2
            exit 1
        }
        rm -rf "$tree.tmp/src/.pc"     # quilt state; the patches stay applied
        ;;
    '')
        mkdir "$tree.tmp/src"
        ;;
    *)
        tar --no-same-owner -xf "$src" -C "$tree.tmp"
        mv "$tree.tmp"/* "$tree.tmp/src"
        ;;
    esac
    mv "$tree.tmp/src" "$tree"
    rm -rf "$tree.tmp"      # what dpkg-source copied and logged there

    cd "$tree"
    # Upstream, libvirt's subprojects/keycodemapdb is a git submodule;
    # syntax-check relies on "git ls-tree" not listing its files, so make
    # it a gitlink here too.
    if [ "$1" = libvirt ]; then
        (cd subprojects/keycodemapdb && git init -q && git add -A &&
            git commit -q -m "keycodemapdb as shipped in $(basename "$src")")
    fi
    git init -q -b master
    # No automatic "git gc": applying a long series leaves enough loose
    # objects for git to pack them in the background, deleting them while
    # a tree on top of this one is copied (cp: cannot stat .git/objects/..).
    git config gc.auto 0
    git -c advice.addEmbeddedRepo=false add -A
    if [ -n "$src" ]; then
        git commit -q -m "$1: pristine $(basename "$src")"
    fi
    backports=$(backports=; . "$top/sources/$1" && echo "${backports:-}")
    # "TARBALL PATCH...": upstream commits, as the pinned Debian tarball
    # carries them, applied with their own authorship
    btar=
    for b in $backports; do
        if [ -z "$btar" ]; then
            btar="$(dirname "$src")/$b"
            continue
        fi
        tar -xOf "$btar" "$b" | git am -q --keep-cr || {
            echo "tree: backport $b does not apply" >&2
            exit 1
        }
    done
    overlay=$(overlay=; . "$top/sources/$1" && echo "${overlay:-}")
    if [ -n "$overlay" ]; then
        # "package version sha256 dir-in-deb dir-in-tree": the directory
        # as the binary package installs it replaces the tree's.
        read -r opkg over osum ofrom oto <<EOF
$overlay
EOF
        echo "$opkg $over $osum" > "$tree/.git/overlay-pin"
        deb=$(pinned_deb "$tree/.git/overlay-pin" "$opkg")
        rm -rf "$tree/.git/overlay" "${tree:?}/$oto"
        dpkg-deb -x "$deb" "$tree/.git/overlay"
        mv "$tree/.git/overlay/$ofrom" "$tree/$oto"
        rm -rf "$tree/.git/overlay" "$tree/.git/overlay-pin"
        find "$tree/$oto" -name __pycache__ -prune -exec rm -rf {} +
        git add -A
        git commit -q --allow-empty -m "$oto/ as $opkg $over installs it"
    fi
    git tag base
}

make_tree() {
    tree="$top/build/$1"
    stamp="$top/build/$1.stamp"
    patches=$(. "$top/sources/$1" && echo "$top/$patches")

    want=$(series_hash "$1")
    if [ -d "$tree/.git" ] && [ -f "$stamp" ]; then
        read -r have head < "$stamp"
        now=$(git -C "$tree" rev-parse HEAD)
        if [ "$now" != "$head" ] || [ -n "$(git -C "$tree" status --porcelain)" ]; then
            if [ "$have" != "$want" ]; then
                echo "tree: $tree has unexported work and the exported series changed;" >&2
                echo "tree: run 'make patches' (or remove the tree) first" >&2
                exit 1
            fi
            return 0    # work in progress on top of the current series
        fi
        [ "$have" = "$want" ] && return 0
    fi

    on=$(on=; . "$top/sources/$1" && echo "$on")
    if [ -n "$on" ]; then
        # a series on top of another tree: a copy of that tree as it is
        # now (the embedded repository of its subprojects included), whose
        # HEAD is the base
        rm -rf "$tree" "$tree.tmp"
        cp -a "$top/build/$on" "$tree.tmp"
        git -C "$tree.tmp" reset -q --hard
        git -C "$tree.tmp" tag -f base >/dev/null
        mv "$tree.tmp" "$tree"
        cd "$tree"
    else
        base_tree "$1"
    fi

    while read -r p; do
        case "$p" in ''|'#'*) continue ;; esac
        git am -q --keep-cr "$patches/$p" || {
            echo "tree: $p does not apply; see 'git am --show-current-patch' in $tree" >&2
            exit 1
        }
    done < "$patches/series"

    echo "$want $(git rev-parse HEAD)" > "$stamp"
    echo "tree: $tree at $(git describe --always --tags) ($(git rev-list --count base..HEAD) patches)"
    cd "$top"
}

[ $# -gt 0 ] || set -- libvirt
for name in "$@"; do
    make_tree "$name"
done
