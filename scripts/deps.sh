#!/bin/sh
# Install the Debian packages needed to build and test the patched libvirt.
# Idempotent: apt-get does nothing for packages already installed.
set -eu

here=$(dirname "$0")
"$here/apt-setup.sh"

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    meson ninja-build gcc pkg-config git xz-utils ca-certificates dpkg-dev \
    libglib2.0-dev libxml2-dev libxml2-utils xsltproc python3-docutils \
    python3-pytest libgnutls28-dev libjson-c-dev libtirpc-dev libnl-3-dev \
    libnl-route-3-dev libnuma-dev libcap-ng-dev libudev-dev libpciaccess-dev \
    libdevmapper-dev libblkid-dev libreadline-dev libacl1-dev libattr1-dev \
    libselinux1-dev gettext bash-completion \
    qemu-system-x86 qemu-utils \
    >/dev/null
