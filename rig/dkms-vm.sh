#!/usr/bin/env bash
# The README's "Install on Debian 12" commands, run as printed on a fresh
# Debian 12 machine that runs Debian's own 6.12 kernel (make dkms-vm; not
# part of make check, which proves the package without that kernel running:
# see dkms/README.md).
#
# The machine is a virtual one: debootstrap makes a Debian 12 system with
# linux-image-$DKMS_KERNEL as its kernel (its own initramfs, made by
# initramfs-tools in the chroot), a clean clone of this repository's HEAD in
# /root/vfio-p2p, and a one-shot systemd unit.  QEMU (TCG, q35, intel-iommu,
# edu + ivshmem, user networking to Debian's archive) boots it with systemd.
# At boot the unit runs trial.sh: it takes the indented command lines of the
# README's install section, in order, and runs each as root in the clone with
# bash, as a user pasting them would; between the install and the "go back"
# block it checks what the comments there promise, and that vfio-pci binds
# the ivshmem peer with our modules; then it powers off.
#
# Everything comes from Debian's archive: the debootstrap tarball is kept
# in $BUILD/dkms-vm/ so that a second run downloads only what the machine's
# own apt-get installs.  Output: $BUILD/run/dkms-vm/console.log and trial.tap.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$repo/build}
K=${DKMS_KERNEL:?DKMS_KERNEL is not set (the Makefile sets it)}
V=${LINUX_SOURCE_VERSION:?LINUX_SOURCE_VERSION is not set (the Makefile sets it)}
MIRROR=${DKMS_VM_MIRROR:-http://deb.debian.org/debian}
work=$BUILD/dkms-vm
run=$BUILD/run/dkms-vm
root=$work/root
img=$work/disk.img

say() { echo "rig: dkms-vm: [$(date +%T)] $*"; }
die() { echo "rig: dkms-vm: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "need root (debootstrap, chroot)"
command -v debootstrap >/dev/null ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
command -v mkfs.ext4 >/dev/null || die "no mkfs.ext4 (e2fsprogs)"
command -v nc >/dev/null ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q netcat-openbsd >/dev/null

mkdir -p "$work" "$run"
tarball=$work/bookworm.tgz
# The kernel is not in bookworm's own suite (it came with a point release and
# security updates): apt-get installs it in the chroot, from every suite.
include=systemd-sysv,udev,kmod,pciutils,isc-dhcp-client,ifupdown,initramfs-tools
if [ ! -f "$tarball" ]; then
	say "debootstrap --make-tarball (downloads Debian 12 once)"
	rm -rf "$work/dl"
	debootstrap --make-tarball="$tarball.tmp" --include="$include" \
		bookworm "$work/dl" "$MIRROR" >"$work/debootstrap-dl.log" 2>&1 ||
		{ tail -20 "$work/debootstrap-dl.log" >&2; die "debootstrap --make-tarball failed"; }
	mv "$tarball.tmp" "$tarball"
	rm -rf "$work/dl"
fi

# A fresh machine each run.
say "debootstrap bookworm into $root"
for m in proc sys dev; do
	! mountpoint -q "$root/$m" || umount -R "$root/$m"
done
! mountpoint -q "$root/dev" || die "$root/dev is still mounted"
rm -rf --one-file-system "$root"
debootstrap --unpack-tarball="$tarball" --include="$include" \
	bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
	{ tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
echo dkms-vm >"$root/etc/hostname"
echo '/dev/vda / ext4 defaults 0 1' >"$root/etc/fstab"
cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
cat >"$root/etc/network/interfaces" <<'EOF'
auto lo
iface lo inet loopback
auto eth0
iface eth0 inet dhcp
EOF
passwd -R "$root" -d root >/dev/null
# The kernel image, from apt's cache on later runs.
mkdir -p "$work/debs"
cp "$work"/debs/*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true
cp /etc/resolv.conf "$root/etc/resolv.conf"
for m in proc sys dev; do mount --bind "/$m" "$root/$m"; done
trap 'umount -R "$root/proc" "$root/sys" "$root/dev" 2>/dev/null || true' EXIT
say "apt-get install linux-image-$K=$V in the machine"
chroot "$root" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	--no-install-recommends linux-image-$K=$V" >"$work/kernel-install.log" 2>&1 ||
	{ tail -20 "$work/kernel-install.log" >&2; die "installing linux-image-$K failed"; }
cp "$root"/var/cache/apt/archives/linux-image-*.deb "$work/debs/" 2>/dev/null || true
chroot "$root" apt-get clean
umount "$root/proc" "$root/sys" "$root/dev"
trap - EXIT
[ -f "$root/boot/vmlinuz-$K" ] || die "no /boot/vmlinuz-$K in the machine"
[ -f "$root/boot/initrd.img-$K" ] || die "no /boot/initrd.img-$K in the machine"
git clone -q --no-hardlinks "$repo" "$root/root/vfio-p2p"
git -C "$root/root/vfio-p2p" log --oneline -1 >"$run/commit"
install -m 755 "$repo/rig/guest/dkms-vm-trial.sh" "$root/root/trial.sh"
cat >"$root/etc/systemd/system/vfio-p2p-trial.service" <<'EOF'
[Unit]
Description=vfio-p2p: the README's install commands, as printed
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c '/root/trial.sh >/dev/ttyS0 2>&1; systemctl poweroff'
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
# The trial writes to ttyS0: a getty there would hang up its writes.
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /etc/systemd/system/vfio-p2p-trial.service \
	"$root/etc/systemd/system/multi-user.target.wants/vfio-p2p-trial.service"

# This workplace lets QEMU's user network (slirp) reach no archive, but a
# host process may: the machine's deb.debian.org is 10.0.2.100, which QEMU
# forwards to nc on the host (guestfwd), one nc per connection.
echo '10.0.2.100 deb.debian.org' >>"$root/etc/hosts"

say "making the disk (ext4, sparse)"
rm -f "$img"
truncate -s 24G "$img"
mkfs.ext4 -q -F -d "$root" "$img"

ivshmem=$run/ivshmem.mem
rm -f "$ivshmem"
truncate -s 16M "$ivshmem"
say "booting Debian's $K under QEMU (TCG); the trial's output follows in $run/console.log"
# QEMU's default CPU model, as every boot of the rig: with -cpu max (5-level
# paging, ...) QEMU 7.2's TCG double-faulted Debian's kernel in kmalloc
# 45 minutes into a trial, on a cmpxchg16b, with junk in EFLAGS.
t0=$(date +%s)
rc=0
timeout "${DKMS_VM_TIMEOUT:-5400}" qemu-system-x86_64 \
	-machine q35,kernel-irqchip=split -accel tcg,thread=multi -smp 2 -m 8G \
	-device intel-iommu,intremap=on \
	-kernel "$root/boot/vmlinuz-$K" -initrd "$root/boot/initrd.img-$K" \
	-append "root=/dev/vda rw console=ttyS0 net.ifnames=0 intel_iommu=on panic=10" \
	-drive file="$img",if=virtio,format=raw,cache=unsafe \
	-netdev "user,id=n0,guestfwd=tcp:10.0.2.100:80-cmd:nc deb.debian.org 80" -device virtio-net-pci,netdev=n0 \
	-device edu \
	-object memory-backend-file,id=shm,mem-path="$ivshmem",size=16M,share=on \
	-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1 \
	-device ivshmem-plain,memdev=shm,bus=rp1 \
	-display none -serial file:"$run/console.log" -monitor none -no-reboot || rc=$?
say "the machine ran $(( $(date +%s) - t0 ))s (qemu exit $rc)"
sed -n 's/\r$//; /^TRIAL: /s/^TRIAL: //p' "$run/console.log" >"$run/trial.tap"
cat "$run/trial.tap"
grep -q '^1\.\.[0-9]' "$run/trial.tap" || die "the trial did not finish (see $run/console.log)"
if grep -q '^not ok' "$run/trial.tap"; then
	die "the README's install commands failed on Debian's kernel (see $run/console.log)"
fi
say "the README's install commands ran as printed on Debian's $K: $(grep -c '^ok' "$run/trial.tap") checks passed"
