#!/usr/bin/env bash
# The vfio-p2p DKMS package for Debian's own 6.12 kernel, and its proof.
#
#   dkms.sh build   make build/dkms/vfio-p2p-dkms_VERSION_all.deb (make dkms)
#   dkms.sh check   install it for Debian's kernel with apt and dkms, check
#                   what dkms installed, keep the built modules, remove it
#                   all again (make dkms-check, the first half)
#   dkms.sh boot    boot Debian's own vmlinuz under the rig's QEMU with those
#                   modules and run the P2P kselftests (make dkms-check, the
#                   second half)
#
# Environment: DKMS_KERNEL (the kernel's release, e.g. 6.12.117+deb12-amd64)
# and LINUX_SOURCE_VERSION (the Debian version of linux-source-6.12 and of
# that kernel's image and headers), both from the Makefile.
#
# The package is a small debian/ with dh-dkms (dkms/ in the repo), the way
# Debian's own -dkms packages are made: dh_dkms installs dkms.conf and has
# the maintainer scripts call dkms.  Its source (/usr/src/vfio-p2p-VERSION)
# is drivers/vfio/ of the p2p tree, the headers of include/ that the series
# changes or adds, and dkms/Makefile, which says how they are built against
# the kernel's headers (which headers win, and the Kconfig options).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$repo/build}
K=${DKMS_KERNEL:?DKMS_KERNEL is not set (the Makefile sets it)}
V=${LINUX_SOURCE_VERSION:?LINUX_SOURCE_VERSION is not set (the Makefile sets it)}
p2p=$BUILD/p2p/linux
out=$BUILD/dkms
debs=$BUILD/debian/debs

say() { echo "rig: dkms: [$(date +%T)] $*"; }
die() { echo "rig: dkms: error: $*" >&2; exit 1; }
apt() { DEBIAN_FRONTEND=noninteractive apt-get "$@"; }

# The package version: the kernel's upstream version, then which commit of
# this repo the package was made from.
pkg_version() {
	local n sha
	n=$(git -C "$repo" rev-list --count HEAD)
	sha=$(git -C "$repo" rev-parse --short=12 HEAD)
	echo "${K%%+*}+p2p.$n.g$sha"
}

