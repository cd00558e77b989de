#!/bin/sh
# debs.sh: Debian packages of libvirt for trixie with the project's series,
# and a local apt repository of them in build/debs:
#   - trixie's libvirt source package (sources/libvirt-deb) unpacked,
#   - the series added the Debian way: debian/patches/spm/*.patch with DEP-3
#     fields, appended to debian/patches/series,
#   - a local version, 11.3.0-3+deb13u3+spm1,
#   - dpkg-source -b (a new .dsc) and dpkg-buildpackage -b in build/trixie
#     (scripts/trixie-root.sh) with the build dependencies from apt,
#   - dpkg-scanpackages: build/debs is a flat repository for
#     "deb [trusted=yes] file:DIR ./".
# $DEB_BUILD_OPTIONS defaults to "parallel=2": Debian's own test run of the
# package (meson test without syntax-check) is kept; it takes a minute.
# DEBS_NOCHECK=1 (make check, which runs libvirt's suite itself) adds
# "nocheck"; packages built with the test run serve both.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
. "$top/sources/libvirt-deb"
root="$top/build/trixie"
out="$top/build/debs"
upstream=${version%-*}
local_version="$version+spm1"

"$top/scripts/trixie-root.sh"
# Nothing to do when build/debs was made from the same package, series,
# script and build root.
want=$( (series_hash libvirt-deb; cat "$0" "$root.stamp") | sha256sum | cut -c1-16)
have=$(cat "$out/stamp" 2>/dev/null || true)
if [ "$have" = "$want tested" ] || { [ -n "${DEBS_NOCHECK:-}" ] && [ "$have" = "$want nocheck" ]; }; then
    echo "debs: ${out#$top/} is up to date ($have)" >&2
    exit 0
fi
# A build that fails leaves no packages behind for a later test to take.
rm -rf "$out"
orig=$("$top/scripts/fetch-source.sh" libvirt-deb)
debian="$(dirname "$orig")/${name}_$version.debian.tar.xz"

w="$root/build/$name"
rm -rf "$w"
mkdir -p "$w"
cp "$orig" "$w/"
tar --no-same-owner -xf "$orig" -C "$w"
src="$w/$name-$upstream"
tar --no-same-owner -xf "$debian" -C "$src"

# The series as gbp-pq style patches: the mail headers of git format-patch
# (From, Date, Subject) without the mbox line and the [PATCH n/m] prefix,
# DEP-3's Forwarded and Origin after the description.
mkdir -p "$src/debian/patches/spm"
for p in $(cat "$top/$patches/series"); do
    awk 'NR == 1 && /^From [0-9a-f]+ / {next}
         /^Subject: / && !subj {sub(/^Subject: \[PATCH [0-9]+\/[0-9]+\] /, "Subject: "); subj = 1}
         /^---$/ && !done {print ""; print "Forwarded: no"; print "Origin: vendor"; done = 1}
         {print}' "$top/$patches/$p" > "$src/debian/patches/spm/$p"
    echo "spm/$p" >> "$src/debian/patches/series"
done

# The local version (what "dch --local +spm" writes), dated by the series'
# last export so that the same series gives the same package.
when=$(git -C "$top" log -1 --format=%aD -- "$patches" 2>/dev/null || date -R)
{
    echo "$name ($local_version) trixie; urgency=medium"
    echo
    echo "  * Add the SPM NUMA series (debian/patches/spm): guest NUMA cells of"
    echo "    Specific Purpose Memory (<cell memmapType>) and ACPI Generic"
    echo "    Initiators of PCI host devices (<hostdev><acpi nodeset>)."
    echo
    echo " -- $GIT_AUTHOR_NAME <$GIT_AUTHOR_EMAIL>  $when"
    echo
    cat "$src/debian/changelog"
} > "$src/debian/changelog.new"
mv "$src/debian/changelog.new" "$src/debian/changelog"

# in_root CMD: CMD in the trixie root, in a mount namespace of its own
in_root() {
    unshare -m sh -c '
        mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
        mount --rbind /sys "$1/sys" && shift &&
        exec chroot "$0" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
            DEB_BUILD_OPTIONS="$DEB_BUILD_OPTIONS" sh -ec "$1"' "$root" "$root" "$1"
}
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=2}${DEBS_NOCHECK:+ nocheck}"
case " $DEB_BUILD_OPTIONS " in *" nocheck "*) mode=nocheck ;; *) mode=tested ;; esac
log="$top/build/debs-build.log"
echo "debs: build dependencies of $name $local_version in build/trixie" >&2
in_root "timeout 1800 apt-get -q update && timeout 1800 apt-get -q -y --no-install-recommends build-dep /build/$name/$name-$upstream" \
    > "$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
echo "debs: dpkg-source -b and dpkg-buildpackage -b ($DEB_BUILD_OPTIONS), log in ${log#$top/}" >&2
t0=$(date +%s)
in_root "cd /build/$name && dpkg-source -b $name-$upstream && cd $name-$upstream && dpkg-buildpackage -us -uc -b" \
    >> "$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }
t1=$(date +%s)

rm -rf "$out"
mkdir -p "$out"
mv "$w"/*.deb "$w"/*.dsc "$w"/*.debian.tar.xz "$w"/*.changes "$w"/*.buildinfo "$out/" 2>/dev/null || true
cp "$orig" "$out/"
(cd "$out" && dpkg-scanpackages -m . /dev/null > Packages 2>/dev/null && gzip -9nk Packages)
echo "$want $mode" > "$out/stamp"
tests=$(grep -E '^(Ok|Fail|Skipped|Expected Fail|Timeout): ' "$log" | tr -s ' ' | sed 's/ *$//' | paste -sd, - | sed 's/,/, /g')
echo "debs: $(ls "$out"/*.deb | wc -l) packages of $name $local_version in ${out#$top/} ($((t1 - t0)) s to build${tests:+; Debian's test run: $tests})"
