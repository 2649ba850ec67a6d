#!/bin/bash
# The demo, inside the guest (tools/demo/run boots it). Two tenant cgroups;
# the example policy lets each use its own key only. Shows: the backend and
# what it does not do, a tenant creating, binding and mapping its key with the
# KeyID read back from the page tables, the same tenant denied the other's key,
# the audit stream saying why, and the counters through bpftool.
set -uo pipefail
cd "$(dirname "$0")/../.."
M=build/mktmectl/mktmectl
MAP=build/demo/mktme-map
CG=/sys/fs/cgroup

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[2m# %s\033[0m\n' "$*"; "$@"; }
# Run a command as a member of a cgroup: the shell moves itself, then execs.
in_cgroup() {
	local cg=$1
	shift
	printf '\033[2m# [in %s] %s\033[0m\n' "$cg" "$*"
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG/$cg" "$@"
}
fail() { echo "demo: $*" >&2; exit 1; }

say "The platform: mktmectl status"
run $M status || fail "mktmectl status failed"

say "Two tenants: $CG/tenants/a and $CG/tenants/b"
mkdir -p $CG/tenants/a $CG/tenants/b

say "The policy: policy/examples/two-tenants.yaml"
grep -v '^#' policy/examples/two-tenants.yaml | sed '/^$/d'
run $M policy check policy/examples/two-tenants.yaml || fail "policy check failed"
run $M policy load policy/examples/two-tenants.yaml || fail "policy load failed"

say "Tenant b creates its key"
in_cgroup tenants/b $M key add tenant-b || fail "tenant b could not create its key"

say "Tenant a creates its key, binds it and maps it"
in_cgroup tenants/a $M key add tenant-a || fail "tenant a could not create its key"
in_cgroup tenants/a $MAP tenant-a 4 || fail "tenant a could not map its key"

say "Tenant a tries tenant b's key (the policy says no)"
if in_cgroup tenants/a $MAP tenant-b 1; then
	fail "tenant a mapped tenant b's key: the policy was not enforced"
fi
say "Tenant a tries to create a key it has no rule for"
if in_cgroup tenants/a $M key add tenant-c; then
	fail "tenant a created tenant-c: the policy was not enforced"
fi

say "The audit stream: every decision, and why"
run $M audit
say "Tenant a tries once more; the audit as a JSON line, for machines"
in_cgroup tenants/a $MAP tenant-b 1
run $M -j audit

say "Counters, straight from the pinned map with bpftool"
run bpftool map dump pinned /sys/fs/bpf/mktme/v4/mktme_counters
run bpftool prog show name mktme_bind

say "Enforcement outlives mktmectl: nothing of it is running now"
pgrep -a mktmectl || echo "(no mktmectl process)"
run bpftool link show | grep -c "lsm" | sed 's/^/lsm links pinned and attached: /'

say "Done. Reminder: this is the emulated backend: the KeyIDs are real page-table bits, the encryption is not."
