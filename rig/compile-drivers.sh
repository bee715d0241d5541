#!/usr/bin/env bash
# Compile every in-tree vfio driver that mmaps device memory, as the p2p
# tree has them: drivers/vfio/, samples/vfio-mdev/ and i915's kvmgt, with
# configs/base.config + configs/drivers.config in $BUILD/obj/p2p-drivers
# (rig/kbuild.sh's "drivers" flavor).  Nothing is linked or booted.
#
# Fails on any compiler, objtool or kbuild warning or error, and when an
# object we rely on was not compiled (a config that silently lost a driver).
# The drivers' objects are removed first, so every run compiles them again
# and shows their warnings; ccache makes that cheap when nothing changed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$repo/build}
obj=$BUILD/obj/p2p-drivers

dirs=(drivers/vfio samples/vfio-mdev)
kvmgt=drivers/gpu/drm/i915/gvt/kvmgt.o
# Every driver with an .mmap of device memory (and vfio core), by object.
# vfio-cdx is missing: CDX_BUS is arm64 only, so it cannot build here.
want=(
	drivers/vfio/vfio_main.o
	drivers/vfio/p2p_vma.o
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
	"$kvmgt"
)

for d in "${dirs[@]}"; do
	[ -d "$obj/$d" ] && find "$obj/$d" -name '*.o' -delete
done
rm -f "$obj/$kvmgt"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$repo/rig/kbuild.sh" p2p drivers "${dirs[@]/%//}" "$kvmgt" 2>&1 | tee "$log" ||
	status=$?

bad=0
if [ $status != 0 ]; then
	echo "rig: compile-drivers: the build failed (above)" >&2
	bad=1
fi
# make -s prints nothing but problems; our own lines start with "rig:".
if grep -v '^rig: ' "$log" | grep -qiE 'warning|error'; then
	echo "rig: compile-drivers: the build printed warnings or errors (above)" >&2
	bad=1
fi
missing=()
for o in "${want[@]}"; do
	[ -s "$obj/$o" ] || missing+=("$o")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "rig: compile-drivers: not compiled (a driver dropped out of the config?): ${missing[*]}" >&2
	bad=1
fi
[ $bad = 0 ] || exit 1
echo "rig: compile-drivers: ${#want[@]} driver objects compiled clean"
