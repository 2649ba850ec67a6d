// SPDX-License-Identifier: GPL-2.0
/*
 * The mktme LSM hooks (DESIGN.md §2.5, issue 3 Deliver 6): a BPF LSM program
 * on each of lsm/mktme_key_create, lsm/mktme_key_bind and lsm/mktme_mmap
 * denies for one process; the syscall fails with EPERM; the hook saw the
 * kernel's own values; nothing was allocated or programmed (keyids_in_use,
 * the emulated backend's program_calls, pages_mapped unchanged); another
 * process is not denied; after detaching, the same call works.
 *
 * Programs: tests/bpf/test_core_deny.bpf.c. Each test loads only its own program,
 * so a hook that is missing fails that test alone (at load).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"
#include "test_core_deny.skel.h"

TestSuite(core_lsm, .init = guest_settle, .timeout = GUEST_TIMEOUT(120));

enum hook { HOOK_CREATE, HOOK_BIND, HOOK_MMAP };

/* Open, keep only @hook's program, deny for @tgid, load and attach. */
static struct test_core_deny_bpf *deny_for(enum hook hook, pid_t tgid)
{
	struct test_core_deny_bpf *skel = test_core_deny_bpf__open();
	int err;

	cr_assert_not_null(skel, "open skeleton: %s", strerror(errno));
	bpf_program__set_autoload(skel->progs.deny_key_create, hook == HOOK_CREATE);
	bpf_program__set_autoload(skel->progs.deny_key_bind, hook == HOOK_BIND);
	bpf_program__set_autoload(skel->progs.deny_mmap, hook == HOOK_MMAP);
	skel->rodata->target_tgid = tgid;
	err = test_core_deny_bpf__load(skel);
	cr_assert_eq(err, 0, "load (is the hook in the kernel's BTF?): %s", strerror(-err));
	err = test_core_deny_bpf__attach(skel);
	cr_assert_eq(err, 0, "attach: %s", strerror(-err));
	return skel;
}

struct counters {
	long keyids, calls, pages;
};

static struct counters counters(void)
{
	return (struct counters){
		.keyids = mktme_sysfs("keyids_in_use"),
		.calls = mktme_program_calls(),
		.pages = mktme_sysfs("pages_mapped"),
	};
}

static void assert_unchanged(struct counters before, const char *what)
{
	struct counters now = counters();

	cr_assert_eq(now.keyids, before.keyids, "%s: keyids_in_use %ld -> %ld", what, before.keyids,
		     now.keyids);
	cr_assert_eq(now.calls, before.calls, "%s: program_calls %ld -> %ld", what, before.calls, now.calls);
	cr_assert_eq(now.pages, before.pages, "%s: pages_mapped %ld -> %ld", what, before.pages, now.pages);
}

