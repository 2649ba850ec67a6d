// SPDX-License-Identifier: GPL-2.0
/*
 * Region memory in the memory cgroup (issue 9 §3), as the rest of the
 * kernel's user memory is: each page is charged to the opener's memcg as it
 * is handed to the region (mem_cgroup_charge(), not kmem accounting, so it
 * holds under cgroup.memory=nokmem too: test_core_memcg_nokmem.c runs these
 * tests in a boot of its own), is shown in memory.stat's "kernel" line, and
 * is uncharged when the region is released. A region faulting 64 MiB in a
 * cgroup limited to 16 MiB is stopped in that cgroup (OOM kill or SIGBUS),
 * nothing outside it is killed, and the charge goes with the region. With
 * kmem accounting on, the region's xarray nodes are charged too.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"

#ifndef MEMCG_NOKMEM
#define MEMCG_NOKMEM	0
#define SUITE		core_memcg
#define CG		"/sys/fs/cgroup/mktme-core-memcg"
#else
#define SUITE		core_memcg_nokmem
#define CG		"/sys/fs/cgroup/mktme-core-memcg-nokmem"
#endif

#define MiB		(1L << 20)
#define LIMIT		(16 * MiB)
#define REGION		(64 * MiB)

static void cg_make(const char *max)
{
	rmdir(CG);
	cr_assert_eq(mkdir(CG, 0755), 0, "mkdir %s: %s", CG, strerror(errno));
	if (max) {
		cr_assert_eq(guest_write_str(CG "/memory.max", max), 0);
		/* Region pages are never swapped; nothing else may be either. */
		guest_write_str(CG "/memory.swap.max", "0");
	}
}

static long cg_long(const char *file)
{
	char path[256];
	long v;

	snprintf(path, sizeof(path), CG "/%s", file);
	v = guest_read_long(path);
	cr_assert_geq(v, 0, "%s: %s", path, strerror(errno));
	return v;
}

/* A "NAME value" line of a flat keyed file (memory.events, /proc/vmstat). */
static long keyed(const char *path, const char *name)
{
	char *s = guest_read_file(path, NULL), *line;
	size_t nl = strlen(name);
	long v = -1;

	cr_assert_not_null(s, "%s: %s", path, strerror(errno));
	for (line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (!strncmp(line, name, nl) && line[nl] == ' ') {
			v = strtol(line + nl + 1, NULL, 10);
			break;
		}
	}
	free(s);
	cr_assert_geq(v, 0, "no %s in %s", name, path);
	return v;
}

/* Wait (10 s at most) for memory.current <= @bound: the last value read. */
static long wait_current_below(long bound)
{
	long v = cg_long("memory.current");

	for (int waited = 0; v > bound && waited < 10000; waited += 20) {
		usleep(20 * 1000);
		v = cg_long("memory.current");
	}
	return v;
}

static void cleanup(void)
{
	rmdir(CG);
}

TestSuite(SUITE, .init = guest_settle, .fini = cleanup, .timeout = GUEST_TIMEOUT(300));

Test(SUITE, the_boot_has_the_accounting_mode_under_test)
{
	char *cmdline = guest_read_file("/proc/cmdline", NULL);

	cr_assert_not_null(cmdline);
	cr_assert_eq(strstr(cmdline, "cgroup.memory=nokmem") != NULL, MEMCG_NOKMEM,
		     "kernel command line: %s", cmdline);
	free(cmdline);
}

/*
 * In a child in CG: open a region (root: CAP_IPC_LOCK, no RLIMIT_MEMLOCK),
 * map @len and touch every page, counting them in *@progress. Exits 0 if it
 * touched them all.
 */
static pid_t fault_in_cgroup(size_t len, bool small_pages, volatile long *progress)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		key_serial_t k;
		int fd;
		char *p;

		guest_cgroup_enter(CG);
		k = add_key(MKTME_KEY_TYPE, "core-memcg", PAYLOAD_CPU_128, strlen(PAYLOAD_CPU_128),
			    KEY_SPEC_PROCESS_KEYRING);
		if (k < 0)
			_exit(10);
		fd = mktme_open();
		if (mktme_set_key(fd, k))
			_exit(11);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(12);
		if (small_pages && madvise(p, len, MADV_NOHUGEPAGE))
			_exit(13);
		for (size_t off = 0; off < len; off += PAGE_SZ) {
			p[off] = 1;
			*progress = (long)(off / PAGE_SZ + 1);
		}
		_exit(0);
	}
	return pid;
}

