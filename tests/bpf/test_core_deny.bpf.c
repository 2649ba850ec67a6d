// SPDX-License-Identifier: GPL-2.0
/*
 * Test-scoped BPF LSM programs for tests/guest/test_core_lsm.c: one on each
 * mktme hook (DESIGN.md §2.5). Each denies with -EPERM for one process only
 * and records what the kernel passed it, so that the test can check that the
 * hook ran, with the kernel's own values, before anything was allocated.
 * The test loads only the program of the hook it tests (autoload).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define EPERM 1

/* Set by the loader before load; 0 means "deny nobody". */
const volatile __u32 target_tgid = 0;

/*
 * The race test's window (test_core_lsm.c): with bind_hold set, the bind
 * hook, which runs between the kernel's KeyID lookup and its own reference
 * on that KeyID, counts itself in bind_held and then waits until user space
 * sets bind_release, at most HOLD_NS; bind_hold_timeouts
 * counts the waits that ended without a release, bind_saw_revoked the holds
 * at whose end the key was already revoked. Written by user space while
 * attached.
 */
__u32 bind_hold = 0, bind_release = 0;
__u64 bind_held = 0, bind_hold_timeouts = 0, bind_saw_revoked = 0;
/* include/linux/key.h: bit number of "key had been revoked" in key->flags. */
#define KEY_FLAG_REVOKED 1
#define HOLD_NS (5ULL * 1000 * 1000 * 1000)	/* far below the RCU stall timeout (21 s) */

/* Per hook: calls seen (any process), calls denied, values of the last call. */
__u64 create_calls = 0, create_denied = 0;
__u32 create_type = 0, create_alg = 0;
__s32 create_serial = 0;

__u64 bind_calls = 0, bind_denied = 0;
__u32 bind_keyid = 0;
__s32 bind_serial = 0;

__u64 mmap_calls = 0, mmap_denied = 0;
__u32 mmap_keyid = 0;
__s32 mmap_serial = 0;
__u64 mmap_start = 0, mmap_len = 0;

static __always_inline bool is_target(void)
{
	return target_tgid != 0 && (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("lsm/mktme_key_create")
int BPF_PROG(deny_key_create, const struct key *key, unsigned int type, unsigned int alg, int ret)
{
	if (ret != 0)
		return ret;
	__sync_fetch_and_add(&create_calls, 1);
	create_type = type;
	create_alg = alg;
	create_serial = BPF_CORE_READ(key, serial);
	if (!is_target())
		return 0;
	__sync_fetch_and_add(&create_denied, 1);
	return -EPERM;
}

static long hold_once(__u32 index, void *ctx)
{
	__u64 *deadline = ctx;

	if (*(volatile __u32 *)&bind_release)
		return 1;
	return bpf_ktime_get_ns() > *deadline;
}

/*
 * One bpf_loop() runs at most 1 << 23 times (BPF_MAX_LOOPS,
 * include/linux/bpf.h), which a fast JIT gets through in well under a second,
 * less than user space may need to get the revoke into the window; nested,
 * the hold is bounded by the deadline alone.
 */
static long hold_outer(__u32 index, void *ctx)
{
	__u64 *deadline = ctx;

	bpf_loop(1 << 23, hold_once, deadline, 0);
	if (*(volatile __u32 *)&bind_release)
		return 1;
	return bpf_ktime_get_ns() > *deadline;
}

SEC("lsm/mktme_key_bind")
int BPF_PROG(deny_key_bind, struct file *file, const struct key *key, unsigned int keyid, int ret)
{
	if (ret != 0)
		return ret;
	__sync_fetch_and_add(&bind_calls, 1);
	bind_keyid = keyid;
	bind_serial = BPF_CORE_READ(key, serial);
	if (*(volatile __u32 *)&bind_hold) {
		__u64 deadline = bpf_ktime_get_ns() + HOLD_NS;

		__sync_fetch_and_add(&bind_held, 1);
		bpf_loop(1 << 23, hold_outer, &deadline, 0);
		if (!*(volatile __u32 *)&bind_release)
			__sync_fetch_and_add(&bind_hold_timeouts, 1);
		if (BPF_CORE_READ(key, flags) & (1UL << KEY_FLAG_REVOKED))
			__sync_fetch_and_add(&bind_saw_revoked, 1);
	}
	if (!is_target())
		return 0;
	__sync_fetch_and_add(&bind_denied, 1);
	return -EPERM;
}

SEC("lsm/mktme_mmap")
int BPF_PROG(deny_mmap, struct file *file, const struct key *key, unsigned int keyid,
	     struct vm_area_struct *vma, int ret)
{
	if (ret != 0)
		return ret;
	__sync_fetch_and_add(&mmap_calls, 1);
	mmap_keyid = keyid;
	mmap_serial = BPF_CORE_READ(key, serial);
	mmap_start = BPF_CORE_READ(vma, vm_start);
	mmap_len = BPF_CORE_READ(vma, vm_end) - mmap_start;
	if (!is_target())
		return 0;
	__sync_fetch_and_add(&mmap_denied, 1);
	return -EPERM;
}

char LICENSE[] SEC("license") = "GPL";
