#!/usr/bin/env bash
# Compile every in-tree vfio driver that mmaps device memory, as the p2p
# tree has them, in two builds (rig/kbuild.sh flavors); nothing is linked
# or booted:
#   drivers        x86_64: drivers/vfio/, drivers/iommu/iommufd/,
#                  samples/vfio-mdev/ and i915's
#                  kvmgt, with configs/base.config + configs/drivers.config
#                  (COMPILE_TEST) in $BUILD/obj/p2p-drivers;
#   drivers-arm64  arm64, cross-compiled (aarch64-linux-gnu-): drivers/vfio/
#                  with configs/drivers-arm64.config, for vfio-cdx (CDX_BUS
#                  is arm64 only) and the drivers native to arm64, in
#                  $BUILD/obj/p2p-drivers-arm64.
#   drivers-nop2p  x86_64 as drivers, with CONFIG_VFIO_P2P off
#                  (configs/nop2p.config), in $BUILD/obj/p2p-drivers-nop2p:
#                  every driver still compiles, and none of the P2P core
#                  does (no p2p_*.o, and vfio.o defines no P2P symbol).
#
# Fails on any compiler, objtool or kbuild warning or error, and when an
# object we rely on was not compiled (a config that silently lost a driver).
# The drivers' objects are removed first, so every run compiles them again
# and shows their warnings; ccache makes that cheap when nothing changed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$repo/build}

kvmgt=drivers/gpu/drm/i915/gvt/kvmgt.o
# The *_targets arrays are read through compile()'s namerefs.
# shellcheck disable=SC2034
x86_targets=(drivers/vfio/ drivers/iommu/iommufd/ samples/vfio-mdev/ "$kvmgt")
# Every driver with an .mmap of device memory (and vfio core), by object.
# vfio-cdx is in the arm64 build: CDX_BUS is arm64 only.
x86_want=(
	drivers/vfio/vfio_main.o
	drivers/vfio/p2p_vma.o
	drivers/vfio/p2p_iommufd.o
	drivers/iommu/iommufd/p2p.o
	drivers/vfio/pci/vfio_pci_core.o
	drivers/vfio/pci/vfio_pci.o
	drivers/vfio/pci/nvgrace-gpu/main.o
	drivers/vfio/pci/mlx5/main.o
	drivers/vfio/pci/hisilicon/hisi_acc_vfio_pci.o
	drivers/vfio/pci/pds/vfio_dev.o
	drivers/vfio/pci/virtio/main.o
	drivers/vfio/pci/qat/main.o
	drivers/vfio/platform/vfio_platform_common.o
	drivers/vfio/platform/vfio_platform.o
	drivers/vfio/platform/vfio_amba.o
	drivers/vfio/fsl-mc/vfio_fsl_mc.o
	samples/vfio-mdev/mtty.o
	samples/vfio-mdev/mdpy.o
	samples/vfio-mdev/mbochs.o
	samples/vfio-mdev/mslice.o
	"$kvmgt"
)
# shellcheck disable=SC2034
arm64_targets=(drivers/vfio/)
# vfio core and type1 as arm64 has them, vfio-cdx, and the drivers of
# arm64 platforms, built without COMPILE_TEST.
arm64_want=(
	drivers/vfio/vfio_main.o
	drivers/vfio/p2p_vma.o
	drivers/vfio/p2p_notify.o
	drivers/vfio/vfio_iommu_type1.o
	drivers/vfio/pci/vfio_pci_core.o
	drivers/vfio/cdx/main.o
	drivers/vfio/cdx/intr.o
	drivers/vfio/pci/nvgrace-gpu/main.o
	drivers/vfio/pci/hisilicon/hisi_acc_vfio_pci.o
	drivers/vfio/platform/vfio_platform_common.o
	drivers/vfio/platform/vfio_platform.o
	drivers/vfio/platform/vfio_amba.o
	drivers/vfio/fsl-mc/vfio_fsl_mc.o
)

# Without CONFIG_VFIO_P2P: the same drivers, none of the P2P core, and type1.
nop2p_want=(drivers/vfio/vfio_iommu_type1.o)
for o in "${x86_want[@]}"; do
	case $o in
	drivers/vfio/p2p_*.o | drivers/iommu/iommufd/p2p.o) ;;
	*) nop2p_want+=("$o") ;;
	esac
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
bad=0 total=0

# compile FLAVOR TARGETS_ARRAY WANT_ARRAY: one kbuild.sh build, checked.
compile() {
	local flavor=$1 obj=$BUILD/obj/p2p-$1 status=0 t o start=$SECONDS
	local -n targets=$2 want=$3
	local missing=()
	for t in "${targets[@]}"; do
		case $t in
		*/) if [ -d "$obj/$t" ]; then find "$obj/$t" -name '*.o' -delete; fi ;;
		*) rm -f "$obj/$t" ;;
		esac
	done
	"$repo/rig/kbuild.sh" p2p "$flavor" "${targets[@]}" 2>&1 | tee "$log" ||
		status=$?
	if [ $status != 0 ]; then
		echo "rig: compile-drivers: the $flavor build failed (above)" >&2
		bad=1
	fi
	# make -s prints nothing but problems; our own lines start with "rig:".
	if grep -v '^rig: ' "$log" | grep -qiE 'warning|error'; then
		echo "rig: compile-drivers: the $flavor build printed warnings or errors (above)" >&2
		bad=1
	fi
	for o in "${want[@]}"; do
		[ -s "$obj/$o" ] || missing+=("$o")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "rig: compile-drivers: $flavor: not compiled (a driver dropped out of the config?): ${missing[*]}" >&2
		bad=1
	fi
	total=$((total + ${#want[@]}))
	echo "rig: compile-drivers: $flavor: done in $((SECONDS - start))s"
}

compile drivers x86_targets x86_want
compile drivers-arm64 arm64_targets arm64_want
compile drivers-nop2p x86_targets nop2p_want
# None of it: no object of the P2P core, and no P2P symbol in vfio core.
nop2p=$BUILD/obj/p2p-drivers-nop2p/drivers/vfio
if compgen -G "$nop2p/p2p_*.o" >/dev/null || [ -e "$nop2p/../iommu/iommufd/p2p.o" ]; then
	echo "rig: compile-drivers: drivers-nop2p: P2P objects built with CONFIG_VFIO_P2P off:" \
		$nop2p/p2p_*.o "$nop2p/../iommu/iommufd/p2p.o" >&2
	bad=1
fi
if nm "$nop2p/vfio_main.o" "$nop2p/vfio_iommu_type1.o" | grep -E ' [TtDdBbU] (vfio_p2p_|vfio_vma_|vfio_device_(mem|get_from_vma|register_notifier))'; then
	echo "rig: compile-drivers: drivers-nop2p: vfio core or type1 still defines or calls P2P symbols (above)" >&2
	bad=1
fi
[ $bad = 0 ] || exit 1
echo "rig: compile-drivers: $total driver objects compiled clean (${#x86_want[@]} x86_64, ${#arm64_want[@]} arm64, ${#nop2p_want[@]} x86_64 without CONFIG_VFIO_P2P, none of whose objects is P2P core)"
