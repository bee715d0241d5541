#!/usr/bin/env bash
# Build and install our kselftests (static) from the p2p tree with the
# kernel's own kselftest Makefiles: the result is a run_kselftest.sh tree.
# Usage: selftests.sh INSTALL_DIR
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$repo/build}
src=$BUILD/p2p/linux
obj=$BUILD/obj/selftests
install=$(realpath -m "$1")
mkdir -p "$obj"
mk() { env -u BUILD make -s -C "$src" O="$obj" ARCH=x86_64 "$@"; }
mk headers >/dev/null
rm -rf "$install"
# vfio: ours (tools/testing/selftests/vfio/).  iommu: iommufd's own selftest
# over its mock IOMMU (CONFIG_IOMMUFD_TEST), which make check runs in a boot
# of its own (make iommufd-selftest); its Makefile does not link statically,
# and the guest has no libc, so LDFLAGS says so (ours adds -static itself).
env -u BUILD LDFLAGS=-static make -s -C "$src/tools/testing/selftests" O="$obj" \
	TARGETS="vfio iommu" KSFT_INSTALL_PATH="$install" install >/dev/null
echo "rig: kselftests installed in $install: $(cat "$install/kselftest-list.txt" | tr '\n' ' ')"
