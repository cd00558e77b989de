#!/bin/bash
# check-built.sh NAME...: refuse (exit 1, saying why) outputs that were
# not built, or were built from other inputs than the ones now in place:
#   libvirt   build/libvirt-build, built from build/libvirt as it is now
#   qemu      build/qemu-ref, from build/qemu and the project's SeaBIOS
#   debs      build/debs, from the exported libvirt series and build/trixie
#   tree:NAME build/NAME itself (a tree its test uses as it is: nova,
#             os-traits, virt-manager), checked only with SPM_EXPORTED
# Each build writes its stamp only when it succeeded.  With
# SPM_EXPORTED=1 (make check) the trees must also be exactly what the
# exported series gives: no local commits or edits that "make patches"
# has not written back.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/lib.sh"
bad=0
no() { echo "check-built: $*" >&2; bad=1; }

# exported NAME: build/NAME is the pinned source + the exported series
exported() {
    local have head
    read -r have head < "$top/build/$1.stamp" 2>/dev/null || { no "build/$1 was not made by 'make tree'"; return; }
    [ "$have" = "$(series_hash "$1")" ] ||
        no "build/$1 was made from another series than $1/patches: run 'make tree'"
    # (files a build leaves in the tree, untracked, do not count)
    [ "$head" = "$(git -C "$top/build/$1" rev-parse HEAD)" ] && git -C "$top/build/$1" diff --quiet HEAD ||
        no "build/$1 has work that is not exported: run 'make patches' (or remove the tree)"
}

# stamp FILE WANT WHAT: FILE says WANT
stamp() {
    local have
    have=$(cat "$1" 2>/dev/null) || { no "$3 has no stamp ($1): it was never built, or its last build failed; run 'make build'"; return; }
    [ "$have" = "$2" ] || no "$3 is stale: built from $have, the inputs are now $2; run 'make build'"
}

for name in "$@"; do
    case $name in
    libvirt)
        [ -z "${SPM_EXPORTED:-}" ] || exported libvirt
        stamp "$top/build/libvirt-build.stamp" "$(tree_key libvirt)" build/libvirt-build ;;
    qemu)
        [ -z "${SPM_EXPORTED:-}" ] || { exported qemu; exported seabios; }
        stamp "$top/build/qemu-ref.stamp" \
            "$(tree_key qemu) $(cat "$top/build/firmware/bios-256k.bin.stamp" 2>/dev/null)" build/qemu-ref ;;
    debs)
        [ -z "${SPM_EXPORTED:-}" ] || { exported libvirt; exported virt-manager; }
        # the key debs.sh computes, without building anything
        want=$(debs_key)
        have=$(cut -d' ' -f1 "$top/build/debs/stamp" 2>/dev/null)
        [ -n "$have" ] || no "build/debs has no stamp: never built, or its last build failed; run 'make debs'"
        [ -z "$have" ] || [ "$have" = "$want" ] ||
            no "build/debs is stale: built from $have, the inputs are now $want; run 'make debs'" ;;
    tree:*)
        [ -z "${SPM_EXPORTED:-}" ] || exported "${name#tree:}" ;;
    *) no "unknown output '$name'" ;;
    esac
done
exit $bad
