#!/usr/bin/env bash
# The series as a maintainer gets it: git format-patch output, and its checks.
#
#   series.sh export   write $BUILD/series/0000-cover-letter.patch and
#                      00NN-*.patch (make series)
#   series.sh check    export, then: git am of it onto the pristine source
#                      must give the p2p tree exactly (diff -r), and
#                      checkpatch.pl --strict must pass every exported patch
#                      (make series-check runs check, then bisect).  It
#                      also notes, without failing, a patch that rewrites
#                      lines an earlier patch of the series added (git
#                      blame), and added files no MAINTAINERS entry covers:
#                      checkpatch runs as rig/checkpatch.sh runs it, but
#                      with --ignore FILE_PATH_CHANGES, as the series adds
#                      files and no MAINTAINERS hunk.
#   series.sh bisect   every prefix of the export compiles with W=1, no
#                      warning, no undefined reference inside the series
#                      (make series-bisect; make series-check runs it too)
#
# How the commits are made.  The repo keeps upstream changes as quilt
# patches (patches/series) and the files we own whole under linux/.  The
# export replays them into a scratch git repository, $BUILD/series-git,
# that shares its objects with the p2p tree's git baseline (whose one
# commit is the pristine source): one commit per entry of
# patches/owned-files, in that file's order, each made of
#   - the quilt patch of that name (git apply --cached, no fuzz), and
#   - the owned files listed under it, added whole, as linux/ has them now.
# patches/owned-files names every patch of patches/series, in series order,
# and every file under linux/ exactly once; an entry that is not in
# patches/series is a commit of owned files alone, whose message lives in
# patches/owned/NAME (a patch header with no diff).  The commit message and
# author come from each patch's header (From:, Subject: without its
# [PATCH] tag, the body with its Signed-off-by).  Dates are the date of the
# project's HEAD commit, so the same repo exports the same series.
#
# The cover letter is rig/series-cover.txt: its first line is the
# subject, the rest the body, in which @BENCH@ becomes the ratios read from
# $BENCH_CSV (default $BUILD/bench/bench.csv, what make bench writes, else
# bench/bench.csv, the run the repo keeps), or a
# line saying no bench was run (neither file exists), and @SOURCE@ the
# Debian source version.
#
# check and bisect work in $BUILD/series-am/linux, a checkout of the scratch
# repository: git am of the export onto its pristine commit.  bisect checks
# out each prefix there in turn (so each build is incremental) and builds
# it in one persistent obj dir per config, $BUILD/obj/series-drivers and
# $BUILD/obj/series-drivers-arm64 (the configs of make compile-drivers:
# tinyconfig + configs/base.config + configs/drivers.config on x86_64, plus
# configs/series-bisect.config for the test IOMMU, and arm64's tinyconfig +
# configs/drivers-arm64.config), with W=1, ccache and under rig/kbuild.sh's
# machine-wide build lock.  The targets: drivers/vfio/,
# drivers/iommu/iommufd/ (x86_64) and samples/vfio-mdev/ (the KUnit suites
# are in drivers/vfio/).  Built-in
# objects are not linked here, so an undefined reference is found with nm:
# a symbol the last prefix defines in those directories must be defined at
# every prefix that uses it.  A prefix whose exact tree built clean before
# with the same config is not built again ($obj/.series-ok/;
# SERIES_BISECT_FORCE=1 builds every prefix anyway).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$repo/build}
src=$BUILD/src/linux
p2p=$BUILD/p2p/linux
out=$BUILD/series
scratch=$BUILD/series-git
amdir=$BUILD/series-am/linux
manifest=$repo/patches/owned-files
template=$repo/rig/series-cover.txt
# The bench run the cover letter quotes: this work tree's latest, else the
# one the repo keeps (bench/, copied there by make bench).
if [ -z "${BENCH_CSV:-}" ]; then
	BENCH_CSV=$BUILD/bench/bench.csv
	[ -s "$BENCH_CSV" ] || BENCH_CSV=$repo/bench/bench.csv
fi

say() { echo "rig: series: $*"; }
die() { echo "rig: series: error: $*" >&2; exit 1; }

g() { git -C "$scratch" -c core.quotePath=false "$@"; }

