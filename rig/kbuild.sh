#!/usr/bin/env bash
# Configure and build one kernel: kbuild.sh TREE FLAVOR [TARGET...]
#   TREE   stock (the pristine source) or p2p (overlay + series)
#   FLAVOR debug (what make check boots), compat (debug with iommufd's
#          type1-compat container instead of vfio's: make check boots it too),
#          release (base.config alone),
#          bench (base.config + configs/bench.config: what make bench boots),
#          drivers (every vfio driver, only compiled: rig/compile-drivers.sh)
#          drivers-arm64 (the arm64-only and arm64-native vfio drivers,
#          cross-compiled for ARCH=arm64 by rig/compile-drivers.sh)
#          l2 (the nested guest's kernel of the nested-VMM leg:
#          tinyconfig + configs/l2.config alone, rig/nested/README)
#          or l2v (l2 + configs/l2v.config: the leg's vIOMMU variant)
#   TARGET what to make in $BUILD/obj/TREE-FLAVOR (default: the kernel image,
#          bzImage on x86_64)
# Both trees get the same config for a flavor: tinyconfig + configs/base.config
# (+ configs/debug.config, configs/bench.config or configs/drivers.config);
# drivers-arm64 is arm64's tinyconfig + configs/drivers-arm64.config alone
# (base.config is the x86_64 guest), l2 tinyconfig + configs/l2.config alone
# (base.config is L1).  The result is checked against the
# fragments (on the stock tree, except symbols that only our series defines).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$repo/build}
tree=$1 flavor=$2
shift 2
targets=("$@")
case $tree in
stock) srcdir=$BUILD/src/linux ;;
p2p) srcdir=$BUILD/p2p/linux ;;
*) echo "kbuild.sh: unknown tree $tree" >&2; exit 2 ;;
esac
frags=("$repo/configs/base.config")
# The architecture a flavor builds for, and its cross compiler prefix.
arch=x86_64 cross='' image=bzImage
case $flavor in
debug) frags+=("$repo/configs/debug.config") ;;
compat) frags+=("$repo/configs/debug.config" "$repo/configs/compat.config") ;;
release) ;;
bench) frags+=("$repo/configs/bench.config") ;;
drivers) frags+=("$repo/configs/drivers.config") ;;
drivers-nop2p) frags+=("$repo/configs/drivers.config" "$repo/configs/nop2p.config") ;;
l2) frags=("$repo/configs/l2.config") ;;
l2v) frags=("$repo/configs/l2.config" "$repo/configs/l2v.config") ;;
drivers-arm64)
	frags=("$repo/configs/drivers-arm64.config")
	arch=arm64 cross=aarch64-linux-gnu- image=Image
	command -v "${cross}gcc" >/dev/null ||
		{ echo "kbuild.sh: ${cross}gcc missing (make deps installs gcc-aarch64-linux-gnu)" >&2; exit 1; }
	;;
*) echo "kbuild.sh: unknown flavor $flavor" >&2; exit 2 ;;
esac
for f in ${EXTRA_CONFIGS:-}; do frags+=("$f"); done
[ ${#targets[@]} -gt 0 ] || targets=("$image")
obj=$BUILD/obj/$tree-$flavor
mkdir -p "$obj"
jobs=${JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_BASEDIR=$BUILD
export CCACHE_NOHASHDIR=1
export CCACHE_SLOPPINESS=time_macros,include_file_mtime,include_file_ctime
ccache -M 10G >/dev/null 2>&1 || true
kmake() {
	make -s -C "$srcdir" O="$obj" ARCH="$arch" CROSS_COMPILE="$cross" \
		CC="ccache ${cross}gcc" -j"$jobs" "$@"
}

# Reconfigure only when a fragment or the tree's Kconfig inputs changed.
cfgsum=$(cat "${frags[@]}" | sha1sum | cut -c1-40)
if [ ! -f "$obj/.config" ] || [ "$(cat "$obj/.rig-config" 2>/dev/null)" != "$cfgsum" ] ||
   [ -n "$(find "$srcdir" -name 'Kconfig*' -newer "$obj/.config" -print -quit)" ]; then
	echo "rig: configuring $tree-$flavor: $arch tinyconfig + ${frags[*]##*/}"
	kmake tinyconfig >/dev/null
	(cd "$obj" && "$srcdir/scripts/kconfig/merge_config.sh" -m -O "$obj" .config "${frags[@]}" >/dev/null)
	kmake olddefconfig >/dev/null
	echo "$cfgsum" >"$obj/.rig-config"
fi
# Every line of every fragment must have survived Kconfig's dependency rules.
# A line a later fragment overrides (nop2p.config over base.config) is
# that fragment's to check.
bad=0
for i in "${!frags[@]}"; do
	f=${frags[$i]}
	later=("${frags[@]:$((i + 1))}")
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) sym=${line%%=*} ;;
		"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
		*) continue ;;
		esac
		if [ ${#later[@]} -gt 0 ] &&
		   grep -qE "^($sym=|# $sym is not set)" "${later[@]}"; then
			continue
		fi
		if [[ $line == "# "* ]]; then
			! grep -q "^$sym=" "$obj/.config" && continue
		else
			grep -qxF "$line" "$obj/.config" && continue
		fi
		# A symbol our series adds (VFIO_P2P_KUNIT_TEST) does not exist in
		# the stock tree: nothing to keep there.
		if [ "$tree" = stock ] && ! grep -rqE "^[[:space:]]*(menu)?config ${sym#CONFIG_}[[:space:]]*\$" \
			--include='Kconfig*' "$srcdir"; then
			continue
		fi
		echo "rig: config error: ${f##*/} asks for '$line' but .config has '$(grep -E "^$sym=|^# $sym is not set" "$obj/.config" || echo "$sym unset")'" >&2
		bad=1
	done <"$f"
done
[ $bad = 0 ] || { echo "rig: the $tree-$flavor .config lacks required options (a Kconfig dependency is missing?)" >&2; exit 1; }

if [ "${targets[*]}" = "$image" ]; then
	echo "rig: building $tree-$flavor kernel with $jobs jobs (ccache; a cold build takes a few minutes)..."
else
	echo "rig: building ${targets[*]} of $tree-$flavor ($arch) with $jobs jobs (ccache)..."
fi
start=$(date +%s)
touch "$obj/.rig-start"
# A cold build takes minutes: say how it is going every 30 s.  The sleep
# holds no output open, so a pipe reading ours ends when we do.
(while sleep 30 >/dev/null 2>&1; do
	echo "rig:   ...$(( $(date +%s) - start ))s, $(find "$obj" -name '*.o' -newer "$obj/.rig-start" | wc -l) objects compiled"
done) &
ticker=$!
trap 'kill $ticker 2>/dev/null' EXIT
# One kernel build at a time on this machine (2 cores), whoever starts it.
exec 9>"${TMPDIR:-/tmp}/vfio-p2p-kbuild.lock"
flock 9
kmake "${targets[@]}"
flock -u 9
if [ "${targets[*]}" = "$image" ]; then
	echo "rig: built $obj/arch/${arch%_64}/boot/$image in $(( $(date +%s) - start ))s"
else
	echo "rig: built ${targets[*]} of $tree-$flavor in $(( $(date +%s) - start ))s"
fi
