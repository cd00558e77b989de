# SPM NUMA nodes for libvirt guests.  See README.md.
#
#   make demo     set up everything, then boot the example guest on the
#                 embedded driver and show what it sees
#   make check    set up everything, then run the libvirt suite and its
#                 fuzz target (make check-fuzz), QEMU's tests, the project's
#                 tests (guest boots, daemon fault tests, a clone at a long
#                 path), virt-manager's and Nova's suites with their series
#                 and the Debian packages' test (make check-debs): every
#                 part runs even if an earlier one failed, then a table of
#                 each part's exit code, wall time and summary lines
#                 (scripts/check-all.sh; make check PARTS="qemu project"
#                 runs only those)
#   make build    fetch + patch + build libvirt, the reference QEMU,
#                 SeaBIOS, the test guest and the sid root (QEMU 11.1)
#   make tree     (re)create build/{libvirt,libvirt-fuzz,qemu,seabios,virt-manager,
#                 nova,os-traits} from the pinned sources + series
#   make patches  export the trees' commits back to */patches/
#   make check-series  build and test every libvirt patch in turn
#   make repin    which pins of sources/ Debian's index no longer lists, and
#                 the pin lines for the versions it lists now
#   make bench    boot time and QEMU memory: SPM vs normal node of 1/4/16 GiB
#   make debs     Debian trixie packages of libvirt with the series (build/debs)
#   make check-debs  those packages installed by apt in a trixie root: a real
#                 libvirtd runs an SPM guest on trixie-backports' QEMU 11.1
#   make check-nested  sp-mem on a real /dev/dax0.0 and a real CPU-less node:
#                 a guest running those packages starts its own guest
#   make check-nova  Nova's unit and functional tests (stestr) with the Nova
#                 and os-traits series, and without, in a trixie root
#   make check-valgrind  the libvirt tests of the series under valgrind
#   make check-asan  libvirt built with ASan+UBSan, its whole suite
#   make check-fuzz  the series' libFuzzer target (clang, ASan+UBSan): seed
#                 runs, then 20 s of fuzzing per capabilities set (FUZZ_TIME=N)
#   make fuzz-campaign  the same, 1,000,000 executions per set (FUZZ_RUNS=N)

SHELL := /bin/bash
.PHONY: demo check build tree patches deps libvirt qemu seabios guest sid-root \
	check-libvirt check-qemu check-project check-virt-manager check-nova \
	check-series check-valgrind check-asan check-fuzz fuzz-campaign bench debs \
	check-debs check-nested repin clean

deps:
	./scripts/deps.sh

tree: deps
	./scripts/tree.sh libvirt libvirt-fuzz qemu seabios virt-manager nova os-traits

patches:
	./scripts/patches.sh

libvirt: tree
	./scripts/build.sh

seabios: tree
	./scripts/seabios-build.sh

# the reference QEMU (-numa node,memmap-type) with the project's SeaBIOS
qemu: tree seabios
	./scripts/qemu-build.sh

guest: deps
	./scripts/guest-assets.sh

# sid's QEMU 11.1 (-device sp-mem) in build/sid, run through scripts/qemu-sid
sid-root: deps
	./scripts/sid-root.sh

build: libvirt qemu guest sid-root

check-libvirt: libvirt
	./scripts/check-libvirt.sh

check-qemu: qemu
	./scripts/check-qemu.sh

# the project's tests (pytest, tests/pytest.sh): embedded driver, harness,
# a clone at a long path, the boot matrix (two at once), the daemon
check-project: build
	./scripts/check-all.sh project long-path boot-all daemon

# the libvirt tests that exercise the series under libvirt's valgrind setup,
# and the whole suite with ASan+UBSan: too long for make check
check-valgrind: libvirt
	./scripts/check-valgrind.sh

check-asan: tree
	./scripts/check-asan.sh

# the fuzz target's own series (build/libvirt-fuzz, on top of the libvirt
# series) built with clang + libFuzzer in build/libvirt-fuzz-build, ~4 min;
# the three capabilities sets fuzzed at once
check-fuzz: tree
	FUZZ_PARALLEL=1 ./scripts/check-fuzz.sh
	./tests/fuzz-selftest.sh

fuzz-campaign: tree
	FUZZ_RUNS=$${FUZZ_RUNS:-1000000} FUZZ_PARALLEL=1 ./scripts/check-fuzz.sh

# virt-manager's suite with its series, virt-install/virt-xml end to end
check-virt-manager: build
	./tests/virt-manager.sh

# Nova's tests with the Nova and os-traits series (fakelibvirt, as Nova's
# own functional tests do; no libvirt build needed)
check-nova: tree
	./tests/nova.sh

check:
	./scripts/check-all.sh $(PARTS)

repin:
	./scripts/repin.sh

check-series: tree
	./scripts/check-series.sh

demo: build
	./scripts/demo.sh

# build/debs: trixie's libvirt source package + the series, built in a
# trixie buildd root; a flat apt repository
debs: deps
	./scripts/debs.sh

check-debs: debs guest
	./tests/pytest.sh --namespace test_debs.py

# sp-mem on a real device-dax instance and a real CPU-less node: a guest
# running the packages of "make debs" starts its own guest (TCG in TCG)
check-nested: debs guest
	./tests/pytest.sh --namespace -s test_nested.py

# not a test: figures for the README (both QEMUs, the project's SeaBIOS;
# the bench cases of tests/test_boot.py)
bench: build
	./tests/pytest.sh -s -m bench test_boot.py

clean:
	rm -rf build/libvirt-build build/qemu-build build/qemu-ref build/seabios-build \
		build/firmware build/boot-logs build/series* build/libvirt-fuzz-build
