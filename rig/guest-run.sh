#!/usr/bin/env bash
# Boot a built kernel with the rig's initramfs and judge the run.
# Usage: guest-run.sh check|demo|bench|iommu-selftest TREE FLAVOR
#   iommu-selftest: iommufd's own selftest (tools/testing/selftests/iommu)
#                    alone, in a boot with intel_iommu=off: in 6.12 a device
#                    without a fwspec probes with the first IOMMU registered
#                    without a fwnode, which is VT-d's once it is on, so the
#                    mock IOMMU's devices would get none (make iommufd-selftest)
#   EXTRA_TESTS=DIR  executables to run after our own tests (check)
#   ONLY=C:T[,C:T...] run only these kselftest programs
#   SKIP_VARIANTS=V[,V...] do not run these kselftest_harness variants (each
#                    program gets -V V); they are left out, not counted
#   BREAK=1          make the P2P test expect wrong bytes, and the real-VMM
#                    leg assign the peer with x-no-mmap=on: the run must fail
#   STORM_SEED=N STORM_STEPS=N STORM_SECONDS=S
#                    vfio_p2p_storm_test: one seed, steps per seed, soak length
#   VMM_POST_TIMEOUT=S  the real-VMM leg's limit on each POST of L2's
#                    firmware (rig/guest/vmm/qemu_bar_map_test; default 300)
#   NESTED_L2=DIR NESTED_TIMEOUT=S  the nested-VMM leg (check; rig/nested/README):
#                    DIR from rig/nested/prep.sh (make nested), L2's limit
#   DKMS_SUMMARY=1   the summary also counts make dkms-check's install and its
#                    boot of Debian's kernel (rig/dkms.sh), run just before
#   COMPAT_SUMMARY=1 the summary also counts make compat-check's boot of the
#                    compat kernel (iommufd's type1-compat container)
#   BENCH_REPS=N BENCH_BAR=SIZES BENCH_RAM=SIZES BENCH_LINKS=COUNTS
#                    vfio_p2p_bench's -r, -b, -m and -l (bench); the bench run is
#                    judged by rig/bench.py (rig/bench.sh), not here
#
# The guest (rig/boot.sh): QEMU 7.2 under TCG, q35 with intel-iommu, edu at
# 00:03.0 and 00:05.0 (64-bit dma_mask), the P2P peer ivshmem-plain at
# 01:00.0 (BAR2: $out/ivshmem0.mem) and the mslice parent ivshmem at 02:00.0
# (ivshmem1.mem, kept off vfio-pci), each ivshmem behind its own PCIe root
# port so that a secondary bus reset can reset it.  Its quirks:
#  - QEMU 7.2 kills itself on a full 4096-byte edu transfer, so the tests'
#    transfers stay at 4095 bytes or less;
#  - every reset of the peer prints "unlocked secondary bus reset via:
#    pci_reset_bus_function" once: 6.12's own check, not a kernel report;
#  - a kselftest program that runs out of time (400 s) gets its tasks'
#    stacks dumped into console.log ("rig: stack dump begin"), its session
#    killed, and fails alone;
#  - QEMU itself has been seen to die of SIGSEGV mid-run: the run is then
#    booted once more (below), and a second crash fails it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$repo/build}
mode=$1 tree=$2 flavor=$3
out=$BUILD/run/$tree-$flavor-$mode
kernel=$BUILD/obj/$tree-$flavor/arch/x86/boot/bzImage
mkdir -p "$out"
[ -f "$kernel" ] || { echo "rig: no kernel at $kernel" >&2; exit 1; }

cmdline=""
[ "${BREAK:-}" = 1 ] && cmdline+=" rig.break=1"
[ -n "${ONLY:-}" ] && cmdline+=" rig.only=$ONLY"
[ -n "${SKIP_VARIANTS:-}" ] && cmdline+=" rig.skip_variants=$SKIP_VARIANTS"
# vfio_p2p_storm_test's knobs (make check STORM_SEED=N, make soak).
[ -n "${STORM_SEED:-}" ] && cmdline+=" rig.storm_seed=$STORM_SEED"
[ -n "${STORM_STEPS:-}" ] && cmdline+=" rig.storm_steps=$STORM_STEPS"
[ -n "${STORM_SECONDS:-}" ] && cmdline+=" rig.storm_seconds=$STORM_SECONDS"
[ -n "${VMM_POST_TIMEOUT:-}" ] && cmdline+=" rig.vmm_post_timeout=$VMM_POST_TIMEOUT"
[ -n "${NESTED_TIMEOUT:-}" ] && cmdline+=" rig.nested_timeout=$NESTED_TIMEOUT"
[ "$mode" = demo ] || [ "$mode" = bench ] && cmdline+=" kunit.enable=0"
[ "$mode" = iommu-selftest ] && cmdline+=" intel_iommu=off kunit.enable=0"
if [ "$mode" = bench ]; then
	# TCG's TSC follows the host clock; without this the clocksource
	# watchdog may swap it for the slow HPET in the middle of a run.
	cmdline+=" tsc=reliable"
	cmdline+="${BENCH_REPS:+ rig.bench_reps=$BENCH_REPS}"
	cmdline+="${BENCH_BAR:+ rig.bench_bar=$BENCH_BAR}"
	cmdline+="${BENCH_RAM:+ rig.bench_ram=$BENCH_RAM}"
	cmdline+="${BENCH_LINKS:+ rig.bench_links=$BENCH_LINKS}"
