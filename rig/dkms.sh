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

check_kvmgt() {
	# The CRCs our modules expect of vfio's symbols are those our vfio.ko
	# exports (they load together: the boot shows it); kvmgt's are those
	# Debian's exports.
	local kvmgt m f both differ
	kvmgt=$(modinfo -k "$K" -n kvmgt 2>/dev/null || true)
	if [ ! -f "$kvmgt" ]; then
		tap fail "kvmgt: no kvmgt.ko for $K ('$kvmgt')"
		return
	fi
	modprobe --dump-modversions "$kvmgt" | sort -u -k2,2 >"$run/kvmgt.crcs"
	for m in vfio_iommu_type1 vfio-pci-core vfio-pci mdev; do
		f=$(modinfo -k "$K" -n "$m")
		modprobe --dump-modversions "$f"
	done | sort -u -k2,2 >"$run/ours.crcs"
	both=$(join -1 2 -2 2 "$run/kvmgt.crcs" "$run/ours.crcs" | grep -E '^_?(vfio|mdev)' || true)
	differ=$(awk '$2 != $3 {print $1}' <<<"$both")
	if [ -n "$both" ] && [ -n "$differ" ]; then
		tap ok "kvmgt.ko cannot load with ours: $(wc -l <<<"$differ") of the $(wc -l <<<"$both") vfio symbols it shares with our modules have other CRCs ($(head -3 <<<"$differ" | tr '\n' ' ')...)"
	else
		tap fail "kvmgt.ko: of $(wc -l <<<"$both") shared vfio symbols none has another CRC: dkms/README.md's GVT-g statement is not shown"
	fi
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

	# A run that died half-way left things behind, listed in $state: the
	# packages it brought, and marks on what it made.  Take them out first.
	local state=$out/check-state
	installed vfio-p2p-dkms && apt purge -y -q vfio-p2p-dkms >/dev/null
	if [ -s "$state" ]; then
		say "undoing what an unfinished check left: $(tr '\n' ' ' <"$state")"
		# shellcheck disable=SC2046
		apt purge -y -q $(for p in $(cat "$state"); do installed "$p" && echo "$p"; done) \
			>/dev/null 2>&1 || true
	fi
	rm -f "$state"
	[ -e "$lib/.vfio-p2p-rig" ] && rm -rf "$lib"
	[ -e /var/lib/dkms/.vfio-p2p-rig-mok ] &&
		rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub /var/lib/dkms/.vfio-p2p-rig-mok

	# What the machine has now, to leave it that way.
	dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^ii/ {print $2}' |
		sort >"$run/packages.before"
	local had_lib=0 had_key=0
	[ -e "$lib" ] && had_lib=1
	[ -e /var/lib/dkms/mok.key ] && had_key=1
	[ $had_lib = 1 ] || { mkdir -p "$lib"; touch "$lib/.vfio-p2p-rig"; }
	[ $had_key = 1 ] || { mkdir -p /var/lib/dkms; touch /var/lib/dkms/.vfio-p2p-rig-mok; }
	# shellcheck disable=SC2064
	trap "undo $had_lib $had_key" EXIT

	check_gvt_guard "$repo/dkms/debian/preinst"

	# Where Debian's image is not installed, its modules are put in place
	# as the image would (from the downloaded image, see fetch_image): so
	# that dkms meets Debian's vfio modules, as on a user's machine (its
	# version check, .ko.xz), and that their return can be checked.  They
	# go again afterwards with the rest of /lib/modules/$K.
	if [ ! -d "$lib/kernel" ]; then
		fetch_image
		cp -a "$BUILD/debian/image/lib/modules/$K/." "$lib/"
		depmod "$K"
		say "Debian's modules of $K put in $lib (from $(cat "$BUILD/debian/image/.rig-deb"))"
	fi
	for m in "${mods[@]}"; do
		path=$(modinfo -k "$K" -n "$m" 2>/dev/null || true)
		case "$path" in
		"$lib/kernel/drivers/vfio/"*) ;;
		*) die "before the install, modinfo -k $K $m is '$path', not Debian's" ;;
		esac
	done

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
	apt install -s --no-install-recommends ${standin:+"$standin"} "linux-headers-$K=$V" "$deb" 2>/dev/null |
		awk '/^Inst / {print $2}' >"$state"
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
				case "$path" in
				*.xz) xz -df "$out/modules/$K/$(basename "$path")" ;;
				esac
			else
				tap fail "$path: vermagic '$(modinfo -F vermagic "$path")'"
			fi
			;;
		*) tap fail "modinfo -k $K $m: '$path', not under updates/dkms" ;;
		esac
	done

	# What the package cannot replace: Debian's kvmgt.ko (GVT-g) asks for
	# vfio's symbols with the CRCs of Debian's layout; the series changes
	# struct vfio_device, so ours differ and the kernel would refuse it.
	check_kvmgt

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
		case "$path" in
		"$lib/kernel/drivers/vfio/"*) tap ok "after removal, modinfo -k $K $m: Debian's ${path#"$lib/"}" ;;
		*) tap fail "after removal, modinfo -k $K $m: '$path', not Debian's" ;;
		esac
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
	[ "$had_key" = 1 ] || rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub /var/lib/dkms/.vfio-p2p-rig-mok
	[ "$had_lib" = 1 ] || rm -rf "/lib/modules/$K"
	rm -f "$out/check-state"
	dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^ii/ {print $2}' |
		sort >"$run/packages.after"
	if cmp -s "$run/packages.before" "$run/packages.after"; then
		tap ok "the machine's packages are as before the check"
	else
		tap fail "packages differ from before: $(diff "$run/packages.before" "$run/packages.after" | grep '^[<>]' | tr '\n' ' ')"
	fi
}

