# shellcheck shell=bash
# Sourced by kernel/build.sh and tools/qemu/build.sh: both keep an upstream
# tree (Debian's source) pristine, and a working tree that is the pristine one
# plus our ordered patches (and, for the kernel, an overlay of whole files).
#
# patched_tree_sync WHAT PRISTINE SRC PATCHDIR [OVERLAY]
#
# Makes SRC equal to PRISTINE + PATCHDIR/series (in order) + OVERLAY, touching
# only what differs: the patched files are assembled in a scratch directory
# from the files the patches and the overlay name, and a file in SRC is
# rewritten only when its content changes, so make or ninja rebuilds only
# what really changed. A file that was ours last time (SRC/.mktme-files) but
# is no longer touched goes back to pristine, or away if it was new.
# Messages are prefixed with WHAT; returns non-zero (SRC unchanged) when a
# patch is missing or does not apply.
patched_tree_sync() {
	local what=$1 pristine=$2 src=$3 patchdir=$4 overlay=${5:-}
	local stage="$src.stage" p f
	local -a series=()

	rm -rf "$stage"
	mkdir -p "$stage"
	if [ -f "$patchdir/series" ]; then
		while read -r p; do
			case "$p" in ''|'#'*) continue ;; esac
			if [ ! -f "$patchdir/$p" ]; then
				echo "$what: $patchdir/series names $p, which does not exist" >&2
				rm -rf "$stage"
				return 1
			fi
			series+=("$p")
		done <"$patchdir/series"
	fi
	for p in "${series[@]}"; do
		# The files this patch touches, with the a/ b/ prefixes stripped.
		grep -E '^\+\+\+ b/|^--- a/' "$patchdir/$p" | sed -E 's#^(\+\+\+ b/|--- a/)##; s#\t.*##' |
		while read -r f; do
			if [ ! -e "$stage/$f" ] && [ -f "$pristine/$f" ]; then
				mkdir -p "$stage/$(dirname "$f")"
				cp -p "$pristine/$f" "$stage/$f"
			fi
		done
	done
	for p in "${series[@]}"; do
		if ! patch -s -p1 -d "$stage" --no-backup-if-mismatch -r - <"$patchdir/$p"; then
			echo "$what: $patchdir/$p does not apply; nothing changed in $src" >&2
			rm -rf "$stage"
			return 1
		fi
	done
	if [ -n "$overlay" ] && [ -d "$overlay" ]; then
		cp -r "$overlay/." "$stage/"
	fi

	(cd "$stage" && find . -type f | sed 's#^\./##' | sort) >"$src.files.new"
	while read -r f; do
		if ! cmp -s "$stage/$f" "$src/$f"; then
			if ! { mkdir -p "$src/$(dirname "$f")" && cp "$stage/$f" "$src/$f"; }; then
				echo "$what: cannot write $src/$f" >&2
				return 1
			fi
			echo "$what: updated $f"
		fi
	done <"$src.files.new"
	# The files list is replaced only once every file is in place, so a run
	# that stopped half-way is finished by the next.
	while read -r f; do
		if [ -f "$pristine/$f" ]; then
			cmp -s "$pristine/$f" "$src/$f" || cp "$pristine/$f" "$src/$f" ||
				{ echo "$what: cannot restore $src/$f" >&2; return 1; }
			echo "$what: restored pristine $f"
		else
			rm -f "$src/$f"
			echo "$what: removed $f"
		fi
	done < <(comm -23 <(sort "$src/.mktme-files") "$src.files.new")
	mv "$src.files.new" "$src/.mktme-files"
	rm -rf "$stage"
}
