# SPM NUMA nodes for libvirt guests.  See README.md.
#
#   make demo     set up everything, then show the feature on the embedded driver
#   make check    set up everything, then run the libvirt suite and our tests
#   make build    fetch + patch + build libvirt (build/)
#   make tree     (re)create build/libvirt from the pinned source + series
#   make patches  export build/libvirt's commits back to libvirt/patches/
#   make check-series  build and test every patch of the series in turn

SHELL := /bin/bash
.PHONY: demo check build tree patches deps check-libvirt check-project check-series clean

deps:
	./scripts/deps.sh

tree: deps
	./scripts/tree.sh

patches:
	./scripts/patches.sh

build: tree
	./scripts/build.sh

check-libvirt: build
	./scripts/check-libvirt.sh

check-project: build
	./tests/run.sh

check: check-libvirt check-project

check-series: tree
	./scripts/check-series.sh

demo: build
	./scripts/demo.sh

clean:
	rm -rf build/libvirt-build build/embed build/series
