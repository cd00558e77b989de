#!/bin/sh
# debs.sh: Debian packages for trixie with the project's series, and a
# local apt repository of them in build/debs: libvirt (sources/libvirt-deb,
# libvirt/patches) and virt-manager's virt-install/virtinst
# (sources/virt-manager, virt-manager/patches).  For each:
#   - trixie's source package unpacked (orig and debian tarballs),
#   - the series added the Debian way: debian/patches/spm/*.patch with DEP-3
#     fields, appended to debian/patches/series,
#   - a local version, Debian's with +spm1 (11.3.0-3+deb13u3+spm1),
#   - dpkg-source -b (a new .dsc) and dpkg-buildpackage -b in build/trixie
#     (scripts/trixie-root.sh) with the build dependencies from apt.
# Then Nova and os-traits, whose trixie source packages are not in the
# archive (sources/nova, sources/os-traits): binary packages only, built
# from the trees scripts/tree.sh makes of what trixie ships and the
# exported series (nova: deb13u2's source with deb13u3's nova/; os-traits:
# os_traits/ as trixie installs it, with os-traits/debian), in
# build/trixie-nova, which has their build dependencies (tests/nova.sh).
# Then dpkg-scanpackages: build/debs is a flat repository for
# "deb [trusted=yes] file:DIR ./".
# $DEB_BUILD_OPTIONS defaults to "parallel=2": Debian's own test runs of the
# packages (libvirt's meson test without syntax-check, virt-manager's
# pytest) are kept; they take a few minutes.  DEBS_NOCHECK=1 (make check,
# which runs both suites itself) adds "nocheck"; packages built with the
# test runs serve both.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
root="$top/build/trixie"
out="$top/build/debs"

"$top/scripts/trixie-root.sh"
# DEBS_NOCHECK=1 also leaves out the -dbgsym packages (noautodbgsym):
# nothing here installs them.  Without them the compilers' debug
# information would only be stripped off again, so it compiles none
# (-g0 after Debian's -g; dh_dwz then finds none).  The stripped programs
# are the same: -g does not change the code GCC generates.
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=2}${DEBS_NOCHECK:+ nocheck noautodbgsym}"
export DEB_CFLAGS_APPEND="${DEBS_NOCHECK:+-g0}" DEB_CXXFLAGS_APPEND="${DEBS_NOCHECK:+-g0}"
case " $DEB_BUILD_OPTIONS " in *" nocheck "*) mode=nocheck ;; *) mode=tested ;; esac
# the options that change what is built, besides nocheck (noopt, nostrip,
# ...; not parallel=N, nor noautodbgsym: no -dbgsym package is used here)
# shellcheck disable=SC2086
other=$(printf '%s\n' $DEB_BUILD_OPTIONS | grep -v -e '^parallel=' -e '^nocheck$' -e '^noautodbgsym$' |
    LC_ALL=C sort -u | paste -sd' ' -)
