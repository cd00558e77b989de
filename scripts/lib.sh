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
