#!/usr/bin/env bash
# checkpatch.pl --strict over every patch of the series and every C file and
# header we own under linux/.  Any ERROR, WARNING or CHECK fails.  Our kernel
# files (not the selftests) must also pass scripts/kernel-doc -Wall.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$repo/build}
src=$BUILD/p2p/linux
cd "$src" || exit 1
# Debian's python3 (checkpatch's spdxcheck.py needs python3-ply), not a pyenv one.
export PATH=/usr/bin:/bin:$PATH
bad=0 n=0
cp=(perl scripts/checkpatch.pl --strict --quiet --no-summary --show-types)
while IFS= read -r p; do
	case "$p" in ''|'#'*) continue ;; esac
	n=$((n + 1))
	if ! out=$("${cp[@]}" "$repo/patches/$p" 2>&1); then
		printf 'checkpatch: patches/%s\n%s\n' "$p" "$out"
		bad=1
	fi
done < <(sed 's/[[:space:]].*//' "$repo/patches/series" 2>/dev/null)
while IFS= read -r f; do
	n=$((n + 1))
	if [ ! -e "$f" ]; then
		echo "checkpatch: linux/$f is not in the p2p tree yet (make tree)"
		bad=1
		continue
	fi
	if ! out=$("${cp[@]}" -f "$f" 2>&1); then
		printf 'checkpatch: linux/%s\n%s\n' "$f" "$out"
		bad=1
	fi
done < <(cd "$repo/linux" && find . -name '*.[ch]' | sed 's|^\./||' | sort)
while IFS= read -r f; do
	if out=$(perl scripts/kernel-doc -Wall -none "$f" 2>&1) && [ -z "$out" ]; then
		continue
	fi
	printf 'kernel-doc: linux/%s\n%s\n' "$f" "$out"
	bad=1
done < <(cd "$repo/linux" && find . -name '*.[ch]' -not -path './tools/*' | sed 's|^\./||' | sort)
if [ $bad = 0 ]; then
	echo "rig: checkpatch --strict: $n file(s) and patch(es) clean; kernel-doc -Wall clean"
else
	echo "rig: checkpatch --strict found problems (above)"
fi
exit $bad
