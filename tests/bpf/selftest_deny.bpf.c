// SPDX-License-Identifier: GPL-2.0
/*
 * Test-scoped BPF LSM program: proves the chain (our kernel, BPF LSM active,
 * BTF, libbpf skeleton) before any mktme hook exists. Denies mprotect() for
 * one process only, so that a test can show the deny, that other processes are
 * untouched, and that detaching restores the operation.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define EPERM 1

/* Set by the loader before load; 0 means "deny nobody". */
const volatile __u32 target_tgid = 0;

/* How many calls were denied: read by the test to prove the program ran. */
__u64 denied = 0;

SEC("lsm/file_mprotect")
int BPF_PROG(selftest_deny_mprotect, struct vm_area_struct *vma,
	     unsigned long reqprot, unsigned long prot, int ret)
{
	/* An earlier LSM already denied: keep its verdict. */
	if (ret != 0)
		return ret;
	if (target_tgid == 0 || (bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	__sync_fetch_and_add(&denied, 1);
	return -EPERM;
}

char LICENSE[] SEC("license") = "GPL";
