#!/usr/bin/env bash
# Boot a rig kernel under QEMU (TCG) behind an emulated Intel IOMMU.
# Usage: boot.sh BZIMAGE INITRAMFS OUTDIR MODE [EXTRA_CMDLINE]
#
# Devices: edu (the DMA engine) at 00:03.0, a second edu at 00:05.0 (for a
# second container), a PCIe root port at 00:04.0 with ivshmem-plain (the P2P
# peer) behind it at 01:00.0, so that it has a reset method (secondary bus
# reset), and a second root port at 00:06.0 with a second ivshmem-plain
# behind it at 02:00.0, the parent of the mdev sample
# (samples/vfio-mdev/mslice.c), which the guest leaves off vfio-pci; behind
# its own port it can be reset too (its sysfs reset attribute), which the
# mdev tests use to reset the parent under its mdevs.
# Each ivshmem's BAR2 is a host file made afresh, all zeroes:
# OUTDIR/ivshmem0.mem and OUTDIR/ivshmem1.mem; OUTDIR/host-files maps each
# guest BDF to its file for the host-side checks.
# The kernel console goes to OUTDIR/console.log; the guest's test stream
# (ttyS1) to OUTDIR/tests.log, shown live.  Exits with QEMU's status, 124
# when the boot timed out (BOOT_TIMEOUT seconds, default 1800: room for
# KUnit and for each kselftest program to run out of its own time, 400 s
# in the vfio settings file, so that a hung program never costs the boot).  IVSHMEM_SIZE and
# IVSHMEM1_SIZE (default 16M each, powers of two), GUEST_MEM (MiB, default 1024) and PCI_HOLE64_SIZE
# (bytes, default QEMU's) size the guest.
set -euo pipefail
kernel=$1 initrd=$2 out=$3 mode=$4 extra=${5:-}
timeout=${BOOT_TIMEOUT:-1800}
shm_size=${IVSHMEM_SIZE:-16M}
shm1_size=${IVSHMEM1_SIZE:-16M}
mkdir -p "$out"
rm -f "$out/core" "$out/console.log" "$out/tests.log" "$out/ivshmem0.mem" "$out/ivshmem1.mem"
truncate -s "$shm_size" "$out/ivshmem0.mem"
truncate -s "$shm1_size" "$out/ivshmem1.mem"
{
	echo "0000:01:00.0 $out/ivshmem0.mem"
	echo "0000:02:00.0 $out/ivshmem1.mem"
} >"$out/host-files"
: >"$out/tests.log"

# /dev/kvm exists on these machines but a KVM guest dies there: TCG only.
# no_timer_check: the IO-APIC timer check counts ticks against a busy loop,
# and a TCG vCPU on a busy host loses that race ("Kernel panic - not
# syncing: timer doesn't work through Interrupt-remapped IO-APIC", 0.07 s
# in); emulated guests skip it.  rig.boot_timeout: 90 s before the limit,
# the guest dumps its blocked tasks' stacks to the console (rig/guest/init).
qemu=(qemu-system-x86_64
	-machine q35,kernel-irqchip=split -accel "tcg,thread=${TCG_THREAD:-multi}"
	-smp 2 -m "${GUEST_MEM:-1024}"
	-display none -monitor none -no-reboot
	-device intel-iommu,intremap=on,caching-mode=on
	-device edu,dma_mask=0xffffffffffffffff,addr=0x3
	-device edu,dma_mask=0xffffffffffffffff,addr=0x5
	-device pcie-root-port,id=rp0,chassis=1,slot=1,addr=0x4
	-object "memory-backend-file,id=shm0,mem-path=$out/ivshmem0.mem,size=$shm_size,share=on"
	-device ivshmem-plain,memdev=shm0,bus=rp0,addr=0x0
	-object "memory-backend-file,id=shm1,mem-path=$out/ivshmem1.mem,size=$shm1_size,share=on"
	-device pcie-root-port,id=rp1,chassis=2,slot=2,addr=0x6
	-device ivshmem-plain,memdev=shm1,bus=rp1,addr=0x0
	-serial "file:$out/console.log"
	-serial "file:$out/tests.log"
	-kernel "$kernel" -initrd "$initrd"
	-append "console=ttyS0 intel_iommu=on panic=-1 no_timer_check rig.mode=$mode rig.boot_timeout=$timeout rig.mdev_parent=0000:02:00.0 $extra")
# A BAR larger than q35's 64-bit PCI hole (32 GiB) needs a larger hole.
if [ -n "${PCI_HOLE64_SIZE:-}" ]; then
	qemu+=(-global "q35-pcihost.pci-hole64-size=$PCI_HOLE64_SIZE")
fi
printf '%q ' "${qemu[@]}" >"$out/qemu.cmdline"
echo >>"$out/qemu.cmdline"

start=$(date +%s)
# Should QEMU itself crash, it leaves OUTDIR/core for guest-run.sh to read
# (with the usual core_pattern "core"; elsewhere the core goes where that
# says).
ulimit -c unlimited 2>/dev/null || true
(cd "$out" && exec timeout --kill-after=10 "$timeout" "${qemu[@]}") </dev/null >"$out/qemu.log" 2>&1 &
qpid=$!
# Show the test stream while the guest runs (carriage returns from the tty).
# tail ends by itself once QEMU is gone.
tail -n +1 -s 0.3 -f --pid=$qpid "$out/tests.log" | sed -u 's/\r$//' &
tpid=$!
rc=0
wait $qpid || rc=$?
wait $tpid 2>/dev/null || true
echo "rig: QEMU exited with status $rc after $(( $(date +%s) - start ))s (console log: $out/console.log)"
if [ $rc = 124 ]; then
	echo "rig: the boot timed out after ${timeout}s"
	grep -a -n 'rig: stack dump begin' "$out/console.log" | sed 's/^/rig: the guest dumped its stacks at console.log:/' || true
fi
exit $rc
