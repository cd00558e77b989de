"""The patched libvirt on its embedded QEMU driver with real QEMU binaries:
Debian 12's (neither mechanism), the reference QEMU (-numa memmap-type)
and Debian's QEMU 11.1 (sp-mem).  What libvirt accepts, refuses and
emits, and what a running guest's QEMU does, for the <cell memmapType>
of examples/spm-guest.xml."""

import re
import shutil

import libvirt
import libvirt_qemu
import pytest

import spm
from spm import QEMU, expect_error, memmap_enum, qemu_argv

UNSUPPORTED = "memmapType='{}' of NUMA cell 1 is not supported by the QEMU binary '"


def defined(driver):
    return sorted(d.name() for d in driver.conn.listAllDomains())


def inactive(dom):
    return dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)


def with_uuid(xml, uuid):
    """XML as a redefinition of the domain whose UUID is UUID."""
    return xml.replace("</name>", f"</name>\n  <uuid>{uuid}</uuid>", 1)


def with_hotplug(xml, third_cell=True):
    """<maxMemory> for DIMMs and, with THIRD_CELL, a normal cell 2 last
    (QEMU gives the hotplug region the last node)."""
    xml = xml.replace("<memory unit='GiB'>3</memory>",
                      "<maxMemory slots='2' unit='GiB'>8</maxMemory>\n  <memory unit='GiB'>3</memory>")
    if third_cell:
        xml = re.sub(r"( *)(<cell id='1' .*memmapType='spm'/>)",
                     r"\1\2\n\1<cell id='2' memory='512' unit='MiB'/>", xml)
    return xml


# --- Debian 12's QEMU 7.2: neither mechanism --------------------------------

def test_sys_domcaps_list_normal_only(driver):
    assert memmap_enum(driver.conn, QEMU["sys"]) == ["normal"]


def test_sys_define_spm_refused_nothing_defined(driver):
    expect_error(driver.define, spm.example_xml(),
                 contains=UNSUPPORTED.format("spm"))
    assert defined(driver) == []


def test_sys_domxml_to_native_spm_refused(driver):
    expect_error(qemu_argv, driver.conn, spm.example_xml(),
                 contains=UNSUPPORTED.format("spm"))


def test_sys_normal_round_trip_and_redefinitions_refused(driver, cleanup):
    cleanup.append("spm-guest")
    normal = spm.example_xml().replace("memmapType='spm'", "memmapType='normal'")
    dom = driver.define(normal)
    before = inactive(dom)
    assert "<cell id='1' memory='1048576' unit='KiB' memmapType='normal'/>" in before
    argv = qemu_argv(driver.conn, normal)
    assert "-numa node,nodeid=1,memdev=ram-node1" in argv
    assert "memmap-type" not in argv
    # an invalid value, then a value this QEMU cannot do: each refused
    # with its own error, the definition as it was
    expect_error(driver.define, normal.replace("memmapType='normal'", "memmapType='hbm'"),
                 contains="Invalid value for attribute 'memmapType' in element 'cell': 'hbm'")
    assert inactive(dom) == before
    expect_error(driver.define, spm.example_xml(), contains=UNSUPPORTED.format("spm"))
    assert inactive(dom) == before


# --- the reference QEMU: -numa node,memmap-type ------------------------------

def test_ref_domcaps_list_all_three(driver):
    assert memmap_enum(driver.conn, QEMU["ref"]) == ["normal", "spm", "reserved"]


def test_ref_spm_round_trip_and_command_line(driver, cleanup):
    cleanup.append("spm-guest")
    xml = spm.example_xml(emulator=QEMU["ref"])
    dom = driver.define(xml)
    assert "<cell id='1' memory='1048576' unit='KiB' memmapType='spm'/>" in inactive(dom)
    argv = qemu_argv(driver.conn, inactive(dom))
    assert "-numa node,nodeid=0,cpus=0-1,memdev=ram-node0 " in argv
    assert "-numa node,nodeid=1,memdev=ram-node1,memmap-type=spm " in argv
    argv = qemu_argv(driver.conn, xml.replace("'spm'", "'reserved'"))
    assert "-numa node,nodeid=1,memdev=ram-node1,memmap-type=reserved " in argv


def test_ref_spm_first_cell_refused_definition_intact(driver, cleanup):
    cleanup.append("spm-guest")
    xml = spm.example_xml(emulator=QEMU["ref"])
    dom = driver.define(xml)
    before = inactive(dom)
    first = xml.replace(" memmapType='spm'", "").replace(
        "<cell id='0' cpus='0-1' memory='2' unit='GiB'/>",
        "<cell id='0' cpus='0-1' memory='2' unit='GiB' memmapType='spm'/>")
    expect_error(driver.define, with_uuid(first, dom.UUIDString()),
                 contains="NUMA cell 0 with memmapType='spm' would hold the guest's low "
                          "memory, which must be normal RAM")
    assert inactive(dom) == before


