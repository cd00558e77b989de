"""Tests of the harness itself: what must make a run fail does."""

import os
import re
import shutil
import subprocess
import textwrap

import pytest

import spm

pytestmark = pytest.mark.harness


def check_all(tmp_path, table, *parts):
    """scripts/check-all.sh with a table of its own (CHECK_PARTS)."""
    env = dict(os.environ, CHECK_PARTS=textwrap.dedent(table),
               CHECK_LOGS=str(tmp_path / "logs"))
    return spm.run([spm.TOP / "scripts/check-all.sh", *parts], env=env, timeout=300)


def test_unknown_part_refused():
    r = spm.run([spm.TOP / "scripts/check-all.sh", "projet"], timeout=60)
    assert r.returncode == 2
    assert "check: no part 'projet'" in r.stdout
    assert " passed, " not in r.stdout


def pytest_part(tmp_path, body):
    t = tmp_path / "t"
    t.mkdir(exist_ok=True)
    (t / "test_x.py").write_text(textwrap.dedent(body))
    (t / "pytest.ini").write_text("[pytest]\n")
    return f"python3 -m pytest -p no:cacheprovider -c {t}/pytest.ini {t}"


def test_skipped_test_fails_its_part(tmp_path):
    cmd = pytest_part(tmp_path, """
        import pytest
        def test_a(): pass
        def test_b(): pytest.skip("planted")
        """)
    r = check_all(tmp_path, f"p 5 pytest {cmd}\n")
    assert r.returncode != 0
    assert "skipped tests: every project test must run" in r.stdout
    assert "check: 0 passed, 1 failed" in r.stdout


def test_passing_part_passes(tmp_path):
    cmd = pytest_part(tmp_path, "def test_a(): pass\n")
    r = check_all(tmp_path, f"p 5 pytest {cmd}\n")
    assert r.returncode == 0, r.stdout
    assert "check: 1 passed, 0 failed" in r.stdout


def test_no_summary_or_early_summary_line_fails(tmp_path):
    """A part that exits 0 without its own summary line fails, and so does
    one whose only summary-shaped line came before it failed."""
    r = check_all(tmp_path, """\
        quiet 5 quiet true
        early 5 early echo 'early: 3 passed, 0 failed'; echo 'other: 1 passed, 0 failed'; exit 1
        late 5 late echo 'sub: 3 passed, 0 failed'
        """)
    assert r.returncode != 0
    assert "check: 0 passed, 3 failed" in r.stdout, r.stdout


def test_parts_run_alongside_each_count(tmp_path):
    """Parts run together ("+NAME") each keep their output, exit code and
    summary: a failure or a missing summary line in one fails that one
    only; choosing a "+" part without the part above runs it alone."""
    table = """\
        a 5 a sleep 1; echo 'a: 1 passed, 0 failed'
        +b 5 b echo 'b: 0 passed, 1 failed'; exit 1
        +c 5 c echo 'c: 2 passed, 0 failed'
        +quiet 5 quiet true
        d 5 d echo 'd: 1 passed, 0 failed'
        """
    r = check_all(tmp_path, table)
    assert r.returncode != 0
    assert "check: 3 passed, 2 failed" in r.stdout, r.stdout
    rows = [l.split()[:2] for l in r.stdout.splitlines()[-7:-2]]
    assert rows == [["a", "0"], ["+b", "1"], ["+c", "0"], ["+quiet", "1"], ["d", "0"]], r.stdout
    assert (tmp_path / "logs/c.log").read_text() == "c: 2 passed, 0 failed\n"
    r = check_all(tmp_path, table, "c", "d")
    assert r.returncode == 0 and "check: 2 passed, 0 failed" in r.stdout, r.stdout
    assert "alongside" not in r.stdout


def test_output_to_a_file_keeps_every_part(tmp_path):
    """make check > FILE: each part's output goes to the run's own
    output, not to a file opened again (as "> /dev/stdout" would: that
    truncates FILE, and the run's later lines land after a hole)."""
    env = dict(os.environ, CHECK_LOGS=str(tmp_path / "logs"), CHECK_PARTS=textwrap.dedent("""\
        a 5 a echo 'a: 1 passed, 0 failed'
        b 5 b echo 'b: 1 passed, 0 failed'
        +c 5 c echo 'c: 1 passed, 0 failed'
        """))
    out = tmp_path / "out"
    with out.open("w") as f:
        r = subprocess.run([spm.TOP / "scripts/check-all.sh"], env=env, timeout=300,
                           stdout=f, stderr=subprocess.STDOUT)
    text = out.read_text()
    assert r.returncode == 0, text
    assert "\0" not in text
    lines = text.splitlines()
    for part in "abc":
        assert f"==== {part}: echo" in text, text
        assert lines.count(f"{part}: 1 passed, 0 failed") == 1, text
    assert re.fullmatch(r"check: 3 passed, 0 failed \(parts; \d+ s in all\)", lines[-1]), text


def test_pytest_with_no_tests_fails(tmp_path):
    cmd = pytest_part(tmp_path, "# no tests\n")
    r = check_all(tmp_path, f"p 5 pytest {cmd}\n")
    assert r.returncode != 0 and "check: 0 passed, 1 failed" in r.stdout


