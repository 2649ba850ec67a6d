// SPDX-License-Identifier: GPL-2.0
/*
 * Revoke means stop (issue 9 §2). Once a region's key is revoked, nothing
 * more is mapped from the region: every fault raises SIGBUS (a page never
 * touched, on 4 KiB and 2 MiB mappings, and in a mapping moved by mremap),
 * fork() hands a child no page of it, and mmap() is refused. What was
 * mapped before the revoke (touched, or populated with MAP_POPULATE) stays
 * mapped and keeps its data until it is unmapped, and the KeyID stays until
 * the last page is gone (test_core_keys.c checks its reprogramming).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"

#define HUGE_SZ		(2UL << 20)
#define HUGE_PAGES	(HUGE_SZ / PAGE_SZ)

TestSuite(core_revoke, .init = guest_settle, .timeout = GUEST_TIMEOUT(240));

static sigjmp_buf probe_jmp;

static void probe_handler(int sig)
{
	siglongjmp(probe_jmp, sig);
}

/*
 * Read (or write, then read back) the byte at @p in this process: 0 if that
 * worked and the byte read is @want, the signal it raised, or -1 for a
 * wrong byte.
 */
static int probe(volatile char *p, bool write, char want)
{
	struct sigaction sa = { .sa_handler = probe_handler }, old_bus, old_segv;
	volatile int ret = 0;
	int sig;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	sig = sigsetjmp(probe_jmp, 1);
	if (sig) {
		ret = sig;
	} else {
		if (write)
			*p = want;
		ret = *p == want ? 0 : -1;
	}
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return ret;
}

static void revoke_key(struct guest_region *r)
{
	cr_assert_eq(keyctl_revoke(r->key), 0, "revoke: %s", strerror(errno));
}

static long nr_pages(struct guest_region *r)
{
	return (long)mktme_info(r->fd).nr_pages;
}

Test(core_revoke, a_4k_page_never_touched_raises_sigbus_and_touched_ones_stay)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 4);
	long pages = mktme_sysfs("pages_mapped");

	cr_assert_eq(probe(r.p, true, 0x11), 0);
	cr_assert_eq(probe(r.p + 2 * PAGE_SZ, true, 0x22), 0);
	cr_assert_eq(nr_pages(&r), 2);
	revoke_key(&r);

	cr_assert_eq(probe(r.p + PAGE_SZ, false, 0), SIGBUS, "read of a never-touched page after revoke");
	cr_assert_eq(probe(r.p + 3 * PAGE_SZ, true, 0x33), SIGBUS, "write of a never-touched page after revoke");
	cr_assert_eq(nr_pages(&r), 2, "a page was added to the region after revoke");
	cr_assert_eq(mktme_sysfs("pages_mapped"), pages + 2);
	/* Mapped before: still there, data and all, writable. */
	cr_assert_eq(probe(r.p, false, 0x11), 0);
	cr_assert_eq(probe(r.p + 2 * PAGE_SZ, false, 0x22), 0);
	cr_assert_eq(probe(r.p + 2 * PAGE_SZ, true, 0x44), 0);
	/* And no new mapping. */
	cr_assert_eq(mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, r.fd, 0), MAP_FAILED);
	cr_assert_eq(errno, EKEYREVOKED, "mmap after revoke: %s", strerror(errno));
	guest_region_free(&r);
	cr_assert_eq(mktme_sysfs("pages_mapped"), pages);
}

/*
 * A page of the region that exists but is not mapped at this address (a
 * second mapping of the file made before the revoke) is not mapped after
 * it either: any fault, not only one that would allocate.
 */
Test(core_revoke, an_existing_page_is_not_mapped_anew)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 2);
	char *second = mktme_map(r.fd, 2 * PAGE_SZ, PROT_READ | PROT_WRITE);

	cr_assert_eq(probe(r.p, true, 0x5a), 0);
	revoke_key(&r);
	cr_assert_eq(probe(second, false, 0x5a), SIGBUS, "a second mapping faulted an existing page in after revoke");
	cr_assert_eq(probe(r.p, false, 0x5a), 0);
	cr_assert_eq(munmap(second, 2 * PAGE_SZ), 0);
	guest_region_free(&r);
}

Test(core_revoke, a_2m_chunk_never_touched_raises_sigbus)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 2 * HUGE_PAGES);
	struct mktme_pte_query q;

	cr_assert_eq((uintptr_t)r.p & (HUGE_SZ - 1), 0, "mapping not 2 MiB-aligned: %p", r.p);
	cr_assert_eq(probe(r.p + 5, true, 0x66), 0);
	cr_assert_eq(mktme_query(r.fd, r.p, &q), 0);
	cr_assert_eq(q.level, MKTME_PTE_2M, "the first chunk is not a 2 MiB page (level %u)", q.level);
	cr_assert_eq(nr_pages(&r), (long)HUGE_PAGES);
	revoke_key(&r);

	cr_assert_eq(probe(r.p + HUGE_SZ, false, 0), SIGBUS, "2 MiB fault after revoke");
	cr_assert_eq(probe(r.p + HUGE_SZ + 7 * PAGE_SZ, true, 1), SIGBUS);
	cr_assert_eq(nr_pages(&r), (long)HUGE_PAGES, "a 2 MiB page was added after revoke");
	cr_assert_eq(probe(r.p + 5, false, 0x66), 0);
	cr_assert_eq(probe(r.p + HUGE_SZ - 1, true, 0x67), 0, "the mapped 2 MiB page lost its tail");
	guest_region_free(&r);
}

