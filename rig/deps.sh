#!/usr/bin/env bash
# Install every package the rig needs to build and boot, from Debian's archive.
# Usage: deps.sh PINNED_LINUX_SOURCE_VERSION STAMP [dkms]
# With "dkms" (make dkms alone): only what making the DKMS package needs, so
# that a machine that installs it gets no QEMU or cross compiler.
# The linux-source-6.12 version is pinned by the Makefile; when it has left the
# archive we fall back to the newest 6.12 and say so loudly.
set -euo pipefail
pin=$1 stamp=$2 set=${3:-all}

pkgs=(gcc make flex bison bc libelf-dev libssl-dev cpio kmod busybox-static
      qemu-system-x86 quilt ccache xz-utils python3 perl rsync git gnuplot-nox
      ca-certificates python3-ply python3-git python3-docutils gdb
      gcc-aarch64-linux-gnu dkms dh-dkms debhelper)
[ "$set" = dkms ] && pkgs=(make git quilt xz-utils build-essential dkms dh-dkms debhelper)

have_all() {
	local p
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || return 1
	done
	[ "$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null)" = "$want" ]
}

apt() {
	DEBIAN_FRONTEND=noninteractive apt-get "$@"
}

want=$pin
mkdir -p "$(dirname "$stamp")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && have_all; then
	exit 0
fi
if have_all; then
	echo "$want" >"$stamp"
	exit 0
fi

echo "rig: installing build and run dependencies from Debian (apt-get)..."
[ "$(id -u)" = 0 ] || { echo "rig: need root to apt-get install" >&2; exit 1; }
# apt-cache knows nothing before the first update on a fresh machine.
if ! apt-cache show "linux-source-6.12=$pin" >/dev/null 2>&1; then
	apt update -qq
fi
if ! apt-cache show "linux-source-6.12=$pin" >/dev/null 2>&1; then
	newest=$(apt-cache madison linux-source-6.12 | awk '{print $3}' | sort -V | tail -1)
	[ -n "$newest" ] || { echo "rig: linux-source-6.12 is not in the archive" >&2; exit 1; }
	echo "rig: WARNING: pinned linux-source-6.12 $pin has left the archive;" >&2
	echo "rig: WARNING: falling back to the newest 6.12, $newest" >&2
	want=$newest
fi
apt install -y -q --no-install-recommends "${pkgs[@]}" \
	"linux-source-6.12=$want" 2>&1 | grep -E '^(Setting up|E:)' || true
have_all || { echo "rig: package install failed" >&2; exit 1; }
echo "$want" >"$stamp"
echo "rig: dependencies installed (linux-source-6.12 $want)"
