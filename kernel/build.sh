#!/bin/bash
# Build the mktme guest kernel from Debian's linux-source-6.12.
#
#   build/kernel/pristine/   the unpacked Debian tree, never modified
#   build/kernel/src/        pristine + kernel/patches (in series order) + kernel/src overlay
#   build/kernel/src/obj/    objects (make O=): vmlinux, bzImage; build/kernel/obj
#                            links to it
#
# MKTME_KBUILD: another build directory (make test-debug: build/debug/kernel).
# MKTME_KCONFIG_EXTRA: more fragments (space-separated paths), merged in order on
# top of kernel/config/mktme.fragment; a later line overrides an earlier one.
#
# Incremental by construction: the patched tree is assembled in a scratch directory
# from only the files the patches and overlay touch, and a file in src/ is rewritten
# only when its content changes, so make rebuilds only what really changed.
# Compiles go through ccache, whose cache lives outside the repository.
#
# The object directory is a direct child of the source tree on purpose: kbuild
# then names the source tree "..", not by its absolute path, so compiler
# command lines (-fmacro-prefix-map=$(srctree)/=, -I...) are the same in every
# clone and ccache hits across checkouts (CI clones elsewhere).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KDIR=${MKTME_KBUILD:-$ROOT/build/kernel}
TARBALL=${MKTME_KSRC_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
FRAGMENTS=("$ROOT/kernel/config/mktme.fragment")
for f in ${MKTME_KCONFIG_EXTRA:-}; do
	case "$f" in /*) ;; *) f=$ROOT/$f ;; esac
	FRAGMENTS+=("$f")
done
PATCHES=$ROOT/kernel/patches
OVERLAY=$ROOT/kernel/src
JOBS=${JOBS:-$(nproc)}

export CCACHE_DIR=${MKTME_CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mktme/ccache}
# Paths under the build directory are hashed relative to it, so a clone in another
# directory (CI) hits the same cache entries.
export CCACHE_BASEDIR=$KDIR
export CCACHE_NOHASHDIR=true
export CCACHE_SLOPPINESS=include_file_mtime,include_file_ctime,time_macros
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-6G}
export KBUILD_BUILD_TIMESTAMP="2026-01-01"
export KBUILD_BUILD_USER=mktme KBUILD_BUILD_HOST=mktme

die() { echo "kernel: $*" >&2; exit 1; }
# shellcheck source=SCRIPTDIR/../scripts/patched-tree.sh
. "$ROOT/scripts/patched-tree.sh"
log() { echo "kernel: $*"; }

[ -f "$TARBALL" ] || die "$TARBALL not found (Debian package linux-source-6.12; run scripts/deps.sh)"
command -v ccache >/dev/null || die "ccache not found (run scripts/deps.sh)"
command -v pahole >/dev/null || die "pahole not found (package dwarves; run scripts/deps.sh)"

for f in "${FRAGMENTS[@]}"; do
	[ -f "$f" ] || die "config fragment $f not found"
done

mkdir -p "$KDIR" "$CCACHE_DIR"

# One build of a tree at a time: concurrent makes in one O= directory corrupt it.
exec 9>"$KDIR/.lock"
if ! flock -n 9; then
	log "waiting for another build of $KDIR to finish"
	flock 9
fi

# 1. Pristine tree, unpacked once per tarball.
tarstamp="$(stat -c '%s %Y' "$TARBALL") $TARBALL"
if [ ! -f "$KDIR/pristine/.mktme-tarball" ] || [ "$(cat "$KDIR/pristine/.mktme-tarball")" != "$tarstamp" ]; then
	log "unpacking $TARBALL"
	rm -rf "$KDIR/pristine" "$KDIR/src" "$KDIR/obj"
	mkdir -p "$KDIR/pristine.tmp"
	tar -C "$KDIR/pristine.tmp" -xf "$TARBALL"
	top=$(ls "$KDIR/pristine.tmp")
	mv "$KDIR/pristine.tmp/$top" "$KDIR/pristine"
	rmdir "$KDIR/pristine.tmp"
	echo "$tarstamp" >"$KDIR/pristine/.mktme-tarball"
fi
if [ ! -d "$KDIR/src" ]; then
	log "copying pristine tree to src/"
	cp -a "$KDIR/pristine" "$KDIR/src.tmp"
	mv "$KDIR/src.tmp" "$KDIR/src"
	: >"$KDIR/src/.mktme-files"
fi

# 2. pristine + patches + overlay, for the touched files only, synced into src/.
patched_tree_sync kernel "$KDIR/pristine" "$KDIR/src" "$PATCHES" "$OVERLAY" ||
	die "the patched tree could not be assembled"

# 3. Configure: allnoconfig + fragment, replaced only when the result differs.
OBJ=$KDIR/src/obj
MAKE=(make -C "$KDIR/src" O="$OBJ" -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc")
# Earlier layouts kept the objects in build/kernel/obj itself.
if [ -d "$KDIR/obj" ] && [ ! -L "$KDIR/obj" ]; then
	log "moving to the in-tree object directory (one full rebuild)"
	rm -rf "$KDIR/obj"
fi
mkdir -p "$OBJ"
ln -sfn src/obj "$KDIR/obj"
cfgtmp="$KDIR/config.tmp"
rm -rf "$cfgtmp"
mkdir -p "$cfgtmp"
make -s -C "$KDIR/src" O="$cfgtmp" allnoconfig >/dev/null
(cd "$cfgtmp" && "$KDIR/src/scripts/kconfig/merge_config.sh" -m -O "$cfgtmp" .config "${FRAGMENTS[@]}" >"$cfgtmp/merge.log" 2>&1) ||
	{ cat "$cfgtmp/merge.log" >&2; die "merge_config failed"; }
make -s -C "$KDIR/src" O="$cfgtmp" olddefconfig >/dev/null
# Every option the fragments ask for must have stuck: a silently dropped option
# (unmet dependency) would give a kernel without what the tests rely on. Where
# fragments disagree, the last one's value is the one asked for.
bad=0
declare -A wanted=()
order=()
while IFS= read -r line; do
	case "$line" in CONFIG_*=*) ;; *) continue ;; esac
	opt=${line%%=*}
	[ -n "${wanted[$opt]+x}" ] || order+=("$opt")
	wanted[$opt]=${line#*=}
done < <(cat "${FRAGMENTS[@]}")
for opt in "${order[@]}"; do
	want=${wanted[$opt]}
	if [ "$want" = n ]; then
		grep -qx "# $opt is not set" "$cfgtmp/.config" || grep -qx "$opt=n" "$cfgtmp/.config" || { echo "kernel: $opt: wanted n" >&2; bad=1; }
	else
		got=$(grep -E "^$opt=" "$cfgtmp/.config" | head -1 | cut -d= -f2- || true)
		[ "$got" = "$want" ] || { echo "kernel: $opt: wanted $want, got ${got:-unset} (unmet dependency?)" >&2; bad=1; }
	fi
done
[ $bad -eq 0 ] || die "config fragments ${FRAGMENTS[*]} did not apply cleanly; nothing built"
if ! cmp -s "$cfgtmp/.config" "$KDIR/obj/.config"; then
	cp "$cfgtmp/.config" "$KDIR/obj/.config"
	log "configuration updated"
fi
rm -rf "$cfgtmp"

# 4. Build.
log "building (jobs=$JOBS, ccache in $CCACHE_DIR)"
start=$(date +%s)
"${MAKE[@]}" olddefconfig >/dev/null
"${MAKE[@]}" bzImage >"$KDIR/build.log" 2>&1 || { tail -40 "$KDIR/build.log" >&2; die "build failed (full log: $KDIR/build.log)"; }
log "built in $(( $(date +%s) - start ))s: $KDIR/obj/arch/x86/boot/bzImage"
