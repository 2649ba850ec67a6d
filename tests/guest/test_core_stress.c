// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency and leaks (issue 3, guest tests): 8 threads (and 8 processes)
 * first-touching the same pages of a fresh region at once, many times over;
 * key churn from many threads. Afterwards keyids_in_use, pages_mapped and
 * MemFree are back at their baseline, and the freed pages are usable by the
 * kernel again (a page freed while still out of the direct map would oops
 * when the kernel zeroes it for someone else).
 *
 * The race this is after: two faults on one offset both allocate, one wins;
 * the loser's page must be freed (and its direct-map entry restored), and
 * every writer must end up on the winner's page. secretmem had exactly this
 * bug (fixed in 2025).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"

#define THREADS		8
#define PAGES		64
#define ROUNDS		100
/* MemFree may move by this much for reasons of its own (per-CPU lists, slab). */
#define MEMFREE_SLACK_KB	(4 * 1024)

TestSuite(core_stress, .init = guest_settle, .timeout = GUEST_TIMEOUT(400));

/*
 * Free pages sitting on the per-CPU lists are not in MemFree (6.12
 * NR_FREE_PAGES), and those lists grow and shrink with the load: count them
 * too, or a test that frees thousands of pages sees megabytes "vanish".
 */
static long pcp_free_kb(void)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256];
	long pages = 0, n;

	cr_assert_not_null(f, "/proc/zoneinfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &n) == 1)
			pages += n;
	fclose(f);
	return pages * (PAGE_SZ / 1024);
}

/*
 * Under KASAN, freed slab objects wait in its quarantine (up to 1/32 of RAM)
 * instead of going back: 800 exited processes "lost" 7 MiB of MemFree on the
 * debug kernel. Shrinking a cache drains its quarantine
 * (kmem_cache_shrink() -> kasan_cache_shrink(), mm/slab_common.c) and
 * frees its empty slabs; kmemleak, not this count, finds leaked objects there.
 */
static void slabs_shrunk(void)
{
	DIR *d = opendir("/sys/kernel/slab");
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", e->d_name);
		fd = open(path, O_WRONLY);
		if (fd < 0)
			continue;	/* aliases are symlinks to the same cache */
		/* Best effort: MemFree's slack covers the rest. */
		if (write(fd, "1", 1) != 1)
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
		close(fd);
	}
	closedir(d);
}

static long memfree_settled(void)
{
	sync();
	slabs_shrunk();
	/* Also runs the shrinkers: /dev/mktme's empty 2 MiB blocks go back. */
	guest_write_str("/proc/sys/vm/drop_caches", "3");
	return guest_meminfo_kb("MemFree") + pcp_free_kb();
}

/*
 * MemFree once it is back within MEMFREE_SLACK_KB of @before, or the last
 * value after MKTME_WAIT_MS. Exiting processes free their page tables after
 * an RCU grace period and kworkers free what they were handed later still:
 * wait for the memory to come back rather than read it once (a leak never
 * does).
 */
static long memfree_back_to(long before)
{
	long now = memfree_settled();

	for (int waited = 0; waited < MKTME_WAIT_MS && now < before - MEMFREE_SLACK_KB; waited += 200) {
		usleep(200 * 1000);
		now = memfree_settled();
	}
	return now;
}

struct toucher {
	pthread_barrier_t *go;
	char *p;
	int id;
};

/* Every thread writes its own byte of every page: a write that landed on a
 * page that lost the race disappears. Odd threads walk backwards. */
static void *touch(void *arg)
{
	struct toucher *t = arg;

	pthread_barrier_wait(t->go);
	for (int i = 0; i < PAGES; i++) {
		int page = t->id % 2 ? PAGES - 1 - i : i;

		((volatile char *)t->p)[(size_t)page * PAGE_SZ + t->id] = (char)(0x40 + t->id);
	}
	return NULL;
}