def test_ref_dimm_on_spm_node_refused_definition_intact(driver, cleanup):
    cleanup.append("spm-guest")
    dom = driver.define(with_hotplug(spm.example_xml(emulator=QEMU["ref"])))
    before = inactive(dom)
    assert "<cell id='1'" in before
    dimm = ("<memory model='dimm'><target><size unit='GiB'>1</size>"
            "<node>1</node></target></memory>")
    expect_error(dom.attachDeviceFlags, dimm, libvirt.VIR_DOMAIN_AFFECT_CONFIG,
                 contains="memory device can't target guest node '1' with memmapType='spm'")
    assert inactive(dom) == before


def test_ref_maxmemory_with_spm_cell_last_refused(driver):
    xml = with_hotplug(spm.example_xml(emulator=QEMU["ref"]), third_cell=False)
    expect_error(driver.define, xml,
                 contains="NUMA cell 1 with memmapType='spm' is the last cell, which QEMU "
                          "gives the memory hotplug region of <maxMemory>: add a cell "
                          "after it or remove <maxMemory>")
    assert defined(driver) == []


# --- Debian's QEMU 11.1: -device sp-mem --------------------------------------

def test_sid_domcaps_list_normal_and_spm(driver):
    assert memmap_enum(driver.conn, QEMU["sid"]) == ["normal", "spm"]


def test_sid_spm_becomes_sp_mem_device(driver):
    argv = qemu_argv(driver.conn, spm.example_xml(emulator=QEMU["sid"]))
    assert "-m size=2097152k,maxmem=3145728k " in argv
    assert "-numa node,nodeid=1 " in argv
    assert ("-object '{\"qom-type\":\"memory-backend-ram\",\"id\":\"memspmem0\","
            "\"size\":1073741824}'") in argv
    assert ("-device '{\"driver\":\"sp-mem\",\"node\":1,"
            "\"memdev\":\"memspmem0\",\"id\":\"spmem0\"}'") in argv


def test_sid_reserved_refused(driver):
    xml = spm.example_xml(emulator=QEMU["sid"]).replace("'spm'", "'reserved'")
    expect_error(driver.define, xml,
                 contains=UNSUPPORTED.format("reserved") + f"{QEMU['sid']}': it needs "
                 "'-numa node,memmap-type', which no QEMU release has")
    assert defined(driver) == []


def sid_boot_xml(tmp_path, emulator=None, balloon=False):
    xml = spm.example_xml(emulator=emulator or QEMU["sid"], boot=tmp_path / "serial.log")
    if balloon:
        xml = xml.replace("<memballoon model='none'/>", "<memballoon model='virtio'/>")
    return xml


def test_sid_running_guest_save_refused_guest_kept(driver, cleanup, tmp_path):
    cleanup.append("spm-guest")
    dom = driver.define(sid_boot_xml(tmp_path))
    driver.start(dom, libvirt.VIR_DOMAIN_START_PAUSED)
    info = dom.info()
    assert info[1] == info[2] == 3 * 1024 * 1024, "max and used memory: the XML's 3 GiB"
    expect_error(dom.save, str(tmp_path / "sid.save"),
                 contains=spm.SAVE_REFUSAL)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
    assert not (tmp_path / "sid.save").exists()


def test_sid_info_numa_aborts_qemu_known_bug(driver, cleanup, tmp_path):
    """QEMU 11.1.3's HMP 'info numa' (and QMP x-query-numa) abort QEMU on a
    guest with an sp-mem device (hw/core/numa.c).  libvirt never sends
    either; qemu-monitor-command can.  The guest dies as crashed, its
    definition stays, it starts again.  Asserts the bug: a fixed QEMU
    makes this test say so."""
    cleanup.append("spm-guest")
    dom = driver.define(sid_boot_xml(tmp_path))
    events = spm.Lifecycle(driver.conn, dom)
    try:
        driver.start(dom, libvirt.VIR_DOMAIN_START_PAUSED)
        with pytest.raises(libvirt.libvirtError):
            libvirt_qemu.qemuMonitorCommand(dom, "info numa",
                                            libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
        detail = events.wait(libvirt.VIR_DOMAIN_EVENT_STOPPED, 30)
    finally:
        events.close()
    # libvirt sees the monitor's end: "failed" in the event, "crashed" in
    # the state's reason
    assert detail == libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED
    assert dom.state() == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_CRASHED]
    assert "should not be reached" in driver.qemu_log("spm-guest")
    assert "memmapType='spm'" in inactive(dom)
    driver.start(dom, libvirt.VIR_DOMAIN_START_PAUSED)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED


def test_sid_unaligned_cell_rounded_at_start_definition_kept(driver, cleanup, tmp_path):
    cleanup.append("spm-guest")
    xml = sid_boot_xml(tmp_path).replace(
        "<memory unit='GiB'>3</memory>", "<memory unit='MiB'>3073</memory>").replace(
        "<cell id='1' memory='1' unit='GiB'", "<cell id='1' memory='1025' unit='MiB'")
    dom = driver.define(xml)
    driver.start(dom, libvirt.VIR_DOMAIN_START_PAUSED)
    # stored as an sp-mem device of the cell's size, rounded to 2 MiB when
    # the guest starts (the live XML), kept as written in the definition
    assert "<cell id='1' memory='0' unit='KiB' memmapType='spm'/>" in inactive(dom)
    assert "<size unit='KiB'>1050624</size>" in dom.XMLDesc(0)
    assert "<size unit='KiB'>1049600</size>" in inactive(dom)