# Nothing to do when build/debs was made from the same inputs (debs_key:
# package, series, script, build root, changelog entry) with the same
# options, and its files are the ones that build wrote (SHA256SUMS).
# Packages built with Debian's test run serve a nocheck build too.
want=$(debs_key)
have=$(cat "$out/stamp" 2>/dev/null || true)
if [ "$have" = "$want tested${other:+ $other}" ] ||
    { [ "$mode" = nocheck ] && [ "$have" = "$want nocheck${other:+ $other}" ]; }; then
    if (cd "$out" && sha256sum --quiet --strict -c SHA256SUMS && ls ./*.deb) >/dev/null 2>&1; then
        echo "debs: ${out#$top/} is up to date ($have; its $(wc -l < "$out/SHA256SUMS") files checked)" >&2
        exit 0
    fi
    echo "debs: ${out#$top/} is not what its build left (SHA256SUMS): building it again" >&2
fi
# A build that fails leaves no packages behind for a later test to take.
rm -rf "$out"
# prepare SOURCE: sources/SOURCE read; sets name, local_version,
# upstream and w, the empty directory of its build in $root.
prepare() {
    . "$top/sources/$1"
    local_version="$version+spm1"
    upstream=${version#*:}
    upstream=${upstream%-*}
    w="$root/build/$name"
    rm -rf "$w"
    mkdir -p "$w"
}

# unpack SOURCE: sources/SOURCE unpacked in build/trixie/build/NAME with
# its series as debian/patches/spm and the local version; sets name,
# local_version, w (the directory of the build) and src (the tree).
unpack() {
    prepare "$1"
    "$top/scripts/fetch-source.sh" "$1" >/dev/null
    orig="$top/build/dl/$(printf '%s\n' "$files" | awk '$1 ~ /\.orig\.tar\./ {print $1}')"
    debian="$top/build/dl/$(printf '%s\n' "$files" | awk '$1 ~ /\.debian\.tar\./ {print $1}')"
    cp "$orig" "$w/"
    tar --no-same-owner -xf "$orig" -C "$w"
    src="$w/$name-$upstream"
    tar --no-same-owner -xf "$debian" -C "$src"

    # The series as gbp-pq style patches: the mail headers of git
    # format-patch (From, Date, Subject) without the mbox line and the
    # [PATCH n/m] prefix, DEP-3's Forwarded and Origin after the
    # description.
    mkdir -p "$src/debian/patches/spm"
    for p in $(cat "$top/$patches/series"); do
        awk 'NR == 1 && /^From [0-9a-f]+ / {next}
             /^Subject: / && !subj {sub(/^Subject: \[PATCH [0-9]+\/[0-9]+\] /, "Subject: "); subj = 1}
             /^---$/ && !done {print ""; print "Forwarded: no"; print "Origin: vendor"; done = 1}
             {print}' "$top/$patches/$p" > "$src/debian/patches/spm/$p"
        echo "spm/$p" >> "$src/debian/patches/series"
    done
}

# changelog TEXT: the local version's entry (what "dch --local +spm"
# writes) with TEXT, dated by the series' last export so that the same
# series gives the same package.
changelog() {
    when=$(git -C "$top" log -1 --format=%aD -- "$patches" 2>/dev/null || date -R)
    {
        echo "$name ($local_version) trixie; urgency=medium"
        echo
        printf '%s\n' "$1"
        echo
        echo " -- $GIT_AUTHOR_NAME <$GIT_AUTHOR_EMAIL>  $when"
        if [ -f "$src/debian/changelog" ]; then
            echo
            cat "$src/debian/changelog"
        fi
    } > "$src/debian/changelog.new"
    mv "$src/debian/changelog.new" "$src/debian/changelog"
}

# from_tree SOURCE: build/SOURCE at the exported series (scripts/tree.sh
# makes it, and refuses a tree with work not exported) as the tree of a
# build in $root; sets name, local_version, w and src like unpack.
from_tree() {
    "$top/scripts/tree.sh" "$1" >&2
    prepare "$1"
    src="$w/$name-$upstream"
    git -C "$top/build/$1" archive --prefix="$name-$upstream/" HEAD | tar -x -C "$w"
}

# in_root CMD: CMD in the root $root, in a mount namespace of its own
in_root() {
    unshare -m sh -c '
        mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
        mount --rbind /sys "$1/sys" && shift &&
        exec chroot "$0" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
            DEB_BUILD_OPTIONS="$DEB_BUILD_OPTIONS" DEB_CFLAGS_APPEND="$DEB_CFLAGS_APPEND" \
            DEB_CXXFLAGS_APPEND="$DEB_CXXFLAGS_APPEND" sh -ec "$1"' "$root" "$root" "$1"
}
log="$top/build/debs-build.log"
: > "$log"
# build [binary]: the build dependencies of $src from apt, then
# dpkg-source -b (not with "binary": no source package) and
# dpkg-buildpackage -b in the root; the packages stay in $w.
build() {
    echo "debs: build dependencies of $name $local_version in ${root#$top/}" >&2
    in_root "timeout 1800 apt-get -q update && timeout 1800 apt-get -q -y --no-install-recommends build-dep /build/$name/$name-$upstream" \
        >> "$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
    if [ "${1:-}" = binary ]; then
        step="dpkg-buildpackage -b"
        cmd="cd /build/$name/$name-$upstream && dpkg-buildpackage -us -uc -b"
    else
        step="dpkg-source -b and dpkg-buildpackage -b"
        cmd="cd /build/$name && dpkg-source -b $name-$upstream && cd $name-$upstream && dpkg-buildpackage -us -uc -b"
    fi
    echo "debs: $step of $name ($DEB_BUILD_OPTIONS), log in ${log#$top/}" >&2
    in_root "$cmd" >> "$log" 2>&1 || { tail -40 "$log" >&2; exit 1; }
}

t0=$(date +%s)
# Nova and os-traits in the Nova root (tests/nova.sh makes it, with their
# build dependencies; scripts/setup.sh may be making it at the same time:
# its lock), alongside libvirt's build: theirs mostly waits on the disk.
openstack_log="$top/build/debs-openstack-build.log"
os_traits_w="$top/build/trixie-nova/build/python-os-traits"
nova_w="$top/build/trixie-nova/build/nova"
(
    root="$top/build/trixie-nova" log=$openstack_log
    : > "$log"
    flock "$top/build/trixie-nova.lock" env NOVA_PREPARE_ONLY=1 "$top/tests/nova.sh" >> "$log" 2>&1
    from_tree os-traits
    cp -r "$top/os-traits/debian" "$src/"
    changelog "  * os_traits/ as trixie's python3-os-traits 3.4.0-1 installs it (no
    source package of python-os-traits is in the archive), packaged anew
    (debian/ of the SPM NUMA project).
  * Add the SPM NUMA series (os-traits/patches): the traits
    COMPUTE_NUMA_MEMMAP_TYPE_SPM and COMPUTE_NUMA_GENERIC_INITIATOR."
    build binary

    from_tree nova
    # Debian's patches are applied in the tree: with no debian/patches
    # left, dpkg-source does not apply them a second time.
    rm -rf "$src/debian/patches"
    changelog "  * Built from trixie's nova 2:31.0.0-6+deb13u2 source package, with
    Debian's patches applied, and nova/ as trixie's python3-nova
    2:31.0.0-6+deb13u3 installs it (the deb13u3 source package is not in
    the archive; its two security fixes are in that nova/).
  * Add the SPM NUMA series (nova/patches): the flavor extra specs
    hw:numa_memmap_type.N (a guest NUMA node of Specific Purpose Memory,
    CPU-less with an empty hw:numa_cpus.N) and hw:numa_initiators.N (PCI
    aliases whose devices are the Generic Initiators of node N), reported
    to Placement as COMPUTE_NUMA_MEMMAP_TYPE_SPM and
    COMPUTE_NUMA_GENERIC_INITIATOR.
  * The documentation is not built (nodoc): nova-doc is empty."
    DEB_BUILD_OPTIONS="$DEB_BUILD_OPTIONS nodoc" build binary
) 2>> "$openstack_log" &
openstack=$!

unpack libvirt-deb
# Debian's rules compile libvirt's test programs (a sixth of the build)
# even when nocheck says they will not run: build them only when they run.
grep -q '^    -Dtests=enabled \\$' "$src/debian/rules" ||
    { echo "debs: no -Dtests=enabled line in debian/rules" >&2; exit 1; }
sed -i 's/^    -Dtests=enabled \\$/    -Dtests=$(if $(filter nocheck,$(DEB_BUILD_OPTIONS)),disabled,enabled) \\/' \
    "$src/debian/rules"

changelog "  * Add the SPM NUMA series (debian/patches/spm): sp-mem memory devices
    (<memory model='sp-mem'>), guest NUMA cells of Specific Purpose Memory
    (<cell memmapType>) and ACPI Generic Initiators of PCI host devices
    (<hostdev><acpi nodeset>).
  * debian/rules: build the tests only when they are run (not with
    DEB_BUILD_OPTIONS=nocheck)."
build
libvirt_w=$w libvirt_name=$name libvirt_version=$local_version

unpack virt-manager
changelog "  * Add the SPM NUMA series (debian/patches/spm): virt-install and
    virt-xml --cpu numa.cellN.memmapType, checked against the domain
    capabilities."
build
virt_manager_w=$w virt_manager_name=$name virt_manager_version=$local_version

wait "$openstack" || { tail -40 "$openstack_log" >&2
    echo "debs: the packages of os-traits and Nova failed, see ${openstack_log#$top/}" >&2; exit 1; }
t1=$(date +%s)

rm -rf "$out"
mkdir -p "$out"
for d in "$libvirt_w" "$virt_manager_w" "$os_traits_w" "$nova_w"; do
    ls "$d"/*.deb >/dev/null 2>&1 || { echo "debs: dpkg-buildpackage left no .deb in $d" >&2; exit 1; }
    mv "$d"/*.deb "$d"/*.dsc "$d"/*.debian.tar.xz "$d"/*.orig.tar.* "$d"/*.changes "$d"/*.buildinfo "$out/" 2>/dev/null || true
done
(cd "$out" && dpkg-scanpackages -m . /dev/null > Packages 2>/dev/null && gzip -9nk Packages)
# the files as this build left them, then the stamp: only a build that
# got this far has one
(cd "$out" && sha256sum -- * > SHA256SUMS.new && mv SHA256SUMS.new SHA256SUMS)
# (the key again: the Nova root may have been made since the start)
want=$(debs_key)
echo "$want $mode${other:+ $other}" > "$out/stamp"
tests=$(grep -E '^(Ok|Fail|Skipped|Expected Fail|Timeout): ' "$log" | tr -s ' ' | sed 's/ *$//' | paste -sd, - | sed 's/,/, /g')
echo "debs: $(ls "$out"/*.deb | wc -l) packages of $libvirt_name $libvirt_version, $virt_manager_name $virt_manager_version, python-os-traits 3.4.0-1+spm1 and nova 2:31.0.0-6+deb13u3+spm1 in ${out#$top/} ($((t1 - t0)) s to build${tests:+; the test run of debian/rules: $tests})"
