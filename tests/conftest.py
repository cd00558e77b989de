"""Fixtures of the project's tests: the build they test (refused when
stale), the patched libvirt's embedded QEMU driver, one per test process
(xdist worker)."""

import fcntl
import os
import stat

import pytest

import spm


def loaded_libvirt():
    """Path of the libvirt.so.0 this process has loaded."""
    import libvirt  # noqa: F401  (loads it)
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if os.path.basename(path).startswith("libvirt.so"):
                return os.path.realpath(path)
    return None


@pytest.fixture(scope="session")
def built():
    """The outputs under test, refused with the reason when they are not
    built from the inputs now in place (scripts/check-built.sh), and the
    libvirt this process loaded must be the build's."""
    want = os.path.realpath(spm.BUILD / "libvirt-build/src")
    lib = loaded_libvirt()
    if lib is None or os.path.dirname(lib) != want:
        pytest.exit(f"libvirt-python loaded {lib}, not the build's libvirt.so in {want}: "
                    "run the tests with tests/pytest.sh", returncode=3)
    r = spm.run([spm.TOP / "scripts/check-built.sh", "libvirt", "qemu"], timeout=120)
    if r.returncode != 0:
        pytest.exit(r.stdout.strip(), returncode=3)
    if not (spm.BUILD / "sid.stamp").exists():
        pytest.exit("no sid root (QEMU 11.1): run 'make build'", returncode=3)
    # the guest's kernel and initramfs: remade only when tests/guest-init
    # or their pins changed; one test process at a time
    spm.BUILD.mkdir(exist_ok=True)
    with open(spm.BUILD / "guest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = spm.run([spm.TOP / "scripts/guest-assets.sh"], timeout=600)
    if r.returncode != 0:
        pytest.exit(f"scripts/guest-assets.sh: {r.stdout.strip()}", returncode=3)


@pytest.fixture(scope="session")
def driver(built):
    """The patched libvirt's embedded QEMU driver in a root of its own
    (one per test process); every domain a test left is ended and
    undefined at the end."""
    d = spm.Driver()
    yield d
    d.close()


@pytest.fixture
def guest_name(request):
    """A domain name of the test's own (tests run in parallel)."""
    name = request.node.name
    for c in "[]/ ":
        name = name.replace(c, "-")
    return "t-" + name.strip("-")


@pytest.fixture
def cleanup(driver):
    """Names the test adds here are ended and undefined after it."""
    names = []
    yield names
    for n in names:
        driver.forget(n)


@pytest.fixture(autouse=True)
def host_dev_null_intact():
    """Each test leaves the host's /dev/null the character device it found:
    a guest whose serial file is /dev/null under the daemon (virtlogd deletes
    and recreates a file it is to truncate) once replaced it with a regular
    file, breaking every later step of the machine."""
    yield
    st = os.stat("/dev/null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3, \
        "the test replaced the host's /dev/null (restore it: rm /dev/null; mknod -m 666 /dev/null c 1 3)"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test of the daemon shows the end of virtqemud's log."""
    outcome = yield
    rep = outcome.get_result()
    daemon = getattr(item, "funcargs", {}).get("daemon")
    if rep.failed and daemon is not None:
        rep.sections.append(("virtqemud and QEMU logs", daemon.log_tail()))
