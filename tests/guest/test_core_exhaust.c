// SPDX-License-Identifier: GPL-2.0
/*
 * KeyID exhaustion on a small platform (tests/guest/test_core_exhaust.bootargs:
 * mktme.emu_keyids=3 mktme.emu_algs=aes-xts-128, a boot of its own): the
 * fourth key fails with ENOKEY and takes nothing; a KeyID comes back when its
 * key is gone and no page carries it, and is then reused; a quarantined KeyID
 * is retried when the pool is otherwise empty; an algorithm the platform did
 * not activate is refused with EOPNOTSUPP before a KeyID is taken.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest.h"

#define NR 3

static void setup(void)
{
	mktme_settle();
	mktme_debugfs_set("inject_busy", 0);
}

TestSuite(core_exhaust, .init = setup, .timeout = GUEST_TIMEOUT(120));

static key_serial_t add_named(int i)
{
	char name[32];

	snprintf(name, sizeof(name), "core-exhaust-%d", i);
	return mktme_key_add_ok(name, PAYLOAD_CPU_128);
}

static void assert_enokey_nothing_taken(void)
{
	long calls = mktme_debugfs("program_calls");
	long quarantined = mktme_sysfs("keyids_quarantined");

	cr_assert_eq(mktme_key_add("core-exhaust-extra", PAYLOAD_CPU_128), -1, "a key beyond %d KeyIDs", NR);
	cr_assert_eq(errno, ENOKEY, "add_key: %s, want ENOKEY", strerror(errno));
	cr_assert_eq(mktme_sysfs("keyids_in_use"), NR);
	/* Nothing quarantined to retry, so nothing was programmed. */
	if (quarantined == 0)
		cr_assert_eq(mktme_debugfs("program_calls"), calls, "a refused key programmed something");
	cr_assert_eq(keyctl_search(KEY_SPEC_PROCESS_KEYRING, MKTME_KEY_TYPE, "core-exhaust-extra", 0), -1);
}

Test(core_exhaust, the_platform_is_small)
{
	char *algs = guest_read_file(MKTME_SYSFS "/algorithms", NULL);

	cr_assert_eq(mktme_sysfs("nr_keyids"), NR, "booted without test_core_exhaust.bootargs?");
	cr_assert_not_null(algs);
	cr_assert(guest_list_has(algs, "aes-xts-128"), "algorithms: %s", algs);
	cr_assert(!guest_list_has(algs, "aes-xts-256"), "algorithms: %s", algs);
	cr_assert_eq(mktme_sysfs("keyids_in_use"), 0);
	free(algs);
}

Test(core_exhaust, an_algorithm_not_activated_is_eopnotsupp_with_nothing_taken)
{
	long calls = mktme_debugfs("program_calls");
	key_serial_t k;

	cr_assert_eq(mktme_key_add("core-exhaust-256", PAYLOAD_CPU_256), -1);
	cr_assert_eq(errno, EOPNOTSUPP, "aes-xts-256 on a 128-only platform: %s", strerror(errno));
	cr_assert_eq(mktme_sysfs("keyids_in_use"), 0);
	cr_assert_eq(mktme_debugfs("program_calls"), calls);
	/* Without algorithm=, the platform's: AES-XTS-128. */
	k = mktme_key_add_ok("core-exhaust-default", "type=clear");
	{
		char buf[64];
		long n = keyctl_read(k, buf, sizeof(buf) - 1);

		cr_assert_gt(n, 0);
		buf[n] = '\0';
		cr_assert(strstr(buf, "alg=aes-xts-128"), "keyctl read: %s", buf);
	}
	mktme_key_drop(k);
	cr_assert_eq(mktme_wait_keyids(0), 0);
}

