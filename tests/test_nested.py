"""sp-mem backed by a real device-dax instance and a real CPU-less host
node, one level down (make check-nested; this machine has neither).

The first-level guest (L1) is started by the patched libvirt's embedded
driver on Debian's QEMU 11.1 with an sp-mem device on its node 1 and
256 MiB of plain memory on its CPU-less cell 2.  Its initramfs is the
trixie root in which tests/test_debs.py ran README.md's install block (the
project's packaged libvirt, trixie-backports' QEMU 11.1), with
tests/nested-init as /init.  In L1, its own SPM range becomes /dev/dax0.0
(dax_hmem, device_dax) after L1 wrote a pattern at its start; L1's
libvirtd then starts a second-level guest (L2) whose sp-mem devices are
<source><path>/dev/dax0.0</path></source> on L2's node 1 and
<source><nodemask>N</nodemask></source> (N: L1's CPU-less node with
memory) on L2's node 2.  L2 reads the pattern from its own soft reserved
range; L2's QEMU's numa_maps show the dax mapping and the bind to N.
L2 writes a pattern of its own there; started again, it reads zeroes:
libvirt cleared the dax device when the first run's QEMU was gone.  TCG in TCG."""

import re
import shutil
import subprocess
import time

import pytest

import spm
from spm import MiB
from test_debs import installed  # noqa: F401  (the fixture: our packages in a trixie root)

# the first test waits for the packages to install and L1 to finish
pytestmark = [pytest.mark.daemon, pytest.mark.timeout(3600)]

NESTED = spm.BUILD / "nested"
L1_SPM_MIB = 256
L2_DAX_MIB = 128
L2_NODE_MIB = 64
# what nested-init writes at the start of L1's soft reserved range
PATTERN = (0x53504D2D4C314C32, 0x0F1E2D3C4B5A6978)
L2_SERIAL = "/var/log/libvirt/qemu/l2.serial"


def sp_mem(source, mib, node):
    return (f"    <memory model='sp-mem'>\n      {source}\n      <target>\n"
            f"        <size unit='MiB'>{mib}</size>\n        <node>{node}</node>\n"
            f"      </target>\n    </memory>\n")


def l2_xml(name="l2", dax_mib=L2_DAX_MIB):
    """The second-level guest, paths as L1 has them: the project's kernel,
    initramfs (tests/guest-init: peek, then hold) and SeaBIOS."""
    devices = (sp_mem("<source><path>/dev/dax0.0</path></source>", dax_mib, 1)
               + sp_mem("<source><nodemask>@RAMNODE@</nodemask></source>", L2_NODE_MIB, 2))
    xml = spm.domain_xml(name, emulator="/usr/bin/qemu-system-x86_64", serial=L2_SERIAL,
                         cells=[(256, None), (0, None), (0, None)],
                         memory_mib=256 + dax_mib + L2_NODE_MIB,
                         firmware="seabios-patched", devices=devices,
                         initargs="spm-test=poke spm-test=hold")
    return (xml.replace(str(spm.GUEST), "/nested")
               .replace(str(spm.FIRMWARE["seabios-patched"][0]), "/nested/bios-256k.bin"))


def cpio(src, out, append=False, exclude=()):
    """SRC's tree as a newc cpio archive, written (or appended) to OUT."""
    prune = " ".join(f"-path './{p}' -prune -o" for p in exclude)
    cmd = (f"cd '{src}' && find . {prune} -print | LC_ALL=C sort | "
           f"cpio --quiet -o -H newc -R 0:0 {'>>' if append else '>'} '{out}'")
    subprocess.run(["sh", "-ec", cmd], check=True, timeout=900)