# --- boot: Debian's own kernel under the rig's QEMU -----------------------
#
# Debian's linux-image-$K, downloaded with apt (never installed here: it is
# unpacked under $BUILD/debian/image) and cached in $debs, so that a warm
# run downloads nothing.  The guest gets the modules dkms built (cmd_check
# kept them), the Debian modules they depend on (modprobe --show-depends
# against a depmod'ed copy of the image's modules with ours in
# updates/dkms, as on an installed machine) and the kselftests; its init
# loads them, checks whose they are, binds the devices and runs the P2P
# kselftests.  DKMS_STOCK=1 boots the same with Debian's own modules.
P2P_TESTS=vfio:vfio_p2p_dma_test,vfio:vfio_p2p_map_test,vfio:vfio_p2p_lifetime_test

fetch_image() {
	local deb=$debs/linux-image-${K}_${V}_amd64.deb img=$BUILD/debian/image
	if [ ! -f "$deb" ]; then
		mkdir -p "$debs"
		apt-cache show "linux-image-$K=$V" >/dev/null 2>&1 || apt update -qq
		say "apt-get download linux-image-$K=$V (into $debs)"
		(cd "$debs" && apt-get download -q "linux-image-$K=$V") >"$debs/download.log" 2>&1 ||
			{ cat "$debs/download.log" >&2; die "apt-get download linux-image-$K=$V failed"; }
		say "downloaded $(du -m "$deb" | cut -f1) MiB"
	fi
	if [ ! -f "$img/.rig-deb" ] || [ "$(cat "$img/.rig-deb")" != "$(basename "$deb")" ]; then
		rm -rf "$img"
		mkdir -p "$img"
		dpkg-deb -x "$deb" "$img"
		basename "$deb" >"$img/.rig-deb"
	fi
	[ -f "$img/boot/vmlinuz-$K" ] || die "no vmlinuz-$K in $deb"
}

