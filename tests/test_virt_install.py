"""virt-install and virt-xml of the virt-manager series (build/virt-manager)
end to end, on the patched libvirt's embedded QEMU driver: virt-install
defines and boots the test guest with an SPM cell 1 on the reference QEMU
(its E820 and SRAT checked), virt-xml --edit changes the cell, and on
Debian 12's QEMU both refuse the value before anything changes.

virt-install and virt-xml cannot open qemu:///embed by themselves: libvirt
requires an event loop of an embedded driver's client, and they register
none.  They run in a python process that registers libvirt's default
event loop first (scripts/with-event-loop.py), otherwise unchanged.  The
driver lives in that process, so virt-install runs with --wait -1: it
stays until the guest has powered itself off.  Each tool gets a driver
root of its own; virsh looks at it afterwards.
"""

import os
import re
import shutil

import pytest

import spm

TREE = spm.BUILD / "virt-manager"
NAME = "spm-e2e"
DEB = "/usr/bin/qemu-system-x86_64"
# cell 1 in guest physical memory: 2 GiB of RAM all lie below 4 GiB on q35
START, LAST = 1 << 30, (2 << 30) - 1


@pytest.fixture
def root():
    r = spm.short_tmpdir("spm-vi-")
    (r / "etc").mkdir()
    (r / "etc/qemu.conf").write_text('stdio_handler = "file"\n')
    yield r
    pidfile = r / "run/qemu" / f"{NAME}.pid"
    if pidfile.exists():
        os.kill(int(pidfile.read_text()), 9)
    shutil.rmtree(r, ignore_errors=True)


def tool(root, prog, *args, timeout=300):
    env = dict(os.environ)
    osinfo = spm.BUILD / "osinfo-db/usr/share/osinfo"     # tests/virt-manager.sh
    if osinfo.is_dir():
        env["OSINFO_SYSTEM_DIR"] = str(osinfo)
    return spm.run(["/usr/bin/python3", spm.TOP / "scripts/with-event-loop.py", f"./{prog}",
                    "--connect", f"qemu:///embed?root={root}", *map(str, args)],
                   cwd=TREE, env=env, timeout=timeout)


def virsh(root, *args):
    return spm.run([spm.BUILD / "libvirt-build/tools/virsh", "-q", "-c",
                    f"qemu:///embed?root={root}", *map(str, args)], timeout=120).stdout


def install_args(emulator, serial, memmap="spm"):
    return spm.virt_install_args(
        NAME, serial, f"emulator={emulator},kernel={spm.GUEST / 'vmlinuz'},"
                      f"initrd={spm.GUEST / 'initramfs.cpio.gz'}", memmap)


def refusal(emulator, prefix=""):
    return re.compile(
        rf"^ERROR +{re.escape(prefix)}NUMA cell 1: memmapType 'spm' is not supported by this "
        rf"host \(emulator {re.escape(emulator)}, machine pc-q35-[0-9.]+\)\. "
        r"Supported values: normal$", re.M)


def test_virt_install_boots_spm_guest_and_virt_xml_edits(built, root):
    ref = spm.QEMU["ref"]
    serial = root / "serial.log"
    r = tool(root, "virt-install", *install_args(ref, serial))
    assert r.returncode == 0 and "Domain creation completed" in r.stdout, r.stdout[-3000:]
    report = spm.Report(serial.read_text(errors="replace"))
    assert report.complete(), serial.read_text(errors="replace")[-2000:]
    qemu_log = (root / "log/qemu" / f"{NAME}.log").read_text()
    assert "memmap-type=spm" in qemu_log
    assert report.bytes("soft", START, LAST) == LAST - START + 1
    assert (1, START, LAST) in report.srat()
    assert virsh(root, "domstate", NAME).strip() == "shut off"
    assert "memmapType='spm'" in re.search(r"<cell id='1'[^>]*>", virsh(root, "dumpxml", NAME))[0]

    r = tool(root, "virt-xml", NAME, "--edit", "--cpu", "numa.cell1.memmapType=normal")
    assert r.returncode == 0, r.stdout[-2000:]
    assert "memmapType='normal'" in re.search(r"<cell id='1'[^>]*>", virsh(root, "dumpxml", NAME))[0]


def test_virt_install_refuses_on_qemu_without_spm(built, root):
    """The same command on Debian 12's QEMU: refused by virt-install before
    anything is defined, naming the value, the cell and what the host has."""
    serial = root / "serial.log"
    r = tool(root, "virt-install", *install_args(DEB, serial))
    assert r.returncode != 0
    assert refusal(DEB).search(r.stdout), r.stdout[-2000:]
    assert virsh(root, "list", "--all", "--name").strip() == ""
    assert not (root / "etc/qemu" / f"{NAME}.xml").exists() and not serial.exists()


def test_virt_xml_refuses_on_qemu_without_spm_definition_kept(built, root, tmp_path):
    """A guest defined for Debian 12's QEMU (cell 1 normal) cannot have its
    cell 1 made spm by virt-xml; its definition stays as it was."""
    serial = root / "serial.log"
    r = tool(root, "virt-install", *install_args(DEB, serial, "normal"), "--print-xml")
    assert r.returncode == 0, r.stdout[-2000:]
    xml = tmp_path / "guest.xml"
    xml.write_text(r.stdout[r.stdout.index("<domain"):])
    virsh(root, "define", xml)
    before = virsh(root, "dumpxml", "--inactive", NAME)
    assert "memmapType='normal'" in re.search(r"<cell id='1'[^>]*>", before)[0]
    r = tool(root, "virt-xml", NAME, "--edit", "--cpu", "numa.cell1.memmapType=spm")
    assert r.returncode != 0
    assert refusal(DEB, "--cpu numa.cell1.memmapType=spm: ").search(r.stdout), r.stdout[-2000:]
    assert virsh(root, "dumpxml", "--inactive", NAME) == before