fi
# A check boot also gets the real-VMM leg: Debian's QEMU and the vmm
# kselftest collection (rig/guest/vmm/).
VMM_LEG=$([ "$mode" = check ] && echo 1 || true) \
	"$repo/rig/initramfs.sh" "$BUILD/src/linux" "$BUILD/kselftest" "$out/initramfs.cpio" \
	"$([ "$mode" = check ] && echo "${EXTRA_TESTS:-}")"

echo "rig: booting the $tree-$flavor kernel under QEMU (TCG, q35, intel-iommu, edu + ivshmem)"
rc=0
"$repo/rig/boot.sh" "$kernel" "$out/initramfs.cpio" "$out" "$mode" "$cmdline" || rc=$?
# QEMU 7.2 under TCG has been seen to die of SIGSEGV (status 139) in the middle
# of a run, its own crash, not the guest's: multi-threaded TCG's tcg_commit()
# lets a running vCPU use a stale TLB entry against the new memory map (see
# README.md).  Retry such a boot once, loudly, keeping the crashed run's logs
# and QEMU's backtrace from its core dump, and with thread=single unless
# TCG_THREAD says otherwise: one host thread runs both vCPUs in turn, so a
# vCPU's queued TLB flush runs before it runs again.  That boot is about 1.4x
# slower, so only the retry pays it.  A second crash fails the run.
if [ $rc -ge 128 ] && [ $rc -ne 137 ]; then
	rm -rf "$out.qemu-crash"
	mv "$out" "$out.qemu-crash"
	# Debian ships QEMU stripped: the backtrace names libraries and
	# exported symbols only, and where in QEMU by address.
	if [ -f "$out.qemu-crash/core" ]; then
		gdb -batch -nx -ex 'info signals SIGSEGV' -ex 'thread apply all bt 30' \
			"$(command -v qemu-system-x86_64)" "$out.qemu-crash/core" \
			>"$out.qemu-crash/backtrace.txt" 2>&1 || true
		rm -f "$out.qemu-crash/core"
		echo "rig: QEMU's backtrace: $out.qemu-crash/backtrace.txt"
	fi
	mkdir -p "$out"
	cp "$out.qemu-crash/initramfs.cpio" "$out/"
	echo "rig: WARNING: QEMU itself died (status $rc); its logs are in $out.qemu-crash; booting once more, TCG thread=${TCG_THREAD:-single}"
	rc=0
	TCG_THREAD=${TCG_THREAD:-single} \
		"$repo/rig/boot.sh" "$kernel" "$out/initramfs.cpio" "$out" "$mode" "$cmdline" || rc=$?
fi

echo "$rc" >"$out/qemu-status"
[ "$mode" = bench ] && exit $rc
if [ "$mode" = demo ]; then
	line=$(grep -a 'vfio-p2p-host-expect' "$out/tests.log" | tail -1 || true)
	if [ -n "$line" ]; then
		len=$(sed -n 's/.* len=\([0-9]*\).*/\1/p' <<<"$line")
		echo "rig: on the host, the first $len bytes of the ivshmem backing file $out/ivshmem0.mem now read:"
		echo "    \"$(head -c "$len" "$out/ivshmem0.mem" | tr -d '\0')\""
	fi
fi
also=()
if [ "$mode" = check ] && [ "${DKMS_SUMMARY:-}" = 1 ]; then
	also=(--tap "dkms: install=$BUILD/run/debian-dkms/host.tap"
	      --also "debian $DKMS_KERNEL=$BUILD/run/debian-ours-check")
fi
if [ "$mode" = check ] && [ "${COMPAT_SUMMARY:-}" = 1 ]; then
	also+=(--also "compat=$BUILD/run/p2p-compat-check")
fi
if [ "$mode" = check ] && [ "${IOMMU_SELFTEST_SUMMARY:-}" = 1 ]; then
	also+=(--also "iommufd selftest=$BUILD/run/$tree-$flavor-iommu-selftest")
fi
python3 "$repo/rig/summary.py" --srcdir "$BUILD/src/linux" --out "$out" --qemu-status $rc \
	--config "$BUILD/obj/$tree-$flavor/.config" $( { [ "$mode" = demo ] || [ "$mode" = iommu-selftest ]; } && echo --no-kunit) "${also[@]}"