# Headers of include/ that the series changes (patches/) or adds (linux/):
# the module build must see these, not the kernel headers package's.
changed_headers() {
	{
		sed -n 's|^+++ b/\(include/.*\.h\)$|\1|p' "$repo"/patches/*.patch
		(cd "$repo/linux" && find include -name '*.h')
	} | sort -u
}

cmd_build() {
	[ -d "$p2p/drivers/vfio" ] || die "no p2p tree at $p2p (make tree)"
	local ver pkg src h kre conf
	ver=$(pkg_version)
	pkg=$out/pkg/vfio-p2p-$ver
	src=$pkg/src
	rm -rf "$out/pkg"
	mkdir -p "$src/include" "$src/drivers"
	# -L: the files we own are symlinks into the repo's linux/.
	cp -rL "$p2p/drivers/vfio" "$src/drivers/vfio"
	find "$src" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod*' \) -delete
	for h in $(changed_headers); do
		mkdir -p "$src/$(dirname "$h")"
		cp -L "$p2p/$h" "$src/$h"
	done
	cp "$repo/dkms/Makefile" "$src/Makefile"
	cp -r "$repo/dkms/debian" "$pkg/debian"
	# The kernel's release as an extended regex: its dots and plus literal.
	kre=${K//./\\.}
	kre=${kre//+/\\+}
	conf=$(<"$repo/dkms/dkms.conf.in")
	conf=${conf//@VERSION@/$ver}
	conf=${conf//@KERNEL_RE@/$kre}
	conf=${conf//@KERNEL_SOURCE@/$V}
	printf '%s\n' "$conf" >"$pkg/debian/vfio-p2p-dkms.dkms"
	grep -qxF "BUILD_EXCLUSIVE_KERNEL=\"^$kre\$\"" "$pkg/debian/vfio-p2p-dkms.dkms" ||
		die "dkms.conf: BUILD_EXCLUSIVE_KERNEL is not ^$kre\$"
	{
		echo "vfio-p2p ($ver) bookworm; urgency=medium"
		echo
		echo "  * vfio-p2p series at $(git -C "$repo" rev-parse HEAD), on Debian's"
		echo "    linux-source-6.12 $V, for $K."
		echo
		echo " -- vfio-p2p developers <dev@vfio-p2p.invalid>  $(git -C "$repo" log -1 --format=%aD)"
	} >"$pkg/debian/changelog"
	say "building vfio-p2p-dkms $ver (dpkg-buildpackage, dh-dkms)"
	(cd "$pkg" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 ||
		{ tail -30 "$out/build.log" >&2; die "dpkg-buildpackage failed (log: $out/build.log)"; }
	rm -f "$out"/vfio-p2p-dkms_*_all.deb
	mv "$out/pkg/vfio-p2p-dkms_${ver}_all.deb" "$out/"
	echo "$ver" >"$out/version"
	say "built $out/vfio-p2p-dkms_${ver}_all.deb ($(du -k "$out/vfio-p2p-dkms_${ver}_all.deb" | cut -f1) KiB):"
	dpkg-deb -c "$out/vfio-p2p-dkms_${ver}_all.deb" | awk '{print $6}' |
		grep -E '^\./usr/src/[^/]+/(dkms.conf|Makefile|include/linux/.*\.h)$' | sed 's/^/rig: dkms:     /' || true
}

# --- check: a real install on this machine, undone afterwards -------------
#
# The results are a TAP document, $run/host.tap, which the summary counts.
run=$BUILD/run/debian-dkms
n=0
tap() {	# tap ok|fail DESCRIPTION
	n=$((n + 1))
	if [ "$1" = ok ]; then
		echo "ok $n dkms: $2" >>"$run/host.tap"
	else
		echo "not ok $n dkms: $2" >>"$run/host.tap"
	fi
	echo "rig: dkms: $([ "$1" = ok ] && echo ok || echo FAILED): $2"
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
mods=(vfio vfio_iommu_type1 vfio-pci-core vfio-pci mdev)

# The preinst's GVT-g guard, on made-up roots: it must let a machine without
# GVT-g through and refuse each way of having it.
check_gvt_guard() {
	local pre=$1 root r why
	root=$(mktemp -d)
	mkdir -p "$root/sys/module" "$root/proc" "$root/etc/modprobe.d"
	echo "BOOT_IMAGE=/vmlinuz root=/dev/sda1" >"$root/proc/cmdline"
	if VFIO_P2P_ROOT=$root sh "$pre" install >"$root/out" 2>&1; then
		tap ok "preinst installs where GVT-g is not in use"
	else
		tap fail "preinst refused without GVT-g: $(head -1 "$root/out")"
	fi
	for why in kvmgt enable_gvt cmdline modprobe.d; do
		r=$root/$why
		mkdir -p "$r/sys/module" "$r/proc" "$r/etc/modprobe.d"
		echo "BOOT_IMAGE=/vmlinuz" >"$r/proc/cmdline"
		case $why in
		kvmgt) mkdir -p "$r/sys/module/kvmgt" ;;
		enable_gvt) mkdir -p "$r/sys/module/i915/parameters"
			echo Y >"$r/sys/module/i915/parameters/enable_gvt" ;;
		cmdline) echo "BOOT_IMAGE=/vmlinuz i915.enable_gvt=1" >"$r/proc/cmdline" ;;
		modprobe.d) echo "options i915 enable_guc=0 enable_gvt=1" >"$r/etc/modprobe.d/i915.conf" ;;
		esac
		if VFIO_P2P_ROOT=$r sh "$pre" install >"$r/out" 2>&1; then
			tap fail "preinst installed with GVT-g in use ($why)"
		elif grep -q 'refusing to install: Intel GVT-g is in use' "$r/out" &&
			VFIO_P2P_ROOT=$r VFIO_P2P_IGNORE_GVT=1 sh "$pre" install >/dev/null 2>&1; then
			tap ok "preinst refuses with GVT-g in use ($why): $(head -1 "$r/out" | sed 's/^vfio-p2p-dkms: //')"
		else
			tap fail "preinst with GVT-g in use ($why): wrong message or no override: $(head -1 "$r/out")"
		fi
	done
	rm -rf "$root"
}

cmd_check() {
	[ "$(id -u)" = 0 ] || die "need root (apt-get, dkms)"
	local ver deb t0 standin="" lib=/lib/modules/$K m f path
	ver=$(cat "$out/version" 2>/dev/null) || die "no package built (make dkms)"
	deb=$out/vfio-p2p-dkms_${ver}_all.deb
	[ -f "$deb" ] || die "$deb missing (make dkms)"
	rm -rf "$run"
	mkdir -p "$run" "$out/modules"
	: >"$run/host.tap"
	t0=$(date +%s)

	# A run that died half-way left its package: take it out first.
	installed vfio-p2p-dkms && apt purge -y -q vfio-p2p-dkms >/dev/null
	installed vfio-p2p-rig-image-stand-in && apt purge -y -q vfio-p2p-rig-image-stand-in >/dev/null

	# What the machine has now, to leave it that way.
	dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^ii/ {print $2}' |
		sort >"$run/packages.before"
	local had_lib=0 had_key=0
	[ -e "$lib" ] && had_lib=1
	[ -e /var/lib/dkms/mok.key ] && had_key=1
	# shellcheck disable=SC2064
	trap "undo $had_lib $had_key" EXIT

	check_gvt_guard "$repo/dkms/debian/preinst"

	# linux-headers-$K depends on Debian's image of that kernel.  This
	# machine is not to get that kernel (the rig only boots it under QEMU):
	# where the image is not installed, a stand-in package that provides
	# its -unsigned name at the same version satisfies the dependency.  On
	# a machine that runs Debian's kernel, nothing of the kind is needed.
	if ! installed "linux-image-$K" && ! installed "linux-image-$K-unsigned"; then
		standin=$out/vfio-p2p-rig-image-stand-in_1_all.deb
		mkdir -p "$out/stand-in/DEBIAN"
		cat >"$out/stand-in/DEBIAN/control" <<-X
			Package: vfio-p2p-rig-image-stand-in
			Version: 1
			Architecture: all
			Maintainer: vfio-p2p developers <dev@vfio-p2p.invalid>
			Provides: linux-image-$K-unsigned (= $V)
			Description: stand-in for Debian's kernel image on the rig's host
			 Installed by the vfio-p2p rig (rig/dkms.sh check) for the length of
			 its check, so that linux-headers-$K installs without the kernel.
		X
		dpkg-deb -b "$out/stand-in" "$standin" >/dev/null
		say "linux-image-$K is not installed here (and must not be): a stand-in provides its name"
	fi

	# The headers first, then the package: installed together, the
	# headers' own dkms hook (/etc/kernel/header_postinst.d) could build
	# the package on its own, outside the build lock below.
	say "apt-get install linux-headers-$K=$V"
	apt-cache show "linux-headers-$K=$V" >/dev/null 2>&1 || apt update -qq
	apt install -y --no-install-recommends ${standin:+"$standin"} "linux-headers-$K=$V" \
		>"$run/apt-install.log" 2>&1 ||
		{ tail -20 "$run/apt-install.log" >&2; die "apt-get install failed (log: $run/apt-install.log)"; }
	grep -E '^(Need to get|After this operation)' "$run/apt-install.log" | sed 's/^/rig: dkms: apt: /' || true
	# Its postinst builds and installs the modules for every kernel in
	# /lib/modules that has headers (here, $K): a kernel build, so under
	# the machine's build lock.
	say "apt-get install ./$(basename "$deb") (its postinst builds for $K)"
	(
		exec 9>"${TMPDIR:-/tmp}/vfio-p2p-kbuild.lock"
		flock 9
		apt install -y --no-install-recommends "$deb"
	) >>"$run/apt-install.log" 2>&1 ||
		{ tail -20 "$run/apt-install.log" >&2; die "apt-get install failed (log: $run/apt-install.log)"; }
	if installed vfio-p2p-dkms && [ -d "/usr/src/vfio-p2p-$ver" ]; then
		tap ok "apt-get install ./$(basename "$deb") with linux-headers-$K"
	else
		tap fail "apt-get install: vfio-p2p-dkms not installed"
	fi

	# Any other kernel: dkms refuses to build (BUILD_EXCLUSIVE_KERNEL).
	local other=6.12.118+deb12-amd64 rc=0
	dkms build -m vfio-p2p -v "$ver" -k "$other" >"$run/dkms-other.log" 2>&1 || rc=$?
	if [ $rc = 77 ] && grep -q BUILD_EXCLUSIVE "$run/dkms-other.log"; then
		tap ok "dkms build -k $other refuses: $(grep -o 'includes a BUILD_EXCLUSIVE directive which does not match this kernel[^.]*' "$run/dkms-other.log" | head -1)"
	else
		tap fail "dkms build -k $other: exit $rc, expected 77 (BUILD_EXCLUSIVE): $(tail -1 "$run/dkms-other.log")"
	fi

	# The build itself: one kernel build at a time on this machine.
	say "dkms install -m vfio-p2p -v $ver -k $K"
	local tb rc2=0
	tb=$(date +%s)
	(
		exec 9>"${TMPDIR:-/tmp}/vfio-p2p-kbuild.lock"
		flock 9
		dkms install -m vfio-p2p -v "$ver" -k "$K"
	) >"$run/dkms-install.log" 2>&1 || rc2=$?
	if [ $rc2 = 0 ]; then
		tap ok "dkms install -k $K ($(( $(date +%s) - tb ))s): $(grep -v readelf "$run/dkms-install.log" | grep -m1 -E 'already installed|Installing to|DKMS: install completed' | sed 's/ You may override.*//')"
	else
		tail -30 "$run/dkms-install.log" >&2
		[ -f "/var/lib/dkms/vfio-p2p/$ver/build/make.log" ] &&
			cp "/var/lib/dkms/vfio-p2p/$ver/build/make.log" "$run/dkms-make.log"
		tap fail "dkms install -k $K: exit $rc2 (log: $run/dkms-install.log)"
	fi
	grep -E '^(Sign|Signing|Public|Binary)' "$run/dkms-install.log" | sed 's/^/rig: dkms: /' || true
	local st
	st=$(dkms status -m vfio-p2p -v "$ver" -k "$K" 2>/dev/null)
	say "dkms status: $st"
	if grep -q "^vfio-p2p/$ver, $K, x86_64: installed" <<<"$st"; then
		tap ok "dkms status: vfio-p2p/$ver installed for $K"
	else
		tap fail "dkms status: '$st'"
	fi
	rm -rf "$out/modules/$K"
	mkdir -p "$out/modules/$K"
	for m in "${mods[@]}"; do
		path=$(modinfo -k "$K" -n "$m" 2>/dev/null || true)
		case "$path" in
		"$lib/updates/dkms/$m.ko"*)
			if [ "$(modinfo -F vermagic "$path" | cut -d' ' -f1)" = "$K" ]; then
				tap ok "modinfo -k $K $m: ${path#"$lib/"}"
				cp "$path" "$out/modules/$K/"
			else
				tap fail "$path: vermagic '$(modinfo -F vermagic "$path")'"
			fi
			;;
		*) tap fail "modinfo -k $K $m: '$path', not under updates/dkms" ;;
		esac
	done

	# Take it out again; Debian's modules come back.
	apt purge -y -q vfio-p2p-dkms >"$run/apt-remove.log" 2>&1 ||
		{ tail -20 "$run/apt-remove.log" >&2; tap fail "apt-get purge vfio-p2p-dkms failed"; }
	st=$(dkms status -m vfio-p2p 2>/dev/null)
	left=$( (find "$lib/updates/dkms" -name '*.ko*' 2>/dev/null || true) | wc -l)
	if ! installed vfio-p2p-dkms && [ -z "$st" ] && [ "$left" = 0 ] && [ ! -e "/usr/src/vfio-p2p-$ver" ]; then
		tap ok "apt-get purge vfio-p2p-dkms: dkms status empty, no module left under updates/dkms"
	else
		tap fail "after apt-get purge: status '$st', $left module(s) left under $lib/updates/dkms"
	fi
	for m in "${mods[@]}"; do
		path=$(modinfo -k "$K" -n "$m" 2>/dev/null || true)
		if installed "linux-image-$K" || installed "linux-image-$K-unsigned"; then
			case "$path" in
			"$lib/kernel/drivers/vfio/"*) tap ok "after removal, modinfo -k $K $m: Debian's ${path#"$lib/"}" ;;
			*) tap fail "after removal, modinfo -k $K $m: '$path', not Debian's" ;;
			esac
		elif [ -z "$path" ]; then
			# No Debian image here: nothing of ours may be left in its place.
			# That Debian's modules load again in their place is what the
			# stock boot shows (dkms.sh boot, DKMS_STOCK=1).
			tap ok "after removal, modinfo -k $K $m: none (Debian's image is not installed here)"
		else
			tap fail "after removal, modinfo -k $K $m: '$path' is left"
		fi
	done
	trap - EXIT
	undo "$had_lib" "$had_key"
	say "check done in $(( $(date +%s) - t0 ))s; modules kept in $out/modules/$K"
	! grep -q '^not ok' "$run/host.tap"
}

