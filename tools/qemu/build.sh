#!/bin/bash
# Build qemu-system-x86_64 with the TME-MK model (tools/qemu/patches) from
# Debian's qemu 7.2 source package, TCG only.
#
#   ~/.cache/mktme/qemu-src/    the Debian source package (.dsc, orig, debian
#                               tarball), fetched once with apt-get source
#   build/qemu/pristine/        the unpacked source with Debian's patches, never
#                               modified
#   build/qemu/src/             pristine + tools/qemu/patches (series order)
#   build/qemu/src/obj/         the build (meson/ninja); build/qemu/qemu-system-x86_64
#                               links to the binary
#
# The source comes from Debian's archive through apt with a private source list
# and package-list directory (deb-src lines for the host's own suites), so the
# host's apt configuration is neither needed nor changed. The version is the one
# of the installed qemu-system-x86 (binNMU suffix dropped) unless
# MKTME_QEMU_DEB_VERSION names another; a version the archive no longer has is
# an error naming the versions it has.
#
# Incremental as kernel/build.sh: only files the patches touch are assembled in
# a scratch directory and written to src/ when their content changed, so ninja
# rebuilds only what the patches changed. Compiles go through ccache (the
# kernel's cache directory); the object directory is a child of the source tree
# so compiler command lines are the same in every clone.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QDIR=${MKTME_QBUILD:-$ROOT/build/qemu}
CACHE=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/mktme
SRCCACHE=${MKTME_QEMU_SRC_CACHE:-$CACHE/qemu-src}
PATCHES=$ROOT/tools/qemu/patches
JOBS=${JOBS:-$(nproc)}

export CCACHE_DIR=${MKTME_CCACHE_DIR:-$CACHE/ccache}
export CCACHE_BASEDIR=$QDIR/src
export CCACHE_NOHASHDIR=true
export CCACHE_SLOPPINESS=include_file_mtime,include_file_ctime,time_macros
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-6G}

die() { echo "qemu: $*" >&2; exit 1; }
# shellcheck source=SCRIPTDIR/../../scripts/patched-tree.sh
. "$ROOT/scripts/patched-tree.sh"
log() { echo "qemu: $*"; }

for t in ccache meson ninja dpkg-source apt-get pkg-config; do
	command -v "$t" >/dev/null || die "$t not found (run scripts/deps.sh)"
done
pkg-config --exists glib-2.0 pixman-1 || die "glib-2.0 or pixman-1 development files missing (run scripts/deps.sh)"

mkdir -p "$QDIR" "$SRCCACHE" "$CCACHE_DIR"
exec 9>"$QDIR/.lock"
if ! flock -n 9; then
	log "waiting for another build of $QDIR to finish"
	flock 9
fi

# 1. The Debian source package, once per version.
if [ -n "${MKTME_QEMU_DEB_VERSION:-}" ]; then
	ver=$MKTME_QEMU_DEB_VERSION
else
	ver=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null) ||
		die "qemu-system-x86 is not installed (run scripts/deps.sh)"
	ver=${ver%+b[0-9]*}
fi
upver=${ver#*:}
dsc="$SRCCACHE/qemu_${upver}.dsc"
if [ ! -f "$dsc" ]; then
	log "fetching Debian source package qemu $ver"
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	apt="$SRCCACHE/apt"
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
	{
		echo "deb-src http://deb.debian.org/debian $codename main"
		echo "deb-src http://deb.debian.org/debian $codename-updates main"
		echo "deb-src http://deb.debian.org/debian-security $codename-security main"
	} >"$apt/sources.list"
	aopt=(-q -o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/none"
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache")
	apt-get "${aopt[@]}" update >"$apt/update.log" 2>&1 ||
		{ cat "$apt/update.log" >&2; die "apt-get update of the deb-src lists failed: cannot reach Debian's archive"; }
	have=$(apt-cache "${aopt[@]}" showsrc qemu 2>/dev/null | sed -n 's/^Version: //p' | tr '\n' ' ')
	case " $have " in
	*" $ver "*) ;;
	*) die "Debian's archive has qemu source versions: ${have:-none}; not $ver (set MKTME_QEMU_DEB_VERSION to one of them)" ;;
	esac
	(cd "$SRCCACHE" && apt-get "${aopt[@]}" source --download-only "qemu=$ver" >"$apt/source.log" 2>&1) ||
		{ cat "$apt/source.log" >&2; die "apt-get source qemu=$ver failed"; }
	[ -f "$dsc" ] || die "apt-get source did not leave $dsc"