/* Every page holds all THREADS bytes and carries @keyid. */
static void assert_all_writes_landed(int fd, const char *p, unsigned int keyid, int round)
{
	for (int i = 0; i < PAGES; i++) {
		struct mktme_pte_query q;

		for (int t = 0; t < THREADS; t++)
			cr_assert_eq(p[(size_t)i * PAGE_SZ + t], (char)(0x40 + t),
				     "round %d: page %d lost the write of toucher %d", round, i, t);
		cr_assert_eq(mktme_query(fd, p + (size_t)i * PAGE_SZ, &q), 0);
		cr_assert_eq(q.keyid, keyid, "round %d: page %d carries KeyID %u", round, i, q.keyid);
	}
}

Test(core_stress, threads_first_touch_the_same_pages)
{
	key_serial_t k;
	unsigned int keyid;
	long keyids = mktme_sysfs("keyids_in_use");
	long pages = mktme_sysfs("pages_mapped");
	long memfree = memfree_settled();
	long after;

	k = mktme_key_add_ok("core-stress-threads", PAYLOAD_CPU_128);
	keyid = mktme_key_keyid(k);
	for (int round = 0; round < ROUNDS; round++) {
		pthread_barrier_t go;
		pthread_t th[THREADS];
		struct toucher t[THREADS];
		int fd = mktme_region(k);
		char *p = mktme_map(fd, PAGES * PAGE_SZ, PROT_READ | PROT_WRITE);

		pthread_barrier_init(&go, NULL, THREADS);
		for (int i = 0; i < THREADS; i++) {
			t[i] = (struct toucher){ &go, p, i };
			cr_assert_eq(pthread_create(&th[i], NULL, touch, &t[i]), 0);
		}
		for (int i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&go);

		assert_all_writes_landed(fd, p, keyid, round);
		cr_assert_eq(mktme_info(fd).nr_pages, PAGES, "round %d: region has %llu pages", round,
			     (unsigned long long)mktme_info(fd).nr_pages);
		cr_assert_eq(mktme_sysfs("pages_mapped"), pages + PAGES, "round %d", round);
		munmap(p, PAGES * PAGE_SZ);
		close(fd);
		cr_assert_eq(mktme_sysfs("pages_mapped"), pages, "round %d: pages not freed", round);
	}
	mktme_key_drop(k);
	cr_assert_eq(mktme_wait_keyids(keyids), keyids);
	after = memfree_back_to(memfree);
	cr_assert_geq(after, memfree - MEMFREE_SLACK_KB, "MemFree %ld kB -> %ld kB after %d rounds of %d pages",
		      memfree, after, ROUNDS, PAGES);
}

Test(core_stress, processes_first_touch_the_same_offsets)
{
	key_serial_t k = mktme_key_add_ok("core-stress-procs", PAYLOAD_CPU_128);
	unsigned int keyid = mktme_key_keyid(k);
	long keyids = mktme_sysfs("keyids_in_use") - 1;
	long pages = mktme_sysfs("pages_mapped");
	long memfree = memfree_settled();
	pthread_barrierattr_t attr;
	pthread_barrier_t *go = mmap(NULL, sizeof(*go), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				     -1, 0);
	long after;

	cr_assert_neq(go, MAP_FAILED);
	pthread_barrierattr_init(&attr);
	pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	for (int round = 0; round < ROUNDS / 4; round++) {
		int fd = mktme_region(k);
		pid_t pid[THREADS];
		char *p;

		pthread_barrier_init(go, &attr, THREADS);
		for (int i = 0; i < THREADS; i++) {
			pid[i] = fork();
			cr_assert_neq(pid[i], -1);
			if (pid[i] == 0) {
				/* Each process has its own mapping, in its own mm. */
				struct toucher t = { go, NULL, i };

				t.p = mmap(NULL, PAGES * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
				if (t.p == MAP_FAILED)
					_exit(10);
				touch(&t);
				_exit(0);
			}
		}
		for (int i = 0; i < THREADS; i++) {
			int status = guest_wait_child(pid[i]);

			cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
				  "round %d: toucher %d: status %#x", round, i, status);
		}
		pthread_barrier_destroy(go);
		p = mktme_map(fd, PAGES * PAGE_SZ, PROT_READ);
		assert_all_writes_landed(fd, p, keyid, round);
		cr_assert_eq(mktme_info(fd).nr_pages, PAGES);
		munmap(p, PAGES * PAGE_SZ);
		close(fd);
		cr_assert_eq(mktme_sysfs("pages_mapped"), pages, "round %d: pages not freed", round);
	}
	mktme_key_drop(k);
	cr_assert_eq(mktme_wait_keyids(keyids), keyids);
	after = memfree_back_to(memfree);
	cr_assert_geq(after, memfree - MEMFREE_SLACK_KB, "MemFree %ld kB -> %ld kB", memfree, after);
	munmap(go, sizeof(*go));
}

