#!/usr/bin/env bash
# The kernel's own documentation tooling over what we own, in the p2p tree:
#  1. scripts/kernel-doc -none -Wall -Werror on every C file and header under
#     linux/ but the selftests (userspace): any warning fails;
#  2. every rst file under linux/Documentation/ parsed by docutils
#     (rig/rstcheck.py), its kernel-doc directives run through
#     scripts/kernel-doc as Sphinx would run them: any warning fails;
#  3. each of those rst files is listed in a toctree of its directory's
#     index.rst (a hunk of a patch in the series), so htmldocs reaches it.
# Sphinx itself is not used: make htmldocs of the whole tree takes far longer
# than the rest of make check, and docutils (python3-docutils) is enough to
# catch what a reviewer's htmldocs would warn about, cross references aside.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$repo/build}
src=$BUILD/p2p/linux
cd "$src" || exit 1
# Debian's python3, which has python3-docutils (rig/deps.sh), not a pyenv one.
export PATH=/usr/bin:/bin:$PATH
bad=0 nc=0 nr=0
while IFS= read -r f; do
	nc=$((nc + 1))
	if out=$(perl scripts/kernel-doc -none -Wall -Werror "$f" 2>&1) && [ -z "$out" ]; then
		continue
	fi
	printf 'rig: docs: kernel-doc linux/%s\n%s\n' "$f" "$out"
	bad=1
done < <(cd "$repo/linux" && find . -name '*.[ch]' -not -path './tools/*' | sed 's|^\./||' | sort)
while IFS= read -r f; do
	nr=$((nr + 1))
	if [ ! -e "$f" ]; then
		echo "rig: docs: linux/$f is not in the p2p tree yet (make tree)"
		bad=1
		continue
	fi
	python3 "$repo/rig/rstcheck.py" . "$f" || bad=1
	index=$(dirname "$f")/index.rst
	name=$(basename "$f" .rst)
	if ! grep -qE "^[[:space:]]+$name[[:space:]]*\$" "$index" 2>/dev/null; then
		echo "rig: docs: linux/$f is in no toctree of $index (add it there with a patch)"
		bad=1
	fi
done < <(cd "$repo/linux" && find ./Documentation -name '*.rst' 2>/dev/null | sed 's|^\./||' | sort)
if [ $bad = 0 ]; then
	echo "rig: docs: kernel-doc -Wall clean on $nc file(s); $nr rst file(s) parse cleanly with their kernel-doc and are in a toctree"
else
	echo "rig: docs: problems (above)"
fi
exit $bad
