"""make demo (scripts/demo.sh) asserts nothing itself: its guests must
report, on both QEMUs that can, node 1 soft reserved with a dax device
for it, and no socket path may be too long wherever the clone is."""

import spm


def test_demo_guests_report_node1_dax(built):
    r = spm.run([spm.TOP / "scripts/demo.sh"], timeout=900)
    out = r.stdout
    assert r.returncode == 0, out[-3000:]
    assert "too big for destination" not in out and "must be less than 108" not in out
    dax = [l for l in out.splitlines() if "dax dax" in l and " target_node 1 " in l]
    assert len(dax) == 2, out[-3000:]