series_patches() { sed -e 's/[[:space:]]*#.*//' -e '/^[[:space:]]*$/d' "$repo/patches/series"; }

# The manifest as "COMMIT" lines, each followed by "<TAB>FILE" lines.
manifest_lines() { sed -e 's/[[:space:]]*#.*//' -e '/^[[:space:]]*$/d' "$manifest"; }
manifest_commits() { manifest_lines | grep -v '^[[:space:]]' ; }

# Check the manifest against patches/series and linux/.
check_manifest() {
	[ -f "$manifest" ] || die "patches/owned-files missing"
	local bad=0 f c
	if ! diff <(series_patches) <(manifest_commits | while read -r c; do
		[ -f "$repo/patches/owned/$c" ] || echo "$c"
	done) >/dev/null; then
		echo "rig: series: patches/owned-files must name every patch of patches/series, in its order:" >&2
		diff <(series_patches) <(manifest_commits | while read -r c; do
			[ -f "$repo/patches/owned/$c" ] || echo "$c"; done) >&2 || true
		bad=1
	fi
	while read -r c; do
		if grep -qxF -- "$c" <(series_patches); then
			[ ! -e "$repo/patches/owned/$c" ] || { echo "rig: series: $c is both a quilt patch and patches/owned/$c" >&2; bad=1; }
		elif [ ! -f "$repo/patches/owned/$c" ]; then
			echo "rig: series: patches/owned-files: $c is neither in patches/series nor in patches/owned/" >&2
			bad=1
		fi
	done < <(manifest_commits)
	local listed have
	listed=$(manifest_lines | grep '^[[:space:]]' | sed 's/^[[:space:]]*//' | sort)
	have=$(cd "$repo/linux" && find . -type f | sed 's|^\./||' | sort)
	if [ -n "$(sort <<<"$listed" | uniq -d)" ]; then
		echo "rig: series: patches/owned-files lists these more than once: $(sort <<<"$listed" | uniq -d | tr '\n' ' ')" >&2
		bad=1
	fi
	f=$(comm -13 <(sort -u <<<"$listed") <(echo "$have"))
	[ -z "$f" ] || { echo "rig: series: owned files no commit introduces (add them to patches/owned-files): $(echo $f)" >&2; bad=1; }
	f=$(comm -23 <(sort -u <<<"$listed") <(echo "$have"))
	[ -z "$f" ] || { echo "rig: series: patches/owned-files lists files linux/ does not have: $(echo $f)" >&2; bad=1; }
	[ $bad = 0 ] || die "fix patches/owned-files"
}

# header_field PATCH FIELD: the value of a mail header of the patch.
header_field() { sed -n "/^$2: /{s/^$2: //p;q}" "$1"; }

