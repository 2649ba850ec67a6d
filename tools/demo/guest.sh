#!/bin/bash
# The demo, inside the guest (tools/demo/run boots it). Two tenant cgroups,
# each run by its own unprivileged user (uid 10001 and 10002, no capabilities),
# as real tenants are: root only places a tenant's process in its cgroup, as an
# orchestrator would, before the process drops to the tenant's uid. The example
# policy lets each tenant use its own key only. Shows: the backend and what it
# does not do, a tenant creating, binding and mapping its key with the KeyID
# read back from the page tables, the same tenant denied the other's key even
# when that tenant shares it, denied a key it has no rule for, the audit stream
# saying why, and the counters through bpftool.
#
# MKTME_BUILD names the build directory (default build; tests/guest/test_demo
# passes its own).
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${MKTME_BUILD:-build}
M=$B/mktmectl/mktmectl
MAP=$B/demo/mktme-map
CG=/sys/fs/cgroup
UID_A=10001
UID_B=10002

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[2m# %s\033[0m\n' "$*"; "$@"; }
# Run a command as tenant T (a or b): in its cgroup, as its uid, with no
# capabilities and no way to gain any (no_new_privs). The shell moves itself
# into the cgroup while still root, then becomes the tenant and execs. The
# guest's processes have no session keyring, so a tenant's falls back to its
# uid's user session keyring, which links its user keyring (@u): the keys a
# tenant adds there are its own, possessed by it and by no other uid.
tenant_uid() { case $1 in a) echo $UID_A ;; b) echo $UID_B ;; *) fail "no tenant $1" ;; esac; }
as_tenant_quiet() {
	local t=$1 uid
	uid=$(tenant_uid "$t") || exit 1
	shift
	sh -c 'echo $$ >"$0/cgroup.procs" || exit 1; u=$1; shift
		exec setpriv --reuid="$u" --regid="$u" --clear-groups --inh-caps=-all \
			--bounding-set=-all --no-new-privs -- "$@"' \
		"$CG/tenants/$t" "$uid" "$@"
}
as_tenant() {
	printf '\033[2m# [tenant %s: uid %s, cgroup tenants/%s] %s\033[0m\n' "$1" "$(tenant_uid "$1")" \
		"$1" "${*:2}"
	as_tenant_quiet "$@"
}
fail() { echo "demo: $*" >&2; exit 1; }

say "The platform: mktmectl status"
run $M status || fail "mktmectl status failed"

say "Two tenants: $CG/tenants/a (uid $UID_A) and $CG/tenants/b (uid $UID_B)"
mkdir -p $CG/tenants/a $CG/tenants/b
as_tenant a sh -c 'echo "  tenant a: uid $(id -u), gid $(id -g), $(grep CapEff /proc/self/status | tr -d "\t")"'
as_tenant b sh -c 'echo "  tenant b: uid $(id -u), gid $(id -g), $(grep CapEff /proc/self/status | tr -d "\t")"'

say "The policy: policy/examples/two-tenants.yaml (loaded by root, the operator)"
grep -v '^#' policy/examples/two-tenants.yaml | sed '/^$/d'
run $M policy check policy/examples/two-tenants.yaml || fail "policy check failed"
run $M policy load policy/examples/two-tenants.yaml || fail "policy load failed"

say "Tenant b creates its key, in its own user keyring"
as_tenant b $M key add tenant-b || fail "tenant b could not create its key"

say "Tenant a creates its key, binds it and maps it"
as_tenant a $M key add tenant-a || fail "tenant a could not create its key"
as_tenant a $MAP tenant-a 4 || fail "tenant a could not map its key"

say "Tenant b shares its key: it lets every other uid view and search it"
B_SERIAL=$(as_tenant_quiet b keyctl search @u mktme tenant-b) || fail "tenant b cannot find its own key"
B_PERM=$(as_tenant_quiet b keyctl rdescribe "$B_SERIAL" | cut -d';' -f4) ||
	fail "tenant b cannot describe its own key"
# "other" view (0x01) and search (0x08): search is what binding a key needs of
# the kernel (KEY_NEED_SEARCH in the MKTME_IOC_SET_KEY path).
as_tenant b keyctl setperm "$B_SERIAL" "$(printf '0x%08x' $((0x$B_PERM | 0x09)))" ||
	fail "tenant b could not share its key"
run keyctl rdescribe "$B_SERIAL"
say "Tenant a tries tenant b's key (serial $B_SERIAL): the key's permissions allow it, the policy does not"
if as_tenant a $MAP "#$B_SERIAL" 1; then
	fail "tenant a mapped tenant b's key: the policy was not enforced"
fi
say "Tenant a tries to create a key it has no rule for"
if as_tenant a $M key add tenant-c; then
	fail "tenant a created tenant-c: the policy was not enforced"
fi
say "Tenant a tries to make its own key called tenant-b"
if as_tenant a $M key add tenant-b; then
	fail "tenant a created a key named tenant-b: the policy was not enforced"
fi

say "The audit stream: every decision, who asked, and why"
run $M audit
say "Tenant a tries once more; the audit as a JSON line, for machines"
as_tenant a $MAP "#$B_SERIAL" 1
run $M -j audit

say "Counters, straight from the pinned map with bpftool"
# The pin directory names the programs' ABI: ask this mktmectl for it.
PINS=$($M -j version | sed -n 's/.*"pin_dir":"\([^"]*\)".*/\1/p')
run bpftool map dump pinned "$PINS/mktme_counters"
run bpftool prog show name mktme_bind

say "Enforcement outlives mktmectl: nothing of it is running now"
pgrep -a mktmectl || echo "(no mktmectl process)"
run bpftool link show | grep -c "lsm" | sed 's/^/lsm links pinned and attached: /'

say "Done. Reminder: this is the emulated backend: the KeyIDs are real page-table bits, the encryption is not."