static void limit_holds(bool small_pages)
{
	long *progress = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long pages = mktme_sysfs("pages_mapped");
	long ooms = keyed("/proc/vmstat", "oom_kill");
	long cg_ooms, touched, after;
	pid_t pid;
	int st;

	cr_assert_neq(progress, MAP_FAILED);
	cg_make("16M");
	pid = fault_in_cgroup(REGION, small_pages, progress);
	st = guest_wait_child(pid);
	touched = *progress * PAGE_SZ;

	cr_assert(WIFSIGNALED(st) && (WTERMSIG(st) == SIGKILL || WTERMSIG(st) == SIGBUS),
		  "a region faulted %ld MiB in a cgroup limited to 16 MiB: child status %#x "
		  "(exit 10 key, 11 SET_KEY, 12 mmap, 13 madvise)", touched / MiB, st);
	cr_assert_lt(touched, LIMIT, "touched %ld bytes under a 16 MiB limit", touched);
	cr_assert_gt(touched, LIMIT / 2, "stopped after %ld bytes, long before the limit", touched);
	cr_assert_leq(cg_long("memory.peak"), LIMIT);
	/* Killed in its cgroup, and nothing else anywhere. */
	cg_ooms = keyed(CG "/memory.events", "oom_kill");
	if (WTERMSIG(st) == SIGKILL)
		cr_assert_geq(cg_ooms, 1, "SIGKILL without an OOM kill in the cgroup");
	cr_assert_eq(keyed("/proc/vmstat", "oom_kill") - ooms, cg_ooms,
		     "OOM kills outside the cgroup: %ld in all, %ld in it",
		     keyed("/proc/vmstat", "oom_kill") - ooms, cg_ooms);

	/* The region went with the child: its charge too (per-CPU stock aside). */
	after = wait_current_below(MiB);
	cr_assert_leq(after, MiB, "memory.current %ld bytes after the region was released", after);
	cr_assert_eq(guest_wait_long(MKTME_SYSFS "/pages_mapped", pages, 10000), pages);
	cr_assert_eq(rmdir(CG), 0, "rmdir %s: %s", CG, strerror(errno));
	munmap(progress, sizeof(long));
}

Test(SUITE, a_cgroup_limit_holds_for_4k_faults)
{
	limit_holds(true);
}

Test(SUITE, a_cgroup_limit_holds_for_2m_faults)
{
	limit_holds(false);
}

/*
 * A region bound to @k, opened inside a fresh CG (so that CG pays for its
 * pages), by this process, which then goes back to @home: the faults and
 * their page tables come from outside CG.
 */
static int region_paid_by_cg(key_serial_t k, const char *home)
{
	int fd;

	cg_make(NULL);
	guest_cgroup_enter(CG);
	fd = mktme_region(k);
	guest_cgroup_enter(home);
	return fd;
}

/*
 * Unmap and close the region: its charge must go back to within half a
 * MiB (per-CPU stock) of @base. Then drop @k and remove CG.
 */
static void release_uncharges(int fd, char *p, size_t len, key_serial_t k, long base)
{
	long cur;

	cr_assert_eq(munmap(p, len), 0);
	close(fd);
	cur = wait_current_below(base + MiB / 2);
	cr_assert_leq(cur, base + MiB / 2, "memory.current %ld after the region was released, %ld before",
		      cur, base);
	mktme_key_drop(k);
	cr_assert_eq(rmdir(CG), 0, "rmdir %s: %s", CG, strerror(errno));
}

/*
 * Charged while held, to memory.current and memory.stat "kernel", and gone
 * with the region. The faults come from outside the cgroup: the opener's
 * cgroup pays.
 */
Test(SUITE, pages_show_in_memory_stat_and_are_uncharged_at_release)
{
	char *home = guest_cgroup_self();
	key_serial_t k = mktme_key_add_ok("core-memcg-stat", PAYLOAD_CPU_128);
	long base, kernel0, cur, kernel;
	int fd;
	char *p;

	fd = region_paid_by_cg(k, home);
	base = cg_long("memory.current");
	kernel0 = guest_cgroup_stat(CG, "kernel");

	p = mktme_map(fd, 8 * MiB, PROT_READ | PROT_WRITE);
	memset(p, 0x3c, 8 * MiB);
	cur = cg_long("memory.current");
	cr_assert_geq(cur - base, 8 * MiB, "memory.current grew by %ld for 8 MiB", cur - base);
	kernel = guest_wait_cgroup_stat(CG, "kernel", kernel0 + 8 * MiB);
	cr_assert_geq(kernel - kernel0, 8 * MiB, "memory.stat kernel grew by %ld for 8 MiB", kernel - kernel0);

	release_uncharges(fd, p, 8 * MiB, k, base);
	free(home);
}

#if !MEMCG_NOKMEM
/*
 * The xarray nodes behind sparse offsets: a page every GiB of file offset
 * needs three nodes of its own (576 bytes each), more than 1.5 KiB of slab
 * per 4 KiB page, charged to the opener's cgroup with its pages. The
 * faults come from outside it, so that their page tables are not.
 */
Test(SUITE, xarray_nodes_of_sparse_offsets_are_charged)
{
	enum { N = 2048 };
	const size_t gib = 1UL << 30;
	char *home = guest_cgroup_self();
	key_serial_t k = mktme_key_add_ok("core-memcg-xa", PAYLOAD_CPU_128);
	long base, cur;
	int fd;
	char *p;

	fd = region_paid_by_cg(k, home);
	p = mmap(NULL, N * gib, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	cr_assert_neq(p, MAP_FAILED, "mmap %d GiB: %s", N, strerror(errno));
	cr_assert_eq(madvise(p, N * gib, MADV_NOHUGEPAGE), 0);
	base = cg_long("memory.current");
	for (size_t i = 0; i < N; i++)
		p[i * gib] = 1;
	cur = cg_long("memory.current");
	cr_assert_eq(mktme_info(fd).nr_pages, (unsigned long long)N);
	/* Pages alone: 8 MiB; with their nodes, about 11.4 MiB. */
	cr_assert_geq(cur - base, (long)(N * PAGE_SZ) + 2 * MiB,
		      "memory.current grew by %ld bytes for %d pages at sparse offsets: nodes not charged?",
		      cur - base, N);
	release_uncharges(fd, p, N * gib, k, base);
	free(home);
}
#endif