# The commit message of a patch: subject (without [PATCH...]), blank, body.
commit_message() {
	local p=$1 subject
	subject=$(awk '/^Subject: /{s=substr($0,10); getline; while ($0 ~ /^[ \t]/) {sub(/^[ \t]+/, " "); s=s $0; getline}; print s; exit}' "$p")
	subject=$(sed -E 's/^\[[^]]*PATCH[^]]*\] *//' <<<"$subject")
	[ -n "$subject" ] || die "$p: no Subject: line"
	printf '%s\n\n' "$subject"
	# The body: after the header block, up to the first diff line.
	awk 'BEGIN {h = 1}
	     h && /^$/ {h = 0; next}
	     h {next}
	     /^(--- a\/|--- \/dev\/null|diff |Index: |---$)/ {exit}
	     {print}' "$p" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

cmd_export() {
	[ -d "$p2p/.git" ] || die "no p2p tree (make tree)"
	check_manifest
	local base date c p msg author email file mode tree commit n=0
	base=$(git -C "$p2p" rev-list --max-parents=0 HEAD | tail -1)
	date=$(git -C "$repo" log -1 --format=%aD 2>/dev/null || date -R)
	if [ ! -d "$scratch/.git" ] ||
	   ! git -C "$scratch" cat-file -e "$base^{commit}" 2>/dev/null; then
		rm -rf "$scratch"
		git clone -q --shared --no-checkout "$p2p" "$scratch"
	fi
	g read-tree "$base"
	commit=$base
	while read -r c; do
		n=$((n + 1))
		if [ -f "$repo/patches/owned/$c" ]; then
			p=$repo/patches/owned/$c
		else
			p=$repo/patches/$c
			g apply --cached --whitespace=nowarn -p1 "$p" ||
				die "patches/$c does not apply with git apply on top of the previous commits"
		fi
		while read -r file; do
			mode=100644
			[ -x "$repo/linux/$file" ] && mode=100755
			g update-index --add --cacheinfo "$mode,$(g hash-object -w -- "$repo/linux/$file"),$file"
		done < <(manifest_lines | awk -v c="$c" '!/^[[:space:]]/ {on = ($0 == c); next} on {sub(/^[[:space:]]+/, ""); print}')
		author=$(header_field "$p" From)
		[ -n "$author" ] || die "$p: no From: line"
		email=${author##*<}
		email=${email%>*}
		author=${author% <*}
		msg=$(commit_message "$p")
		grep -q '^Signed-off-by: ' <<<"$msg" || die "$p: no Signed-off-by: in its header"
		tree=$(g write-tree)
		commit=$(GIT_AUTHOR_NAME=$author GIT_AUTHOR_EMAIL=$email GIT_AUTHOR_DATE=$date \
			GIT_COMMITTER_NAME=$author GIT_COMMITTER_EMAIL=$email GIT_COMMITTER_DATE=$date \
			g commit-tree "$tree" -p "$commit" <<<"$msg")
	done < <(manifest_commits)
	g update-ref refs/heads/series "$commit"
	g update-ref refs/heads/pristine "$base"
	rm -rf "$out"
	mkdir -p "$out"
	GIT_COMMITTER_NAME=$author GIT_COMMITTER_EMAIL=$email GIT_COMMITTER_DATE=$date \
		g format-patch -q --cover-letter --numbered --no-signature -o "$out" "$base..$commit" >/dev/null
	cover "$out/0000-cover-letter.patch"
	echo "$commit" >"$out/.rig-commit"
	say "wrote $n patches and the cover letter to $out (bench: $bench_said)"
}

# The bench section of the cover letter, from bench.csv.
bench_text() {
	if [ ! -s "$BENCH_CSV" ]; then
		bench_said="none"
		echo "No benchmark was run for this posting: make bench writes"
		echo "build/bench/bench.csv, and make series then puts its ratios here."
		return
	fi
	bench_said=$BENCH_CSV
	python3 - "$BENCH_CSV" "$repo" <<'EOF' | sed 's/[[:space:]]*$//'
import csv, os, sys

path, repo = sys.argv[1], sys.argv[2]
# The rows and their labels as make bench prints them.
sys.path.insert(0, os.path.join(repo, 'rig'))
try:
    import bench
    labels = {(r, o): lab for r, o, lab in bench.ROWS}
    link_labels = {r: lab for r, lab, _ in bench.LINK_ROWS}
except Exception:  # no usable rig/bench.py: the raw row names
    labels, link_labels = {}, {}
rows = list(csv.DictReader(open(path, newline='')))


def size(b):
    b = int(b)
    for u, s in (('GiB', 1 << 30), ('MiB', 1 << 20), ('KiB', 1 << 10)):
        if b >= s and b % s == 0:
            return '%d %s' % (b // s, u)
    return '%d B' % b


def ns(v):
    if v in ('', None):
        return '-'
    v = float(v)
    for u, s in (('s', 1e9), ('ms', 1e6), ('us', 1e3)):
        if v >= s:
            return '%.3g %s' % (v / s, u)
    return '%.0f ns' % v


def ratio(v):
    if v in ('', None):
        return '-'
    v = float(v)
    return '%.0fx' % v if v >= 10 else '%.2fx' % v


bare = any(r.get('p2p_map_over_bare') for r in rows)
print('From make bench (%s), under QEMU TCG: absolute times'
      % (os.path.relpath(path, repo) if path.startswith(repo + '/') else path))
print('are emulated, only the stock/p2p ratios of one run count.  Median of the timed')
print('repetitions; stock/p2p is the ratio of the medians (of the mins)%s.'
      % (',\np2p/bare the p2p MAP_DMA over a bare iommu_map() of the same run'
         if bare else ''))
if any(r.get('noisy') for r in rows):
    print('Rows marked * run code the series does not change, yet their ratio')
    print('left the noise band (%s) in some round: the host was busy, so every'
          % ('1/%g to %g' % (bench.NOISE, bench.NOISE) if labels else 'bench.py\'s'))
    print('ratio of this run is suspect.')
print()
print('  %-25s %8s %10s %10s  %-16s%s' % ('', 'size', 'stock', 'p2p', 'stock/p2p',
                                         ' p2p/bare' if bare else ''))
for r in rows:
    if r.get('op') in ('map', 'unmap'):
        print('  %-25s %8s %10s %10s  %-16s%s' % (
            labels.get((r['row'], r['op']), '%s %s' % (r['row'], r['op'])),
            size(r['size_bytes']),
            'refused' if r.get('stock_refused') else ns(r['stock_median_ns']),
            ns(r['p2p_median_ns']),
            '%s (%s)%s' % (ratio(r['ratio_median']), ratio(r['ratio_min']),
                           ' *' if r.get('noisy') else ''),
            (' ' + ratio(r['p2p_map_over_bare'])) if bare and r.get('p2p_map_over_bare') else ''))
links = [r for r in rows if r.get('op') == 'event']
if links:
    print()
    print('Revoking links (stock type1 tracks none, so it has no ratio):')
    print()
    print('  %-24s %6s %10s %10s %10s' % ('', 'links', 'stock', 'p2p', 'per link'))
    for r in links:
        print('  %-24s %6s %10s %10s %10s' % (
            link_labels.get(r['row'], r['row']), r.get('links', ''),
            ns(r['stock_median_ns']), ns(r['p2p_median_ns']),
            ns(r.get('p2p_per_link_ns'))))
EOF
}

# cover FILE: fill in format-patch's cover letter from the template.
cover() {
	local f=$1 ver
	[ -f "$template" ] || die "rig/series-cover.txt missing"
	ver=$(cat "$src/.rig-version" 2>/dev/null || echo unknown)
	bench_text >"$f.bench"
	python3 - "$f" "$template" "$f.bench" "$ver" <<'EOF'
import sys
path, template, bench, ver = sys.argv[1:]
lines = open(template).read().split('\n')
subject, body = lines[0], '\n'.join(lines[2:]).rstrip('\n')
body = body.replace('@BENCH@', open(bench).read().rstrip('\n'))
body = body.replace('@SOURCE@', ver)
t = open(path).read()
t = t.replace('*** SUBJECT HERE ***', subject, 1)
t = t.replace('*** BLURB HERE ***', body, 1)
open(path, 'w').write(t)
EOF
	rm -f "$f.bench"
	! grep -q '\*\*\* \(SUBJECT\|BLURB\) HERE \*\*\*' "$f" || die "cover letter left unfilled"
}

# The checkout git am works in, at the pristine commit.
am_tree() {
	[ -f "$out/.rig-commit" ] || die "no export (make series)"
	# A checkout whose objects went with a remade scratch repo is remade.
	if [ -d "$amdir/.git" ] && ! git -C "$amdir" fetch -q "$scratch" pristine series 2>/dev/null; then
		rm -rf "$amdir"
	fi
	if [ ! -d "$amdir/.git" ]; then
		say "checking out the pristine source into $amdir (once; about a minute)"
		rm -rf "$amdir"
		mkdir -p "$(dirname "$amdir")"
		git clone -q --shared --no-checkout "$scratch" "$amdir"
		git -C "$amdir" checkout -q -f pristine
	fi
	git -C "$amdir" am --abort >/dev/null 2>&1 || true
	git -C "$amdir" fetch -q "$scratch" pristine series
	git -C "$amdir" checkout -q -f --detach "$(g rev-parse pristine)"
	git -C "$amdir" clean -q -f -d
}

# churn: lines an earlier patch of the series added that a later one
# removes or rewrites (git blame of each removed line in the parent).
# Prints one line per such patch; returns 1 if there are any.
churn() {
	local base=$1 tip=$2 c f found=0 n lines
	while read -r c; do
		n=0 lines=""
		while read -r f; do
			# Removed line ranges of f in c: "-start,count" of each hunk.
			while read -r start count; do
				[ "${count:-1}" = 0 ] && continue
				lines=$(git -C "$amdir" blame --porcelain -L "$start,+${count:-1}" "$c^" -- "$f" 2>/dev/null |
					awk -v b="$base" '/^[0-9a-f]+ [0-9]+ [0-9]+/ {if ($1 != b) print $1}' | wc -l)
				n=$((n + lines))
			done < <(git -C "$amdir" diff -U0 "$c^" "$c" -- "$f" |
				 sed -n 's/^@@ -\([0-9]*\),\{0,1\}\([0-9]*\) .*/\1 \2/p')
		done < <(git -C "$amdir" diff --name-only --diff-filter=M "$c^" "$c")
		if [ $n -gt 0 ]; then
			echo "rig: series: churn: $(git -C "$amdir" log -1 --format=%s "$c"): rewrites $n line(s) an earlier patch of the series added"
			found=1
		fi
	done < <(git -C "$amdir" rev-list --reverse "$base..$tip")
	return $found
}

cmd_check() {
	local start=$SECONDS bad=0 p n=0 outp
	cmd_export
	am_tree
	git -C "$amdir" -c user.name=rig -c user.email=rig@localhost \
		am -q --committer-date-is-author-date $(ls "$out"/00[0-9][0-9]-*.patch | grep -v /0000-cover-letter.patch) ||
		die "git am of the exported series onto the pristine source failed"
	say "git am applied $(ls "$out"/00[0-9][0-9]-*.patch | grep -vc cover-letter) patches onto the pristine source"
	# The result must be the p2p tree: pristine + series + linux/ overlay.
	# (the p2p tree's owned files are symlinks into linux/: diff follows them)
	if ! outp=$(diff -r -q -x .git -x .pc -x '.rig-*' -x patches "$amdir" "$p2p" 2>&1); then
		echo "$outp" | head -40 >&2
		echo "rig: series: git am of the export does not reproduce the p2p tree (above)" >&2
		bad=1
	fi
	[ $bad = 0 ] && say "git am result is identical to $p2p (diff -r)"
	# No patch rewrites what an earlier one added (a note, not a failure:
	# a comment that a later patch extends counts too).
	churn "$(g rev-parse pristine)" HEAD || true
	# checkpatch as a maintainer runs it on what was mailed, as
	# rig/checkpatch.sh runs it on patches/, with one type left out:
	# FILE_PATH_CHANGES ("does MAINTAINERS need updating?") on every patch
	# that adds a file.  The series adds no MAINTAINERS hunk (the p2p tree
	# must stay as it is); instead, say which added files no MAINTAINERS
	# F: pattern covers.
	local cp=(perl scripts/checkpatch.pl --strict --quiet --no-summary --show-types
		  --ignore FILE_PATH_CHANGES)
	python3 - "$amdir/MAINTAINERS" $(git -C "$amdir" diff --name-only --diff-filter=A \
		"$(g rev-parse pristine)" HEAD) <<'EOF'
import fnmatch, sys
pats = [l[3:].strip() for l in open(sys.argv[1], errors='replace')
        if l.startswith('F:\t') and l[3:].strip() != '*']  # not THE REST
def covered(f):
    for p in pats:
        if p.endswith('/') and f.startswith(p):
            return True
        if fnmatch.fnmatchcase(f, p) or f == p:
            return True
    return False
left = [f for f in sys.argv[2:] if not covered(f)]
if left:
    print('rig: series: note: no MAINTAINERS entry covers: ' + ' '.join(left))
EOF
	# A patch checkpatch passed before, byte for byte but for its commit id
	# and date, with the same checkpatch.pl and options, is not checked
	# again ($BUILD/series-checkpatch-ok/).
	local okdir=$BUILD/series-checkpatch-ok key cached=0
	mkdir -p "$okdir"
	for p in "$out"/00[0-9][0-9]-*.patch; do
		case $p in *0000-cover-letter.patch) continue ;; esac
		n=$((n + 1))
		key=$( { sed -e '1{/^From [0-9a-f]* /d}' -e '/^Date: /d' "$p"
			 echo "${cp[*]}"; cat "$amdir/scripts/checkpatch.pl"; } | sha1sum | cut -c1-40)
		if [ -e "$okdir/$key" ]; then
			cached=$((cached + 1))
			continue
		fi
		if ! outp=$(cd "$amdir" && PATH=/usr/bin:/bin:$PATH "${cp[@]}" "$p" 2>&1); then
			printf 'checkpatch: %s\n%s\n' "${p##*/}" "$outp"
			bad=1
		else
			: >"$okdir/$key"
		fi
	done
	[ $bad = 0 ] || die "the exported series has problems (above)"
	say "checkpatch --strict: $n exported patches clean ($cached known clean); export + am + diff + checkpatch in $((SECONDS - start))s"
}

# ---- bisect ----------------------------------------------------------------

lock() { exec 9>"${TMPDIR:-/tmp}/vfio-p2p-kbuild.lock"; flock 9; }
unlock() { flock -u 9; }

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_BASEDIR=$BUILD
export CCACHE_NOHASHDIR=1
export CCACHE_SLOPPINESS=time_macros,include_file_mtime,include_file_ctime

# bisect_config NAME: set arch, cross, frags, targets for a config.
bisect_config() {
	case $1 in
	drivers)
		arch=x86_64 cross=''
		frags=("$repo/configs/base.config" "$repo/configs/drivers.config" "$repo/configs/series-bisect.config")
		targets=(drivers/vfio/ drivers/iommu/iommufd/ samples/vfio-mdev/)
		;;
	drivers-arm64)
		arch=arm64 cross=aarch64-linux-gnu-
		frags=("$repo/configs/drivers-arm64.config")
		targets=(drivers/vfio/)
		;;
	esac
}

