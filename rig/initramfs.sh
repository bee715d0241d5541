#!/usr/bin/env bash
# Build the guest initramfs with the kernel's own usr/gen_init_cpio:
# busybox-static, rig/guest/init (with rig/guest/timeout and rig/guest/dump),
# the installed kselftests and, when given,
# every executable of EXTRA_TESTS (run after ours, in file-name order) and,
# with GUEST_MODULES=DIR, the files of DIR as /lib/modules/ (the guest's
# init loads the modules DIR/load lists: rig/dkms.sh boot) and, with
# VMM_LEG=1 (rig/guest-run.sh, check mode), the real-VMM leg: the kselftest
# collection "vmm" (rig/guest/vmm/, listed after the installed ones in
# kselftest-list.txt) and what it runs, this host's own Debian QEMU:
# qemu-system-x86_64, every shared library it and its TCG module load
# (ldd), the module, and the firmware it reads for a q35 guest (SeaBIOS's
# bios-256k.bin, kvmvapic.bin), at their paths on the host; with
# NESTED_L2=DIR as well (rig/nested/prep.sh makes DIR), the nested-VMM
# leg: the kselftest collection "nested" (rig/nested/guest/), DIR's L2
# kernels and initramfs (both variants) and QMP client as /nested/, and the option ROM QEMU
# boots a -kernel with (linuxboot_dma.bin).
# Usage: initramfs.sh SRCDIR KSELFTEST_INSTALL_DIR OUT.cpio [EXTRA_TESTS_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$repo/build}
srcdir=$1 ksft=$2 out=$3 extra=${4:-}
gen=$BUILD/tools/gen_init_cpio
mkdir -p "$(dirname "$gen")"
if [ ! -x "$gen" ] || [ "$srcdir/usr/gen_init_cpio.c" -nt "$gen" ]; then
	gcc -O2 -o "$gen" "$srcdir/usr/gen_init_cpio.c"
fi
list=$out.list
vmm=$repo/rig/guest/vmm
qemu_bin=/usr/bin/qemu-system-x86_64
qemu_mod=/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so
qemu_fw="/usr/share/seabios/bios-256k.bin /usr/share/qemu/kvmvapic.bin"
nested=$repo/rig/nested/guest
if [ -n "${NESTED_L2:-}" ]; then
	[ "${VMM_LEG:-}" = 1 ] || { echo "rig: NESTED_L2 needs the real-VMM leg (a check boot)" >&2; exit 1; }
	for f in "$NESTED_L2/bzImage" "$NESTED_L2/l2.cpio" "$NESTED_L2/bzImage-l2v" \
		"$NESTED_L2/l2v.cpio" "$NESTED_L2/qmp"; do
		[ -f "$f" ] || { echo "rig: $f missing (rig/nested/prep.sh makes it)" >&2; exit 1; }
	done
	qemu_fw="$qemu_fw /usr/share/qemu/linuxboot_dma.bin"
fi
if [ "${VMM_LEG:-}" = 1 ]; then
	for f in $qemu_bin $qemu_mod $qemu_fw; do
		[ -f "$f" ] || { echo "rig: $f missing (Debian's qemu-system-x86 and seabios)" >&2; exit 1; }
	done
	# The kselftest list with the vmm collection after the installed ones.
	{
		cat "$ksft/kselftest-list.txt"
		for f in $(cd "$vmm" && ls | sort); do
			if [ -x "$vmm/$f" ]; then echo "vmm:$f"; fi
		done
		if [ -n "${NESTED_L2:-}" ]; then
			for f in $(cd "$nested" && ls | sort); do
				if [ -x "$nested/$f" ]; then echo "nested:$f"; fi
			done
		fi
	} >"$out.kselftest-list.txt"