@pytest.fixture
def fake_top(tmp_path):
    """A copy of the scripts check-built.sh uses, with a libvirt tree
    made by the real tree.sh's rules: one base commit, the series applied
    (none here), its stamp."""
    top = tmp_path / "top"
    (top / "scripts").mkdir(parents=True)
    for f in ("check-built.sh", "lib.sh"):
        shutil.copy(spm.TOP / "scripts" / f, top / "scripts" / f)
    (top / "sources").mkdir()
    (top / "sources/libvirt").write_text("name=libvirt\npatches=libvirt/patches\n")
    (top / "libvirt/patches").mkdir(parents=True)
    (top / "libvirt/patches/series").write_text("")
    tree = top / "build/libvirt"
    tree.mkdir(parents=True)
    git = ["git", "-C", str(tree), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    (tree / "f").write_text("1\n")
    subprocess.run(git + ["add", "f"], check=True)
    subprocess.run(git + ["commit", "-qm", "base"], check=True)
    return top, git


def check_built(top, exported=False):
    env = dict(os.environ)
    env.pop("SPM_EXPORTED", None)
    if exported:
        env["SPM_EXPORTED"] = "1"
    return spm.run(["bash", top / "scripts/check-built.sh", "libvirt"], env=env, timeout=60)


def key(top):
    return spm.run(["bash", "-c", f"top={top}; . {top}/scripts/lib.sh; tree_key libvirt"],
                   timeout=60, check=True).stdout.strip()


def test_missing_or_stale_build_refused(fake_top):
    top, git = fake_top
    r = check_built(top)
    assert r.returncode == 1 and "has no stamp" in r.stdout
    (top / "build/libvirt-build.stamp").write_text(key(top) + "\n")
    assert check_built(top).returncode == 0
    # the tree moves on: the build is stale
    (top / "build/libvirt/f").write_text("2\n")
    r = check_built(top)
    assert r.returncode == 1 and "build/libvirt-build is stale" in r.stdout


def test_unexported_work_refused_in_make_check(fake_top):
    top, git = fake_top
    series = spm.run(["bash", "-c", f"top={top}; . {top}/scripts/lib.sh; series_hash libvirt"],
                     timeout=60, check=True).stdout.strip()
    head = spm.run(git[:3] + ["rev-parse", "HEAD"], timeout=60).stdout.strip()
    (top / "build/libvirt.stamp").write_text(f"{series} {head}\n")
    (top / "build/libvirt-build.stamp").write_text(key(top) + "\n")
    # what a build leaves in the tree, untracked, is no unexported work
    (top / "build/libvirt/__pycache__").mkdir()
    (top / "build/libvirt/__pycache__/x.pyc").write_text("")
    assert check_built(top, exported=True).returncode == 0
    # a local commit "make patches" has not exported, built
    (top / "build/libvirt/f").write_text("3\n")
    subprocess.run(git + ["commit", "-qam", "work in progress"], check=True)
    (top / "build/libvirt-build.stamp").write_text(key(top) + "\n")
    assert check_built(top).returncode == 0
    r = check_built(top, exported=True)
    assert r.returncode == 1 and "has work that is not exported" in r.stdout


def small_guest(guest_name, tmp_path, initargs="", qemu="ref", memmap="spm"):
    """A small test guest: its XML and serial log."""
    serial = tmp_path / "serial.log"
    return spm.domain_xml(guest_name, emulator=spm.QEMU[qemu], serial=serial,
                          cells=[(512, None), (256, memmap)], initargs=initargs), serial


@pytest.mark.boot
def test_guest_that_never_reports_fails(driver, tmp_path, guest_name):
    """A kernel without its /init panics and the guest ends: not a pass."""
    xml, serial = small_guest(guest_name, tmp_path, "rdinit=/nonexistent")
    with pytest.raises(spm.GuestFailure, match="stopped before its report ended"):
        spm.boot(driver, xml, serial, "bios+spm")


@pytest.mark.boot
def test_guest_that_never_stops_fails(driver, tmp_path, guest_name):
    xml, serial = small_guest(guest_name, tmp_path, "spm-test=hold")
    with pytest.raises(spm.GuestFailure, match="still running after 10 s"):
        spm.boot(driver, xml, serial, "bios+spm", timeout=10)
    assert driver.conn.listAllDomains() == []


@pytest.mark.boot
def test_guest_booted_by_other_firmware_fails(driver, tmp_path, guest_name):
    xml, serial = small_guest(guest_name, tmp_path)
    with pytest.raises(spm.GuestFailure, match=r"booted by firmware 'bios\+spm', want 'efi'"):
        spm.boot(driver, xml, serial, "efi")


@pytest.mark.boot
def test_stock_seabios_told_apart(driver, tmp_path, guest_name):
    """QEMU 11.1's own SeaBIOS (stock: it drops soft reserved entries)
    reports a version without "+spm"; the matrix's seabios-patched cases
    require "+spm"."""
    xml, serial = small_guest(guest_name, tmp_path, qemu="sid", memmap=None)
    report, _, _ = spm.boot(driver, xml, serial, "bios")
    assert report.firmware() == "bios"


def test_apt_sources_from_classic_sources_list(tmp_path):
    """apt-setup.sh derives its entries from a classic one-line
    sources.list as well as from deb822 (in a mount namespace whose
    /etc/apt holds only that file; no apt-get update)."""
    script = f"""
        set -e
        mount -t tmpfs tmpfs /etc/apt
        mkdir -p /etc/apt/sources.list.d /etc/apt/preferences.d /etc/apt/apt.conf.d
        echo 'deb [arch=amd64] http://archive.invalid/debian bookworm main' > /etc/apt/sources.list
        echo 'deb http://archive.invalid/debian-security bookworm-security main' >> /etc/apt/sources.list
        APT_SETUP_NO_UPDATE=1 {spm.TOP}/scripts/apt-setup.sh
        cat /etc/apt/sources.list.d/spm-extra.sources
    """
    r = spm.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], timeout=60)
    assert r.returncode == 0, r.stdout
    assert r.stdout.count("URIs: http://archive.invalid/debian\n") == 2, r.stdout
    assert "security" not in r.stdout
