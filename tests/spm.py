"""The project's test library: the patched libvirt through libvirt-python,
guests booted on real QEMU binaries, and what their kernels report.

The tests (tests/test_*.py) get these through the fixtures of conftest.py.
libvirt-python is Debian's python3-libvirt on the build's libvirt.so
(tests/pytest.sh sets LD_LIBRARY_PATH and LIBVIRT_DIR_OVERRIDE); conftest
refuses to run on any other libvirt.
"""

import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import libvirt

TOP = Path(__file__).resolve().parent.parent
BUILD = TOP / "build"
GUEST = BUILD / "guest"

# The QEMU binaries the project knows, by the name the tests use.
QEMU = {
    # Debian 12's QEMU 7.2: neither memmap-type nor sp-mem
    "sys": Path("/usr/bin/qemu-system-x86_64"),
    # the reference QEMU: -numa node,memmap-type (qemu/patches)
    "ref": BUILD / "qemu-ref/bin/qemu-system-x86_64",
    # Debian's QEMU 11.1 (-device sp-mem), run from the sid root
    "sid": TOP / "scripts/qemu-sid",
}

# What each firmware name of the boot matrix loads, and what the guest
# must report as the firmware that booted it (tests/guest-init): its kind
# and whether it is the project's SeaBIOS build (its version says "+spm").
# "seabios" is the emulator's own: for the reference QEMU that is the
# project's (scripts/qemu-build.sh installs it), for the others a stock one.
FIRMWARE = {
    "seabios": (None, None),
    "seabios-patched": (BUILD / "firmware/bios-256k.bin", "bios+spm"),
    "ovmf": (GUEST / "OVMF.fd", "efi"),
}


def fwkind(qemu, firmware):
    """What a guest of QEMU (a name of QEMU) booted by FIRMWARE reports."""
    return FIRMWARE[firmware][1] or ("bios+spm" if qemu == "ref" else "bios")

MiB = 1 << 20
GiB = 1 << 30


# --- libvirt ------------------------------------------------------------

_loop_started = False


def event_loop():
    """libvirt's default event loop, run in a thread of its own; an
    embedded driver needs one in its client, and lifecycle events come
    through it."""
    global _loop_started
    if _loop_started:
        return
    libvirt.virEventRegisterDefaultImpl()

    def run():
        while True:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=run, name="libvirt-events", daemon=True).start()
    _loop_started = True


def short_tmpdir(prefix):
    """A directory under /tmp with a short path: UNIX sockets (QEMU's
    monitor, libvirt's) below it must stay under 108 bytes wherever the
    clone is."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


class LibvirtFailure(AssertionError):
    pass


def expect_error(fn, *args, contains):
    """Call fn(*args), which must raise libvirtError whose message contains
    CONTAINS; returns the message."""
    try:
        fn(*args)
    except libvirt.libvirtError as e:
        msg = e.get_error_message()
        if contains not in msg:
            raise LibvirtFailure(f"error {msg!r} does not say {contains!r}")
        return msg
    raise LibvirtFailure(f"{getattr(fn, '__name__', fn)} succeeded, want an error saying {contains!r}")


def memmap_enum(conn, emulator, machine="q35"):
    """The <cell memmapType> values the domain capabilities list for
    EMULATOR, in order."""
    caps = conn.getDomainCapabilities(str(emulator), "x86_64", machine, "qemu", 0)
    m = re.search(r"<enum name='memmapType'>(.*?)</enum>", caps, re.S)
    return re.findall(r"<value>(.*?)</value>", m.group(1)) if m else []


def qemu_argv(conn, xml):
    return conn.domainXMLToNative("qemu-argv", xml, 0)


# how libvirt refuses to save or migrate a guest with an sp-mem device
SAVE_REFUSAL = ("cannot save domain: QEMU cannot save the memory of sp-mem memory "
                "device 'spmem0'; shut the domain down instead")
MIGRATE_REFUSAL = ("cannot migrate domain: QEMU cannot migrate the memory of sp-mem "
                   "memory device 'spmem0'")


def alive(pid):
    """Whether process PID exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