bmake() {
	make -s -C "$amdir" O="$obj" ARCH="$arch" CROSS_COMPILE="$cross" \
		CC="ccache ${cross}gcc" -j"${JOBS:-$(nproc)}" "$@"
}

# configure: (re)make $obj/.config when the fragments or a Kconfig changed.
configure() {
	local cfgsum line sym f
	cfgsum=$(cat "${frags[@]}" | sha1sum | cut -c1-40)
	if [ ! -f "$obj/.config" ] || [ "$(cat "$obj/.rig-config" 2>/dev/null)" != "$cfgsum" ] ||
	   [ -n "$(find "$amdir" -name 'Kconfig*' -newer "$obj/.config" -print -quit)" ]; then
		bmake tinyconfig >/dev/null
		(cd "$obj" && "$amdir/scripts/kconfig/merge_config.sh" -m -O "$obj" .config "${frags[@]}" >/dev/null)
		bmake olddefconfig >/dev/null
		echo "$cfgsum" >"$obj/.rig-config"
	fi
	# Every line of a fragment whose symbol this prefix defines must hold.
	for f in "${frags[@]}"; do
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=*) sym=${line%%=*} ;;
			"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
			*) continue ;;
			esac
			if [[ $line == "# "* ]]; then
				! grep -q "^$sym=" "$obj/.config" && continue
			else
				grep -qxF "$line" "$obj/.config" && continue
			fi
			grep -rqE "^[[:space:]]*(menu)?config ${sym#CONFIG_}[[:space:]]*\$" \
				--include='Kconfig*' "$amdir" || continue
			echo "rig: series: prefix $k ($cfg): ${f##*/} asks for '$line', .config has '$(grep -E "^$sym=|^# $sym is not set" "$obj/.config" || echo unset)'"
			return 1
		done <"$f"
	done
}

