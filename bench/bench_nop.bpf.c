// SPDX-License-Identifier: GPL-2.0
/*
 * make bench's floor for the policy layer (bench/policy_bench.c, state
 * "nop-progs"): a BPF LSM program on each of the two hooks a hot-path cycle
 * runs, mktme_key_bind and mktme_mmap, that returns at once. What a cycle
 * costs with these over no BPF is what running any BPF LSM program there
 * costs (the hook's static call, the trampoline, __bpf_prog_enter/exit,
 * the call of the original hook: kernel/bpf/trampoline.c,
 * arch/x86/net/bpf_jit_comp.c), whatever the program does; the decision
 * programs' cost is measured against it. Never loaded outside the bench.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("lsm/mktme_key_bind")
int BPF_PROG(nop_bind, struct file *file, const struct key *key, unsigned int keyid, int ret)
{
	return ret;
}

SEC("lsm/mktme_mmap")
int BPF_PROG(nop_mmap, struct file *file, const struct key *key, unsigned int keyid,
	     struct vm_area_struct *vma, int ret)
{
	return ret;
}

char LICENSE[] SEC("license") = "GPL";
