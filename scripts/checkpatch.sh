#!/bin/bash
# checkpatch.pl (from the kernel tree we build) over our new kernel files and
# our patches. Exits non-zero on any error or warning. MKTME_BUILD names the
# build directory whose kernel tree has checkpatch.pl (default build/; make
# check passes its BUILD).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MKTME_BUILD:-$ROOT/build}
CP=$BUILD/kernel/src/scripts/checkpatch.pl
[ -x "$CP" ] || { echo "checkpatch: $CP not found; run make kernel first" >&2; exit 2; }
rc=0
files=$(cd "$ROOT" && find kernel/src -type f \( -name '*.c' -o -name '*.h' \) | sort)
for f in $files; do
	"$CP" --no-tree --quiet --terse --show-types --ignore FILE_PATH_CHANGES -f "$ROOT/$f" || rc=1
done
if [ -f "$ROOT/kernel/patches/series" ]; then
	while read -r p; do
		case "$p" in ''|'#'*) continue ;; esac
		"$CP" --no-tree --quiet --terse --show-types "$ROOT/kernel/patches/$p" || rc=1
	done <"$ROOT/kernel/patches/series"
fi
[ $rc -eq 0 ] && echo "checkpatch: clean"
exit $rc
