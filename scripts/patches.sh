#!/bin/sh
# patches.sh [NAME...]: export the commits base..HEAD of build/NAME as the
# series of sources/NAME (git format-patch), replacing the previous export.
# Without arguments: every tree that exists.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"

export_tree() {
    tree="$top/build/$1"
    out=$(. "$top/sources/$1" && echo "$top/$patches")

    [ -z "$(git -C "$tree" status --porcelain)" ] || {
        echo "patches: $tree has uncommitted changes; commit them first" >&2
        exit 1
    }
    mkdir -p "$out"
    rm -f "$out"/[0-9][0-9][0-9][0-9]-*.patch
    # A series with a cover letter (cover-letter.txt next to its patches/:
    # subject line, blank line, body) is exported as a numbered posting,
    # 0000 included; "series" lists the patches only.
    cover="$(dirname "$out")/cover-letter.txt"
    # The same tree exports the same files: index lines abbreviated to a
    # fixed length (git's default one grows with the objects it finds
    # loose or packed), the cover letter dated by the last commit.
    if [ -f "$cover" ]; then
        git -C "$tree" -c core.abbrev=7 -c branch.master.description="$(cat "$cover")" \
            format-patch -q --no-signature --zero-commit --numbered \
            --cover-letter --cover-from-description=subject -o "$out" base..HEAD
        sed -i "0,/^Date: /s/^Date: .*/Date: $(git -C "$tree" log -1 --format=%aD)/" \
            "$out/0000-cover-letter.patch"
    else
        git -C "$tree" -c core.abbrev=7 format-patch -q --no-signature --zero-commit \
            --no-numbered -o "$out" base..HEAD
    fi
    (cd "$out" && ls [0-9][0-9][0-9][0-9]-*.patch 2>/dev/null | grep -v '^0000-cover-letter' || true) > "$out/series"
    echo "$(series_hash "$1") $(git -C "$tree" rev-parse HEAD)" > "$top/build/$1.stamp"
    echo "patches: $(wc -l < "$out/series") patches in ${out#$top/}/"
}

if [ $# -eq 0 ]; then
    for f in "$top"/sources/*; do
        [ -d "$top/build/$(basename "$f")/.git" ] && set -- "$@" "$(basename "$f")"
    done
fi
for name in "$@"; do
    export_tree "$name"
done