/* Run @fn in a child process; its exit status (or 128 + signal). */
static int in_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int status;

	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(fn(arg));
	status = guest_wait_child(pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define USER_256 "type=user algorithm=aes-xts-256 key=00112233445566778899aabbccddeeff" \
		 "ffeeddccbbaa99887766554433221100 tweak=0f1e2d3c4b5a69788796a5b4c3d2e1f0" \
		 "f0e1d2c3b4a5968778695a4b3c2d1e0f"

static int add_and_drop(void *arg)
{
	key_serial_t k = mktme_key_add("core-lsm-other", arg);

	if (k < 0)
		return 1;
	keyctl_unlink(k, KEY_SPEC_PROCESS_KEYRING);
	return 0;
}

Test(core_lsm, key_create_denied_before_anything_is_allocated)
{
	struct test_core_deny_bpf *skel = deny_for(HOOK_CREATE, getpid());
	struct counters before = counters();
	key_serial_t k;

	k = mktme_key_add("core-lsm-create", USER_256);
	cr_assert_eq(k, -1, "add_key not denied (key %d)", k);
	cr_assert_eq(errno, EPERM, "add_key: %s", strerror(errno));
	assert_unchanged(before, "denied add_key");
	cr_assert_eq(keyctl_search(KEY_SPEC_PROCESS_KEYRING, MKTME_KEY_TYPE, "core-lsm-create", 0), -1,
		     "the denied key is in the keyring");

	/* The hook ran once, with the payload's type and algorithm. */
	cr_assert_eq(skel->bss->create_calls, 1);
	cr_assert_eq(skel->bss->create_denied, 1);
	cr_assert_eq(skel->bss->create_type, MKTME_KEY_TYPE_USER);
	cr_assert_eq(skel->bss->create_alg, MKTME_ALG_AES_XTS_256);
	cr_assert_gt(skel->bss->create_serial, 0);

	/* The algorithm the kernel chose, not the absent algorithm= token. */
	cr_assert_eq(mktme_key_add("core-lsm-create", "type=cpu"), -1);
	cr_assert_eq(skel->bss->create_type, MKTME_KEY_TYPE_CPU);
	cr_assert_eq(skel->bss->create_alg, MKTME_ALG_AES_XTS_128);
	assert_unchanged(before, "second denied add_key");

	/* Another process is not denied. */
	cr_assert_eq(in_child(add_and_drop, (void *)PAYLOAD_CPU_128), 0, "another process was denied");
	cr_assert_eq(skel->bss->create_calls, 3);
	cr_assert_eq(skel->bss->create_denied, 2);
	cr_assert_eq(mktme_wait_keyids(before.keyids), before.keyids);

	test_core_deny_bpf__destroy(skel);
	k = mktme_key_add_ok("core-lsm-create", USER_256);
	mktme_key_drop(k);
}

Test(core_lsm, key_bind_denied_and_the_region_stays_unbound)
{
	key_serial_t k = mktme_key_add_ok("core-lsm-bind", PAYLOAD_CPU_128);
	int keyid = mktme_key_keyid(k);
	int fd = mktme_open();
	struct test_core_deny_bpf *skel = deny_for(HOOK_BIND, getpid());
	struct counters before = counters();
	struct mktme_region_info info;

	cr_assert_eq(mktme_set_key(fd, k), EPERM, "SET_KEY not denied");
	assert_unchanged(before, "denied SET_KEY");
	info = mktme_info(fd);
	cr_assert_eq(info.key_serial, 0, "a denied SET_KEY bound the region");
	cr_assert_eq(info.keyid, 0u);
	cr_assert_eq(mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED,
		     "an unbound region could be mapped");
	cr_assert_eq(skel->bss->bind_calls, 1);
	cr_assert_eq(skel->bss->bind_keyid, (unsigned int)keyid);
	cr_assert_eq(skel->bss->bind_serial, k);

	/* Detached: the same fd binds (the denied call did not use up "once"). */
	test_core_deny_bpf__destroy(skel);
	cr_assert_eq(mktme_set_key(fd, k), 0, "SET_KEY after detach");
	cr_assert_eq(mktme_info(fd).keyid, (unsigned int)keyid);
	close(fd);
	mktme_key_drop(k);
	cr_assert_eq(mktme_wait_keyids(before.keyids - 1), before.keyids - 1,
		     "the KeyID leaked a reference");
}

struct mmap_arg {
	int fd;
	int to_child[2];
};

/* In the denied child: wait until the program is attached, then map. */
static int child_mmap(void *p)
{
	struct mmap_arg *a = p;
	char c;
	void *m;

	if (read(a->to_child[0], &c, 1) != 1)
		return 10;
	m = mmap(NULL, 4 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0);
	if (m != MAP_FAILED)
		return 11;
	if (errno != EPERM)
		return 12;
	return 0;
}

Test(core_lsm, mmap_denied_in_one_process_allowed_in_another)
{
	key_serial_t k = mktme_key_add_ok("core-lsm-mmap", PAYLOAD_CPU_128);
	int keyid = mktme_key_keyid(k);
	struct mmap_arg a = { .fd = mktme_region(k) };
	struct test_core_deny_bpf *skel;
	struct counters before;
	pid_t pid;
	int status;
	char *p;

	cr_assert_eq(pipe(a.to_child), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(child_mmap(&a));
	/* The receiving process is the one denied: the hook re-checks every mmap. */
	skel = deny_for(HOOK_MMAP, pid);
	before = counters();
	cr_assert_eq(write(a.to_child[1], "1", 1), 1);
	status = guest_wait_child(pid);
	cr_assert(WIFEXITED(status), "child died: %#x", status);
	cr_assert_eq(WEXITSTATUS(status), 0, "child: 11 mmap not denied, 12 errno not EPERM; got %d",
		     WEXITSTATUS(status));
	assert_unchanged(before, "denied mmap");
	cr_assert_eq(mktme_info(a.fd).nr_pages, 0);
	cr_assert_eq(skel->bss->mmap_denied, 1);
	cr_assert_eq(skel->bss->mmap_keyid, (unsigned int)keyid);
	cr_assert_eq(skel->bss->mmap_serial, k);
	cr_assert_eq(skel->bss->mmap_len, 4 * PAGE_SZ);

	/* This process is allowed, with the program still attached. */
	p = mktme_map(a.fd, 4 * PAGE_SZ, PROT_READ | PROT_WRITE);
	p[0] = 1;
	cr_assert_eq(skel->bss->mmap_calls, 2);
	cr_assert_eq(skel->bss->mmap_denied, 1);
	cr_assert_eq(skel->bss->mmap_start, (unsigned long)p);
	cr_assert_eq(mktme_sysfs("pages_mapped"), before.pages + 1);

	test_core_deny_bpf__destroy(skel);
	munmap(p, 4 * PAGE_SZ);
	close(a.fd);
	mktme_key_drop(k);
}

Test(core_lsm, hooks_are_in_the_kernel_btf)
{
	/* bpf_lsm_<hook> is generated for every LSM_HOOK: its BTF is what BPF attaches to. */
	size_t len;
	char *btf = guest_read_file("/sys/kernel/btf/vmlinux", &len);
	static const char *const names[] = { "bpf_lsm_mktme_key_create", "bpf_lsm_mktme_key_bind",
					     "bpf_lsm_mktme_mmap" };

	cr_assert_not_null(btf);
	for (int i = 0; i < 3; i++) {
		char needle[64];

		/* BTF names are NUL-terminated in the string section. */
		snprintf(needle, sizeof(needle), "%s", names[i]);
		cr_assert(guest_memmem(btf, len, needle, strlen(needle) + 1), "%s not in the BTF", names[i]);
	}
	free(btf);
}

/* SET_KEY in a thread of its own, so that the test can act while it is held in the hook. */
struct setter {
	int fd;
	key_serial_t key;
	int err;
};

static void *set_key_thread(void *arg)
{
	struct setter *st = arg;

	st->err = mktme_set_key(st->fd, st->key);
	return NULL;
}

struct revoker {
	key_serial_t key;
	pid_t tid;
	int done;	/* __atomic */
	int err;
};

static void *revoke_thread(void *arg)
{
	struct revoker *r = arg;

	__atomic_store_n(&r->tid, gettid(), __ATOMIC_SEQ_CST);
	r->err = keyctl_revoke(r->key) ? errno : 0;
	__atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * Is thread @tid blocked in keyctl(2)? /proc/PID/task/TID/syscall gives the
 * number of the system call a blocked task is in ("running" otherwise;
 * fs/proc/base.c proc_pid_syscall), and stat its state (D: waiting
 * uninterruptibly, as on a rw_semaphore taken for writing).
 */
static bool blocked_in_keyctl(pid_t tid)
{
	char path[96], *s, *st;
	bool in_keyctl, sleeping = false;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	s = guest_read_file(path, NULL);
	in_keyctl = s && atol(s) == SYS_keyctl && strncmp(s, "running", 7);
	free(s);
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	st = guest_read_file(path, NULL);
	if (st && strrchr(st, ')'))
		sleeping = strrchr(st, ')')[2] == 'D';
	free(st);
	return in_keyctl && sleeping;
}

/* Poll @cond every ms for at most MKTME_WAIT_MS: whether it became true. */
#define WAIT_FOR(cond)                                                   \
	({                                                               \
		bool ok_ = false;                                        \
		for (int ms_ = 0; ms_ < MKTME_WAIT_MS && !(ok_ = (cond)); ms_++) \
			usleep(1000);                                    \
		ok_;                                                     \
	})

/*
 * SET_KEY reads the key's KeyID, asks the LSMs, then takes its own KeyID
 * reference; revoke drops the key's reference (key.c). A revoke between the
 * two must not leave a region bound to a KeyID it holds no reference on
 * (freed, reprogrammed, handed to the next key). Every round puts a revoke
 * in that window for certain: the bind hook holds SET_KEY there, the revoke
 * is issued, and the hook lets go only once the revoke is blocked in
 * keyctl() (dev.c holds key->sem across the window, so a revoke waits for
 * it) or has finished, which the hook then sees in the key's flags. Whatever
 * the kernel does, the region must then hold its own reference on the KeyID
 * the hook was asked about, or none at all.
 */
Test(core_lsm, set_key_racing_revoke_keeps_a_reference_on_the_keyid)
{
	enum { ROUNDS = 6 };
	struct test_core_deny_bpf *skel = deny_for(HOOK_BIND, 0);
	long base = mktme_sysfs("keyids_in_use");
	int bound = 0, refused = 0, blocked = 0;

	skel->bss->bind_hold = 1;
	for (int i = 0; i < ROUNDS; i++) {
		key_serial_t k = mktme_key_add_ok("core-lsm-race", PAYLOAD_CPU_128);
		struct setter st = { mktme_open(), k, -1 };
		struct revoker rv = { k, 0, 0, -1 };
		unsigned long long held = skel->bss->bind_held, saw = skel->bss->bind_saw_revoked;
		pthread_t set_th, rev_th;
		bool blocked_now, landed;

		__atomic_store_n(&skel->bss->bind_release, 0, __ATOMIC_SEQ_CST);
		cr_assert_eq(pthread_create(&set_th, NULL, set_key_thread, &st), 0);
		cr_assert(WAIT_FOR(__atomic_load_n(&skel->bss->bind_held, __ATOMIC_SEQ_CST) > held),
			  "round %d: SET_KEY never reached the bind hook", i);
		/* SET_KEY is now held between its KeyID lookup and its reference. */
		cr_assert_eq(pthread_create(&rev_th, NULL, revoke_thread, &rv), 0);
		WAIT_FOR(__atomic_load_n(&rv.done, __ATOMIC_SEQ_CST) ||
			 (__atomic_load_n(&rv.tid, __ATOMIC_SEQ_CST) &&
			  blocked_in_keyctl(__atomic_load_n(&rv.tid, __ATOMIC_SEQ_CST))));
		blocked_now = !__atomic_load_n(&rv.done, __ATOMIC_SEQ_CST) &&
			      blocked_in_keyctl(__atomic_load_n(&rv.tid, __ATOMIC_SEQ_CST));
		__atomic_store_n(&skel->bss->bind_release, 1, __ATOMIC_SEQ_CST);
		pthread_join(set_th, NULL);
		pthread_join(rev_th, NULL);
		cr_assert_eq(skel->bss->bind_hold_timeouts, 0,
			     "round %d: the hook let SET_KEY go before it was released", i);
		/* In the window: blocked on it, or revoked before the hook let go. */
		landed = blocked_now || skel->bss->bind_saw_revoked > saw;
		blocked += blocked_now;
		cr_assert(landed, "round %d: the revoke was neither blocked in keyctl() nor done while "
			  "SET_KEY was held in the hook", i);
		cr_assert_eq(rv.err, 0, "round %d: revoke: %s", i, strerror(rv.err));

		if (st.err == 0) {
			struct mktme_region_info info = mktme_info(st.fd);

			bound++;
			cr_assert_eq(info.keyid, skel->bss->bind_keyid,
				     "round %d: region bound to KeyID %u, the hook was asked about %u", i,
				     info.keyid, skel->bss->bind_keyid);
			/* Unlinked and revoked, the key holds no KeyID: the region's own
			 * reference must, whatever the key GC does. */
			mktme_key_drop(k);
			guest_key_gc_barrier();
			cr_assert_geq(mktme_keyid_refs(info.keyid), 1, "round %d: KeyID %u has no reference",
				      i, info.keyid);
			cr_assert_eq(mktme_sysfs("keyids_in_use"), base + 1,
				     "round %d: region bound to KeyID %u, which is no longer in use", i,
				     info.keyid);
			close(st.fd);
		} else {
			refused++;
			cr_assert_eq(st.err, EKEYREVOKED, "round %d: SET_KEY: %s", i, strerror(st.err));
			cr_assert_eq(mktme_info(st.fd).keyid, 0u, "round %d: a refused SET_KEY bound", i);
			close(st.fd);
			mktme_key_drop(k);
		}
		cr_assert_eq(mktme_wait_keyids(base), base, "round %d: KeyID not released", i);
	}
	cr_log_info("%d rounds bound, %d refused; the revoke was blocked in keyctl in %d", bound, refused,
		    blocked);
	test_core_deny_bpf__destroy(skel);
}
