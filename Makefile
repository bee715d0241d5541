# vfio-p2p: Linux 6.12 with our vfio series, built from Debian's source
# package, booted under QEMU behind an emulated Intel IOMMU, and tested there.
#
#   make run      build the p2p kernel, boot it, narrate a P2P DMA
#   make check    every test: checkpatch, KUnit and kselftests on the debug kernel
#   make bench    MAP_DMA/UNMAP_DMA cost, stock vs p2p kernel: table, CSV, plot
#
# See README.md for the rest.

# The one place the kernel source is pinned.
LINUX_SOURCE_VERSION := 6.12.117-1~deb12u1
# Debian's kernel of that source (its linux-image and linux-headers packages
# have the same version): what the DKMS package builds for, and boots.
DKMS_KERNEL := 6.12.117+deb12-amd64

BUILD ?= $(CURDIR)/build
# Which tree make check boots: p2p (ours) or stock (pristine Debian source).
TREE ?= p2p
FLAVOR ?= debug
EXTRA_TESTS ?=
BREAK ?=
ONLY ?=
# vfio_p2p_storm_test: replay one seed, bound each seed's steps; make soak's length.
STORM_SEED ?=
STORM_STEPS ?=
SOAK_SECONDS ?= 600
export BUILD EXTRA_TESTS BREAK ONLY DKMS_KERNEL LINUX_SOURCE_VERSION STORM_SEED STORM_STEPS

RIG := $(CURDIR)/rig

.PHONY: help check run soak bench deps source tree kernel stock p2p selftests nested checkpatch docs-check compile-drivers series series-check series-bisect dkms dkms-check dkms-vm dkms-stock compat-check iommufd-selftest unsaved clean
.NOTPARALLEL:

help:
	@sed -n '2,9p' Makefile | sed 's/^# \{0,1\}//'

# make dkms on its own installs only what the package needs (rig/deps.sh).
deps:
	@$(RIG)/deps.sh '$(LINUX_SOURCE_VERSION)' '$(BUILD)/.deps-stamp' \
		$(if $(filter-out dkms,$(or $(MAKECMDGOALS),all)),all,dkms)

source: deps
	@$(RIG)/tree.sh source

tree: source
	@$(RIG)/tree.sh p2p

# The kernel make check boots (TREE, FLAVOR); stock and p2p build both trees.
kernel: tree
	@$(RIG)/kbuild.sh $(TREE) $(FLAVOR)

stock p2p: tree
	@$(RIG)/kbuild.sh $@ $(FLAVOR)

selftests: tree
	@$(RIG)/selftests.sh '$(BUILD)/kselftest'

checkpatch: tree
	@$(RIG)/checkpatch.sh

# kernel-doc on our C files, docutils on our rst (Documentation/driver-api/).
docs-check: tree
	@$(RIG)/docs-check.sh

# Compile (only) every vfio driver that mmaps device memory, warnings fail:
# on x86_64 with COMPILE_TEST, and cross-compiled for arm64 (vfio-cdx).
compile-drivers: tree
	@$(RIG)/compile-drivers.sh

# The series as git format-patch mails it, with a cover letter: build/series/
# (rig/series.sh; which commit adds which owned file: patches/owned-files).
series: tree
	@$(RIG)/series.sh export

# git am of the export onto the pristine source gives the p2p tree exactly,
# checkpatch --strict passes every exported patch, and every prefix of the
# series compiles with W=1 and no warning (the compile-drivers configs).
series-check: tree
	@$(RIG)/series.sh check
	@$(RIG)/series.sh bisect

series-bisect: tree
	@$(RIG)/series.sh bisect


# The DKMS package for Debian's own kernel (DKMS_KERNEL): see rig/dkms.sh.
dkms: tree
	@$(RIG)/dkms.sh build

# Install that package on this machine for DKMS_KERNEL with apt and dkms,
# check it, remove it again; then boot Debian's own kernel with the modules
# it built and run the P2P kselftests there.
dkms-check: dkms selftests
	@$(RIG)/dkms.sh check
	@$(RIG)/dkms.sh boot

