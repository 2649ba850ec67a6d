// SPDX-License-Identifier: GPL-2.0
/*
 * The per-user KeyID limit (issue 9 §1). Without it, and with no policy
 * loaded, uid 65534 took every KeyID with add_key() and root's next key got
 * ENOKEY. Now a user other than root holds at most kernel.keys.mktme_maxkeyids
 * KeyIDs (default: a quarter of them, at least one), root at most
 * kernel.keys.mktme_root_maxkeyids (default: all); the next add_key() fails
 * with EDQUOT, takes nothing, and says so in the kernel log. A "root" in a
 * user namespace is the user it maps to. Main boot: 31 emulated KeyIDs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"

#define MAXKEYIDS	"/proc/sys/kernel/keys/mktme_maxkeyids"
#define ROOT_MAXKEYIDS	"/proc/sys/kernel/keys/mktme_root_maxkeyids"
#define NOBODY		65534

static long saved_max = -1, saved_root_max = -1;

static void setup(void)
{
	mktme_settle();
	saved_max = guest_read_long(MAXKEYIDS);
	saved_root_max = guest_read_long(ROOT_MAXKEYIDS);
}

static void restore(void)
{
	char buf[32];

	if (saved_max >= 0) {
		snprintf(buf, sizeof(buf), "%ld", saved_max);
		guest_write_str(MAXKEYIDS, buf);
	}
	if (saved_root_max >= 0) {
		snprintf(buf, sizeof(buf), "%ld", saved_root_max);
		guest_write_str(ROOT_MAXKEYIDS, buf);
	}
}

TestSuite(core_quota, .init = setup, .fini = restore, .timeout = GUEST_TIMEOUT(120));

static void set_limit(const char *path, long v)
{
	char buf[32];
	int err;

	snprintf(buf, sizeof(buf), "%ld", v);
	err = guest_write_str(path, buf);
	cr_assert_eq(err, 0, "%s = %ld: %s", path, v, strerror(-err));
	cr_assert_eq(guest_read_long(path), v);
}

/* A child that took KeyIDs and holds them (in its process keyring). */
struct hoard {
	pid_t pid;
	int go;			/* write a byte: the child exits */
	int taken;		/* keys created */
	int err;		/* errno of the first add_key() refused */
};

/*
 * As @uid (and, with @userns, as root of a user namespace mapped to @uid),
 * add mktme keys until one is refused.
 */
static struct hoard hoard_start(uid_t uid, bool userns)
{
	struct hoard h = { 0 };
	int go[2], report[2], res[2];

	cr_assert_eq(pipe(go), 0);
	cr_assert_eq(pipe(report), 0);
	h.pid = fork();
	cr_assert_neq(h.pid, -1);
	if (h.pid == 0) {
		int n = 0, err = 0;
		char c;

		/* Only the parent may hold the write end: EOF if it dies. */
		close(go[1]);
		close(report[0]);
		if (setgid(uid) || setuid(uid))
			_exit(20);
		if (userns) {
			char map[32];
			int fd;

			/*
			 * setuid() left us non-dumpable, which makes our /proc
			 * files root's (proc_pid_make_inode(), task_dump_owner()):
			 * uid_map could not be opened for writing.
			 */
			if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
				_exit(22);
			if (unshare(CLONE_NEWUSER))
				_exit(21);
			snprintf(map, sizeof(map), "0 %u 1", uid);
			fd = open("/proc/self/uid_map", O_WRONLY);
			if (fd < 0 || write(fd, map, strlen(map)) != (ssize_t)strlen(map))
				_exit(22);
			close(fd);
			if (getuid() != 0)
				_exit(23);
		}
		for (; n < 64; n++) {
			char name[32];

			snprintf(name, sizeof(name), "core-quota-%d", n);
			if (add_key(MKTME_KEY_TYPE, name, PAYLOAD_CPU_128, strlen(PAYLOAD_CPU_128),
				    KEY_SPEC_PROCESS_KEYRING) < 0) {
				err = errno;
				break;
			}
		}
		res[0] = n;
		res[1] = err;
		if (write(report[1], res, sizeof(res)) != sizeof(res))
			_exit(24);
		if (read(go[0], &c, 1) != 1)
			_exit(25);
		_exit(0);
	}
	close(go[0]);
	close(report[1]);
	if (read(report[0], res, sizeof(res)) != sizeof(res)) {
		int st = guest_wait_child(h.pid);

		cr_assert_fail("hoarder died before reporting: status %#x (20 setuid, 21 unshare, "
			       "22 uid_map, 23 not root in its namespace)", st);
	}
	close(report[0]);
	h.go = go[1];
	h.taken = res[0];
	h.err = res[1];
	return h;
}