@pytest.fixture(scope="module")
def l1_initramfs(installed):  # noqa: F811
    """The installed root as an uncompressed initramfs (no package cache,
    documentation or locales), plus /init and /nested: L2's XML, kernel,
    initramfs and SeaBIOS, the dax modules and busybox (devmem)."""
    shutil.rmtree(NESTED, ignore_errors=True)
    stage = NESTED / "stage"
    (stage / "nested").mkdir(parents=True)
    (stage / "dev").mkdir()
    subprocess.run(["mknod", "-m", "0600", stage / "dev/console", "c", "5", "1"], check=True)
    shutil.copy(spm.TOP / "tests/nested-init", stage / "init")
    (stage / "init").chmod(0o755)
    for f in ("vmlinuz", "initramfs.cpio.gz"):
        shutil.copy(spm.GUEST / f, stage / "nested")
    shutil.copy(spm.FIRMWARE["seabios-patched"][0], stage / "nested/bios-256k.bin")
    (stage / "nested/l2.xml").write_text(l2_xml())
    # its sp-mem device asks for more than L1's /dev/dax0.0 has
    (stage / "nested/l2big.xml").write_text(l2_xml("l2big", 2 * L1_SPM_MIB))
    # busybox and the dax modules, out of L2's initramfs
    unpacked = NESTED / "l2-initramfs"
    unpacked.mkdir()
    subprocess.run(["sh", "-ec", f"cd '{unpacked}' && gzip -dc '{spm.GUEST}/initramfs.cpio.gz'"
                    " | cpio --quiet -i -d"], check=True, timeout=120)
    shutil.copy(unpacked / "bin/busybox", stage / "nested/busybox")
    for ko in ("dax_hmem.ko", "device_dax.ko"):
        shutil.copy(unpacked / "lib/modules" / ko, stage / "nested")
    out = NESTED / "l1.cpio"
    cpio(installed, out, exclude=("proc/*", "sys/*", "dev/*", "run/*", "tmp/*", "srv",
                                  "var/cache/apt", "var/lib/apt/lists", "usr/share/doc",
                                  "usr/share/man", "usr/share/locale", "usr/share/info",
                                  "usr/share/pocketsphinx", "usr/share/icons"))
    cpio(stage, out, append=True)
    return out


def l1_xml(initrd, serial, backing):
    """L1: 2 vCPUs and 4 GiB in cell 0, the sp-mem device on cell 1, 256
    MiB of RAM without CPU in cell 2; the project's SeaBIOS."""
    return spm.domain_xml("nested-l1", emulator=spm.QEMU["sid"], serial=serial,
                          cells=[(4096, None), (0, None), (256, None)],
                          memory_mib=4096 + 256 + L1_SPM_MIB, firmware="seabios-patched",
                          devices=sp_mem(f"<source><path>{backing}</path></source>",
                                         L1_SPM_MIB, 1),
                          vcpus=2, initrd=initrd)


@pytest.fixture(scope="module")
def nested(driver, l1_initramfs):
    """L1 booted until it powered itself off; its serial output."""
    serial = NESTED / "l1.serial"
    backing = spm.backing_file(NESTED / "l1-hbm", L1_SPM_MIB)
    dom = driver.define(l1_xml(l1_initramfs, serial, backing))
    events = spm.Lifecycle(driver.conn, dom)
    t0 = time.monotonic()
    try:
        driver.start(dom)
        stopped = spm.wait_stopped(dom, events, 2400)
    finally:
        events.close()
        driver.forget("nested-l1")
    secs = time.monotonic() - t0
    text = serial.read_text(errors="replace") if serial.exists() else ""
    print(f"nested: L1 ran {secs:.0f} s")
    assert stopped is not None, f"L1 still running after 2400 s:\n{text[-3000:]}"
    assert "nested: step end" in text, text[-4000:]
    return text


def lines(text, prefix):
    return [l[len(prefix):] for l in text.replace("\r", "").splitlines() if l.startswith(prefix)]


def l2_report(text):
    return spm.Report("\n".join(lines(text, "nested: l2: ")))


def ramnode(text):
    return int(re.search(r"^nested: ramnode (\d+)$", text, re.M)[1])