# Defined and undefined symbols of what the prefix built (its built-in.a).
symbols() {
	local t a
	for t in "${targets[@]}"; do
		a=$obj/${t%/}/built-in.a
		[ -f "$a" ] || continue
		nm "$a" 2>/dev/null
	done | awk 'NF == 2 && $1 == "U" {print "U " $2; next}
	            NF == 3 && $2 ~ /^[TDBRGSVWtdbr]$/ && $2 ~ /[A-Z]/ {print "D " $3}' | sort -u
}

cmd_bisect() {
	local start=$SECONDS commits k=0 tree cfg arch cross frags targets obj log status t
	local bad=0 built=0 skipped=0 symdir
	[ -f "$out/.rig-commit" ] || cmd_export
	am_tree
	mapfile -t commits < <(git -C "$amdir" rev-list --reverse "$(g rev-parse pristine)..$(cat "$out/.rig-commit")")
	[ ${#commits[@]} -gt 0 ] || die "no commits"
	log=$(mktemp)
	trap 'rm -f "$log"' RETURN
	for cfg in drivers drivers-arm64; do
		bisect_config $cfg
		obj=$BUILD/obj/series-$cfg
		mkdir -p "$obj/.series-ok"
		symdir=$obj/.series-syms
		rm -rf "$symdir"
		mkdir -p "$symdir"
		local cfgsum
		cfgsum=$(cat "${frags[@]}" | sha1sum | cut -c1-12)
		k=0
		for c in "${commits[@]}"; do
			k=$((k + 1))
			tree=$(git -C "$amdir" rev-parse "$c^{tree}")
			if [ -z "${SERIES_BISECT_FORCE:-}" ] && [ -f "$obj/.series-ok/$cfgsum-$tree" ]; then
				cp "$obj/.series-ok/$cfgsum-$tree" "$symdir/$k"
				skipped=$((skipped + 1))
				continue
			fi
			git -C "$amdir" checkout -q -f --detach "$c"
			lock
			status=0
			configure >"$log" 2>&1 || status=$?
			if [ $status = 0 ]; then
				# Compile the targets' objects again so that their warnings
				# show (ccache replays them for unchanged inputs).
				for t in "${targets[@]}"; do
					[ -d "$obj/$t" ] && find "$obj/$t" -name '*.o' -delete
				done
				bmake W=1 "${targets[@]}" >>"$log" 2>&1 || status=$?
			fi
			unlock
			built=$((built + 1))
			if [ $status != 0 ] || grep -v '^rig: ' "$log" | grep -qiE 'warning|error'; then
				echo "rig: series: prefix $k/${#commits[@]} ($(git -C "$amdir" log -1 --format=%s "$c")), $cfg: build failed or warned:"
				sed 's/^/    /' "$log" | head -40
				bad=1
				continue
			fi
			symbols >"$symdir/$k"
			cp "$symdir/$k" "$obj/.series-ok/$cfgsum-$tree.tmp"
		done
		# A symbol the series' last prefix defines here must be defined at
		# every prefix that uses it: built-in objects are only linked into
		# vmlinux, which this does not link.
		local final=$symdir/$k
		for ((k = 1; k <= ${#commits[@]}; k++)); do
			[ -f "$symdir/$k" ] || continue
			local missing
			missing=$(comm -12 <(sed -n 's/^U //p' "$symdir/$k" | sort -u) \
					   <(sed -n 's/^D //p' "$final" | sort -u) |
				  comm -23 - <(sed -n 's/^D //p' "$symdir/$k" | sort -u))
			if [ -n "$missing" ]; then
				echo "rig: series: prefix $k/${#commits[@]} ($(git -C "$amdir" log -1 --format=%s "${commits[k-1]}")), $cfg: undefined references to what a later patch adds: $(echo $missing)"
				bad=1
				rm -f "$obj/.series-ok/$cfgsum-$(git -C "$amdir" rev-parse "${commits[k-1]}^{tree}").tmp"
			fi
		done
		for t in "$obj/.series-ok/"*.tmp; do
			[ -e "$t" ] && mv "$t" "${t%.tmp}"
		done
	done
	git -C "$amdir" checkout -q -f --detach "${commits[-1]}"
	[ $bad = 0 ] || die "some prefix of the series does not build clean (above)"
	say "bisect: all ${#commits[@]} prefixes build with W=1 and no warning (drivers, drivers-arm64): $built builds, $skipped prefixes already known clean, in $((SECONDS - start))s"
}

case "${1:-}" in
export) cmd_export ;;
check) cmd_check ;;
bisect) cmd_bisect ;;
*) echo "usage: $0 export|check|bisect" >&2; exit 2 ;;
esac
