#!/bin/bash
# long-path.sh [PYTEST-ARGS...]: the project's tests from a clone at a
# path of 150+ characters, as a user may clone it.  The tracked files (as
# they are in this work tree) are copied there; its build/ is this clone's
# build/, bind-mounted in a private mount namespace, so nothing is
# rebuilt.  From there, under pytest: the embedded-driver tests that start
# guests, an SPM guest booted on each QEMU, and the demo.  Every UNIX socket (QEMU
# monitors, libvirt's) must stay under 108 bytes wherever the clone is.
# pytest's summary line is this part's.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SPM_LONGPATH_NS:-}" ]; then
    exec env SPM_LONGPATH_NS=1 unshare --mount --propagation private "$0" "$@"
fi
base=$(mktemp -d /tmp/spm-long.XXXXXX)
trap 'umount "$long/build" 2>/dev/null; rm -rf "$base"' EXIT
long="$base/$(printf 'a-clone-at-a-path-as-long-as-users-make-them-%s' 1 2 3)"
mkdir -p "$long/build"
git -C "$top" ls-files -z | while IFS= read -r -d '' f; do
    [ ! -e "$top/$f" ] || printf '%s\0' "$f"
done | tar -C "$top" --null -T - -cf - | tar -C "$long" -xf -
mount --bind "$top/build" "$long/build"
echo "long-path: a clone at ${#long} characters: $long"
# The build seen at this path reads as stale to check-built.sh only if
# its inputs differ: they are the same trees.
# (of the embedded-driver tests, those that start a guest)
[ $# -gt 0 ] || set -- test_demo.py \
    "test_embed.py::test_sid_running_guest_save_refused_guest_kept" \
    "test_embed.py::test_sid_setmem_translated_for_qemu_balloon" \
    "test_embed.py::test_restore_across_mechanisms_refused_image_intact" \
    "test_spmem.py::test_file_backed_guest_reads_what_the_host_wrote" \
    "test_boot.py::test_node1[above4g-2048-1024-ref-seabios-spm]" \
    "test_boot.py::test_node1[above4g-2048-1024-sid-ovmf-spm]"
"$long/tests/pytest.sh" "$@"
