"""<memory model='sp-mem'> on Debian's QEMU 11.1 through the patched
libvirt's embedded driver: a guest NUMA node of Specific Purpose Memory
backed by a host file (standing in for the host's /dev/daxX.Y, which this
machine has none of), by host nodes, or anonymous; what the guest reads
there; and what libvirt refuses with the guest left as it was."""

import re
import struct

import libvirt

import spm
from spm import MiB, QEMU, expect_error

SPM_MIB = 256
# 16 bytes the host writes at the start of the backing file
PATTERN = (0x5350_4D2D_4842_4D21, 0x0123_4567_89AB_CDEF)


def spmem_xml(name, serial, source="", initargs="spm-test=peek"):
    return spm.spmem_xml(name, serial, source, SPM_MIB, initargs)


def backing_file(path):
    return spm.backing_file(path, SPM_MIB, PATTERN)


def path_source(path):
    return f"<source><path>{path}</path></source>"


def soft_ranges(report):
    return [(s, l) for s, l, t in report.memmap() if t == "Soft Reserved"]


def test_file_backed_guest_reads_what_the_host_wrote(driver, tmp_path):
    """The host's bytes are the guest's SPM: the guest's firmware reports
    the device's range soft reserved, its SRAT puts the range on node 1,
    and the guest reads the host's pattern at its start."""
    backing = backing_file(tmp_path / "hbm")
    serial = tmp_path / "serial.log"
    xml = spmem_xml("spmem-file", serial, path_source(backing))
    assert "memory-backend-file" in spm.qemu_argv(driver.conn, xml)
    report, _, _ = spm.boot(driver, xml, serial, "efi")
    soft = soft_ranges(report)
    assert len(soft) == 1 and soft[0][1] - soft[0][0] + 1 == SPM_MIB * MiB, report.memmap()
    start, last = soft[0]
    assert (1, start, last) in report.srat(), report.srat()
    assert report.peek() == {start: PATTERN}, report.text[-2000:]
    # QEMU mapped the file as it was: same size (libvirt cleared it once
    # the guest stopped: test_what_a_guest_left_is_cleared_when_it_stops)
    assert backing.stat().st_size == SPM_MIB * MiB


def test_anonymous_guest_reads_zeroes(driver, tmp_path):
    serial = tmp_path / "serial.log"
    report, _, _ = spm.boot(driver, spmem_xml("spmem-anon", serial), serial, "efi")
    soft = soft_ranges(report)
    assert len(soft) == 1
    assert report.peek() == {soft[0][0]: (0, 0)}


def test_second_guest_on_the_same_source_refused(driver, cleanup, tmp_path):
    """Host memory is given to one running guest at a time: the second
    start fails naming the first, which keeps running; the second's
    definition is untouched and it starts once the first has stopped."""
    backing = backing_file(tmp_path / "hbm")
    cleanup += ["spmem-a", "spmem-b"]
    a = driver.define(spmem_xml("spmem-a", tmp_path / "a.log", path_source(backing)))
    b = driver.define(spmem_xml("spmem-b", tmp_path / "b.log", path_source(backing)))
    driver.start(a, libvirt.VIR_DOMAIN_START_PAUSED)
    before = b.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    expect_error(driver.start, b, libvirt.VIR_DOMAIN_START_PAUSED,
                 contains=f"sp-mem source '{backing}' is in use by running domain 'spmem-a'")
    assert a.state()[0] == libvirt.VIR_DOMAIN_PAUSED
    assert b.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    assert b.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == before
    # B's failed start did not clear what belongs to A
    assert struct.unpack("<QQ", backing.read_bytes()[:16]) == PATTERN
    a.destroy()
    driver.start(b, libvirt.VIR_DOMAIN_START_PAUSED)
    assert b.state()[0] == libvirt.VIR_DOMAIN_PAUSED


