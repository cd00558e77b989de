#!/bin/sh
# in-root.sh ROOT SECS CMD: CMD (sh -e) in the Debian root ROOT, with /proc
# mounted, in a mount namespace of its own and a clean environment (the
# system PATH, HOME=/root, C.UTF-8, noninteractive apt, PBR_VERSION for
# the pbr projects whose trees carry no git metadata); killed (status
# 124) after SECS seconds.
exec timeout -k 30 "$2" unshare -m sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" \
    /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive PBR_VERSION=31.0.0 \
    sh -ec "$1"' "$1" "$3"