# The README's install commands as printed, on a fresh Debian 12 machine
# that runs Debian's kernel: a debootstrapped one under QEMU (not in make
# check: about an hour under TCG; rig/dkms-vm.sh).
dkms-vm:
	@$(RIG)/dkms-vm.sh

# The stock comparison (not in make check): Debian's kernel, Debian's modules.
dkms-stock: selftests
	@DKMS_STOCK=1 $(RIG)/dkms.sh boot

# The compat check kernel: iommufd's type1-compat container provides
# /dev/vfio/vfio (configs/compat.config).  The P2P tests of every mode run
# on it in their type1 and type1v2 modes, which are that container there;
# their iommufd mode, the same code as on the debug kernel, is left out
# (COMPAT_SKIP).  make check builds it after the debug kernel, whose ccache
# it mostly hits (a few minutes).
COMPAT_TESTS := vfio:vfio_p2p_dma_test,vfio:vfio_p2p_map_test,vfio:vfio_p2p_lifetime_test,vfio:vfio_p2p_mdev_test,vfio:vfio_p2p_iommufd_test
COMPAT_SKIP := iommufd
compat-check: tree selftests
	@$(RIG)/kbuild.sh p2p compat
	@ONLY=$(COMPAT_TESTS) SKIP_VARIANTS=$(COMPAT_SKIP) $(RIG)/guest-run.sh check p2p compat

# iommufd's own selftest (tools/testing/selftests/iommu, over the mock IOMMU
# of CONFIG_IOMMUFD_TEST) on the check kernel, in a boot of its own with
# intel_iommu=off (rig/guest-run.sh says why).  TREE=stock runs it on the
# pristine tree, for comparison.
iommufd-selftest: kernel selftests
	@ONLY= $(RIG)/guest-run.sh iommu-selftest $(TREE) $(FLAVOR)

# The nested-VMM leg's L2 (rig/nested/README): its kernels, the l2 flavor
# and the vIOMMU variant's l2v, on the pristine tree (L2 runs none of the
# series), their /init and L1's QMP client, in $(BUILD)/nested; the check
# boot runs the leg.
nested: tree
	@$(RIG)/kbuild.sh stock l2
	@$(RIG)/kbuild.sh stock l2v
	@$(RIG)/nested/prep.sh

check: checkpatch docs-check series-check compile-drivers dkms-check kernel selftests nested compat-check iommufd-selftest
	@NESTED_L2='$(BUILD)/nested' DKMS_SUMMARY=1 COMPAT_SUMMARY=1 IOMMU_SELFTEST_SUMMARY=1 \
		$(RIG)/guest-run.sh check $(TREE) $(FLAVOR)

# The storm alone on the check kernel, random seeds for SOAK_SECONDS; then
# its operations per second and the seeds it covered.
soak: kernel selftests
	@rc=0; STORM_SECONDS=$(SOAK_SECONDS) ONLY=vfio:vfio_p2p_storm_test \
		BOOT_TIMEOUT=$$(($(SOAK_SECONDS) + 1200)) \
		$(RIG)/guest-run.sh check $(TREE) $(FLAVOR) || rc=$$?; \
	grep -a 'soak:\|ops/s\|seed(s)' '$(BUILD)/run/$(TREE)-$(FLAVOR)-check/tests.log' | \
		sed 's/^[# ]*vfio_p2p_storm_test.c:[0-9]*:seeds:/storm: /'; exit $$rc

run: tree
	@$(RIG)/kbuild.sh p2p $(FLAVOR)
	@$(RIG)/selftests.sh '$(BUILD)/kselftest'
	@$(RIG)/guest-run.sh demo p2p $(FLAVOR)

# Both trees' kernels (flavor bench), booted in turn: see rig/bench.sh.
bench: tree
	@$(RIG)/bench.sh

# Edits in the p2p tree that the repo does not hold (exit 1 if any).
unsaved:
	@$(RIG)/tree.sh unsaved

# Build output only; the p2p tree goes too, unless it holds unsaved edits.
clean:
	@$(RIG)/tree.sh unsaved || { echo "make clean: refusing, save the edits above first" >&2; exit 1; }
	rm -rf '$(BUILD)'
