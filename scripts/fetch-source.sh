#!/bin/sh
# fetch-source.sh NAME: download the pinned Debian source package described
# by sources/NAME into build/dl/ and verify the sha256 of each of its files.
# Prints the path of the first file (the .dsc, or the tarball); nothing
# when sources/NAME lists no files (a base made of a binary package only).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
. "$top/sources/$1"
dl="$top/build/dl"
mkdir -p "$dl"

sums=$(printf '%s\n' "$files" | awk 'NF == 2 {print $2 "  " $1}')
[ -n "$sums" ] || exit 0
if ! (cd "$dl" && printf '%s\n' "$sums" | sha256sum -c --status 2>/dev/null); then
    # The archive snapshot may have lost some files of a package (.dsc,
    # .asc): apt-get then fails although what we need arrived.  The
    # checksums below are what decides.
    (cd "$dl" && timeout 1800 apt-get source -qq --download-only "$name=$version" >&2) || true
    # Files of an older revision than the pinned version (what the
    # snapshot still has) are not in the Sources index: take them from the
    # pool of the machine's own Debian mirror, checked by apt-helper.
    archive
    case "$name" in lib?*) pre=$(echo "$name" | cut -c1-4) ;; *) pre=$(echo "$name" | cut -c1) ;; esac
    printf '%s\n' "$files" | awk 'NF == 2' | while read -r f sum; do
        echo "$sum  $dl/$f" | sha256sum -c --status 2>/dev/null && continue
        timeout 900 /usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file \
            "$mirror/pool/main/$pre/$name/$f" "$dl/$f" "SHA256:$sum" >&2 || true
    done
fi
(cd "$dl" && printf '%s\n' "$sums" | sha256sum -c --quiet >&2) || {
    echo "fetch-source: checksum mismatch for $name $version" >&2
    exit 1
}
echo "$dl/$(printf '%s\n' "$files" | awk 'NF == 2 {print $1; exit}')"