class Lifecycle:
    """Lifecycle events of one domain, waited for by kind."""

    def __init__(self, conn, dom):
        self.events = []
        self.cond = threading.Condition()
        self.conn = conn
        self.cb = conn.domainEventRegisterAny(
            dom, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_event, None)

    def _on_event(self, conn, dom, event, detail, opaque):
        with self.cond:
            self.events.append((event, detail))
            self.cond.notify_all()

    def wait(self, event, timeout):
        """Wait up to TIMEOUT s for EVENT; returns its detail or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev, detail in self.events:
                    if ev == event:
                        return detail
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def close(self):
        try:
            self.conn.domainEventDeregisterAny(self.cb)
        except libvirt.libvirtError:
            pass


class Driver:
    """The patched libvirt's embedded QEMU driver (qemu:///embed) in a
    root of its own under a short temporary directory.  Domains defined
    through it are undefined, and any QEMU they left running ended, by
    close()."""

    def __init__(self, prefix="spm-embed-"):
        event_loop()
        self.root = short_tmpdir(prefix)
        (self.root / "etc").mkdir()
        # no virtlogd with an embedded driver: QEMU's output to a file
        (self.root / "etc/qemu.conf").write_text('stdio_handler = "file"\n')
        self.uri = f"qemu:///embed?root={self.root}"
        self.conn = libvirt.open(self.uri)
        self.pids = {}

    def pidfile(self, name):
        return self.root / "run/qemu" / f"{name}.pid"

    def qemu_log(self, name):
        p = self.root / "log/qemu" / f"{name}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def define(self, xml):
        return self.conn.defineXML(xml)

    def start(self, dom, flags=0):
        dom.createWithFlags(flags)
        self.pids[dom.name()] = int(self.pidfile(dom.name()).read_text())
        return self.pids[dom.name()]

    def forget(self, name):
        """End and undefine domain NAME if it exists; returns what was
        left running of it (its QEMU's pid) or None."""
        try:
            dom = self.conn.lookupByName(name)
        except libvirt.libvirtError:
            dom = None
        if dom is not None:
            if dom.isActive():
                dom.destroy()
            if dom.isPersistent():
                dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
        pid = self.pids.pop(name, None)
        if pid is not None and alive(pid):
            return pid
        return None

    def close(self):
        for dom in self.conn.listAllDomains():
            self.forget(dom.name())
        for pid in list(self.pids.values()):
            if alive(pid):
                os.kill(pid, 9)
        self.conn.close()
        shutil.rmtree(self.root, ignore_errors=True)


# --- guests ---------------------------------------------------------------

def domain_xml(name, *, emulator, serial, cells, memory_mib=None, firmware="seabios",
               machine="q35", maxmem_mib=None, devices="", qemu_args=(), initargs="",
               extra_cells="", vcpus=1, initrd=None):
    """A TCG test guest booting build/guest's kernel and initramfs
    (tests/guest-init reports to the serial console, a file, then powers
    off).  CELLS: (MiB, memmapType) per cell, cell 0 with the one vCPU;
    memmapType None leaves the attribute out.  VCPUS all in cell 0;
    INITRD instead of build/guest's initramfs."""
    loader = FIRMWARE[firmware][0]
    total = memory_mib if memory_mib is not None else sum(c[0] for c in cells)
    def cell(i, mib, mtype):
        cpus = (f" cpus='0-{vcpus - 1}'" if vcpus > 1 else " cpus='0'") if i == 0 else ""
        attr = f" memmapType='{mtype}'" if mtype else ""
        return f"      <cell id='{i}'{cpus} memory='{mib}' unit='MiB'{attr}/>"
    cell_xml = "\n".join(cell(i, mib, t) for i, (mib, t) in enumerate(cells))
    qemu = ""
    if qemu_args:
        qemu = ("  <qemu:commandline>\n"
                + "".join(f"    <qemu:arg value='{a}'/>\n" for a in qemu_args)
                + "  </qemu:commandline>\n")
    cmdline = "console=ttyS0 quiet panic=-1" + (f" {initargs}" if initargs else "")
    return f"""<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{name}</name>
  {f"<maxMemory slots='2' unit='MiB'>{maxmem_mib}</maxMemory>" if maxmem_mib else ""}
  <memory unit='MiB'>{total}</memory>
  <vcpu>{vcpus}</vcpu>
  <os>
    <type arch='x86_64' machine='{machine}'>hvm</type>
    {f"<loader type='rom'>{loader}</loader>" if loader else ""}
    <kernel>{GUEST / 'vmlinuz'}</kernel>
    <initrd>{initrd or GUEST / 'initramfs.cpio.gz'}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
  <cpu>
    <numa>
{cell_xml}{extra_cells}
    </numa>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{emulator}</emulator>
    <controller type='usb' model='none'/>
    <serial type='file'>
      <source path='{serial}'/>
    </serial>
    <memballoon model='none'/>
{devices}  </devices>
{qemu}</domain>
"""


def spmem_xml(name, serial, source, size_mib, initargs="", emulator=QEMU["sid"]):
    """A test guest with 1 GiB of RAM in cell 0 and an sp-mem device of
    SIZE_MIB (SOURCE: its <source> element, or "") on cell 1, which has no
    memory (and no CPU) of its own; OVMF, which passes soft reserved ranges
    on."""
    dev = (f"    <memory model='sp-mem'>\n"
           f"      {source}\n"
           f"      <target>\n"
           f"        <size unit='MiB'>{size_mib}</size>\n"
           f"        <node>1</node>\n"
           f"      </target>\n"
           f"    </memory>\n")
    return domain_xml(name, emulator=emulator, serial=serial,
                      cells=[(1024, None), (0, None)], memory_mib=1024 + size_mib,
                      firmware="ovmf", devices=dev, initargs=initargs)


def backing_file(path, size_mib, pattern=(0, 0)):
    """A file of SIZE_MIB whose first 16 bytes are PATTERN (two
    little-endian 64-bit integers), the rest sparse zeroes."""
    with open(path, "wb") as f:
        f.write(struct.pack("<QQ", *pattern))
        f.truncate(size_mib * MiB)
    return path


def virt_install_args(name, serial, boot, memmap="spm", wait=-1):
    """virt-install's arguments for the test guest NAME: 2 GiB in two NUMA
    cells, cell 1 of MEMMAP, booted as BOOT (--boot, without kernel_args)
    says, its console in the file SERIAL."""
    return [str(a) for a in (
        "--name", name, "--virt-type", "qemu", "--machine", "q35", "--osinfo", "generic",
        "--memory", 2048, "--vcpus", 1,
        "--cpu", "numa.cell0.cpus=0,numa.cell0.memory=1048576,"
                 f"numa.cell1.memory=1048576,numa.cell1.memmapType={memmap}",
        "--features", "acpi=on",
        "--boot", f"{boot},kernel_args=console=ttyS0 quiet panic=-1",
        "--import", "--disk", "none", "--network", "none", "--graphics", "none",
        "--serial", f"file,path={serial}", "--noautoconsole", "--wait", wait)]


def example_xml(name="spm-guest.xml", emulator=None, boot=None, firmware=None,
                initargs=""):
    """examples/NAME with EMULATOR; with BOOT (a serial log path) the test
    guest's kernel, initramfs and serial file added, as the demo does."""
    xml = (TOP / "examples" / name).read_text()
    if emulator:
        xml = re.sub(r"<emulator>.*</emulator>", f"<emulator>{emulator}</emulator>", xml)
    if boot:
        loader = f"<loader type='rom'>{firmware}</loader>\n    " if firmware else ""
        cmdline = "console=ttyS0 quiet panic=-1" + (f" {initargs}" if initargs else "")
        xml = xml.replace("</os>", f"  {loader}<kernel>{GUEST / 'vmlinuz'}</kernel>\n"
                          f"    <initrd>{GUEST / 'initramfs.cpio.gz'}</initrd>\n"
                          f"    <cmdline>{cmdline}</cmdline>\n  </os>")
        xml = xml.replace("<serial type='pty'/>",
                          f"<serial type='file'><source path='{boot}'/></serial>")
        xml = xml.replace("<console type='pty'/>\n", "")
    return xml


class Report:
    """What the guest's /init (tests/guest-init) printed: its "spm-test: "
    lines, without the prefix."""

    def __init__(self, text):
        self.text = text
        self.lines = [l[len("spm-test: "):] for l in text.replace("\r", "").splitlines()
                      if l.startswith("spm-test: ")]

    def complete(self):
        return "end" in self.lines

    def firmware(self):
        """"efi" or "bios", and with "bios" "bios+spm" for the project's
        SeaBIOS build."""
        kind = version = None
        for l in self.lines:
            if l.startswith("firmware "):
                kind = l.split()[1]
            elif l.startswith("bios_version "):
                version = l.split(" ", 1)[1]
        if kind == "bios" and version and version.endswith("+spm"):
            return "bios+spm"
        return kind

    def e820(self):
        """E820 entries as (start, last, class): ram, soft, reserved or
        other.  Kernel 7.x says "System RAM", "device reserved", "soft
        reserved"; older ones "usable", "reserved"."""
        kinds = {"System RAM": "ram", "usable": "ram", "soft reserved": "soft",
                 "device reserved": "reserved", "reserved": "reserved"}
        out = []
        for l in self.lines:
            m = re.match(r"BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] +(.*)$", l)
            if m:
                out.append((int(m[1], 16), int(m[2], 16), kinds.get(m[3].strip(), "other")))
        return out

    def memmap(self):
        """/sys/firmware/memmap: (start, last, type) as the kernel keeps
        the firmware's map."""
        out = []
        for l in self.lines:
            m = re.match(r"memmap 0x([0-9a-f]+)-0x([0-9a-f]+) (.*)$", l)
            if m:
                out.append((int(m[1], 16), int(m[2], 16), m[3]))
        return out

    def bytes(self, kind, start, last):
        """Bytes of [START, LAST] that E820 entries of class KIND cover."""
        n = 0
        for s, e, k in self.e820():
            if k == kind:
                s, e = max(s, start), min(e, last)
                if s <= e:
                    n += e - s + 1
        return n

    def srat(self):
        """SRAT memory affinity ranges as (pxm, start, last).  The PXM is
        libvirt's cell id; Linux's own node numbers may differ."""
        out = []
        for l in self.lines:
            m = re.match(r"ACPI: SRAT: Node \d+ PXM (\d+) \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\]", l)
            if m:
                out.append((int(m[1]), int(m[2], 16), int(m[3], 16)))
        return out

    def pci_node(self, bdf):
        for l in self.lines:
            m = re.match(rf"pci {re.escape(bdf)} \S+ numa_node (-?\d+)$", l)
            if m:
                return int(m[1])
        return None

    def dax(self):
        """dax devices: name -> (target_node, start, size)."""
        out = {}
        for l in self.lines:
            m = re.match(r"dax (dax[\d.]+) target_node (-?\d+) resource (\S+) size (\d+)$", l)
            if m:
                out[m[1]] = (int(m[2]), int(m[3], 0), int(m[4]))
        return out

    def peek(self, what="peek"):
        """{start: (first 8 bytes, next 8 bytes)} of each soft reserved range
        as the guest read it (spm-test=peek or poke), little-endian
        integers; WHAT="poked": as it read them after writing its own."""
        out = {}
        for l in self.lines:
            m = re.match(rf"{what} 0x([0-9a-f]+) 0x([0-9A-Fa-f]+) 0x([0-9A-Fa-f]+)$", l)
            if m:
                out[int(m[1], 16)] = (int(m[2], 16), int(m[3], 16))
        return out

    def memtotal_kb(self, node):
        for l in self.lines:
            m = re.match(rf"node {node} MemTotal (\d+) kB$", l)
            if m:
                return int(m[1])
        return None

    def cpulist(self, node):
        """The CPUs of guest node NODE as its kernel lists them ("" for
        none), or None if the report does not say."""
        for l in self.lines:
            m = re.match(rf"node {node} cpulist ?(.*)$", l)
            if m:
                return m[1].strip()
        return None

    def cross_check(self):
        """What differs between the E820 table the kernel printed and the
        one it keeps in /sys/firmware/memmap (same entries, same types)."""
        names = {"ram": {"System RAM"}, "soft": {"Soft Reserved"},
                 "reserved": {"Reserved"}}
        printed = self.e820()
        kept = self.memmap()
        if len(printed) != len(kept):
            return [f"{len(printed)} E820 lines printed, {len(kept)} in /sys/firmware/memmap"]
        bad = []
        for (s, e, k), (s2, e2, t) in zip(printed, kept):
            if (s, e) != (s2, e2) or (k in names and t not in names[k]):
                bad.append(f"printed {s:#x}-{e:#x} {k}, kept {s2:#x}-{e2:#x} {t}")
        return bad


class GuestFailure(AssertionError):
    pass


def wait_stopped(dom, events, timeout):
    """Wait up to TIMEOUT s for DOM to stop: its lifecycle event, with the
    domain's state asked every 5 s as well.  (Seen under load, 3 times in
    74 boots: the guest powered off, QEMU ended, and no STOPPED event
    reached this client within 180 s.)  Returns the event's detail, -1
    when only the state said so, None if it still runs."""
    deadline = time.monotonic() + timeout
    while True:
        detail = events.wait(libvirt.VIR_DOMAIN_EVENT_STOPPED,
                             max(0, min(5, deadline - time.monotonic())))
        if detail is not None:
            return detail
        if not dom.isActive():
            return -1
        if time.monotonic() >= deadline:
            return None


def boot(driver, xml, serial, fwkind, timeout=180):
    """Define and start the guest of XML on DRIVER, wait for it to power
    itself off (a lifecycle event), then undefine it.  Returns its Report
    and the seconds to start and to power off.  Fails if it is not
    defined or started, does not stop within TIMEOUT s, did not report to
    the end, was booted by firmware other than FWKIND, or left its QEMU
    running."""
    serial = Path(serial)
    serial.unlink(missing_ok=True)
    dom = driver.define(xml)
    name = dom.name()
    events = Lifecycle(driver.conn, dom)
    try:
        t0 = time.monotonic()
        pid = driver.start(dom)
        t1 = time.monotonic()
        stopped = wait_stopped(dom, events, timeout)
        t2 = time.monotonic()
    finally:
        events.close()
        left = driver.forget(name)
    text = serial.read_text(errors="replace") if serial.exists() else ""
    report = Report(text)
    if stopped is None:
        raise GuestFailure(f"{name}: still running after {timeout} s; serial: {serial}")
    if left is not None or alive(pid):
        raise GuestFailure(f"{name}: QEMU {pid} left running")
    if not report.complete():
        raise GuestFailure(f"{name}: stopped before its report ended; serial:\n{text[-3000:]}")
    if report.firmware() != fwkind:
        raise GuestFailure(f"{name}: booted by firmware '{report.firmware()}', want '{fwkind}'")
    return report, t1 - t0, t2 - t1


def start_refused(driver, xml, pattern):
    """QEMU (not libvirt) refuses the guest: defined, start fails with an
    error matching PATTERN, nothing left running.  Returns the match."""
    dom = driver.define(xml)
    name = dom.name()
    try:
        dom.create()
    except libvirt.libvirtError as e:
        msg = e.get_error_message()
    else:
        driver.forget(name)
        raise GuestFailure(f"{name}: started, want QEMU to refuse it with /{pattern}/")
    state = dom.state()[0]
    m = re.search(pattern, msg)
    if not m and "failed to connect to monitor socket" in msg:
        # libvirt quotes QEMU's error only if QEMU is gone by the time its
        # monitor connection fails (qemuProcessWaitForMonitor asks
        # kill(pid, 0)); a QEMU still exiting, which a busy machine makes
        # likely, leaves libvirt's own error.  QEMU's is then in its log.
        m = re.search(pattern, driver.qemu_log(name))
    left = driver.forget(name)
    if not m:
        raise GuestFailure(f"{name}: error {msg!r} does not match /{pattern}/")
    if state != libvirt.VIR_DOMAIN_SHUTOFF or left is not None:
        raise GuestFailure(f"{name}: state {state}, left {left}")
    return m[0]


# --- host processes ---------------------------------------------------------

def private_mounts():
    """Whether this process runs in the private mount namespace of
    tests/pytest.sh --namespace (its mounts reach nothing else)."""
    return os.environ.get("SPM_PRIVATE_MOUNTS") == "1"


def run(cmd, timeout=300, check=False, **kw):
    """subprocess.run with a time limit and text output."""
    return subprocess.run(cmd, timeout=timeout, check=check, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
