#!/bin/bash
# repin.sh: for every pin in sources/, whether Debian's package index (the
# machine's apt sources, scripts/apt-setup.sh) still lists the pinned
# version, and the newest version it lists now.  Debian's moving suites
# (sid, a stable point release) drop old versions; a pin the index no
# longer lists can only come from build/dl (or a cache of it).  For each
# such pin it prints the line to put in its sources/ file instead: for
# binary pins "package version sha256" (from the index, nothing is
# downloaded); for source packages the version and files with their sha256.
# A new source version is a new base: "make tree" then replays the series
# on it, and "make check" says whether it still holds.  Every file a pin
# names is also asked for (HEAD) where the archive serves it: a version
# can be listed while a file of it is gone.  Exit code 1 if any pin is
# gone from the index or any pinned file is not served.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
apt="-o Acquire::Check-Valid-Until=false"
gone=0

# every pin as "FILE PACKAGE VERSION KIND" (KIND: Packages or Sources)
pins() {
    local f
    for f in "$top"/sources/*; do
        if grep -q '^name=' "$f"; then
            (. "$f"; [ -z "$files" ] || echo "$f $name $version Sources"
             [ -z "${overlay:-}" ] || echo "$overlay" | awk -v f="$f" '{print f, $1, $2, "Packages"}')
        else
            awk -v f="$f" '!/^#/ && NF >= 2 && $1 !~ /=/ {print f, $1, $2, "Packages"}' "$f"
        fi
    done
}
all=$(pins)
# one apt-cache call for all (each loads the whole index): "PACKAGE VERSION KIND"
index=$(apt-cache madison $(printf '%s\n' "$all" | awk '{print $2}' | sort -u) |
    awk -F'|' '{gsub(/ /, "", $1); gsub(/ /, "", $2); n = split($3, w, " "); print $1, $2, w[n]}')

archive
# pool NAME FILE: FILE's URI in the archive's pool
pool() {
    case "$1" in lib?*) pre=$(echo "$1" | cut -c1-4) ;; *) pre=$(echo "$1" | cut -c1) ;; esac
    echo "$mirror/pool/main/$pre/$1/$2"
}
# Every file a pin names must still be served, listed or not: "PIN URI"
# lines (a binary pin's URI from the index, all in one apt-get call),
# each asked for with a HEAD request (nothing is downloaded), several at
# once.
uris=$(
    printf '%s\n' "$all" | while read -r f p v kind; do
        [ "$kind" = Sources ] || continue
        (. "$f"; printf '%s\n' "$files" | awk 'NF == 2 {print $1}' |
            while read -r file; do echo "${f#$top/}:$p $(pool "$name" "$file")"; done)
    done
    bin=$(printf '%s\n' "$all" | awk '$4 == "Packages" {print $2 "=" $3}')
    # "URI FILE" (apt-get names FILE with the epoch's ':' as %3a); one call
    # fails as a whole when a version is gone: then one call per pin
    got=$(apt-get download $apt --print-uris $bin 2>/dev/null ||
        for b in $bin; do apt-get download $apt --print-uris "$b" 2>/dev/null; done)
    got=$(printf '%s\n' "$got" | awk '{print $1, $2}' | tr -d "'")
    printf '%s\n' "$all" | awk '$4 == "Packages"' | while read -r f p v kind; do
        u=$(printf '%s\n' "$got" | awk -v f="${p}_$(echo "$v" | sed 's/:/%3a/')_" 'index($2, f) == 1 {print $1; exit}')
        echo "${f#$top/}:$p ${u:-none}"
    done
)
missing=$(printf '%s\n' "$uris" | python3 -c '
import sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
def ask(line):
    pin, uri = line.split(" ", 1)
    if not uri.startswith("http"):
        return f"{pin}: not in the index"
    try:
        urllib.request.urlopen(urllib.request.Request(uri, method="HEAD"), timeout=60)
    except Exception as e:
        return f"{pin}: {uri}: {e}"
lines = [l for l in sys.stdin.read().splitlines() if l]
with ThreadPoolExecutor(8) as pool:
    for r in pool.map(ask, lines):
        if r:
            print(r)
print(f"{len(lines)} files asked for", file=sys.stderr)
')
printf '%s\n' "$missing" | sed '/^$/d; s/^/repin: not served: /'
missing=$(printf '%s\n' "$missing" | grep -c .)

while read -r f p v kind; do
    new=$(printf '%s\n' "$index" | awk -v p="$p" -v k="$kind" '$1 == p && $3 == k {print $2}' | sort -V | tail -1)
    if printf '%s\n' "$index" | awk -v p="$p" -v v="$v" -v k="$kind" '$1 == p && $2 == v && $3 == k' | grep -q .; then
        echo "repin: ${f#$top/}: $p $v listed${new:+ (newest: $new)}"
        continue
    fi
    gone=$((gone + 1))
    echo "repin: ${f#$top/}: $p $v GONE from the index (newest: ${new:-none})"
    [ -n "$new" ] || continue
    case $kind in
    Packages) apt-get download $apt --print-uris "$p=$new" 2>/dev/null |
                  awk -v p="$p" -v v="$new" '{sub(/^SHA256:/, "", $4); print "    new pin: " p " " v " " $4}' ;;
    Sources) apt-get source $apt --print-uris "$p=$new" 2>/dev/null | grep "^'" |
                  awk '{sub(/^SHA256:/, "", $4); print "    new file: " $2 " " $4}' ;;
    esac
done <<< "$all"
echo "repin: $(printf '%s\n' "$all" | grep -c .) pins, $gone gone from the index, $missing pinned files not served"
[ "$gone" -eq 0 ] && [ "$missing" -eq 0 ]
