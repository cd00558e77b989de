"""Nova's guest on real libvirt and QEMU: the domain XML the Nova series'
libvirt driver defines for an instance with a CPU-less SPM node and a
passthrough device as that node's ACPI Generic Initiator boots on the
patched libvirt and Debian's QEMU 11.1, and the guest reports the device
on the SPM node.

The XML comes from Nova itself: tests/nova-guest-xml.py boots the server
of the series' functional test (Nova's API, scheduler and compute with
fakelibvirt) in the root that runs Nova's tests (build/trixie-nova) and
prints what the driver defined.  What only fits the fake host is replaced
(for_this_host); the guest's ABI (memory, vCPUs, NUMA cells, machine,
features, devices) is Nova's.  This machine cannot assign a PCI device, so
an emulated one (a virtio keyboard, a PCI Express device of a kind Nova's
XML has none of) stands in for the hostdev at its guest address (the root
port Nova puts on an expander bus of the node) with the same ACPI Generic
Initiator libvirt builds for the hostdev's <acpi nodeset>, as the chain
test in test_boot.py does.
"""

import os
import re
import shutil
import xml.etree.ElementTree as ET

import pytest

import spm
from spm import MiB, QEMU

ROOT = spm.BUILD / "trixie-nova"
QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"


@pytest.fixture(scope="module")
def nova_xml(built):
    """The domain XML Nova's driver defines for the accelerator instance."""
    r = spm.run([spm.TOP / "scripts/check-built.sh", "tree:nova", "tree:os-traits"],
                timeout=120)
    if r.returncode != 0:
        pytest.fail(r.stdout.strip())
    if not (ROOT / ".nova-deps").exists():
        pytest.fail("no Nova test root with Nova's dependencies: run tests/nova.sh "
                    "(NOVA_PREPARE_ONLY=1 makes only the root)")
    work = ROOT / f"work-guest-xml-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        for tree in ("nova", "os-traits"):
            (work / tree).mkdir(parents=True)
            spm.run(f"git -C {spm.BUILD / tree} archive HEAD | tar -x -C {work / tree}",
                    shell=True, check=True, timeout=120)
        shutil.copy(spm.TOP / "tests/nova-guest-xml.py", work)
        inner = (f"cd /{work.name}/nova && python3 setup.py -q egg_info >/dev/null 2>&1 && "
                 f"PYTHONPATH=/{work.name}/nova:/{work.name}/os-traits "
                 f"python3 /{work.name}/nova-guest-xml.py /{work.name}/guest.xml")
        r = spm.run([spm.TOP / "scripts/in-root.sh", ROOT, "540", inner], timeout=600)
        assert r.returncode == 0, f"nova-guest-xml.py failed:\n{r.stdout[-3000:]}"
        return (work / "guest.xml").read_text()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def for_this_host(xml, name, serial):
    """Nova's XML with what only fits the fake host replaced: KVM by TCG,
    the host NUMA placement and CPU pinning of the fake host (2 nodes, 8
    CPUs) dropped, the image's disks by build/guest's kernel and
    initramfs, OVMF's pflash by the OVMF the tests boot as ROM, the pty
    console by a file, the hostdev by the emulated stand-in at its address
    with the same Generic Initiator; plus the QEMU 11.1 binary and the test's name.
    Returns the XML and the nodeset of the hostdev."""
    ET.register_namespace("qemu", QEMU_NS)
    dom = ET.fromstring(xml)
    dom.set("type", "qemu")
    dom.find("name").text = name
    dom.remove(dom.find("uuid"))
    for tag in ("numatune", "cputune"):
        dom.remove(dom.find(tag))
    os_ = dom.find("os")
    for tag in ("loader", "nvram", "boot"):
        os_.remove(os_.find(tag))
    for tag, text in (("loader", str(spm.FIRMWARE["ovmf"][0])),
                      ("kernel", str(spm.GUEST / "vmlinuz")),
                      ("initrd", str(spm.GUEST / "initramfs.cpio.gz")),
                      ("cmdline", "console=ttyS0 quiet panic=-1 spm-test=chain")):
        ET.SubElement(os_, tag).text = text
    os_.find("loader").set("type", "rom")
    devices = dom.find("devices")
    for dev in devices.findall("disk") + devices.findall("serial"):
        devices.remove(dev)
    hostdev = devices.find("hostdev")
    nodeset = hostdev.find("acpi").get("nodeset")
    devices.remove(hostdev)
    ET.SubElement(devices, "emulator").text = str(QEMU["sid"])
    ser = ET.SubElement(devices, "serial", type="file")
    ET.SubElement(ser, "source", path=str(serial))
    # the stand-in where Nova put the device: its root port on the
    # expander bus of node 1
    accel = ET.SubElement(devices, "input", type="keyboard", bus="virtio")
    ET.SubElement(accel, "alias", name="ua-accel")
    accel.append(hostdev.find("address"))
    cmd = ET.SubElement(dom, f"{{{QEMU_NS}}}commandline")
    for arg in ("-object", '{"qom-type":"acpi-generic-initiator","id":"gi0",'
                f'"pci-dev":"ua-accel","node":{int(nodeset)}}}'):
        ET.SubElement(cmd, f"{{{QEMU_NS}}}arg", value=arg)
    return ET.tostring(dom, encoding="unicode"), nodeset


@pytest.mark.boot
def test_nova_accelerator_guest(driver, tmp_path, guest_name, nova_xml):
    """Nova's cells and initiator, and what the guest makes of them: node 1
    has no CPUs and 4 GiB soft reserved in its one SRAT range, one dax
    device of that size targets it, and the device reports node 1."""
    (tmp_path / "nova.xml").write_text(nova_xml)
    nova = ET.fromstring(nova_xml)
    cells = [(c.get("id"), c.get("cpus"), int(c.get("memory")), c.get("memmapType"))
             for c in nova.findall("./cpu/numa/cell")]
    assert cells == [("0", "0-3", 2048 * 1024, None), ("1", None, 4096 * 1024, "spm")]
    assert nova.findtext("./vcpu") == "4"

    serial = tmp_path / "serial.log"
    xml, nodeset = for_this_host(nova_xml, guest_name, serial)
    assert nodeset == "1"
    (tmp_path / "domain.xml").write_text(xml)
    r, t_start, t_run = spm.boot(driver, xml, serial, "efi", timeout=600)
    print(f"{guest_name}: {t_start:.1f} s to start, {t_run:.1f} s to poweroff")

    accel = [m[1] for l in r.lines if (m := re.match(r"pci (\S+) 0x1af4:0x1052 ", l))]
    assert len(accel) == 1, "\n".join(l for l in r.lines if l.startswith("pci "))
    assert r.pci_node(accel[0]) == 1
    size = 4096 * MiB
    srat = [e for e in r.srat() if e[0] == 1]
    assert len(srat) == 1, r.srat()
    _, start, last = srat[0]
    assert last - start + 1 == size and r.bytes("soft", start, last) == size
    dax = [(d, v) for d, v in r.dax().items() if v[0] == 1]
    assert len(dax) == 1 and dax[0][1][1:] == (start, size), r.dax()
    assert f"dax {dax[0][0]} open ok" in r.lines
    assert r.memtotal_kb(1) == size // 1024
    assert (r.cpulist(0), r.cpulist(1)) == ("0-3", "")