Test(core_revoke, map_populate_pages_stay_and_nothing_more_is_populated)
{
	key_serial_t k = mktme_key_add_ok("core-revoke-populate", PAYLOAD_CPU_128);
	int fd = mktme_region(k);
	char *p = mmap(NULL, 8 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);

	cr_assert_neq(p, MAP_FAILED, "mmap MAP_POPULATE: %s", strerror(errno));
	cr_assert_eq(mktme_info(fd).nr_pages, 8u, "MAP_POPULATE populated %llu pages",
		     (unsigned long long)mktme_info(fd).nr_pages);
	cr_assert_eq(keyctl_revoke(k), 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(probe(p + i * PAGE_SZ, true, (char)i), 0, "populated page %d after revoke", i);
	cr_assert_eq(mmap(NULL, 8 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
			  8 * PAGE_SZ), MAP_FAILED, "MAP_POPULATE of a revoked key's region");
	cr_assert_eq(errno, EKEYREVOKED);
	cr_assert_eq(mktme_info(fd).nr_pages, 8u);
	munmap(p, 8 * PAGE_SZ);
	close(fd);
	mktme_key_drop(k);
}

/* In a child: 0 if every page of @p reads @want, else the signal or 1. */
static int child_reads(char *p, size_t pages, char want)
{
	pid_t pid = fork();
	int st;

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		for (size_t i = 0; i < pages; i++)
			if (((volatile char *)p)[i * PAGE_SZ] != want)
				_exit(1);
		_exit(0);
	}
	st = guest_wait_child(pid);
	if (WIFSIGNALED(st))
		return WTERMSIG(st);
	return WEXITSTATUS(st);
}

static void fork_after_revoke(size_t pages)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, pages);

	memset(r.p, 0x7e, r.len);
	cr_assert_eq(child_reads(r.p, pages, 0x7e), 0, "a child before the revoke does not see the pages");
	revoke_key(&r);
	cr_assert_eq(child_reads(r.p, pages, 0x7e), SIGBUS, "a child forked after the revoke got the pages");
	/* The parent keeps them; a grandchild gets nothing either. */
	cr_assert_eq(probe(r.p + r.len - 1, false, 0x7e), 0);
	guest_region_free(&r);
}

Test(core_revoke, fork_after_revoke_hands_the_child_no_page_4k)
{
	fork_after_revoke(4);
}

Test(core_revoke, fork_after_revoke_hands_the_child_no_page_2m)
{
	fork_after_revoke(HUGE_PAGES);
}

/* A child forked before the revoke keeps what it had, as the parent does. */
Test(core_revoke, a_child_forked_before_keeps_its_mapped_pages)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 2);
	int go[2];
	pid_t pid;
	char c;
	int st;

	cr_assert_eq(pipe(go), 0);
	r.p[0] = 0x31;
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (read(go[0], &c, 1) != 1)
			_exit(10);
		if (probe(r.p, false, 0x31))
			_exit(11);
		_exit(probe(r.p + PAGE_SZ, false, 0) == SIGBUS ? 0 : 12);
	}
	revoke_key(&r);
	cr_assert_eq(write(go[1], "g", 1), 1);
	st = guest_wait_child(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "child: 11 lost its mapped page, 12 faulted a new one after revoke; status %#x", st);
	guest_region_free(&r);
}

/*
 * mremap() moves what is mapped; at the new address, what was not mapped
 * still raises SIGBUS.
 */
Test(core_revoke, mremap_after_revoke_moves_only_what_is_mapped)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 4);
	char *hole = mmap(NULL, 4 * PAGE_SZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q;

	cr_assert_neq(hole, MAP_FAILED);
	cr_assert_eq(probe(r.p, true, 0x71), 0);
	cr_assert_eq(probe(r.p + 3 * PAGE_SZ, true, 0x72), 0);
	revoke_key(&r);
	q = mremap(r.p, r.len, r.len, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	cr_assert_eq(q, hole, "mremap: %s", strerror(errno));
	r.p = q;
	cr_assert_eq(probe(q, false, 0x71), 0, "a mapped page lost in mremap after revoke");
	cr_assert_eq(probe(q + 3 * PAGE_SZ, false, 0x72), 0);
	cr_assert_eq(probe(q + PAGE_SZ, false, 0), SIGBUS, "mremap after revoke: a new page was mapped");
	cr_assert_eq(nr_pages(&r), 2);
	guest_region_free(&r);
}

/* An expired or invalidated key stops the region as a revoked one does. */
Test(core_revoke, an_invalidated_key_stops_faults_too)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 2);

	cr_assert_eq(probe(r.p, true, 0x21), 0);
	cr_assert_eq(keyctl_invalidate(r.key), 0, "invalidate: %s", strerror(errno));
	cr_assert_eq(probe(r.p + PAGE_SZ, false, 0), SIGBUS, "fault after invalidate");
	cr_assert_eq(probe(r.p, false, 0x21), 0);
	cr_assert_eq(munmap(r.p, r.len), 0);
	close(r.fd);
}
