#!/usr/bin/env bash
# make bench: what VFIO type1 MAP_DMA and UNMAP_DMA cost on the stock kernel
# and on ours, in one run, and what revoking N P2P links costs (a peer's
# memory decode off and on, and its release).  Builds both trees with the same config (flavor
# bench: configs/base.config, no debug set, + configs/bench.config for the
# function profiler), boots each in the same QEMU setup with a large sparse
# ivshmem BAR, alternately (stock, p2p, stock, p2p: BENCH_ROUNDS), runs
# vfio_p2p_bench there, and leaves in $BUILD/bench/ the
# table (bench.txt, also printed), bench.csv, bench-samples.csv and
# bench.png.  Exits non-zero when a build or a run failed; timings are
# never judged.
#
#   BENCH_REPS=N        timed repetitions per row, at least (default 5; rows
#                       that take under 1 s in all repeat up to 25 times)
#   BENCH_BAR=SIZES     BAR sizes (default 2M,64M,256M,1G,4G,16G)
#   BENCH_RAM=SIZES     anonymous memory sizes (default 64M,1G)
#   BENCH_LINKS=COUNTS  link counts of the decode-cycle and release rows
#                       (default 1,64,4096; 0: none)
#   BENCH_IVSHMEM=SIZE  the ivshmem BAR, a power of two (default 16G)
#   BENCH_MEM=MIB       guest RAM (default 3072: 1 GiB pinned and the rest)
#   BENCH_ROUNDS=N      boots per kernel, alternating stock, p2p, stock, p2p...
#                       (default 2): a change in host load between boots
#                       shows as a spread between rounds, and bench.py flags
#                       a run whose unchanged (RAM) rows are outside noise
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$repo/build}
export BUILD
export BENCH_REPS=${BENCH_REPS:-5}
export BENCH_BAR=${BENCH_BAR:-2M,64M,256M,1G,4G,16G}
export BENCH_RAM=${BENCH_RAM:-64M,1G}
export BENCH_LINKS=${BENCH_LINKS:-1,64,4096}
ivshmem=${BENCH_IVSHMEM:-16G}
start=$SECONDS

"$repo/rig/kbuild.sh" stock bench
"$repo/rig/kbuild.sh" p2p bench
"$repo/rig/selftests.sh" "$BUILD/kselftest"

# The ivshmem backing file is sparse; BAR pages the guest reads become
# (clean) page cache on the host, dropped with the file after each run.
# q35's 64-bit PCI hole (32 GiB by default in QEMU 7.2) must hold the BAR.
hole=$(( $(numfmt --from=iec "$ivshmem") * 2 ))
[ $hole -ge $((32 << 30)) ] || hole=$((32 << 30))
rounds=${BENCH_ROUNDS:-2}
status=() dirs_stock=() dirs_p2p=()
for round in $(seq 1 "$rounds"); do
	for tree in stock p2p; do
		echo "rig: bench: round $round of $rounds, $tree kernel, at least ${BENCH_REPS} repetitions, BAR sizes $BENCH_BAR, RAM sizes $BENCH_RAM, links $BENCH_LINKS, ${ivshmem} ivshmem"
		rc=0
		run=$BUILD/run/$tree-bench-bench
		load=$(cut -d' ' -f1-3 /proc/loadavg)
		IVSHMEM_SIZE=$ivshmem GUEST_MEM=${BENCH_MEM:-3072} PCI_HOLE64_SIZE=$hole \
		BOOT_TIMEOUT=${BOOT_TIMEOUT:-1500} \
			"$repo/rig/guest-run.sh" bench "$tree" bench || rc=$?
		rm -f "$run/ivshmem0.mem"
		# Other work on the host only ever adds time; say how busy it was.
		echo "$load $(cut -d' ' -f1-3 /proc/loadavg) $(nproc)" >"$run/host-load"
		rm -rf "$run.$round"
		mv "$run" "$run.$round"
		if [ "$tree" = stock ]; then dirs_stock+=("$run.$round"); else dirs_p2p+=("$run.$round"); fi
		status+=("$rc")
	done
done

python3 "$repo/rig/bench.py" --stock "${dirs_stock[@]}" \
	--p2p "${dirs_p2p[@]}" --status "${status[@]}" \
	--out "$BUILD/bench" \
	--title "$(cat "$BUILD/src/linux/.rig-version"), ${ivshmem} BAR"
# A run in which everything booted and mapped is the one the repo keeps:
# bench/bench.txt and bench/bench.csv, which README.md points to.
ok=1
for rc in "${status[@]}"; do [ "$rc" = 0 ] || ok=0; done
if [ $ok = 1 ]; then
	mkdir -p "$repo/bench"
	cp "$BUILD/bench/bench.txt" "$BUILD/bench/bench.csv" "$repo/bench/"
	echo "rig: bench: results copied to bench/ (commit them with the change they measure)"
fi
echo "rig: make bench took $((SECONDS - start))s"