fi

# 2. Pristine tree (Debian's patches applied by dpkg-source), once per .dsc.
stamp="$(sha256sum "$dsc" | cut -d' ' -f1) $ver"
if [ ! -f "$QDIR/pristine/.mktme-dsc" ] || [ "$(cat "$QDIR/pristine/.mktme-dsc")" != "$stamp" ]; then
	log "unpacking qemu $ver"
	rm -rf "$QDIR/pristine" "$QDIR/pristine.tmp" "$QDIR/src"
	dpkg-source -q -x "$dsc" "$QDIR/pristine.tmp" >"$QDIR/unpack.log" 2>&1 ||
		{ cat "$QDIR/unpack.log" >&2; die "dpkg-source -x $dsc failed (signature or checksum?)"; }
	echo "$stamp" >"$QDIR/pristine.tmp/.mktme-dsc"
	mv "$QDIR/pristine.tmp" "$QDIR/pristine"
fi
if [ ! -d "$QDIR/src" ]; then
	log "copying pristine tree to src/"
	rm -rf "$QDIR/src.tmp"
	cp -a "$QDIR/pristine" "$QDIR/src.tmp"
	mv "$QDIR/src.tmp" "$QDIR/src"
	: >"$QDIR/src/.mktme-files"
fi

# 3. pristine + patches, for the touched files only, synced into src/.
patched_tree_sync qemu "$QDIR/pristine" "$QDIR/src" "$PATCHES" ||
	die "the patched tree could not be assembled (qemu $ver)"

# 4. Configure once (again when these options change), then ninja.
OBJ=$QDIR/src/obj
# Only what tools/vm/run uses: TCG, the pc machine, virtio-9p, virtio-rng,
# NUMA memory backends. Firmware (SeaBIOS, linuxboot option ROMs) is Debian's,
# from qemu-system-data and seabios, which deps.sh installs with qemu-system-x86.
CONF=(--target-list=x86_64-softmmu --cc="ccache gcc" --host-cc="ccache gcc"
	--without-default-features --enable-tcg --disable-kvm --enable-virtfs
	--enable-cap-ng --enable-attr --enable-fdt=system --disable-docs --disable-werror
	--without-default-devices --with-devices-x86_64=mktme
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu)
confkey="${CONF[*]}"
if [ ! -f "$OBJ/build.ninja" ] || [ "$(cat "$OBJ/.mktme-conf" 2>/dev/null)" != "$confkey" ]; then
	log "configuring"
	rm -rf "$OBJ"
	mkdir -p "$OBJ"
	(cd "$OBJ" && ../configure "${CONF[@]}") >"$QDIR/configure.log" 2>&1 ||
		{ tail -30 "$QDIR/configure.log" >&2; die "configure failed (full log: $QDIR/configure.log)"; }
	echo "$confkey" >"$OBJ/.mktme-conf"
fi
log "building (jobs=$JOBS, ccache in $CCACHE_DIR)"
start=$(date +%s)
ninja -C "$OBJ" -j"$JOBS" qemu-system-x86_64 >"$QDIR/build.log" 2>&1 ||
	{ grep -m20 -E 'error|FAILED' "$QDIR/build.log" >&2; tail -20 "$QDIR/build.log" >&2; die "build failed (full log: $QDIR/build.log)"; }
ln -sfn src/obj/qemu-system-x86_64 "$QDIR/qemu-system-x86_64"
log "built in $(( $(date +%s) - start ))s: $QDIR/qemu-system-x86_64"
