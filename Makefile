# AlacrityVM: one `make` builds everything, `make check` tests everything.
#
#   make              install missing build dependencies, build into build/,
#                     packages and signed repositories into dist/
#   make check        every test: ABI, unit, lint, kernel modules, system (QEMU)
#   make bench-ring   ring microbenchmark: vbus ring vs a split virtqueue
#   make bench        venet vs virtio-net under QEMU (build/bench/report.*)
#   make soak         four guests under one daemon for SOAK_MINUTES (default 30)
#                     with hand-overs, flaps, reloads, attacks (build/soak/)
#   make lint         clang-format and clang-tidy on the userspace, shellcheck
#                     and flake8 on every script
#   make clean        remove build/ and dist/
#
# Variables: BUILD (build dir), KDIR (kernel build tree; default: headers of
# Debian's current amd64 kernel), JOBS, PYTEST_ARGS, CTEST_ARGS.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := all

TOP := $(abspath .)
BUILD ?= $(TOP)/build
DIST ?= $(TOP)/dist
JOBS ?= $(shell nproc)
US_BUILD := $(BUILD)/userspace
KVER = $(shell $(TOP)/scripts/kernel-version.sh)
KDIR ?= /lib/modules/$(KVER)/build
PYTHON := /usr/bin/python3

export AVM_TOP := $(TOP)
export AVM_BUILD := $(BUILD)

.PHONY: all deps userspace modules check check-unit check-modules \
	check-system lint bench-ring bench soak clean

all: deps userspace modules cockpit packages repos images

deps:
	@$(TOP)/scripts/install-deps.sh

$(US_BUILD)/CMakeCache.txt: CMakeLists.txt
	cmake -S $(TOP) -B $(US_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

userspace: deps $(US_BUILD)/CMakeCache.txt
	cmake --build $(US_BUILD) -j $(JOBS)

modules: deps
	@if [ -f modules/guest/Kbuild ]; then \
		$(MAKE) -C modules KDIR=$(KDIR) BUILD=$(BUILD); \
	fi

# make check: these steps in turn, each a target of this Makefile; after each
# one, and again at the end, scripts/check-steps.sh prints its wall time and
# CPU time ("check: check-system: 330 s wall, 420 s CPU").  bg:lint-only: the
# lint runs in the background at nice 19, on the CPU the other steps leave
# idle (a TCG guest keeps one of two cores busy), and make check waits for it
# at the end.  make -k check goes on after a failed step.
CHECK_STEPS := all bg:lint-only check-unit check-modules check-kernel-patches check-system \
	check-packaging check-fuzz check-asan check-hostile check-bench check-ansible \
	check-images check-integration check-cockpit
check:
	@$(TOP)/scripts/check-steps.sh $(MAKE) $(CHECK_STEPS)

check-unit: userspace
	ctest --test-dir $(US_BUILD) --output-on-failure $(CTEST_ARGS)

check-modules: modules
	@if [ -f modules/guest/Kbuild ]; then \
		$(MAKE) -C modules KDIR=$(KDIR) BUILD=$(BUILD) check; \
	fi

# kernel-patches/: the drivers as a Linux 6.1 patch series (docs/kernel-patches.md)
#   make kernel-patches         regenerate kernel-patches/6.1 from modules/
#   make check-kernel-patches   series up to date, checkpatch, apply, build =m/=y
#   make kernel-packages        patched guest kernel .deb + .rpm in dist/kernel
.PHONY: kernel-patches check-kernel-patches kernel-packages
kernel-patches:
	$(TOP)/kernel-patches/generate.sh
check-kernel-patches: deps
	JOBS=$(JOBS) $(TOP)/kernel-patches/check.sh
kernel-packages: deps
	JOBS=$(JOBS) DIST=$(DIST) $(TOP)/kernel-patches/packages.sh

# packaging/: .deb and signed .rpm packages, signed apt and dnf repositories
# (docs/packaging.md).  Signing key: GNUPGHOME + AVM_SIGNING_KEY, else a
# generated development key.
#   make packages          dist/deb, dist/rpm (skipped when nothing changed)
#   make repos             dist/repo/apt, dist/repo/rpm, dist/keys
#   make check-packaging   lintian, rpmlint, signatures, apt install + DKMS in
#                          a bookworm root, dnf --installroot, tampering
.PHONY: packages repos check-packaging
packages: deps cockpit
	JOBS=$(JOBS) AVM_DIST=$(DIST) $(TOP)/packaging/build.sh packages
repos: packages
	AVM_DIST=$(DIST) $(TOP)/packaging/build.sh repos
check-packaging: repos
	AVM_DIST=$(DIST) $(PYTHON) -m pytest -v -p no:cacheprovider --durations=0 \
		tests/packaging $(PYTEST_ARGS)

# cockpit/: the web console page of a host (docs/cockpit.md)
#   make cockpit         build/cockpit/alacrityvm: the page and PatternFly's CSS
#                        (npm ci into cockpit/node_modules), which the
#                        alacrityvm-cockpit package ships
#   make check-cockpit   cockpit-ws (no systemd), alacrityvmd, a software
#                        guest's traffic and headless chromium (tests/cockpit)
.PHONY: cockpit check-cockpit
cockpit: deps
	$(TOP)/cockpit/build.sh $(BUILD)/cockpit/alacrityvm
check-cockpit: cockpit userspace
	$(PYTHON) -m pytest -v -p no:cacheprovider --durations=0 tests/cockpit $(PYTEST_ARGS)

# images/: Debian bookworm guest and host images (docs/images.md)
#   make images         dist/images/debian-12 (guest: vbus drivers in the
#                       initramfs, from the signed repo) and debian-12-host;
#                       skipped when nothing changed
#   make check-images   signed checksums, lsinitrd, venet-only DHCP + SSH boot
#                       of the guest, SSH boot of the host image (~6 min)
.PHONY: images check-images
images: repos
	AVM_DIST=$(DIST) $(TOP)/images/build.sh
check-images: images userspace
	AVM_DIST=$(DIST) $(PYTHON) -m pytest -v -p no:cacheprovider --durations=0 \
		tests/images $(PYTEST_ARGS)

# ansible/: roles that provision an AlacrityVM host (docs/provisioning.md)
#   make check-ansible       ansible-lint (production profile), yamllint and a
#                            syntax check of every playbook (seconds)
#   make check-integration   boot the host image under TCG, run site.yml twice
#                            (the second run must change nothing), then the
#                            Testinfra checks over SSH (tests/integration),
#                            with the vbus_host DKMS build in the VM; 5-7 min
#                            at load 1-6 on 2 cores, about 15 at load 9-11
#                            (docs/provisioning.md)
.PHONY: check-ansible check-integration
check-ansible: deps
	cd ansible && ansible-lint && yamllint . ../tests/integration && \
		ANSIBLE_CONFIG=ansible.cfg ansible-playbook --syntax-check -i examples/inventory.yml site.yml
check-integration: repos check-ansible
	AVM_DIST=$(DIST) $(PYTHON) -m pytest -v -p no:cacheprovider --durations=0 \
		tests/integration $(PYTEST_ARGS)

# tests/fuzz: libFuzzer targets and sanitizers (docs/security.md).  One clang
# build in build/asan serves the three (AVM_FUZZ=ON): the whole userspace
# with ASan+UBSan, -g1; the libraries and fuzz targets at -O1 and with
# libFuzzer's coverage, the fuzz targets linked with libFuzzer; the tests and
# tools at -O0 (clang -O0: about a third of gcc -O1 -g's build time).
#   make fuzz          each fuzz target for FUZZ_SECONDS (default 60); the
#                      corpus grows in build/asan/work
#   make check-fuzz    replay the seed corpora, then FUZZ_CHECK_SECONDS
#                      (default 10) of fuzzing per target
#   make check-asan    builds all of build/asan and runs all of ctest there
SAN_BUILD := $(BUILD)/asan
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 10
.PHONY: fuzz fuzz-build san-configure check-fuzz check-asan
san-configure: deps
	cmake -S $(TOP) -B $(SAN_BUILD) -DAVM_SANITIZE=ON -DAVM_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
		-DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
		-DCMAKE_C_FLAGS_DEBUG="-g1 -O0" -DCMAKE_CXX_FLAGS_DEBUG="-g1 -O0"
fuzz-build: san-configure
	cmake --build $(SAN_BUILD) -j $(JOBS) --target avm_fuzzers
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(TOP)/tests/fuzz/run.sh fuzz $(SAN_BUILD)
check-fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_CHECK_SECONDS) $(TOP)/tests/fuzz/run.sh check $(SAN_BUILD)
check-asan: san-configure
	cmake --build $(SAN_BUILD) -j $(JOBS)
	ctest --test-dir $(SAN_BUILD) --output-on-failure $(CTEST_ARGS)

