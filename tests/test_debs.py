"""The packages of "make debs" as a trixie user gets them.

A fresh trixie root (build/trixie-e2e) whose apt entry is a deb822
debian.sources, as on a trixie host, runs README.md's install block as it
is written (between its install markers): our repository pinned at 990,
trixie-backports from the host's own entry, QEMU from there, libvirt from
build/debs as a local repository.  In this test process's
private mount namespace (tests/pytest.sh --namespace: /proc, /sys with its
cgroups, /dev, a tmpfs /run) the packages' init scripts start virtlogd and
libvirtd, and the root's own virsh -c qemu:///system drives an SPM guest
(TCG, the project's kernel + initramfs, sid's OVMF 2026.08), and trixie's
own ovmf is shown to drop the range; then README.md's Nova block installs
nova-compute and os-traits, and the installed Nova reports the series'
traits from the installed libvirtd.  What differs from a real trixie host: no systemd
(the sysv init scripts instead), no AppArmor in the kernel (checked
instead: QEMU runs as libvirt-qemu in its own cgroup).
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import spm

pytestmark = pytest.mark.daemon

ROOT = spm.BUILD / "trixie-e2e"
REPO = spm.BUILD / "debs"
IMAGES = "/var/lib/libvirt/images"
SERIAL = "/var/log/libvirt/qemu/spm-guest.serial"


def in_root(*cmd, timeout=300):
    return spm.run(["chroot", ROOT, "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOME=/root", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive", *cmd],
                   timeout=timeout)


def virsh(*args):
    return in_root("timeout", "120", "virsh", "-c", "qemu:///system", *args, timeout=150)


def readme_install_block(marker="install"):
    """The shell block of README.md between its MARKER:begin and
    MARKER:end lines, as a reader copies it (the code block's indentation
    taken off)."""
    text = (spm.TOP / "README.md").read_text()
    block = text.split(f"<!-- {marker}:begin -->\n", 1)[1].split(f"<!-- {marker}:end -->", 1)[0]
    lines = block.splitlines()
    assert lines and all(l.startswith("    ") or not l for l in lines), block
    return "\n".join(l[4:] for l in lines) + "\n"


@contextlib.contextmanager
def operator_at_apt():
    """In the root: the operator answers apt's questions with yes, and no
    service may start while apt installs."""
    yes = ROOT / "etc/apt/apt.conf.d/90yes"
    policy = ROOT / "usr/sbin/policy-rc.d"
    yes.write_text('APT::Get::Assume-Yes "true";\n')
    policy.write_text("#!/bin/sh\nexit 101\n")
    os.chmod(policy, 0o755)
    try:
        yield
    finally:
        yes.unlink()
        policy.unlink()


@pytest.fixture(scope="module")
def installed(built):
    """A fresh trixie root with our packages and trixie-backports' QEMU
    installed by README.md's install block, run as written."""
    if not spm.private_mounts():
        pytest.exit("the packages' test mounts /proc, /sys, /dev and /run in its root: run it "
                    "with tests/pytest.sh --namespace", returncode=3)
    r = spm.run([spm.TOP / "scripts/check-built.sh", "debs"], timeout=60)
    if r.returncode != 0:
        pytest.exit(r.stdout.strip(), returncode=3)
    # a fresh root for every run: what apt installs is what is tested
    (spm.BUILD / "trixie-e2e.stamp").unlink(missing_ok=True)
    r = spm.run([spm.TOP / "scripts/trixie-root.sh", "trixie-e2e", "minbase"], timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:]
    srv = ROOT / "srv/spm-debs"
    srv.mkdir(parents=True)
    for f in REPO.iterdir():
        if f.suffix == ".deb" or f.name.startswith("Packages"):
            shutil.copy(f, srv)
    # as a trixie host has it: its archive entry in deb822 form, no
    # backports (the README's block adds them)
    mirror = re.search(r"^deb (\S+) trixie main", (ROOT / "etc/apt/sources.list").read_text(), re.M)[1]
    (ROOT / "etc/apt/sources.list").unlink()
    (ROOT / "etc/apt/sources.list.d/backports.list").unlink(missing_ok=True)
    (ROOT / "etc/apt/sources.list.d/debian.sources").write_text(
        f"Types: deb\nURIs: {mirror}\nSuites: trixie trixie-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
    images = ROOT / IMAGES.lstrip("/")
    images.mkdir(parents=True, exist_ok=True)
    for f in ("vmlinuz", "initramfs.cpio.gz", "OVMF.fd"):
        shutil.copy(spm.GUEST / f, images)
    # README.md's install block, as it is written
    (ROOT / "root/install.sh").write_text(readme_install_block())
    with operator_at_apt():
        r = in_root("timeout", "3600", "sh", "-ex", "/root/install.sh", timeout=3700)
    (spm.BUILD / "debs-e2e-install.log").write_text(r.stdout)
    assert r.returncode == 0, r.stdout[-3000:]
    # the package's default network would want dnsmasq and a bridge: not here
    (ROOT / "etc/libvirt/qemu/networks/autostart/default.xml").unlink(missing_ok=True)
    return ROOT


@pytest.fixture(scope="module")
def daemons(installed):
    """virtlogd and libvirtd started by the packages' init scripts in the
    root, its /proc, /sys, /dev and a tmpfs /run mounted (the root a
    mount point of its own, as a container has it)."""
    root = str(installed)
    subprocess.run(["mount", "--bind", root, root], check=True)
    subprocess.run(["mount", "-t", "proc", "proc", f"{root}/proc"], check=True)
    subprocess.run(["mount", "--rbind", "/sys", f"{root}/sys"], check=True)
    subprocess.run(["mount", "--rbind", "/dev", f"{root}/dev"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", f"{root}/run"], check=True)
    in_root("/etc/init.d/virtlogd", "start")
    in_root("/etc/init.d/libvirtd", "start")
    wait_for_libvirtd()
    yield installed
    virsh("destroy", "spm-guest")
    for name in ("libvirtd", "virtlogd"):
        in_root(f"/etc/init.d/{name}", "stop")
        pidfile = installed / "run" / f"{name}.pid"
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass


def libvirtd_pid():
    p = ROOT / "run/libvirtd.pid"
    return int(p.read_text()) if p.exists() else None


def wait_for_libvirtd():
    deadline = time.monotonic() + 90
    while virsh("version").returncode != 0:
        assert time.monotonic() < deadline, virsh("version").stdout
        time.sleep(0.2)


def wait_report(serial, timeout=180):
    """The test guest's Report, once its serial log SERIAL has all of it."""
    deadline = time.monotonic() + timeout
    while not (serial.exists() and "spm-test: end" in serial.read_text(errors="replace")):
        assert time.monotonic() < deadline, f"no report from the guest in {timeout} s"
        time.sleep(0.2)
    return spm.Report(serial.read_text(errors="replace"))


def test_installed_versions(installed):
    """Every libvirt package installed is ours (+spm1), QEMU is trixie-
    backports', and apt pins our repository at 990."""
    r = in_root("dpkg-query", "-W", "-f", "${Package} ${Version}\n", "libvirt*", "qemu-system-x86")
    vers = dict(l.split(" ", 1) for l in r.stdout.splitlines() if " " in l)
    ours = {p: v for p, v in vers.items() if p.startswith("libvirt") and v}
    assert "libvirt-daemon-system" in ours and "libvirt-daemon-driver-qemu" in ours, vers
    assert all(v.endswith("+spm1") for v in ours.values()), ours
    assert "~bpo13" in vers["qemu-system-x86"], vers
    policy = in_root("apt-cache", "policy", "libvirt-daemon-system").stdout
    assert re.search(r"\*\*\* \S+\+spm1 990\n +990 file:/srv/spm-debs", policy), policy


def test_daemons_answer(daemons):
    out = virsh("version").stdout
    assert re.search(r"Running hypervisor: QEMU 11\.1\.", out), out


def test_domcaps_list_normal_and_spm(daemons):
    out = virsh("domcapabilities", "--virttype", "qemu", "--machine", "q35").stdout
    m = re.search(r"<enum name='memmapType'>(.*?)</enum>", out, re.S)
    assert m and re.findall(r"<value>(\w+)</value>", m[1]) == ["normal", "spm"], out


@pytest.fixture(scope="module")
def running(daemons):
    """The example SPM guest, holding after its report, booted by OVMF
    2026.08 (sid's, as a ROM; trixie's own ovmf drops the range, see
    test_trixie_ovmf_drops_spm_range)."""
    xml = spm.example_xml(boot=SERIAL, firmware=f"{IMAGES}/OVMF.fd", initargs="spm-test=hold")
    xml = xml.replace(str(spm.GUEST), IMAGES)
    (daemons / "root/spm-guest.xml").write_text(xml)
    r = virsh("define", "/root/spm-guest.xml")
    assert r.returncode == 0, r.stdout
    r = virsh("start", "spm-guest")
    assert r.returncode == 0, r.stdout
    return wait_report(daemons / SERIAL.lstrip("/"))


def test_guest_sees_spm_node(running):
    assert running.firmware() == "efi"
    assert running.bytes("soft", 0x100000000, 0x13fffffff) == 1 << 30
    assert (1, 0x100000000, 0x13fffffff) in running.srat()


def test_qemu_confined(running):
    pid = int((ROOT / "run/libvirt/qemu/spm-guest.pid").read_text())
    uid = re.search(r"^Uid:\s+(\d+)", open(f"/proc/{pid}/status").read(), re.M)[1]
    assert uid == in_root("id", "-u", "libvirt-qemu").stdout.strip()
    assert re.search(r"machine[^ \n]*spm", open(f"/proc/{pid}/cgroup").read())


def memdevs():
    out = virsh("qemu-monitor-command", "spm-guest", '{"execute":"query-memory-devices"}').stdout
    return [i for i in re.findall(r'"id":"([^"]*)"', out) if not i.startswith("libvirt-")]


def cpu_xml():
    out = virsh("dumpxml", "spm-guest").stdout
    return out[out.index("<cpu"):out.index("</cpu>")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_libvirtd_restart_keeps_guest(running, sig):
    pid = int((ROOT / "run/libvirt/qemu/spm-guest.pid").read_text())
    live, inactive, md = cpu_xml(), virsh("dumpxml", "--inactive", "spm-guest").stdout, memdevs()
    # the cell's memory, stored at define as an sp-mem device
    assert md == ["spmem0"]
    dpid = libvirtd_pid()
    os.kill(dpid, sig)
    # libvirtd stops its workers before it exits on SIGTERM: seconds on a
    # quiet machine, more than 30 on a busy one.  Whatever happens, the
    # daemon is started again for the tests after this one.
    try:
        deadline = time.monotonic() + 120
        while spm.alive(dpid):
            assert time.monotonic() < deadline, f"libvirtd {dpid} still running 120 s after {sig.name}"
            time.sleep(0.1)
    finally:
        if spm.alive(dpid):
            os.kill(dpid, signal.SIGKILL)
            while spm.alive(dpid):
                time.sleep(0.1)
        in_root("/etc/init.d/libvirtd", "start")
        wait_for_libvirtd()
    assert spm.alive(pid)
    assert virsh("domstate", "spm-guest").stdout.strip() == "running"
    assert cpu_xml() == live and "memmapType='spm'" in live
    assert virsh("dumpxml", "--inactive", "spm-guest").stdout == inactive
    assert memdevs() == md


def test_save_refused_guest_runs(running):
    r = virsh("save", "spm-guest", f"{IMAGES}/spm.save")
    assert r.returncode != 0
    assert "error: Failed to save domain 'spm-guest'" in r.stdout
    assert spm.SAVE_REFUSAL in r.stdout, r.stdout
    assert virsh("domstate", "spm-guest").stdout.strip() == "running"
    assert not (ROOT / IMAGES.lstrip("/") / "spm.save").exists()


def test_invalid_redefinition_refused(running):
    inactive = virsh("dumpxml", "--inactive", "spm-guest").stdout
    (ROOT / "root/bogus.xml").write_text(inactive.replace("memmapType='spm'", "memmapType='hbm'"))
    r = virsh("define", "/root/bogus.xml")
    assert r.returncode != 0
    assert "Invalid value for attribute 'memmapType' in element 'cell': 'hbm'" in r.stdout
    assert virsh("dumpxml", "--inactive", "spm-guest").stdout == inactive
    assert virsh("domstate", "spm-guest").stdout.strip() == "running"


def test_packaged_virt_install_boots_spm_guest(daemons):
    """virt-install from the package (the README's install block) defines
    a guest with an SPM cell 1 on the installed libvirtd; libvirt stores
    the cell as an sp-mem device (QEMU 11.1) and the guest, on OVMF
    2026.08, finds the node's memory soft reserved and bound to node 1."""
    r = in_root("dpkg-query", "-W", "-f", "${Version}", "virt-install")
    assert r.returncode == 0 and r.stdout.endswith("+spm1"), r.stdout
    serial = "/var/log/libvirt/qemu/spm-vi.serial"
    args = ["virt-install", "--connect", "qemu:///system", *spm.virt_install_args(
        "spm-vi", serial, f"loader={IMAGES}/OVMF.fd,loader.type=rom,kernel={IMAGES}/vmlinuz,"
                          f"initrd={IMAGES}/initramfs.cpio.gz", wait=0)]
    try:
        r = in_root("timeout", "300", *args, timeout=330)
        assert r.returncode == 0, r.stdout[-2000:]
        inactive = virsh("dumpxml", "--inactive", "spm-vi").stdout
        assert re.search(r"<memory model='sp-mem'>.*?<node>1</node>", inactive, re.S), inactive
        report = wait_report(daemons / serial.lstrip("/"))
    finally:
        virsh("destroy", "spm-vi")
        virsh("undefine", "spm-vi")
    assert report.firmware() == "efi"
    node1 = [(s, e) for pxm, s, e in report.srat() if pxm == 1]
    assert len(node1) == 1 and node1[0][1] - node1[0][0] + 1 == 1 << 30, report.srat()
    assert report.bytes("soft", *node1[0]) == 1 << 30


# The installed Nova's libvirt driver, on the installed libvirtd: the
# traits of the series it reports for this host.
NOVA_TRAITS = """
import nova.conf
from nova.virt.libvirt import driver
conf = nova.conf.CONF
conf([], project="nova", default_config_files=[])
conf.set_override("virt_type", "qemu", group="libvirt")
drv = driver.LibvirtDriver(None)
traits = {**drv._get_numa_memmap_type_traits(), **drv._get_numa_generic_initiator_traits()}
print("traits:", " ".join(sorted(t for t, on in traits.items() if on)))
"""


def test_packaged_nova_reports_spm_traits(daemons):
    """README.md's Nova block, as written, installs nova-compute and
    os-traits from the repository (ours, +spm1, at the pin's 990); the
    installed Nova's libvirt driver asks the installed libvirtd (QEMU
    11.1) and reports the two traits of the series, which the installed
    os-traits knows."""
    (ROOT / "root/nova-install.sh").write_text(readme_install_block("nova-install"))
    with operator_at_apt():
        r = in_root("timeout", "1500", "sh", "-ex", "/root/nova-install.sh", timeout=1600)
    (spm.BUILD / "debs-e2e-nova-install.log").write_text(r.stdout)
    assert r.returncode == 0, r.stdout[-3000:]
    assert re.search(r"\*\*\* 2:31\.0\.0-6\+deb13u3\+spm1 990\n +990 file:/srv/spm-debs",
                     r.stdout), r.stdout[-2000:]
    r = in_root("dpkg-query", "-W", "-f", "${Package} ${Version}\n",
                "nova-compute", "nova-common", "python3-nova", "python3-os-traits")
    vers = dict(l.split(" ", 1) for l in r.stdout.splitlines())
    assert len(vers) == 4 and all(v.endswith("+spm1") for v in vers.values()), r.stdout
    r = in_root("python3", "-c", "import os_traits; print(os_traits.COMPUTE_NUMA_MEMMAP_TYPE_SPM, "
                "os_traits.COMPUTE_NUMA_GENERIC_INITIATOR)")
    assert r.stdout.split() == ["COMPUTE_NUMA_MEMMAP_TYPE_SPM", "COMPUTE_NUMA_GENERIC_INITIATOR"], \
        r.stdout
    r = in_root("python3", "-c", NOVA_TRAITS, timeout=300)
    assert "traits: COMPUTE_NUMA_GENERIC_INITIATOR COMPUTE_NUMA_MEMMAP_TYPE_SPM\n" in r.stdout, \
        r.stdout[-3000:]


def test_trixie_ovmf_drops_spm_range(daemons):
    """Trixie's own ovmf (2025.02), which libvirt picks for <os
    firmware='efi'> (secure boot off: the test kernel is not signed),
    boots the guest, whose SRAT has node 1, but leaves the sp-mem range
    out of the E820 table altogether, as stock SeaBIOS does: the guest
    never sees its SPM memory.  Asserts that (README: Requirements); a
    fixed ovmf makes this test say so."""
    r = in_root("timeout", "900", "apt-get", "-q", "-y", "--no-install-recommends", "install",
                "ovmf", timeout=1000)
    assert r.returncode == 0, r.stdout[-2000:]
    serial = "/var/log/libvirt/qemu/spm-efi.serial"
    xml = spm.example_xml(boot=serial).replace(str(spm.GUEST), IMAGES).replace(
        "<name>spm-guest</name>", "<name>spm-efi</name>").replace(
        "<os>", "<os firmware='efi'>\n    <firmware><feature enabled='no' name='secure-boot'/></firmware>")
    (daemons / "root/spm-efi.xml").write_text(xml)
    try:
        r = virsh("define", "/root/spm-efi.xml")
        assert r.returncode == 0, r.stdout
        r = virsh("start", "spm-efi")
        assert r.returncode == 0, r.stdout
        loader = re.search(r"<loader[^>]*>([^<]*)</loader>", virsh("dumpxml", "spm-efi").stdout)
        report = wait_report(daemons / serial.lstrip("/"))
    finally:
        virsh("destroy", "spm-efi")
        virsh("undefine", "--nvram", "spm-efi")
    version = in_root("dpkg-query", "-W", "-f", "${Version}", "ovmf").stdout
    assert loader and loader[1].startswith("/usr/share/OVMF/"), loader
    assert report.firmware() == "efi"
    assert (1, 0x100000000, 0x13fffffff) in report.srat()
    assert report.bytes("soft", 0x100000000, 0x13fffffff) == 0, (
        f"trixie's ovmf {version} now passes the soft reserved range on: "
        "update README.md's Requirements and this test")
    assert report.bytes("ram", 0x100000000, 0x13fffffff) == 0
