# Shared by the scripts: a fixed identity for the commits they make and the
# hash that says which pinned source + exported series a tree was made from.
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-SPM NUMA project}"
export GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-spm-numa@localhost}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-$GIT_AUTHOR_NAME}"
export GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-$GIT_AUTHOR_EMAIL}"

# series_hash NAME: hash of sources/NAME and of its exported patch series;
# for a series on top of another tree ("on=TREE" in sources/NAME), of
# that tree's HEAD too.
series_hash() {
    (cd "$top" && on= && . "sources/$1" &&
        { cat "sources/$1" "$patches/series" \
              $(sed -e '/^#/d' -e '/^$/d' -e "s,^,$patches/," "$patches/series")
          [ -z "$on" ] || git -C "build/$on" rev-parse HEAD 2>/dev/null || echo "no build/$on"
        } | sha256sum | cut -c1-16)
}

# debs_key: what build/debs is made from (scripts/debs.sh; check-built.sh
# asks too): trixie's libvirt, virt-manager, os-traits and nova and their
# exported series, debs.sh itself and os-traits' debian/, the inputs of the
# build roots (build/trixie.stamp, build/trixie-nova.stamp), and the
# author and dates (each series' last export) of the changelog entries it
# writes.
debs_key() {
    # shellcheck disable=SC1091
    (cd "$top" &&
        { for s in libvirt-deb virt-manager os-traits nova; do
              series_hash "$s"
              (. "sources/$s" && git log -1 --format=%aD -- "$patches" 2>/dev/null || true)
          done
          cat scripts/debs.sh build/trixie.stamp
          find os-traits/debian -type f | LC_ALL=C sort | xargs cat
          cat build/trixie-nova.stamp 2>/dev/null || echo "no build/trixie-nova"
          echo "$GIT_AUTHOR_NAME <$GIT_AUTHOR_EMAIL>"
        } | sha256sum | cut -c1-16)
}

# Debian's python3 (with python3-pytest) and tools, not whatever an
# interactive setup (pyenv, ...) puts first in PATH.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

# pinned_deb PINS PACKAGE: path of the .deb of PACKAGE pinned in the file
# PINS ("package version sha256" lines), verified, in build/dl (downloaded
# if needed).  apt-get names the file with the epoch's ':' escaped as %3a.
pinned_deb() {
    local pkg ver sum file f get dl="$top/build/dl"
    read -r pkg ver sum <<EOF
$(awk -v p="$2" '$1 == p' "$1")
EOF
    [ -n "$sum" ] || { echo "pinned_deb: no pin for $2 in $1" >&2; exit 1; }
    file="${pkg}_$(echo "$ver" | sed 's/:/%3a/')_*.deb"
    mkdir -p "$dl"
    f=$(find "$dl" -maxdepth 1 -name "$file")
    if [ -z "$f" ] || ! echo "$sum  $f" | sha256sum -c --status; then
        rm -f "$f"
        # Sandboxing as _apt fails on a root-owned build tree: download as root.
        get="timeout 900 apt-get -q -o APT::Sandbox::User=root -o Acquire::Check-Valid-Until=false download $pkg=$ver"
        # The version may be missing from lists never updated: refresh once.
        (cd "$dl" && $get >&2) ||
            { "$top/scripts/apt-setup.sh" >&2 && (cd "$dl" && $get >&2); }
        f=$(find "$dl" -maxdepth 1 -name "$file")
    fi
    echo "$sum  $f" | sha256sum -c --quiet >&2 || {
        echo "pinned_deb: checksum mismatch for $pkg $ver" >&2
        exit 1
    }
    echo "$f"
}

# meson_counts LOG: "N passed, N failed, N skipped" of a "meson test" run
# whose output is LOG (failed counts unexpected passes and timeouts too),
# after meson's own summary lines.
meson_counts() {
    sed -n '/^Ok:/,/^Timeout:/p' "$1" >&2
    awk '/^Ok:/ {ok = $2} /^Fail:/ {f += $2} /^Unexpected Pass:/ {f += $3}
         /^Timeout:/ {f += $2} /^Skipped:/ {s = $2}
         END {printf "%d passed, %d failed, %d skipped\n", ok, f, s}' "$1"
}

# libvirt_setup BUILD LOG MESON-OPTION...: "meson setup" of build/libvirt
# (or of $libvirt_src) in BUILD, once, with what every libvirt build here
# has (QEMU driver, tests, QEMU as root for the embedded driver, no git
# checks) and the options given; its output in LOG, the end of it shown
# if it fails.  A BUILD set up with other options is set up anew.
libvirt_setup() {
    _bld=$1 _log=$2
    shift 2
    setup_needed "$_bld" "$*" || return 0
    meson setup "$_bld" "${libvirt_src:-$top/build/libvirt}" \
        -Ddriver_qemu=enabled -Dtests=enabled -Dno_git=true \
        -Dqemu_user=root -Dqemu_group=root "$@" >"$_log" 2>&1 || {
            tail -30 "$_log" >&2
            return 1
        }
    setup_done "$_bld" "$*"
}

# setup_needed BUILD OPTIONS: true when the build directory BUILD must be
# set up (meson, configure) with OPTIONS, a string: it never was, or was
# with other options, and is then removed.  setup_done BUILD OPTIONS,
# after the setup, records them.
setup_needed() {
    [ -f "$1/build.ninja" ] && [ "$(cat "$1/spm-setup" 2>/dev/null)" = "$2" ] && return 1
    rm -rf "$1"
}
setup_done() {
    echo "$2" > "$1/spm-setup"
}

# tree_key NAME: what build/NAME holds: its commit and any uncommitted
# changes.  A build of it records this in its stamp when it succeeds.
tree_key() {
    (git -C "$top/build/$1" rev-parse HEAD && git -C "$top/build/$1" diff HEAD) |
        sha256sum | cut -c1-16
}

# archive: $mirror and $keyring of the machine's own Debian archive entry,
# from the deb822 /etc/apt/sources.list.d/debian.sources or a classic
# one-line sources.list ("deb [opts] URI SUITE COMPONENTS..."); the first
# entry that is not the security archive.  No host is written anywhere.
archive() {
    local src=/etc/apt/sources.list.d/debian.sources
    mirror= keyring=
    if [ -f "$src" ]; then
        mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$src")
        keyring=$(awk '/^Signed-By:/ {print $2; exit}' "$src")
    fi
    if [ -z "$mirror" ]; then
        mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            sed -n 's/^deb\(-src\)\{0,1\}[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\3/p' |
            grep -v security | head -1)
    fi
    keyring=${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}
    [ -n "$mirror" ] || { echo "no Debian archive entry in $src or /etc/apt/sources.list" >&2; return 1; }
}

# root_manifest ROOT [STAGE]: ROOT[.STAGE].manifest, the packages and
# versions installed in ROOT (a debootstrapped root: what it got floats
# with the archive) after it was made (or after STAGE, such as the test
# dependencies added to it); when the last root of that name had other
# ones at that point, say what changed.
root_manifest() {
    _m="$1${2:+.$2}.manifest"
    chroot "$1" dpkg-query -W -f '${Package} ${Version}\n' | LC_ALL=C sort > "$_m.new"
    if [ -f "$_m" ] && ! cmp -s "$_m" "$_m.new"; then
        echo "$(basename "$_m" .manifest): packages that differ from the last root's (- then, + now):" >&2
        diff "$_m" "$_m.new" | sed -n 's/^< /  - /p; s/^> /  + /p' >&2
    fi
    mv "$_m.new" "$_m"
}