check-system: userspace modules
	$(PYTHON) -m pytest -v -p no:cacheprovider tests/system $(PYTEST_ARGS)

# tests/hostile: avm-hostile attacks one alacrityvmd while a well-behaved
# software guest moves traffic through another instance of the same daemon
# (docs/security.md); ~25 s.
.PHONY: check-hostile
check-hostile: userspace
	$(PYTHON) -m pytest -v -p no:cacheprovider tests/hostile $(PYTEST_ARGS)

# lint-only: the same without building first (make check's lint, once all is
# built: it needs build/userspace's compile_commands.json)
.PHONY: lint-only
lint: userspace
	@$(MAKE) --no-print-directory lint-only
lint-only:
	$(TOP)/scripts/lint.sh $(US_BUILD)
	$(TOP)/scripts/lint-scripts.sh

bench-ring: userspace
	$(US_BUILD)/tests/bench/avm-bench-ring

# tests/bench/net: venet vs virtio-net, same guest, QEMU trace-event counters
# (docs/performance.md).  bench: the full run (~8 min, more on a busy host) writes
# build/bench/report.{json,md,png}; check-bench: its --quick smoke run (~1.5 min),
# every counter must move, no rate is asserted.
.PHONY: check-bench
bench: userspace modules
	$(PYTHON) tests/bench/net/bench.py --out $(BUILD)/bench
check-bench: userspace modules
	$(PYTHON) -m pytest -v -p no:cacheprovider tests/bench/net $(PYTEST_ARGS)

# tests/bench/host: vbus_host.ko vs the userspace venet backend in one test VM
# (docs/host-module.md); writes build/bench/host.{json,md}, ~2 min.
.PHONY: bench-host
bench-host: userspace modules
	$(PYTHON) tests/bench/host/compare.py --out $(BUILD)/bench

# tests/soak: four QEMU guests under one service daemon for SOAK_MINUTES, with
# scheduled hand-overs, link flaps, a driver reload, attacks and API churn;
# writes build/soak/report.json and soak.png, fails on a failed criterion.
SOAK_MINUTES ?= 30
soak: userspace modules
	$(PYTHON) tests/soak/soak.py --minutes $(SOAK_MINUTES) --out $(BUILD)/soak

clean:
	rm -rf $(BUILD) $(DIST)