def test_l1_spm_node_is_its_dax_device(nested):
    """L1's SPM range is dax0.0 in L1, driven by device_dax, of a node with
    neither CPUs nor online memory; another node has memory and no CPU
    (Linux numbers nodes in SRAT order: L1's cell 2 is its node 1)."""
    out = "\n".join(lines(nested, "nested: "))
    m = re.search(r"^dax (dax0\.0) target_node (\d+) size (\d+)", out, re.M)
    assert m and int(m[3]) == L1_SPM_MIB * MiB, out
    online = re.search(r"^nodes (\S+)$", out, re.M)[1]
    assert m[2] not in re.split("[-,]", online), out
    assert re.search(rf"^node {ramnode(nested)} cpus '' MemTotal [1-9]\d* kB$", out, re.M), out
    assert "/dev/dax0.0" in out, out
    assert re.search(r"^wrote 0x0*53504D2D4C314C32 0x0*F1E2D3C4B5A6978$", out, re.M | re.I), out


def spm_ranges(report):
    """(start, last) of L2's nodes 1 and 2 (SRAT), inside its soft
    reserved memory (two adjacent ranges are one E820 entry)."""
    soft = [(s, l) for s, l, t in report.memmap() if t == "Soft Reserved"]
    nodes = {p: (s, l) for p, s, l in report.srat() if p in (1, 2)}
    assert sorted(nodes) == [1, 2], report.srat()
    for s, l in nodes.values():
        assert any(a <= s and l <= b for a, b in soft), (nodes, soft)
    assert [l - s + 1 for s, l in (nodes[1], nodes[2])] == [L2_DAX_MIB * MiB, L2_NODE_MIB * MiB]
    return nodes[1], nodes[2]


GUEST_PATTERN = (0x4755455354535044, 0x4C4546544245484E)


def test_dax_device_too_small_refused(nested):
    """A guest whose sp-mem device asks for more than /dev/dax0.0 has is
    refused at start, saying both sizes, and is not running (the next test
    shows the refusal left the device's contents alone)."""
    out = "\n".join(lines(nested, "nested: "))
    assert re.search(rf"^big: error: .*: dax0\.0 is {L1_SPM_MIB} MiB, the sp-mem device "
                     rf"asks for {2 * L1_SPM_MIB} MiB$", out, re.M), out
    assert re.search(r"^big state shut off$", out, re.M), out


def test_l2_reads_what_l1_wrote_into_its_dax_device(nested):
    """L2's node 1 (SRAT) is soft reserved and backed by L1's
    /dev/dax0.0 (a refused start before it changed nothing there): its
    first 16 bytes are L1's pattern.  Node 2, soft
    reserved too, is L1's node-N RAM: zeroes.  L2 then writes a pattern of
    its own at both."""
    report = l2_report(nested)
    assert report.complete(), nested[-4000:]
    dax, node = spm_ranges(report)
    assert report.peek() == {dax[0]: PATTERN, node[0]: (0, 0)}, nested[-4000:]
    assert report.peek("poked") == {dax[0]: GUEST_PATTERN, node[0]: GUEST_PATTERN}


def test_libvirt_cleared_the_dax_device_when_l2_stopped(nested):
    """Started again on the same /dev/dax0.0, L2 reads zeroes where its
    first run wrote: L1's libvirt cleared the device when that run's QEMU
    was gone."""
    again = spm.Report("\n".join(lines(nested, "nested: l2again: ")))
    assert again.complete(), nested[-4000:]
    dax, node = spm_ranges(again)
    assert again.peek() == {dax[0]: (0, 0), node[0]: (0, 0)}, nested[-4000:]


def test_l2_qemu_maps_the_dax_device_and_binds_to_l1_cpu_less_node(nested):
    """In L1, L2's QEMU maps /dev/dax0.0 and its nodemask device's memory
    is bound to L1's CPU-less node, where the page L2 wrote is."""
    maps = lines(nested, "nested: numa_maps ")
    node = ramnode(nested)
    assert any("file=/dev/dax0.0" in m for m in maps), maps
    bound = [m for m in maps if f"bind:{node} " in m + " "]
    assert bound and re.search(rf"\bN{node}=\d+", bound[0]), maps


def test_l2_live_xml_shows_the_dax_alignment(nested):
    """The live XML: the dax device's alignment read from L1's sysfs."""
    dev = "\n".join(lines(nested, "nested: "))
    assert "<path>/dev/dax0.0</path>" in dev and "<alignsize" in dev, dev