fi
{
	for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /kselftest; do
		echo "dir $d 0755 0 0"
	done
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "file /bin/busybox /bin/busybox 0755 0 0"
	echo "slink /bin/sh busybox 0777 0 0"
	echo "file /usr/bin/timeout $repo/rig/guest/timeout 0755 0 0"
	echo "file /bin/rig-dump $repo/rig/guest/dump 0755 0 0"
	echo "file /init $repo/rig/guest/init 0755 0 0"
	(cd "$ksft" && find . -mindepth 1 | sort) | while IFS= read -r f; do
		f=${f#./}
		if [ -d "$ksft/$f" ]; then
			echo "dir /kselftest/$f 0755 0 0"
		elif [ "$f" = kselftest-list.txt ] && [ "${VMM_LEG:-}" = 1 ]; then
			echo "file /kselftest/$f $out.kselftest-list.txt 0644 0 0"
		else
			echo "file /kselftest/$f $(readlink -f "$ksft/$f") 0755 0 0"
		fi
	done
	if [ "${VMM_LEG:-}" = 1 ]; then
		echo "dir /kselftest/vmm 0755 0 0"
		for f in $(cd "$vmm" && ls | sort); do
			echo "file /kselftest/vmm/$f $vmm/$f $([ -x "$vmm/$f" ] && echo 0755 || echo 0644) 0 0"
		done
		# Debian's QEMU as the host has it: on a merged-/usr host, ldd names
		# /lib/x86_64-linux-gnu and /lib64, which the guest gets as real
		# directories.
		for d in /lib /lib/x86_64-linux-gnu /lib64 /usr/lib /usr/lib/x86_64-linux-gnu \
			/usr/lib/x86_64-linux-gnu/qemu /usr/share /usr/share/seabios /usr/share/qemu; do
			echo "dir $d 0755 0 0"
		done
		if [ -n "${NESTED_L2:-}" ]; then
			echo "dir /kselftest/nested 0755 0 0"
			for f in $(cd "$nested" && ls | sort); do
				echo "file /kselftest/nested/$f $nested/$f $([ -x "$nested/$f" ] && echo 0755 || echo 0644) 0 0"
			done
			echo "dir /nested 0755 0 0"
			echo "file /nested/bzImage $(readlink -f "$NESTED_L2/bzImage") 0644 0 0"
			echo "file /nested/l2.cpio $(readlink -f "$NESTED_L2/l2.cpio") 0644 0 0"
			echo "file /nested/bzImage-l2v $(readlink -f "$NESTED_L2/bzImage-l2v") 0644 0 0"
			echo "file /nested/l2v.cpio $(readlink -f "$NESTED_L2/l2v.cpio") 0644 0 0"
			echo "file /nested/qmp $(readlink -f "$NESTED_L2/qmp") 0755 0 0"
		fi
		echo "file $qemu_bin $qemu_bin 0755 0 0"
		echo "file $qemu_mod $qemu_mod 0644 0 0"
		for f in $qemu_fw; do
			echo "file $f $(readlink -f "$f") 0644 0 0"
		done
		ldd $qemu_bin $qemu_mod | awk '/=> \//{ print $3 } /^\t\/lib64\//{ print $1 }' | sort -u |
			while read -r lib; do
				echo "file $lib $(readlink -f "$lib") 0755 0 0"
			done
	fi
	if [ -n "${GUEST_MODULES:-}" ]; then
		[ "${VMM_LEG:-}" = 1 ] || echo "dir /lib 0755 0 0"
		echo "dir /lib/modules 0755 0 0"
		(cd "$GUEST_MODULES" && find . -mindepth 1 | sort) | while IFS= read -r f; do
			f=${f#./}
			if [ -d "$GUEST_MODULES/$f" ]; then
				echo "dir /lib/modules/$f 0755 0 0"
			else
				echo "file /lib/modules/$f $(readlink -f "$GUEST_MODULES/$f") 0644 0 0"
			fi
		done
	fi
	if [ -n "$extra" ]; then
		[ -d "$extra" ] || { echo "rig: EXTRA_TESTS=$extra is not a directory" >&2; exit 1; }
		echo "dir /kselftest/extra 0755 0 0"
		echo "file /kselftest/extra/settings $repo/rig/guest/extra-settings 0644 0 0"
		n=0
		for f in $(cd "$extra" && ls | sort); do
			[ -f "$extra/$f" ] && [ -x "$extra/$f" ] || continue
			echo "file /kselftest/extra/$f $(readlink -f "$extra/$f") 0755 0 0"
			n=$((n + 1))
		done
		echo "rig: EXTRA_TESTS: $n executable(s) from $extra" >&2
	fi
} >"$list"
"$gen" "$list" >"$out"
