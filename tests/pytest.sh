#!/bin/bash
# pytest.sh [--namespace] [PYTEST-ARGS...]: the project's tests (this
# directory) under Debian's pytest, with Debian's python3-libvirt on the
# patched libvirt.so of build/libvirt-build: LD_LIBRARY_PATH puts it
# first, LIBVIRT_DIR_OVERRIDE makes it take its driver modules and data
# from the build tree (as libvirt's own "run" script does).  conftest.py
# refuses any other libvirt, and outputs whose stamps do not match their
# inputs (scripts/check-built.sh).
# --namespace: in a private mount namespace (tests that bind-mount state
# directories: the daemon and the packages' tests).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --namespace ]; then
    shift
    exec unshare --mount --propagation private env SPM_PRIVATE_MOUNTS=1 "$0" "$@"
fi
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LD_LIBRARY_PATH="$top/build/libvirt-build/src"
export LIBVIRT_DIR_OVERRIDE=1
export PYTHONDONTWRITEBYTECODE=1
cd "$top/tests"
exec python3 -m pytest "$@"