struct churner {
	int id;
	int rounds;
	int failures;
};

static void *churn(void *arg)
{
	struct churner *c = arg;

	for (int i = 0; i < c->rounds; i++) {
		char name[32];
		key_serial_t k;
		int fd;
		char *p;

		snprintf(name, sizeof(name), "core-stress-churn-%d", c->id);
		k = add_key(MKTME_KEY_TYPE, name, PAYLOAD_CPU_128, strlen(PAYLOAD_CPU_128),
			    KEY_SPEC_PROCESS_KEYRING);
		if (k < 0) {
			c->failures++;
			continue;
		}
		fd = open(MKTME_DEV, O_RDWR | O_CLOEXEC);
		if (fd < 0 || mktme_set_key(fd, k)) {
			c->failures++;
		} else {
			p = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (p == MAP_FAILED) {
				c->failures++;
			} else {
				p[c->id] = 1;
				munmap(p, PAGE_SZ);
			}
		}
		if (fd >= 0)
			close(fd);
		/*
		 * Revoke returns the KeyID at once (key.c); an unlinked key
		 * would hold it until the key GC runs, and 8 churners outrun
		 * the GC and exhaust the pool (seen under load: ENOKEY).
		 */
		keyctl_revoke(k);
		keyctl_unlink(k, KEY_SPEC_PROCESS_KEYRING);
	}
	return NULL;
}

Test(core_stress, key_churn_programs_exactly_twice_per_key)
{
	enum { ROUNDS_PER_THREAD = 40 };
	long keyids = mktme_sysfs("keyids_in_use");
	long pages = mktme_sysfs("pages_mapped");
	long calls = mktme_program_calls();
	long want_calls = calls + 2L * THREADS * ROUNDS_PER_THREAD;
	pthread_t th[THREADS];
	struct churner c[THREADS];

	for (int i = 0; i < THREADS; i++) {
		c[i] = (struct churner){ i, ROUNDS_PER_THREAD, 0 };
		cr_assert_eq(pthread_create(&th[i], NULL, churn, &c[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		cr_assert_eq(c[i].failures, 0, "churner %d: %d of %d rounds failed", i, c[i].failures,
			     ROUNDS_PER_THREAD);
	}
	cr_assert_eq(mktme_wait_keyids(keyids), keyids, "KeyIDs leaked");
	/* One program at instantiate, one CLEAR_KEY at release, per key. */
	cr_assert_eq(mktme_wait_program_calls(want_calls), want_calls);
	cr_assert_eq(mktme_sysfs("pages_mapped"), pages);
}

Test(core_stress, freed_pages_are_usable_by_the_kernel_again)
{
	/* Cycle region pages through the allocator, then make the kernel
	 * touch (zero) most free memory through its direct map. */
	key_serial_t k = mktme_key_add_ok("core-stress-reuse", PAYLOAD_CPU_128);
	size_t big = (size_t)guest_meminfo_kb("MemFree") * 1024 / 2;
	char *anon;

	for (int round = 0; round < 8; round++) {
		int fd = mktme_region(k);
		char *p = mktme_map(fd, 1024 * PAGE_SZ, PROT_READ | PROT_WRITE);

		for (size_t i = 0; i < 1024; i++)
			p[i * PAGE_SZ] = (char)i;
		munmap(p, 1024 * PAGE_SZ);
		close(fd);
	}
	mktme_key_drop(k);
	anon = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	cr_assert_neq(anon, MAP_FAILED, "mmap %zu: %s", big, strerror(errno));
	for (size_t i = 0; i < big; i += PAGE_SZ)
		cr_assert_eq(anon[i], 0, "a recycled page was not zero at %zu", i);
	munmap(anon, big);
}