# Leave the machine as it was: the packages this check installed (the
# headers and what they pulled in, the stand-in), the key dkms made, the
# module directory of a kernel this machine does not have.
undo() {
	local had_lib=$1 had_key=$2 new
	installed vfio-p2p-dkms && apt purge -y -q vfio-p2p-dkms >/dev/null 2>&1
	dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^ii/ {print $2}' |
		sort >"$run/packages.after"
	new=$(comm -13 "$run/packages.before" "$run/packages.after" | tr '\n' ' ')
	if [ -n "$new" ]; then
		say "removing what the check installed: $new"
		# shellcheck disable=SC2086
		apt purge -y -q $new >"$run/apt-undo.log" 2>&1 ||
			{ tail -20 "$run/apt-undo.log" >&2; tap fail "apt-get purge $new failed"; }
	fi
	[ "$had_key" = 1 ] || rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub
	[ "$had_lib" = 1 ] || rm -rf "/lib/modules/$K"
	dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^ii/ {print $2}' |
		sort >"$run/packages.after"
	if cmp -s "$run/packages.before" "$run/packages.after"; then
		tap ok "the machine's packages are as before the check"
	else
		tap fail "packages differ from before: $(diff "$run/packages.before" "$run/packages.after" | grep '^[<>]' | tr '\n' ' ')"
	fi
}

case "${1:-}" in
build) cmd_build ;;
check) cmd_check ;;
*) die "usage: dkms.sh build|check|boot" ;;
esac
