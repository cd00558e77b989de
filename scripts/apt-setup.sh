#!/bin/sh
# Add the Debian suites the project needs (source packages for bookworm,
# trixie, sid, bookworm-backports), derived from the machine's existing
# entry (deb822 or a classic sources.list) so that no archive host is
# written anywhere.  Other suites
# are pinned low: nothing installed from bookworm is upgraded by them.
set -eu

out=/etc/apt/sources.list.d/spm-extra.sources
pref=/etc/apt/preferences.d/spm-extra

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
archive || exit 1
uri=$mirror

new=$(cat <<EOT
Types: deb-src
URIs: $uri
Suites: bookworm
Components: main
Signed-By: $keyring

Types: deb deb-src
URIs: $uri
Suites: bookworm-backports trixie sid
Components: main
Signed-By: $keyring
EOT
)

if [ ! -f "$out" ] || [ "$(cat "$out")" != "$new" ]; then
    printf '%s\n' "$new" > "$out"
    cat > "$pref" <<EOT
Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100

Package: *
Pin: release n=trixie
Pin-Priority: 50

Package: *
Pin: release n=sid
Pin-Priority: 40
EOT
    rm -f build/.apt-updated 2>/dev/null || true
fi

# No download may hang: a stalled connection is given up after 60 s and
# retried (apt's default waits far longer).  The roots made from this
# machine (scripts/trixie-root.sh, sid-root.sh) get the same file.
cat > /etc/apt/apt.conf.d/80spm-network <<'EOT'
Acquire::http::Timeout "60";
Acquire::https::Timeout "60";
Acquire::ftp::Timeout "60";
Acquire::Retries "3";
EOT

[ -n "${APT_SETUP_NO_UPDATE:-}" ] ||    # (tests/test_harness.py)
    timeout 1800 apt-get -o Acquire::Check-Valid-Until=false update -qq