cmd_boot() {
	local img=$BUILD/debian/image whose=ours stage mods m f line name src
	[ "${DKMS_STOCK:-}" = 1 ] && whose=debian
	local run=$BUILD/run/debian-$([ $whose = ours ] && echo ours || echo stock)-check
	fetch_image
	# The kernel's modules as an installed machine has them, ours (when
	# booting ours) in updates/dkms, where they win over kernel/.
	stage=$BUILD/debian/stage
	rm -rf "$stage"
	mkdir -p "$stage/lib/modules"
	cp -al "$img/lib/modules/$K" "$stage/lib/modules/$K"
	if [ $whose = ours ]; then
		[ -f "$out/modules/$K/vfio.ko" ] || die "no dkms-built modules in $out/modules/$K (dkms.sh check)"
		mkdir -p "$stage/lib/modules/$K/updates/dkms"
		cp "$out/modules/$K"/*.ko "$stage/lib/modules/$K/updates/dkms/"
	fi
	depmod -b "$stage" "$K"
	mods=$run.modules
	rm -rf "$mods"
	mkdir -p "$mods"
	: >"$mods/load"
	# vfio_iommu_type1 and mdev are no dependency of vfio-pci: asked for
	# by name, each after what it needs.
	for m in vfio-pci vfio_iommu_type1 mdev; do
		modprobe -d "$stage" -S "$K" --show-depends "$m" >"$mods/deps" ||
			die "modprobe --show-depends $m against $stage failed"
		while read -r line; do
			f=${line#insmod }
			f=${f%% *}
			f=${f#"$stage/lib/modules/$K/"}
			name=$(basename "$f")
			name=${name%%.ko*}
			name=${name//-/_}
			grep -q "^$name " "$mods/load" && continue
			case "$f" in
			updates/dkms/*) [ $whose = ours ] || die "$f: ours in a stock boot" ;;
			kernel/drivers/vfio/*) [ $whose = debian ] || die "$f: Debian's vfio module in our boot" ;;
			esac
			mkdir -p "$mods/$(dirname "$f")"
			case "$f" in
			*.xz) xz -dc "$stage/lib/modules/$K/$f" >"$mods/${f%.xz}"; f=${f%.xz} ;;
			*) cp "$stage/lib/modules/$K/$f" "$mods/$f" ;;
			esac
			src=$(modinfo -F srcversion "$mods/$f")
			echo "$name $f${src:+ $src}" >>"$mods/load"
		done <"$mods/deps"
	done
	rm -f "$mods/deps"
	say "guest modules ($whose): $(awk '{print $2}' "$mods/load" | tr '\n' ' ')"

	rm -rf "$run"
	mkdir -p "$run"
	GUEST_MODULES=$mods "$repo/rig/initramfs.sh" "$BUILD/src/linux" "$BUILD/kselftest" \
		"$run/initramfs.cpio" ""
	say "booting Debian's $K ($whose modules) under QEMU (TCG, q35, intel-iommu, edu + ivshmem)"
	local rc=0 t0
	t0=$(date +%s)
	BOOT_TIMEOUT=${DKMS_BOOT_TIMEOUT:-1200} "$repo/rig/boot.sh" "$img/boot/vmlinuz-$K" \
		"$run/initramfs.cpio" "$run" check "rig.modules=$whose rig.only=$P2P_TESTS" || rc=$?
	say "boot took $(( $(date +%s) - t0 ))s"
	echo "$rc" >"$run/qemu-status"
	local tap=()
	[ $whose = ours ] && tap=(--tap "dkms: install=$BUILD/run/debian-dkms/host.tap")
	python3 "$repo/rig/summary.py" --srcdir "$BUILD/src/linux" --out "$run" --qemu-status $rc \
		--no-kunit --config "$img/boot/config-$K" "${tap[@]}"
}

case "${1:-}" in
build) cmd_build ;;
check) cmd_check ;;
boot) cmd_boot ;;
*) die "usage: dkms.sh build|check|boot" ;;
esac