/* Let the hoarder exit; its keys go, and with them its KeyIDs. */
static void hoard_end(struct hoard *h, long base)
{
	int st;

	cr_assert_eq(write(h->go, "x", 1), 1);
	close(h->go);
	st = guest_wait_child(h->pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "hoarder status %#x", st);
	cr_assert_eq(mktme_wait_keyids(base), base, "the hoarder's KeyIDs did not come back");
}

Test(core_quota, the_defaults_are_a_quarter_for_users_and_all_for_root)
{
	long nr = mktme_sysfs("nr_keyids");
	long want = nr / 4 > 1 ? nr / 4 : 1;

	cr_assert_eq(nr, 31, "booted with another emu_keyids?");
	cr_assert_eq(guest_read_long(MAXKEYIDS), want);
	cr_assert_eq(guest_read_long(ROOT_MAXKEYIDS), nr);
	/* Bounded by the KeyIDs there are; nothing changes on a refusal. */
	cr_assert_eq(guest_write_str(MAXKEYIDS, "32"), -EINVAL);
	cr_assert_eq(guest_write_str(MAXKEYIDS, "-1"), -EINVAL);
	cr_assert_eq(guest_read_long(MAXKEYIDS), want);
}

Test(core_quota, an_unprivileged_user_cannot_take_every_keyid)
{
	long base = mktme_sysfs("keyids_in_use");
	long limit = guest_read_long(MAXKEYIDS);
	long calls;
	struct hoard h, h2;
	key_serial_t k;

	h = hoard_start(NOBODY, false);
	cr_assert_eq(h.err, EDQUOT, "uid %d's key %d refused with %s, want EDQUOT", NOBODY, h.taken + 1,
		     strerror(h.err));
	cr_assert_eq(h.taken, limit, "uid %d took %d KeyIDs, the limit is %ld", NOBODY, h.taken, limit);
	cr_assert_eq(mktme_sysfs("keyids_in_use"), base + limit, "the refused key took a KeyID");
	cr_assert(guest_kernel_log_has("uid 65534 holds"), "no kernel log line for the refusal");

	/* Root still gets one, and so does another user. */
	calls = mktme_program_calls();
	k = mktme_key_add_ok("core-quota-root", PAYLOAD_CPU_128);
	cr_assert_eq(mktme_program_calls(), calls + 1);
	h2 = hoard_start(1000, false);
	cr_assert_eq(h2.taken, limit, "uid 1000 took %d, want %ld", h2.taken, limit);
	cr_assert_eq(h2.err, EDQUOT);

	mktme_key_drop(k);
	hoard_end(&h2, base + limit);
	hoard_end(&h, base);

	/* Its KeyIDs are uncharged with its keys: it may take them again. */
	h = hoard_start(NOBODY, false);
	cr_assert_eq(h.taken, limit, "after release uid %d took %d, want %ld", NOBODY, h.taken, limit);
	hoard_end(&h, base);
}

Test(core_quota, root_of_a_user_namespace_counts_as_the_user_it_maps_to)
{
	long base = mktme_sysfs("keyids_in_use");
	long limit = guest_read_long(MAXKEYIDS);
	struct hoard h = hoard_start(NOBODY, true);

	cr_assert_eq(h.err, EDQUOT, "refused with %s", strerror(h.err));
	cr_assert_eq(h.taken, limit, "root in a user namespace took %d KeyIDs, the limit is %ld", h.taken,
		     limit);
	hoard_end(&h, base);
}

Test(core_quota, the_limits_can_be_set)
{
	long base = mktme_sysfs("keyids_in_use");
	struct hoard h;
	key_serial_t k;

	set_limit(MAXKEYIDS, 2);
	h = hoard_start(NOBODY, false);
	cr_assert_eq(h.taken, 2);
	cr_assert_eq(h.err, EDQUOT);
	/* Lowering it takes nothing away; it refuses the next one. */
	set_limit(MAXKEYIDS, 0);
	cr_assert_eq(mktme_sysfs("keyids_in_use"), base + 2);
	hoard_end(&h, base);
	h = hoard_start(NOBODY, false);
	cr_assert_eq(h.taken, 0, "limit 0: took %d", h.taken);
	cr_assert_eq(h.err, EDQUOT);
	hoard_end(&h, base);

	/* Root is unlimited only by default (base: KeyIDs root holds now). */
	set_limit(ROOT_MAXKEYIDS, base + 1);
	k = mktme_key_add_ok("core-quota-root-1", PAYLOAD_CPU_128);
	cr_assert_eq(mktme_key_add("core-quota-root-2", PAYLOAD_CPU_128), -1);
	cr_assert_eq(errno, EDQUOT, "root over its limit: %s", strerror(errno));
	cr_assert(guest_kernel_log_has("mktme_root_maxkeyids"));
	mktme_key_drop(k);
	cr_assert_eq(mktme_wait_keyids(base), base);
}
