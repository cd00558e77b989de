#!/bin/sh
# fetch-source.sh NAME: download the pinned Debian source package described
# by sources/NAME into build/dl/ and verify the sha256 of each of its files.
# Prints the path of the first file (the .dsc, or the tarball).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/sources/$1"
dl="$top/build/dl"
mkdir -p "$dl"

sums=$(printf '%s\n' "$files" | awk 'NF == 2 {print $2 "  " $1}')
if ! (cd "$dl" && printf '%s\n' "$sums" | sha256sum -c --status 2>/dev/null); then
    # The archive snapshot may have lost some files of a package (.dsc,
    # .asc): apt-get then fails although what we need arrived.  The
    # checksums below are what decides.
    (cd "$dl" && apt-get source -qq --download-only "$name=$version" >&2) || true
fi
(cd "$dl" && printf '%s\n' "$sums" | sha256sum -c --quiet >&2) || {
    echo "fetch-source: checksum mismatch for $name $version" >&2
    exit 1
}
echo "$dl/$(printf '%s\n' "$files" | awk 'NF == 2 {print $1; exit}')"
