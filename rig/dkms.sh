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

say() { echo "rig: dkms: $*"; }
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
	local ver pkg src h kre
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
	kre=$(sed 's/[.+]/\\&/g' <<<"$K")
	sed -e "s|@VERSION@|$ver|" -e "s|@KERNEL_RE@|$kre|" -e "s|@KERNEL_SOURCE@|$V|" \
		"$repo/dkms/dkms.conf.in" >"$pkg/debian/vfio-p2p-dkms.dkms"
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

case "${1:-}" in
build) cmd_build ;;
*) die "usage: dkms.sh build|check|boot" ;;
esac
