#!/usr/bin/env bash
# Kernel source trees of the rig.
#
#   tree.sh source   unpack Debian's linux-source-6.12 once into $BUILD/src/linux
#                    (the pristine tree; the "stock" kernel is built from it)
#   tree.sh p2p      make $BUILD/p2p/linux = pristine + linux/ overlay + quilt series
#   tree.sh unsaved  list edits in the p2p tree that the repo does not hold; exit 1 if any
#
# The p2p tree is a git repository whose one commit is the pristine source.  That
# lets us tell an edit somebody made in the tree (and would lose) from what the
# overlay and the series put there.  Files of ours are symlinks into the repo's
# linux/ folder, and the tree's patches/ is a symlink to the repo's patches/, so
# editing an owned file or refreshing a quilt patch writes straight into git.
# Which patch of the series introduces which owned file, for the series as
# git format-patch mails it (make series), is patches/owned-files: see
# rig/series.sh.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$repo/build}
src=$BUILD/src/linux
p2p=$BUILD/p2p/linux
tarball=/usr/src/linux-source-6.12.tar.xz

say() { echo "rig: $*"; }
die() { echo "rig: error: $*" >&2; exit 1; }

cmd_source() {
	local ver
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	if [ -f "$src/.rig-version" ] && [ "$(cat "$src/.rig-version")" = "$ver" ]; then
		return 0
	fi
	[ -f "$tarball" ] || die "$tarball missing (make deps)"
	say "unpacking linux-source-6.12 $ver into $src (about a minute)..."
	rm -rf "$src.tmp"
	mkdir -p "$src.tmp"
	tar -xJf "$tarball" -C "$src.tmp" --strip-components=1
	echo "$ver" >"$src.tmp/.rig-version"
	rm -rf "$src"
	mv "$src.tmp" "$src"
	say "pristine source ready"
}

git_p2p() { git -C "$p2p" -c core.quotePath=false "$@"; }

# Files the overlay owns, relative to linux/.
overlay_files() { (cd "$repo/linux" && find . -type f -o -type l | sed 's|^\./||' | sort); }

# Files the applied patches touch, from quilt's backups in .pc/<patch>/.
quilted_files() {
	local p
	[ -s "$p2p/.pc/applied-patches" ] || return 0
	while read -r p; do
		[ -d "$p2p/.pc/$p" ] && (cd "$p2p/.pc/$p" && find . -type f ! -name .timestamp)
	done <"$p2p/.pc/applied-patches" | sed 's|^\./||' | sort -u
}

# Write into $1 the quilted files as pristine + the applied patches, taken
# from $2 (the repo's patches/, or the snapshot of what was applied).
expected_tree() {
	local out=$1 from=$2 f p
	while IFS= read -r f; do
		[ -f "$src/$f" ] || continue
		mkdir -p "$out/$(dirname "$f")"
		cp "$src/$f" "$out/$f"
	done <<<"$quilted"
	while read -r p; do
		[ -f "$from/$p" ] || return 1
		patch -s -p1 -f -d "$out" --no-backup-if-mismatch <"$from/$p" >/dev/null 2>&1 || return 1
	done <"$p2p/.pc/applied-patches"
}

