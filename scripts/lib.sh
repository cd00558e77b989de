# Shared by the scripts: a fixed identity for the commits they make and the
# hash that says which pinned source + exported series a tree was made from.
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-SPM NUMA project}"
export GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-spm-numa@localhost}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-$GIT_AUTHOR_NAME}"
export GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-$GIT_AUTHOR_EMAIL}"

# series_hash NAME: hash of sources/NAME and of its exported patch series.
series_hash() {
    (cd "$top" && . "sources/$1" &&
        cat "sources/$1" "$patches/series" \
            $(sed -e '/^#/d' -e '/^$/d' -e "s,^,$patches/," "$patches/series") |
        sha256sum | cut -c1-16)
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
        get="apt-get -q -o APT::Sandbox::User=root -o Acquire::Check-Valid-Until=false download $pkg=$ver"
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

# libvirt_setup BUILD LOG MESON-OPTION...: "meson setup" of build/libvirt in
# BUILD, once, with what every libvirt build here has (QEMU driver, tests,
# QEMU as root for the embedded driver, no git checks) and the options
# given; its output in LOG, the end of it shown if it fails.
libvirt_setup() {
    [ -f "$1/build.ninja" ] && return 0
    _bld=$1 _log=$2
    shift 2
    meson setup "$_bld" "$top/build/libvirt" \
        -Ddriver_qemu=enabled -Dtests=enabled -Dno_git=true \
        -Dqemu_user=root -Dqemu_group=root "$@" >"$_log" 2>&1 || {
            tail -30 "$_log" >&2
            return 1
        }
}
