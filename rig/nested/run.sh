#!/usr/bin/env bash
# The nested-VMM leg (issue 15) alone; make check runs it in its debug
# check boot (rig/nested/README).
# Builds L2's user space and L1's QMP client (rig/nested/prep.sh), takes an
# L2 kernel, and boots the check
# kernel with the real-VMM leg plus the "nested" collection
# (rig/nested/guest/nested_l2_p2p_test), which runs Debian's QEMU in the
# guest (L1) to boot that kernel as L2 with edu and the P2P peer assigned.
# Run it under rig-lock, as every boot:
#   rig-lock rig/nested/run.sh [TREE [FLAVOR]]        (default: p2p debug)
#   L2_KERNEL=BZIMAGE  L2's kernel; default the first that exists of
#                      $BUILD/obj/stock-l2 (the l2 flavor: configs/l2.config,
#                      make one with rig/kbuild.sh stock l2), then
#                      $BUILD/obj/{p2p,stock}-{release,bench}/arch/x86/boot/bzImage
#   L2V_KERNEL=BZIMAGE the vIOMMU variant's L2 kernel; default
#                      $BUILD/obj/stock-l2v (the l2v flavor: configs/l2v.config,
#                      rig/kbuild.sh stock l2v)
#   NESTED_TIMEOUT=S   the limit on L2 (default 600 s)
#   ONLY=...           default both variants, nested:nested_l2_p2p_test and
#                      nested:nested_l2_viommu_test; add vmm:qemu_bar_map_test
#                      for the firmware-only leg in the same boot
#   BREAK=1            the peer assigned with x-no-mmap=on (the vIOMMU variant:
#                      L2 leaves out its MAP_DMA of the BAR): the run must fail
# Results: $BUILD/run/TREE-FLAVOR-check/ as for any check boot; the
# nested leg's own files stay in the guest (/tmp/nested-l2), what matters
# of them is in tests.log.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$repo/build}
export BUILD
tree=${1:-p2p} flavor=${2:-debug}
n=$BUILD/nested
mkdir -p "$n"

if [ -z "${L2_KERNEL:-}" ]; then
	for k in stock-l2 p2p-release p2p-bench stock-release stock-bench; do
		if [ -f "$BUILD/obj/$k/arch/x86/boot/bzImage" ]; then
			L2_KERNEL=$BUILD/obj/$k/arch/x86/boot/bzImage
			break
		fi
	done
fi
[ -f "${L2_KERNEL:-}" ] || { echo "rig: nested: no L2 kernel: set L2_KERNEL, or rig-lock rig/kbuild.sh stock l2" >&2; exit 1; }
L2V_KERNEL=${L2V_KERNEL:-$BUILD/obj/stock-l2v/arch/x86/boot/bzImage}
[ -f "$L2V_KERNEL" ] || { echo "rig: nested: no vIOMMU L2 kernel: set L2V_KERNEL, or rig-lock rig/kbuild.sh stock l2v" >&2; exit 1; }
"$repo/rig/nested/prep.sh" "$L2_KERNEL" "$L2V_KERNEL"

export NESTED_L2=$n
export ONLY=${ONLY:-nested:nested_l2_p2p_test,nested:nested_l2_viommu_test}
rc=0
"$repo/rig/guest-run.sh" check "$tree" "$flavor" || rc=$?

# What the real-VMM leg and the nested leg add to the check initramfs.
out=$BUILD/run/$tree-$flavor-check
if [ -f "$out/initramfs.cpio.list" ]; then
	awk '$1 == "file" { print $2, $3 }' "$out/initramfs.cpio.list" | while read -r dst src; do
		case "$dst" in
		/nested/*|/usr/share/qemu/linuxboot_dma.bin|/kselftest/nested/*) part=nested ;;
		/usr/bin/qemu-*|/lib/*|/lib64/*|/usr/lib/*|/usr/share/*) part=qemu ;;
		*) part=rest ;;
		esac
		echo "$part $(stat -c %s "$src")"
	done | awk '{ s[$1] += $2 } END {
		printf "rig: nested: initramfs files: QEMU with libraries and firmware %.1f MB, nested leg (L2 kernel, L2 initramfs, linuxboot_dma.bin, script) %.1f MB, the rest %.1f MB\n",
			s["qemu"] / 1e6, s["nested"] / 1e6, s["rest"] / 1e6 }'
	echo "rig: nested: initramfs.cpio $(stat -c %s "$out/initramfs.cpio") bytes"
fi
exit $rc
