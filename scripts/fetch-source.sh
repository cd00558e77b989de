#!/bin/sh
# fetch-source.sh NAME: download the pinned Debian source package described
# by sources/NAME into build/dl/ and verify its orig tarball's sha256.
# Prints the path of the verified tarball.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/sources/$1"
dl="$top/build/dl"
mkdir -p "$dl"

if ! echo "$sha256  $dl/$orig" | sha256sum -c --status 2>/dev/null; then
    rm -f "$dl/$orig"
    # The archive snapshot may have lost some files of the package (.dsc,
    # .asc): apt-get then fails although the orig tarball arrived.  The
    # checksum below is what decides.
    (cd "$dl" && apt-get source -qq --download-only "$name=$version" >&2) || true
fi
echo "$sha256  $dl/$orig" | sha256sum -c --quiet >&2 || {
    echo "fetch-source: checksum mismatch for $orig" >&2
    exit 1
}
echo "$dl/$orig"
