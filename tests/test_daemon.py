"""Fault tests of the patched libvirt as a real daemon.

virtlogd and virtqemud of build/libvirt-build run as root from the build
tree (its "run" script) in this test process's private mount namespace
(tests/pytest.sh --namespace): the build's state directory /var/local,
its configuration /usr/local/etc and /run are directories under a
temporary directory, so nothing of the machine is touched.  The tests talk
to virtqemud through libvirt-python (its socket) and, where a user's
command is the point, the build's virsh.  For the reference QEMU
(-numa memmap-type) and Debian's QEMU 11.1 (sp-mem), an SPM guest
(examples/spm-guest.xml) is defined and started, then the daemon or QEMU
is killed, or bad input arrives.
"""

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import libvirt
import pytest

import spm
from spm import QEMU, expect_error

pytestmark = pytest.mark.daemon

BLD = spm.BUILD / "libvirt-build"
SOCK = "/run/libvirt/virtqemud-sock"
URI = f"qemu:///system?socket={SOCK}"
PIDFILE = Path("/run/virtqemud.pid")
QEMU_PIDFILE = Path("/run/libvirt/qemu/spm-guest.pid")


def mount(*args):
    subprocess.run(["mount", *args], check=True, timeout=30)


class Daemon:
    def __init__(self, state):
        self.state = state
        for d in ("var/log/libvirt/qemu", "var/lib/libvirt", "var/cache/libvirt",
                  "run/libvirt", "etc/libvirt"):
            (state / d).mkdir(parents=True, exist_ok=True)
        mount("--bind", str(state / "var"), "/var/local")
        mount("--bind", str(state / "run"), "/run")
        Path("/usr/local/etc").mkdir(parents=True, exist_ok=True)
        mount("--bind", str(state / "etc"), "/usr/local/etc")
        # QEMU 11.1 runs chrooted in build/sid: it must see the same state
        # directory (monitor sockets, pid files) at the same path
        sid_var = spm.BUILD / "sid/var/local"
        sid_var.mkdir(parents=True, exist_ok=True)
        mount("--bind", str(state / "var"), str(sid_var))
        # cgroups are read-only here (a container); otherwise the build's
        # defaults (QEMU runs as root)
        (state / "etc/libvirt/qemu.conf").write_text("cgroup_controllers = [ ]\n")
        # what the daemon did to its guests (start, reconnect, stop), and
        # every warning and error: a failed test shows its end (conftest)
        self.log = state / "virtqemud.log"
        (state / "etc/libvirt/virtqemud.conf").write_text(
            'log_filters = "1:qemu.qemu_process"\n'
            f'log_outputs = "1:file:{self.log}"\n')
        subprocess.run([BLD / "run", BLD / "src/virtlogd", "-d"], check=True, timeout=60)
        self.start()

    def pid(self):
        try:
            return int(PIDFILE.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def start(self):
        """Start virtqemud; return once it has reconnected to the running
        guests.  Each guest's reconnect runs in a thread of its own, under
        a job, after the daemon takes calls: an API taking a job on the
        guest waits for it (one that does not, a state query say, does not
        wait; a destroy then kills QEMU under the reconnect, which fails
        and stops the guest itself, and the destroy finds it gone)."""
        subprocess.run([BLD / "run", BLD / "src/virtqemud", "-d"], check=True, timeout=60)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.conn = libvirt.open(URI)
                break
            except libvirt.libvirtError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        for dom in self.conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            try:
                dom.memoryStats()  # a query job
            except libvirt.libvirtError:
                pass  # the reconnect failed: the test says what it expected

    def log_tail(self, lines=60):
        """The end of virtqemud's log and of the example guest's QEMU log."""
        out = []
        for f in (self.log, Path("/var/local/log/libvirt/qemu/spm-guest.log")):
            try:
                text = f.read_text(errors="replace").splitlines()[-lines:]
            except FileNotFoundError:
                text = ["(none)"]
            out += [f"--- {f} (end)", *text]
        return "\n".join(out)

    def remove(self, name):
        """End and undefine domain NAME if it exists.  A destroy can be
        refused while another thread (a reconnect) holds the guest's job;
        it is tried again until the guest is gone, and the name must be
        free at the end."""
        deadline = time.monotonic() + 90
        while True:
            try:
                dom = self.conn.lookupByName(name)
            except libvirt.libvirtError:
                return
            try:
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            except libvirt.libvirtError as e:
                if time.monotonic() > deadline:
                    raise AssertionError(f"cannot remove domain {name}: {e}\n"
                                         + self.log_tail()) from e
                time.sleep(1)

    def stop(self, sig):
        pid = self.pid()
        try:
            self.conn.close()
        except libvirt.libvirtError:
            pass
        if pid is None:
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass  # (killed already)
        deadline = time.monotonic() + 30
        while spm.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not spm.alive(pid), f"virtqemud {pid} survived signal {sig}"
        PIDFILE.unlink(missing_ok=True)

    def virsh_start_in_background(self, name):
        """virsh start NAME, not waited for."""
        return subprocess.Popen([BLD / "run", BLD / "tools/virsh", "-q", "-c", URI, "start", name],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def virsh(self, *args, timeout=120):
        return spm.run([BLD / "run", BLD / "tools/virsh", "-q", "-c", URI, *map(str, args)],
                       timeout=timeout)

    def close(self):
        for p in Path("/run/libvirt/qemu").glob("*.pid"):
            try:
                os.kill(int(p.read_text()), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass
        self.stop(signal.SIGKILL)
        logd = Path("/run/virtlogd.pid")
        if logd.exists():
            os.kill(int(logd.read_text()), signal.SIGTERM)
        subprocess.run(["umount", str(spm.BUILD / "sid/var/local")], timeout=30)


@pytest.fixture(scope="module")
def daemon(built, tmp_path_factory):
    if not spm.private_mounts():
        pytest.exit("the daemon tests bind-mount /run and /var/local: run them with "
                    "tests/pytest.sh --namespace", returncode=3)
    spm.event_loop()
    d = Daemon(tmp_path_factory.mktemp("daemon"))
    yield d
    d.close()


@pytest.fixture(params=["ref", "sid"])
def guest(request, daemon, tmp_path):
    """The example SPM guest on QEMU PARAM, running; its live and
    inactive XML, QEMU's pid."""
    xml = spm.example_xml(emulator=QEMU[request.param])
    daemon.remove("spm-guest")  # (a test that failed may have left it)
    dom = daemon.conn.defineXML(xml)
    dom.create()
    g = {"qemu": request.param, "xml": xml, "pid": int(QEMU_PIDFILE.read_text()),
         "live": dom.XMLDesc(0), "inactive": dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)}
    yield g
    daemon.remove("spm-guest")


def dom_of(daemon):
    return daemon.conn.lookupByName("spm-guest")


def without_usb_alias(xml):
    """libvirt 11.3 itself (with or without the series) forgets the alias
    of a model='none' USB controller when it reconnects to a guest."""
    return re.sub(r"<controller type='usb' index='0' model='none'>\s*<alias name='usb'/>\s*"
                  r"</controller>", "<controller type='usb' index='0' model='none'/>", xml)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_restart_reconnects_same_qemu(daemon, guest, sig, tmp_path):
    daemon.stop(sig)
    daemon.start()
    dom = dom_of(daemon)
    assert int(QEMU_PIDFILE.read_text()) == guest["pid"] and spm.alive(guest["pid"])
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert without_usb_alias(dom.XMLDesc(0)) == without_usb_alias(guest["live"])
    assert dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == guest["inactive"]
    if guest["qemu"] == "sid":
        # the sp-mem refusals survive the restart
        expect_error(dom.save, str(tmp_path / "x.save"), contains=spm.SAVE_REFUSAL)
        r = daemon.virsh("migrate", "spm-guest", URI)
        assert r.returncode != 0 and spm.MIGRATE_REFUSAL in r.stdout, r.stdout
        assert not (tmp_path / "x.save").exists()
        assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING


def test_sp_mem_source_stays_claimed_across_restart(daemon, tmp_path):
    """A running guest's sp-mem file keeps it after virtqemud restarts
    (the daemon claims it again when it reconnects): a second guest on the
    same file is refused, naming the first, which keeps running."""
    backing = spm.backing_file(tmp_path / "hbm", 256)
    source = f"<source><path>{backing}</path></source>"
    # (never a serial file of /dev/null here: virtlogd, which opens such
    # files for the daemon, deletes and recreates one it is to truncate)
    a = daemon.conn.defineXML(spm.spmem_xml("spmem-a", tmp_path / "a.log", source, 256))
    b = daemon.conn.defineXML(spm.spmem_xml("spmem-b", tmp_path / "b.log", source, 256))
    try:
        a.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        daemon.stop(signal.SIGTERM)
        daemon.start()
        a = daemon.conn.lookupByName("spmem-a")
        b = daemon.conn.lookupByName("spmem-b")
        expect_error(b.createWithFlags, libvirt.VIR_DOMAIN_START_PAUSED,
                     contains=f"sp-mem source '{backing}' is in use by running domain 'spmem-a'")
        assert a.state()[0] == libvirt.VIR_DOMAIN_PAUSED
        a.destroy()
        b.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        assert b.state()[0] == libvirt.VIR_DOMAIN_PAUSED
    finally:
        for name in ("spmem-a", "spmem-b"):
            daemon.remove(name)


@pytest.mark.parametrize("delay", [0.2, 0.5, 1.0])
def test_killed_during_start(daemon, guest, delay):
    """virtqemud killed in the middle of "virsh start": after a restart
    the guest runs with its QEMU reconnected, or is shut off with no QEMU
    left; its definition is intact."""
    dom_of(daemon).destroy()
    p = daemon.virsh_start_in_background("spm-guest")
    time.sleep(delay)
    daemon.stop(signal.SIGKILL)
    p.wait(timeout=60)
    daemon.start()
    dom = dom_of(daemon)
    # virtqemud reconnects to its guests in threads of their own: a guest
    # it finds half-started ("paused, starting up") it ends a moment later
    # (seen: no lifecycle event reaches a client for that); on the way it
    # may pass "shutdown" (QEMU's SHUTDOWN event came, its exit has not)
    def transient(state):
        return (state == [libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_STARTING_UP]
                or state[0] == libvirt.VIR_DOMAIN_SHUTDOWN)
    deadline = time.monotonic() + 30
    while transient(dom.state()) and time.monotonic() < deadline:
        time.sleep(0.1)
    state = dom.state()[0]
    if state == libvirt.VIR_DOMAIN_RUNNING:
        assert spm.alive(int(QEMU_PIDFILE.read_text()))
    else:
        assert state == libvirt.VIR_DOMAIN_SHUTOFF, f"half-started: state {dom.state()}"
        assert not QEMU_PIDFILE.exists()
    assert dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == guest["inactive"]


def test_killed_before_qemu_pid_known(daemon, guest):
    """virtqemud killed once it has saved a starting guest's status without
    QEMU's pid (a taint saves it, here "high-privileges", before QEMU is
    launched; the save with the pid comes some 20 ms later): after a
    restart the guest is shut off as a failed start, not left "paused,
    starting up" with a job no thread owns (libvirt patch 25), and it
    starts again.  The test watches the status file to kill the daemon in
    that window; a try that sees the pid first is made again."""
    dom_of(daemon).destroy()
    status = Path("/run/libvirt/qemu/spm-guest.xml")
    for _ in range(5):
        p = daemon.virsh_start_in_background("spm-guest")
        caught = False
        deadline = time.monotonic() + 30
        while p.poll() is None and time.monotonic() < deadline:
            try:
                head = status.read_text()[:1000]
            except FileNotFoundError:
                continue
            m = re.search(r"<domstatus [^>]*pid='(\d+)'", head)
            if m and m[1] == "0":
                os.kill(daemon.pid(), signal.SIGKILL)
                caught = True
            if m:
                break
        p.wait(timeout=60)
        if caught:
            daemon.stop(signal.SIGKILL)
            # (unless the daemon wrote the status with the pid before the
            # signal took it)
            if "pid='0'" in status.read_text()[:1000]:
                break
            caught = False
            daemon.start()
        if dom_of(daemon).isActive():
            dom_of(daemon).destroy()
    assert caught, "five starts, and the status without QEMU's pid was never seen"
    daemon.start()
    dom = dom_of(daemon)
    assert dom.state() == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_FAILED]
    assert not status.exists() and not QEMU_PIDFILE.exists()
    assert dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == guest["inactive"]
    dom.create()
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING


def test_qemu_killed(daemon, guest):
    dom = dom_of(daemon)
    events = spm.Lifecycle(daemon.conn, dom)
    try:
        os.kill(guest["pid"], signal.SIGKILL)
        detail = events.wait(libvirt.VIR_DOMAIN_EVENT_STOPPED, 30)
    finally:
        events.close()
    # the monitor's end: "failed" in the event, "crashed" in the reason
    assert detail == libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED
    assert dom.state() == [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_CRASHED]
    assert dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == guest["inactive"]
    dom.create()
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING


def test_invalid_redefinition_over_running_guest(daemon, guest, tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text(guest["inactive"].replace("memmapType='spm'", "memmapType='hbm'"))
    r = daemon.virsh("define", bad)
    assert r.returncode != 0
    assert "Invalid value for attribute 'memmapType' in element 'cell': 'hbm'" in r.stdout
    dom = dom_of(daemon)
    assert dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == guest["inactive"]
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING


def test_document_of_newlines_refused_daemon_lives(daemon, guest, tmp_path):
    """A document of two newlines killed libvirt 11.3.0's virtqemud
    (CVE-2026-61478; the base carries upstream's fix)."""
    pid = daemon.pid()
    f = tmp_path / "newlines.xml"
    f.write_text("\n\n")
    r = daemon.virsh("define", f)
    assert r.returncode != 0 and "Start tag expected" in r.stdout, r.stdout
    assert daemon.pid() == pid and spm.alive(pid)
    assert dom_of(daemon).state()[0] == libvirt.VIR_DOMAIN_RUNNING


def test_concurrent_clients(daemon, guest):
    """20 clients, each on its own connection, define, read back and
    undefine SPM guests and try to define invalid ones for
    $DAEMON_STRESS seconds (default 10): virtqemud does not crash, every
    invalid one is refused for its value, every valid one reads back with
    its SPM cell, none is left."""
    seconds = float(os.environ.get("DAEMON_STRESS", "10"))
    pid = daemon.pid()
    results = {}

    def client(i):
        conn = libvirt.open(URI)
        good = guest["xml"].replace("<name>spm-guest</name>", f"<name>c{i}</name>")
        bad = good.replace(f"<name>c{i}</name>", f"<name>bad{i}</name>").replace(
            "memmapType='spm'", "memmapType='bogus'")
        rounds = errors = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rounds += 1
            try:
                dom = conn.defineXML(good)
                if "memmapType='spm'" not in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE):
                    errors += 1
                dom.undefine()
            except libvirt.libvirtError:
                errors += 1
            try:
                conn.defineXML(bad)
                errors += 1
            except libvirt.libvirtError as e:
                if "Invalid value for attribute 'memmapType' in element 'cell': 'bogus'" \
                        not in e.get_error_message():
                    errors += 1
        conn.close()
        results[i] = (rounds, errors)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 20
    rounds = sum(r for r, _ in results.values())
    errors = sum(e for _, e in results.values())
    left = [d.name() for d in daemon.conn.listAllDomains() if re.fullmatch(r"(c|bad)\d+", d.name())]
    assert daemon.pid() == pid and spm.alive(pid)
    assert rounds >= 20 and errors == 0 and left == [], (rounds, errors, left)
    assert dom_of(daemon).state()[0] == libvirt.VIR_DOMAIN_RUNNING
