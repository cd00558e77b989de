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
# answers URI: whether the archive serves URI (a HEAD request, nothing is
# downloaded)
answers() {
    python3 - "$1" <<'EOT'
import sys, urllib.request
try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="HEAD"), timeout=60)
except Exception as e:
    print(e)
    sys.exit(1)
EOT
}
# pool DIR-NAME FILE: FILE's URI in the archive's pool
pool() {
    case "$1" in lib?*) pre=$(echo "$1" | cut -c1-4) ;; *) pre=$(echo "$1" | cut -c1) ;; esac
    echo "$mirror/pool/main/$pre/$1/$2"
}
# Every file a pin names must still be served, listed or not.
missing=0
while read -r f p v kind; do
    if [ "$kind" = Sources ]; then
        uris=$(. "$f"; printf '%s\n' "$files" | awk 'NF == 2 {print $1}' |
            while read -r file; do pool "$name" "$file"; done)
    else
        uris=$(apt-get download $apt --print-uris "$p=$v" 2>/dev/null | awk '{print $1}' | tr -d "'")
        [ -n "$uris" ] || uris="(no URI: $p $v is not in the index)"
    fi
    for u in $uris; do
        case $u in
        http*) why=$(answers "$u") || { missing=$((missing + 1)); echo "repin: ${f#$top/}: $u: $why"; } ;;
        *) missing=$((missing + 1)); echo "repin: ${f#$top/}: $p $v: no URI in the index" ;;
        esac
    done
done <<< "$(pins)"

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