def test_sid_dimm_on_sp_mem_range_refused_by_qemu(driver, cleanup, tmp_path):
    """libvirt puts the sp-mem devices first; a DIMM whose base the user
    put on their range is refused by QEMU, whose error reaches the user."""
    cleanup.append("spm-guest")
    xml = with_hotplug(sid_boot_xml(tmp_path)).replace(
        "</devices>",
        "  <memory model='dimm'><target><size unit='MiB'>512</size><node>0</node></target>"
        "<address type='dimm' slot='0' base='0x100000000'/></memory>\n  </devices>")
    spm.start_refused(driver, xml, re.escape(
        "address range conflicts with memory device id='spmem0'"))


def test_sid_balloon_counts_spm_cell(driver, cleanup, tmp_path):
    cleanup.append("spm-guest")
    dom = driver.define(sid_boot_xml(tmp_path, balloon=True))
    driver.start(dom, libvirt.VIR_DOMAIN_START_PAUSED)
    assert dom.info()[2] == 3145728
    assert dict(dom.memoryStats())["actual"] == 3145728
    expect_error(dom.setMemoryFlags, 1048576, libvirt.VIR_DOMAIN_AFFECT_LIVE,
                 contains="balloon target 1048576 KiB must be larger than the 1048576 KiB "
                          "of the sp-mem memory devices")
    assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED


def test_sid_setmem_translated_for_qemu_balloon(tmp_path):
    """virsh setmem 2.5 GiB on a running sp-mem guest: QEMU's balloon
    counts -m (cell 0) only, so libvirt sends it 1.5 GiB (the QMP command
    in virsh's debug log: the embedded driver runs in virsh); HMP 'info
    balloon' shows QEMU's own view, 2 GiB of -m.  The SPM cell alone is
    an invalid argument."""
    root = spm.short_tmpdir("spm-setmem-")
    try:
        (root / "etc").mkdir()
        (root / "etc/qemu.conf").write_text('stdio_handler = "file"\n')
        xml = tmp_path / "guest.xml"
        xml.write_text(sid_boot_xml(tmp_path, balloon=True))
        debug = tmp_path / "debug.log"
        cmds = (f"define {xml}; start --paused spm-guest; setmem spm-guest 2621440 --live; "
                "qemu-monitor-command spm-guest --hmp info balloon; "
                "setmem spm-guest 1048576 --live; domstate spm-guest; destroy spm-guest; "
                "undefine spm-guest")
        # LIBVIRT_DIR_OVERRIDE: the build's driver modules, also when the
        # build is seen at another path than it was built at (long-path.sh)
        env = {"PATH": "/usr/bin:/bin", "LIBVIRT_DIR_OVERRIDE": "1",
               "LIBVIRT_LOG_FILTERS": "1:qemu.qemu_monitor",
               "LIBVIRT_LOG_OUTPUTS": f"1:file:{debug}"}
        r = spm.run([spm.BUILD / "libvirt-build/tools/virsh", "-q", "-c",
                     f"qemu:///embed?root={root}", cmds], env=env, timeout=300)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out = r.stdout
    assert '"execute":"balloon","arguments":{"value":1610612736}' in debug.read_text()
    assert re.search(r"^balloon: actual=2048(\D|$)", out, re.M), out
    assert ("error: invalid argument: balloon target 1048576 KiB must be larger than the "
            "1048576 KiB of the sp-mem memory devices") in out
    assert re.search(r"^paused$", out, re.M), out


def test_restore_across_mechanisms_refused_image_intact(driver, cleanup, tmp_path):
    """The stored definition fixes the guest ABI: state saved on the
    reference QEMU (the cell's RAM retyped in place) is not loaded by a
    QEMU with sp-mem only, and never rewritten into the device form;
    the image stays as it was and restores on the reference QEMU."""
    cleanup.append("spm-guest")
    dom = driver.define(sid_boot_xml(tmp_path, emulator=QEMU["ref"]))
    driver.start(dom, libvirt.VIR_DOMAIN_START_PAUSED)
    image = tmp_path / "ref.save"
    dom.save(str(image))
    saved = driver.conn.saveImageGetXMLDesc(str(image), 0)
    on_sid = re.sub(r"<emulator>.*</emulator>", f"<emulator>{QEMU['sid']}</emulator>", saved)
    before = image.read_bytes()
    expect_error(driver.conn.restoreFlags, str(image), on_sid, 0,
                 contains="NUMA cell 1 with memmapType='spm' has memory of its own, which "
                          "this QEMU binary can only give the guest as an sp-mem memory "
                          "device: define the domain again")
    assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    assert image.read_bytes() == before
    driver.conn.restore(str(image))
    dom = driver.conn.lookupByName("spm-guest")
    driver.pids["spm-guest"] = int(driver.pidfile("spm-guest").read_text())
    assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