# Print every edit in the p2p tree that the repo does not hold.  This does
# not ask quilt, whose view goes stale when the repo's series changes.
list_unsaved() {
	[ -d "$p2p/.git" ] || return 0
	local f line quilted stale="" scratch
	quilted=$(quilted_files)
	# 1. A patched file must read as pristine + the applied patches, either
	#    as the repo has them (after a refresh) or as they were applied
	#    (the repo moved on since); anything else is an unrefreshed edit.
	if [ -n "$quilted" ]; then
		scratch=$(mktemp -d)
		for from in "$repo/patches" "$p2p/.rig-applied"; do
			rm -rf "$scratch/t"
			mkdir -p "$scratch/t"
			if ! expected_tree "$scratch/t" "$from"; then
				stale+=$'\n'"$quilted"
				continue
			fi
			while IFS= read -r f; do
				if [ -e "$scratch/t/$f" ] || [ -e "$p2p/$f" ]; then
					cmp -s "$scratch/t/$f" "$p2p/$f" || stale+=$'\n'"$f"
				fi
			done <<<"$quilted"
		done
		rm -rf "$scratch"
		# Unsaved only if it matches neither way.
		printf '%s\n' "$stale" | sed '/^$/d' | sort | uniq -d | while IFS= read -r f; do
			echo "unrefreshed edit to a patched file: $f (export QUILTRC=$repo/rig/quiltrc; cd $p2p && quilt refresh)"
		done
	fi
	# 2. Edits to any other file, and new files, that are not our overlay links.
	git_p2p status --porcelain=v1 --untracked-files=all | while IFS= read -r line; do
		f=${line:3}
		case "$f" in
		.pc/*|patches|.rig-*) continue ;;
		esac
		if [ -L "$p2p/$f" ] && [ "$(readlink "$p2p/$f")" = "$repo/linux/$f" ]; then
			continue
		fi
		if grep -qxF -- "$f" <<<"$quilted"; then
			continue
		fi
		echo "edited outside the series and linux/: $f (move it to linux/ or into a quilt patch)"
	done
}

cmd_unsaved() {
	local out
	out=$(list_unsaved)
	if [ -n "$out" ]; then
		echo "$out"
		exit 1
	fi
}

series_hash() {
	(cd "$repo/patches" && find . -type f -print0 | sort -z | xargs -0 -r sha1sum) | sha1sum | cut -c1-40
}

apply_overlay() {
	local f dst
	# Drop links to owned files that are gone from the repo.
	git_p2p status --porcelain=v1 --untracked-files=all | while IFS= read -r line; do
		f=${line:3}
		if [ -L "$p2p/$f" ] && [ ! -e "$p2p/$f" ]; then
			case "$(readlink "$p2p/$f")" in "$repo/linux/"*) rm -f "$p2p/$f" ;; esac
		fi
	done
	overlay_files | while IFS= read -r f; do
		dst=$p2p/$f
		if [ -L "$dst" ]; then
			[ "$(readlink "$dst")" = "$repo/linux/$f" ] && continue
			rm -f "$dst"
		elif [ -e "$dst" ]; then
			die "linux/$f would replace an upstream file; change upstream files with a quilt patch"
		fi
		mkdir -p "$(dirname "$dst")"
		ln -s "$repo/linux/$f" "$dst"
	done
}

apply_series() {
	local want have p
	want=$(series_hash)
	have=$(cat "$p2p/.rig-series" 2>/dev/null || true)
	[ "$want" = "$have" ] && return 0
	say "applying the quilt series to the p2p tree"
	# Back to pristine through the tree's git baseline, not quilt pop: quilt
	# refuses to work once the repo's series no longer matches what is
	# applied.  The caller checked there is nothing unsaved to lose.
	rm -rf "$p2p/.pc" "$p2p/.rig-applied"
	git_p2p reset -q --hard
	git_p2p clean -q -f -d -e /patches -e '/.rig-*'
	mkdir -p "$p2p/.rig-applied"
	if grep -qv '^\s*\(#\|$\)' "$repo/patches/series" 2>/dev/null; then
		(cd "$p2p" && QUILTRC="$repo/rig/quiltrc" quilt push -a -q) ||
			die "the series does not apply to $p2p (fix the patch, then make again)"
		while read -r p; do
			cp "$repo/patches/$p" "$p2p/.rig-applied/$p"
		done <"$p2p/.pc/applied-patches"
	fi
	echo "$want" >"$p2p/.rig-series"
}

cmd_p2p() {
	cmd_source
	local ver
	ver=$(cat "$src/.rig-version")
	if [ -d "$p2p/.git" ] && [ "$(cat "$p2p/.rig-version" 2>/dev/null)" != "$ver" ]; then
		local out
		out=$(list_unsaved)
		[ -z "$out" ] || die "the p2p tree has edits the repo does not hold; the source version changed so it must be remade. Save these first:
$out"
		say "source version changed: remaking the p2p tree"
		rm -rf "$p2p"
	fi
	if [ ! -d "$p2p/.git" ]; then
		say "creating the p2p tree at $p2p"
		rm -rf "$p2p.tmp"
		mkdir -p "$(dirname "$p2p")"
		cp -a "$src" "$p2p.tmp"
		git -C "$p2p.tmp" init -q
		printf '%s\n' '/.pc/' '/patches' '/.rig-*' >>"$p2p.tmp/.git/info/exclude"
		git -C "$p2p.tmp" add -A -f . >/dev/null
		git -C "$p2p.tmp" -c user.name=rig -c user.email=rig@localhost \
			commit -q -m "pristine linux-source-6.12 $ver"
		ln -s "$repo/patches" "$p2p.tmp/patches"
		mv "$p2p.tmp" "$p2p"
	else
		local out
		out=$(list_unsaved)
		if [ -n "$out" ]; then
			die "the p2p tree has edits the repo does not hold; refusing to touch it.
$out
Refresh the quilt patch or move the file under linux/, commit, and run make again."
		fi
	fi
	[ "$(readlink "$p2p/patches")" = "$repo/patches" ] || { rm -f "$p2p/patches"; ln -s "$repo/patches" "$p2p/patches"; }
	apply_series
	apply_overlay
}

case "${1:-}" in
source) cmd_source ;;
p2p) cmd_p2p ;;
unsaved) cmd_unsaved ;;
*) echo "usage: $0 source|p2p|unsaved" >&2; exit 2 ;;
esac
