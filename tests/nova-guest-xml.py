"""nova-guest-xml.py FILE: write to FILE the domain XML Nova's libvirt
driver defines for an instance with one node of CPUs, a CPU-less SPM node
and a passthrough PCI device as that node's ACPI Generic Initiator.

Run with Nova's tree (the series applied) on PYTHONPATH, in the root that
runs Nova's own tests: the XML is what NUMAAcceleratorNodeTest's server gets
from the driver, booted through Nova's API, scheduler and compute with
fakelibvirt standing in for libvirt.  test_nova.py boots it on real
libvirt and QEMU.
"""
import sys
import unittest

from nova.tests.functional.libvirt import test_numa_memmap_type as t


class GuestXML(t.NUMAAcceleratorNodeTest):

    def test_guest_xml(self):
        self._start_accel_host('gi1')
        server = self._create_server(
            flavor_id=self._accel_flavor(), networks='none')
        self._assert_accel_guest(server)
        with open(sys.argv[1], 'w') as f:
            f.write(self.guest_xml[('gi1', server['id'])])


if __name__ == '__main__':
    suite = unittest.defaultTestLoader.loadTestsFromName(
        'test_guest_xml', GuestXML)
    result = unittest.TextTestRunner(stream=sys.stderr).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