Test(core_exhaust, enokey_when_all_are_taken_then_reuse_after_release)
{
	key_serial_t keys[NR];
	int ids[NR], seen = 0;
	key_serial_t k;

	for (int i = 0; i < NR; i++) {
		keys[i] = add_named(i);
		ids[i] = mktme_key_keyid(keys[i]);
		cr_assert(ids[i] >= 1 && ids[i] <= NR, "KeyID %d", ids[i]);
		cr_assert_eq(seen & (1 << ids[i]), 0, "KeyID %d handed out twice", ids[i]);
		seen |= 1 << ids[i];
	}
	assert_enokey_nothing_taken();
	/* A malformed payload is still EINVAL: parsing comes before allocation. */
	cr_assert_eq(mktme_key_add("core-exhaust-bad", "type=nope"), -1);
	cr_assert_eq(errno, EINVAL, "malformed payload with no KeyID left: %s", strerror(errno));

	mktme_key_drop(keys[1]);
	cr_assert_eq(mktme_wait_keyids(NR - 1), NR - 1, "the dropped key's KeyID did not come back");
	k = add_named(10);
	cr_assert_eq(mktme_key_keyid(k), ids[1], "the only free KeyID was %d", ids[1]);
	assert_enokey_nothing_taken();

	mktme_key_drop(k);
	mktme_key_drop(keys[0]);
	mktme_key_drop(keys[2]);
	cr_assert_eq(mktme_wait_keyids(0), 0);
}

Test(core_exhaust, a_mapped_keyid_comes_back_only_after_its_pages)
{
	key_serial_t keys[NR];
	int keyid, fd;
	char *p;
	key_serial_t k;

	for (int i = 0; i < NR; i++)
		keys[i] = add_named(i);
	keyid = mktme_key_keyid(keys[0]);
	fd = mktme_region(keys[0]);
	p = mktme_map(fd, 2 * PAGE_SZ, PROT_READ | PROT_WRITE);
	memset(p, 0x77, 2 * PAGE_SZ);

	mktme_key_drop(keys[0]);
	/* The region holds the key and the KeyID: the key GC may free neither. */
	guest_key_gc_barrier();
	cr_assert_eq(mktme_keyid_refs(keyid), 2, "KeyID %d: want the key's and the region's reference",
		     keyid);
	cr_assert_eq(mktme_sysfs("keyids_in_use"), NR, "KeyID %d released while its pages are mapped",
		     keyid);
	assert_enokey_nothing_taken();
	cr_assert_eq(p[PAGE_SZ], 0x77);

	/* Unmapped but the fd still open: the region still holds its pages. */
	munmap(p, 2 * PAGE_SZ);
	cr_assert_eq(mktme_keyid_refs(keyid), 2, "KeyID %d: munmap dropped a reference", keyid);
	cr_assert_eq(mktme_sysfs("keyids_in_use"), NR, "KeyID %d released while its region still has pages",
		     keyid);
	close(fd);
	cr_assert_eq(mktme_wait_keyids(NR - 1), NR - 1);
	k = add_named(20);
	cr_assert_eq(mktme_key_keyid(k), keyid);

	mktme_key_drop(k);
	mktme_key_drop(keys[1]);
	mktme_key_drop(keys[2]);
	cr_assert_eq(mktme_wait_keyids(0), 0);
}

Test(core_exhaust, a_quarantined_keyid_is_retried_when_the_pool_is_empty)
{
	key_serial_t k = add_named(0), keys[NR];
	int bad = mktme_key_keyid(k), seen = 0;
	long calls;

	/* Its CLEAR_KEY fails every attempt (10): quarantined. */
	mktme_debugfs_set("inject_busy", 10);
	mktme_key_drop(k);
	cr_assert_eq(mktme_wait_keyids(0), 0);
	cr_assert_eq(guest_wait_long(MKTME_SYSFS "/keyids_quarantined", 1, 5000), 1);
	cr_assert_eq(mktme_debugfs("inject_busy"), 0);

	/* The two clean KeyIDs first, then the quarantined one, reprogrammed. */
	for (int i = 0; i < NR - 1; i++) {
		keys[i] = add_named(i + 1);
		cr_assert_neq(mktme_key_keyid(keys[i]), bad, "quarantined KeyID %d handed out early", bad);
	}
	calls = mktme_debugfs("program_calls");
	keys[NR - 1] = add_named(NR);
	cr_assert_eq(mktme_key_keyid(keys[NR - 1]), bad);
	cr_assert_eq(mktme_debugfs("program_calls"), calls + 2, "want one CLEAR_KEY, then the key's program");
	cr_assert_eq(mktme_sysfs("keyids_quarantined"), 0);
	for (int i = 0; i < NR; i++)
		seen |= 1 << mktme_key_keyid(keys[i]);
	cr_assert_eq(seen, 0xe, "KeyIDs in use: mask %#x", seen);
	assert_enokey_nothing_taken();

	for (int i = 0; i < NR; i++)
		mktme_key_drop(keys[i]);
	cr_assert_eq(mktme_wait_keyids(0), 0);
}