def test_what_a_guest_left_is_cleared_when_it_stops(driver, tmp_path):
    """A guest's data does not outlive it: guest A reads what the host put
    in the file, writes a pattern of its own there and stops; libvirt
    clears the file (holes punched: zeroes, no block left), and guest B,
    given the same file, reads zeroes."""
    backing = backing_file(tmp_path / "hbm")
    serial = tmp_path / "a.log"
    report, _, _ = spm.boot(driver, spmem_xml("spmem-a", serial, path_source(backing),
                                              initargs="spm-test=poke"), serial, "efi")
    start = soft_ranges(report)[0][0]
    assert report.peek() == {start: PATTERN}
    assert report.peek("poked") == {start: (0x4755455354535044, 0x4C4546544245484E)}, \
        report.text[-2000:]
    st = backing.stat()
    assert st.st_size == SPM_MIB * MiB and st.st_blocks == 0, st
    assert backing.read_bytes().count(0) == SPM_MIB * MiB
    serial = tmp_path / "b.log"
    report, _, _ = spm.boot(driver, spmem_xml("spmem-b", serial, path_source(backing)),
                            serial, "efi")
    assert report.peek() == {start: (0, 0)}, report.text[-2000:]


def test_live_address_and_refusals_leave_the_guest_running(driver, cleanup, tmp_path):
    """The live XML shows where QEMU mapped the device; hot plug, hot
    unplug and save are refused, and the guest, its definition and the
    save path are as they were."""
    cleanup.append("spmem-live")
    backing = backing_file(tmp_path / "hbm")
    dom = driver.define(spmem_xml("spmem-live", tmp_path / "s.log", path_source(backing)))
    driver.start(dom, libvirt.VIR_DOMAIN_START_PAUSED)
    live = dom.XMLDesc(0)
    # first fit at the start of the device memory region, above 4 GiB
    assert "<address base='0x100000000'/>" in live, live
    assert "<alias name='spmem0'/>" in live
    inactive = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    dev = re.search(r"<memory model='sp-mem'.*?</memory>", inactive, re.S)[0]
    expect_error(dom.attachDeviceFlags, dev, libvirt.VIR_DOMAIN_AFFECT_LIVE,
                 contains="hotplug is not supported for the sp-mem device")
    # the device as the live XML has it (its address), as virsh detach-device
    # would be given it
    livedev = re.search(r"<memory model='sp-mem'.*?</memory>", live, re.S)[0]
    expect_error(dom.detachDeviceFlags, livedev, libvirt.VIR_DOMAIN_AFFECT_LIVE,
                 contains="hot unplug is not supported for the sp-mem device")
    image = tmp_path / "spmem.save"
    expect_error(dom.save, str(image),
                 contains=spm.SAVE_REFUSAL)
    assert not image.exists()
    assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
    assert dom.XMLDesc(0) == live
    assert dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == inactive


def test_nodemask_binds_qemu_memory_to_the_host_node(driver, cleanup, tmp_path):
    """<source><nodemask> binds the device's memory to host nodes: its
    QEMU's mapping of that size says bind:0 in numa_maps."""
    cleanup.append("spmem-node")
    dom = driver.define(spmem_xml("spmem-node", tmp_path / "s.log",
                                  "<source><nodemask>0</nodemask></source>"))
    pid = driver.start(dom, libvirt.VIR_DOMAIN_START_PAUSED)
    maps = open(f"/proc/{pid}/numa_maps").read()
    smaps = open(f"/proc/{pid}/smaps").read()
    # the mapping of exactly SPM_MIB
    starts = [m[1] for m in re.finditer(r"^([0-9a-f]+)-([0-9a-f]+) ", smaps, re.M)
              if int(m[2], 16) - int(m[1], 16) == SPM_MIB * MiB]
    assert starts, "no mapping of the sp-mem device's size"
    policies = [re.search(rf"^{s} (\S+)", maps, re.M)[1] for s in starts]
    assert "bind:0" in policies, policies


def test_device_not_hidden_by_unsupported_binary(driver, tmp_path):
    """Debian 12's QEMU 7.2 has no sp-mem: the definition is refused,
    nothing is defined."""
    xml = spmem_xml("spmem-sys", tmp_path / "s.log").replace(
        str(QEMU["sid"]), str(QEMU["sys"]))
    expect_error(driver.define, xml,
                 contains=f"sp-mem memory devices are not supported by the QEMU binary "
                          f"'{QEMU['sys']}': the device needs QEMU 11.1 or later")
    assert [d.name() for d in driver.conn.listAllDomains()] == []
