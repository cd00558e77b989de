#!/bin/sh
# Install the Debian packages needed to build and test the patched libvirt,
# the reference QEMU and SeaBIOS.  Idempotent: apt-get does nothing for
# packages already installed.
set -eu

here=$(dirname "$0")
"$here/apt-setup.sh"

export DEBIAN_FRONTEND=noninteractive
apt_install() {
    timeout 1800 apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# libvirt
apt_install \
    ninja-build gcc pkg-config git xz-utils ca-certificates dpkg-dev \
    libglib2.0-dev libxml2-dev libxml2-utils xsltproc python3-docutils \
    python3-pytest python3-pytest-timeout python3-pytest-xdist procps \
    libgnutls28-dev libjson-c-dev libtirpc-dev libnl-3-dev \
    libnl-route-3-dev libnuma-dev libcap-ng-dev libudev-dev libpciaccess-dev \
    libdevmapper-dev libblkid-dev libreadline-dev libacl1-dev libattr1-dev \
    libselinux1-dev gettext bash-completion \
    qemu-system-x86 qemu-utils
# the libFuzzer target (scripts/check-fuzz.sh): clang, its sanitizer and
# libFuzzer runtimes, llvm-symbolizer for the reports
apt_install clang-14 libclang-rt-14-dev llvm-14
# QEMU 10.2 needs meson >= 1.5: bookworm-backports has 1.7 (libvirt is
# fine with it too)
apt_install -t bookworm-backports meson
# virt-manager's suite and virt-install (tests/virt-manager.sh), and the
# linters its tests/meson.build runs on the tree (its .pylintrc loads Gtk)
apt_install \
    python3-libvirt python3-libxml2 python3-gi gir1.2-libosinfo-1.0 \
    python3-requests xorriso pylint pycodestyle codespell gir1.2-gtk-3.0
# the reference QEMU (x86_64-softmmu, its option ROMs and qtests), SeaBIOS
apt_install \
    libpixman-1-dev libslirp-dev libfdt-dev flex bison python3-venv \
    python3-distlib seabios
# the guest's initramfs, the sid and trixie roots: installed here, so that
# the builds of "make -j build" never run apt at the same time
apt_install make cpio debootstrap
