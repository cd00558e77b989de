#!/usr/bin/python3
# with-event-loop.py TOOL ARGS...: run virt-install or virt-xml from its
# source tree in a process that runs libvirt's default event loop, which
# libvirt requires of a qemu:///embed client
import runpy
import sys
import threading

import libvirt

libvirt.virEventRegisterDefaultImpl()


def loop():
    while True:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=loop, daemon=True).start()
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
