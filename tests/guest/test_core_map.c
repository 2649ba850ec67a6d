// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/mktme (issue 3, Deliver 3 and 4): map, write, read back; the KeyID of
 * every page read back from the real page tables (MKTME_IOC_QUERY_PTE); the
 * KeyID kept across mprotect; what must fail, with its errno; sharing through
 * fork and SCM_RIGHTS.
 *
 * Kernel behaviour relied on (DESIGN.md §2.2, §2.4; errnos: see ERR_* below):
 *   - emulated backend: the KeyID is in PTE bits 52..56 of the leaf entry
 *     (bit 57 is _PAGE_DEVMAP in 6.12 and must stay clear),
 *     the cache bits are write-back (the KeyID is in pgprot, not in the PFN);
 *   - a region's pages live until its last mapping and its fd are gone;
 *   - VM_PFNMAP | VM_DONTDUMP | VM_DONTEXPAND, never VM_EXEC / VM_MAYEXEC.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "guest.h"

/* The errnos of the refusals: the contract in <linux/mktme.h>. */
#define ERR_MAP_PRIVATE		EINVAL
#define ERR_PROT_EXEC		EPERM
#define ERR_MPROTECT_EXEC	EACCES	/* VM_MAYEXEC cleared: mm/mprotect.c */
#define ERR_MMAP_NO_KEY		ENOKEY
#define ERR_SECOND_SET_KEY	EBUSY
#define ERR_NOT_MKTME_KEY	EINVAL	/* mktme_key_keyid() on another type */

/* x86-64 PTE bits. */
#define PTE_PWT		(1ULL << 3)
#define PTE_PCD		(1ULL << 4)
#define PTE_PAT_4K	(1ULL << 7)
/* Below the KeyID bits on TME-MK (guest.h) */
#define PTE_PFN_MASK	guest_pte_pfn_mask()
#define PTE_DEVMAP	(1ULL << 57)	/* _PAGE_BIT_SOFTW4 in 6.12 */
#define EMU_KEYID(e)	((unsigned int)(((e) >> 52) & 0x1f))

TestSuite(core_map, .init = guest_settle, .timeout = GUEST_TIMEOUT(120));

static bool backend_is_emulated(void)
{
	char *b = guest_read_file(MKTME_SYSFS "/backend", NULL);
	bool emu = b && !strcmp(b, "emulate\n");

	free(b);
	return emu;
}

/* The leaf entry of @addr: a present 4K PTE carrying @keyid, write-back. */
static void assert_pte(int fd, const void *addr, unsigned int keyid, bool writable, const char *what)
{
	struct mktme_pte_query q;
	int err = mktme_query(fd, addr, &q);
	unsigned int want_flags = MKTME_PTE_F_PRESENT | MKTME_PTE_F_USER | MKTME_PTE_F_SPECIAL |
				  MKTME_PTE_F_NX | (writable ? MKTME_PTE_F_WRITE : 0);

	cr_assert_eq(err, 0, "%s: QUERY_PTE %p: %s", what, addr, strerror(err));
	cr_assert_eq(q.addr, (uintptr_t)addr, "%s: addr changed", what);
	cr_assert_eq(q.level, MKTME_PTE_4K, "%s: %p at level %u, want 4K", what, addr, q.level);
	cr_assert_eq(q.keyid, keyid, "%s: %p carries KeyID %u, want %u", what, addr, q.keyid, keyid);
	cr_assert_eq(q.flags, want_flags, "%s: %p flags %#x, want %#x", what, addr, q.flags, want_flags);
	if (backend_is_emulated())
		cr_assert_eq(EMU_KEYID(q.entry), keyid, "%s: entry %#llx: bits 52..56 hold %u, want %u",
			     what, (unsigned long long)q.entry, EMU_KEYID(q.entry), keyid);
	cr_assert_eq(q.entry & PTE_DEVMAP, 0, "%s: entry %#llx has _PAGE_DEVMAP", what,
		     (unsigned long long)q.entry);
	cr_assert_eq(q.entry & (PTE_PWT | PTE_PCD | PTE_PAT_4K), 0,
		     "%s: entry %#llx is not write-back (PAT saw the KeyID?)", what,
		     (unsigned long long)q.entry);
	/* Root (CAP_SYS_ADMIN) sees the page frame. */
	cr_assert_neq(q.entry & PTE_PFN_MASK, 0, "%s: entry %#llx has no PFN", what,
		      (unsigned long long)q.entry);
}

static void fill(char *p, size_t pages, unsigned int seed)
{
	for (size_t i = 0; i < pages; i++)
		for (size_t j = 0; j < PAGE_SZ; j += 8)
			*(uint64_t *)(p + i * PAGE_SZ + j) = ((uint64_t)seed << 48) ^ (i << 20) ^ j;
}

/* Index of the first 8-byte word that differs from fill(@seed), or -1. */
static long check(const char *p, size_t pages, unsigned int seed)
{
	for (size_t i = 0; i < pages; i++)
		for (size_t j = 0; j < PAGE_SZ; j += 8)
			if (*(const uint64_t *)(p + i * PAGE_SZ + j) != (((uint64_t)seed << 48) ^ (i << 20) ^ j))
				return (long)(i * PAGE_SZ + j);
	return -1;
}

Test(core_map, write_read_back_and_accounting)
{
	enum { PAGES = 16 };
	long pages = mktme_sysfs("pages_mapped");
	long base = mktme_sysfs("keyids_in_use");
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, PAGES);
	struct mktme_region_info info = mktme_info(r.fd);

	cr_assert_eq(info.key_serial, r.key);
	cr_assert_eq(info.keyid, (unsigned int)r.keyid);
	cr_assert_eq(info.nr_pages, 0, "pages allocated before the first touch");
	/* Fresh pages are zero. */
	for (size_t i = 0; i < r.len; i++)
		cr_assert_eq(r.p[i], 0, "byte %zu of a fresh region is %#x", i, r.p[i]);
	cr_assert_eq(mktme_info(r.fd).nr_pages, PAGES);
	cr_assert_eq(mktme_sysfs("pages_mapped"), pages + PAGES);

	fill(r.p, PAGES, 1);
	cr_assert_eq(check(r.p, PAGES, 1), -1);

	/* The pages belong to the region, not to the mapping. */
	cr_assert_eq(munmap(r.p, r.len), 0);
	cr_assert_eq(mktme_info(r.fd).nr_pages, PAGES);
	r.p = mktme_map(r.fd, r.len, PROT_READ | PROT_WRITE);
	cr_assert_eq(check(r.p, PAGES, 1), -1, "data lost across munmap/mmap of the same fd");
	cr_assert_eq(mktme_sysfs("pages_mapped"), pages + PAGES);

	guest_region_free(&r);
	cr_assert_eq(mktme_sysfs("pages_mapped"), pages, "pages not freed after close");
	cr_assert_eq(mktme_wait_keyids(base), base);
}

Test(core_map, every_page_carries_the_keyid)
{
	enum { PAGES = 64 };
	struct guest_region r = guest_region_new(PAYLOAD_CPU_256, PAGES);
	struct mktme_pte_query q;

	/* Untouched: nothing mapped yet. */
	for (size_t i = 0; i < PAGES; i++) {
		cr_assert_eq(mktme_query(r.fd, r.p + i * PAGE_SZ, &q), 0);
		cr_assert_eq(q.level, MKTME_PTE_NONE, "page %zu mapped before any touch", i);
	}
	fill(r.p, PAGES, 2);
	for (size_t i = 0; i < PAGES; i++) {
		char what[32];

		snprintf(what, sizeof(what), "page %zu", i);
		assert_pte(r.fd, r.p + i * PAGE_SZ, r.keyid, true, what);
		/* Any address inside the page gives the same entry. */
		assert_pte(r.fd, r.p + i * PAGE_SZ + PAGE_SZ - 1, r.keyid, true, what);
	}
	guest_region_free(&r);
}

Test(core_map, two_keys_two_keyids_one_key_two_independent_regions)
{
	struct guest_region a = guest_region_new(PAYLOAD_CPU_128, 4);
	struct guest_region b = guest_region_new("type=no-encrypt", 4);
	int fd2 = mktme_region(a.key);
	char *p2 = mktme_map(fd2, 4 * PAGE_SZ, PROT_READ | PROT_WRITE);

	cr_assert_neq(a.keyid, b.keyid);
	fill(a.p, 4, 3);
	fill(b.p, 4, 4);
	fill(p2, 4, 5);
	assert_pte(a.fd, a.p, a.keyid, true, "region a");
	assert_pte(a.fd, b.p, b.keyid, true, "region b");
	assert_pte(a.fd, p2, a.keyid, true, "second region of key a");
	cr_assert_eq(check(a.p, 4, 3), -1, "region a overwritten");
	cr_assert_eq(check(b.p, 4, 4), -1, "region b overwritten");
	cr_assert_eq(check(p2, 4, 5), -1);
	cr_assert_eq(mktme_info(fd2).keyid, (unsigned int)a.keyid);
	munmap(p2, 4 * PAGE_SZ);
	close(fd2);
	guest_region_free(&a);
	guest_region_free(&b);
}

Test(core_map, anonymous_memory_is_keyid_0)
{
	int fd = mktme_open();	/* QUERY_PTE needs no key: it walks our own tables */
	char *anon = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct mktme_pte_query q;
	int on_stack = 1;

	cr_assert_neq(anon, MAP_FAILED);
	anon[0] = 1;
	cr_assert_eq(mktme_query(fd, anon, &q), 0);
	cr_assert_eq(q.level, MKTME_PTE_4K, "anonymous page at level %u", q.level);
	cr_assert_eq(q.keyid, 0u);
	cr_assert(q.flags & MKTME_PTE_F_PRESENT);
	cr_assert(q.flags & MKTME_PTE_F_USER);
	cr_assert_eq(q.flags & MKTME_PTE_F_SPECIAL, 0, "anonymous page is special");
	cr_assert_eq(EMU_KEYID(q.entry), 0u, "entry %#llx", (unsigned long long)q.entry);

	cr_assert_eq(mktme_query(fd, anon + PAGE_SZ, &q), 0);
	cr_assert_eq(q.level, MKTME_PTE_NONE, "untouched anonymous page at level %u", q.level);
	cr_assert_eq(q.keyid, 0u);

	cr_assert_eq(mktme_query(fd, &on_stack, &q), 0);
	cr_assert_eq(q.level, MKTME_PTE_4K);
	cr_assert_eq(q.keyid, 0u);

	/* Nothing is mapped at the zero page. */
	cr_assert_eq(mktme_query(fd, (void *)PAGE_SZ, &q), 0);
	cr_assert_eq(q.level, MKTME_PTE_NONE);
	munmap(anon, 2 * PAGE_SZ);
	close(fd);
}

#define HUGE_SZ		(2UL << 20)
#define PTE_PSE		(1ULL << 7)	/* in a PMD: a 2 MiB leaf */

/* A 2 MiB-aligned stretch of @len of fresh anonymous address space. */
static char *anon_aligned(size_t len, int flags)
{
	char *p = mmap(NULL, len + HUGE_SZ, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *a;

	cr_assert_neq(p, MAP_FAILED, "mmap: %s", strerror(errno));
	a = (char *)(((uintptr_t)p + HUGE_SZ - 1) & ~(HUGE_SZ - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + len, p + HUGE_SZ - a);
	if (flags)
		cr_assert_eq(mmap(a, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | flags, -1, 0), a,
			     "mmap flags %#x: %s", flags, strerror(errno));
	return a;
}

/* A 2 MiB leaf of ordinary memory, seen at two addresses inside it. */
static void assert_plain_2m(char *p, const char *what)
{
	struct mktme_pte_query q;
	int fd = mktme_open();

	for (size_t off = 0; off < HUGE_SZ; off += HUGE_SZ - PAGE_SZ) {
		cr_assert_eq(mktme_query(fd, p + off, &q), 0);
		cr_assert_eq(q.level, MKTME_PTE_2M, "%s +%zu: level %u, want 2M", what, off, q.level);
		cr_assert_eq(q.keyid, 0u, "%s: keyid %u", what, q.keyid);
		cr_assert_eq(q.flags & (MKTME_PTE_F_PRESENT | MKTME_PTE_F_USER | MKTME_PTE_F_WRITE |
					MKTME_PTE_F_SPECIAL),
			     MKTME_PTE_F_PRESENT | MKTME_PTE_F_USER | MKTME_PTE_F_WRITE,
			     "%s: flags %#x", what, q.flags);
		cr_assert(q.entry & PTE_PSE, "%s: entry %#llx has no PSE", what,
			  (unsigned long long)q.entry);
	}
	close(fd);
}

/*
 * An anonymous transparent huge page is reported as the 2 MiB leaf it is,
 * and reading it does not split it: the page walker splits a huge PMD it is
 * let into (split_huge_pmd()), which the query must never do.
 */
Test(core_map, anonymous_thp_is_one_2m_leaf_and_stays_one)
{
	char *thp = guest_read_file("/sys/kernel/mm/transparent_hugepage/enabled", NULL);
	char *p;

	cr_assert_not_null(thp, "no THP in the guest kernel: %s", strerror(errno));
	cr_assert_null(strstr(thp, "[never]"), "THP is off: %s", thp);
	free(thp);
	p = anon_aligned(HUGE_SZ, 0);
	cr_assert_eq(madvise(p, HUGE_SZ, MADV_HUGEPAGE), 0, "MADV_HUGEPAGE: %s", strerror(errno));
	p[0] = 1;
	assert_plain_2m(p, "THP");
	assert_plain_2m(p, "THP, queried again");
	munmap(p, HUGE_SZ);
}

static long hugepages_before = -1;

static void hugepages_restore(void)
{
	char n[32];

	if (hugepages_before < 0)
		return;
	snprintf(n, sizeof(n), "%ld", hugepages_before);
	guest_write_str("/proc/sys/vm/nr_hugepages", n);
}

/* A hugetlb page is walked through its own path (the hugetlb VMA lock). */
Test(core_map, hugetlb_page_is_one_2m_leaf, .fini = hugepages_restore)
{
	char n[32];
	char *p;

	hugepages_before = guest_read_long("/proc/sys/vm/nr_hugepages");
	cr_assert_geq(hugepages_before, 0, "nr_hugepages: %s", strerror(errno));
	snprintf(n, sizeof(n), "%ld", hugepages_before + 1);
	cr_assert_eq(guest_write_str("/proc/sys/vm/nr_hugepages", n), 0);
	cr_assert_eq(guest_read_long("/proc/sys/vm/nr_hugepages"), hugepages_before + 1,
		     "the guest could not reserve one 2 MiB hugetlb page");
	p = anon_aligned(HUGE_SZ, MAP_HUGETLB);
	p[0] = 1;
	assert_plain_2m(p, "hugetlb");
	munmap(p, HUGE_SZ);
}

Test(core_map, query_pte_rejects_nonzero_pad)
{
	int fd = mktme_open();
	struct mktme_pte_query q = { .addr = (uintptr_t)&q, .pad = 1 };

	cr_assert_eq(ioctl(fd, MKTME_IOC_QUERY_PTE, &q), -1, "pad=1 accepted");
	cr_assert_eq(errno, EINVAL, "%s", strerror(errno));
	close(fd);
}

Test(core_map, without_cap_sys_admin_the_entry_has_no_pfn_but_the_keyid)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 1);
	pid_t pid;
	int status;

	r.p[0] = 1;
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* What counts is the opener's CAP_SYS_ADMIN (as for pagemap). */
		struct mktme_pte_query q;
		int fd;

		if (guest_drop_cap(CAP_SYS_ADMIN))
			_exit(10);
		fd = open(MKTME_DEV, O_RDWR);
		if (fd < 0 || mktme_query(fd, r.p, &q))
			_exit(11);
		if (q.keyid != (unsigned int)r.keyid || q.level != MKTME_PTE_4K)
			_exit(12);
		if (q.entry & PTE_PFN_MASK)
			_exit(13);
		if (backend_is_emulated() && EMU_KEYID(q.entry) != (unsigned int)r.keyid)
			_exit(14);
		/* The fd opened with CAP_SYS_ADMIN still shows the frame. */
		if (mktme_query(r.fd, r.p, &q) || !(q.entry & PTE_PFN_MASK))
			_exit(15);
		_exit(0);
	}
	status = guest_wait_child(pid);
	cr_assert(WIFEXITED(status), "child died: status %#x", status);
	cr_assert_eq(WEXITSTATUS(status), 0,
		     "child: 10 capset, 11 open/query, 12 keyid/level, 13 PFN visible, 14 emu bits, "
		     "15 no PFN through the privileged fd; got %d",
		     WEXITSTATUS(status));
	guest_region_free(&r);
}

Test(core_map, mprotect_keeps_the_keyid)
{
	enum { PAGES = 8 };
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, PAGES);

	fill(r.p, PAGES, 6);
	cr_assert_eq(mprotect(r.p, r.len, PROT_READ), 0, "mprotect READ: %s", strerror(errno));
	for (size_t i = 0; i < PAGES; i++)
		assert_pte(r.fd, r.p + i * PAGE_SZ, r.keyid, false, "after PROT_READ");
	cr_assert_eq(check(r.p, PAGES, 6), -1);
	cr_assert_eq(guest_write_in_child(r.p), SIGSEGV, "a read-only mapping was writable");

	/* Through PROT_NONE (a protnone PTE: not present to the CPU) and back. */
	cr_assert_eq(mprotect(r.p, r.len, PROT_NONE), 0);
	for (size_t i = 0; i < PAGES; i++) {
		struct mktme_pte_query q;

		cr_assert_eq(mktme_query(r.fd, r.p + i * PAGE_SZ, &q), 0);
		cr_assert_eq(q.level, MKTME_PTE_4K);
		cr_assert_eq(q.flags & (MKTME_PTE_F_PRESENT | MKTME_PTE_F_PROTNONE), MKTME_PTE_F_PROTNONE,
			     "PROT_NONE page %zu: flags %#x", i, q.flags);
		cr_assert_eq(q.keyid, (unsigned int)r.keyid, "PROT_NONE page %zu lost its KeyID", i);
	}
	cr_assert_eq(mprotect(r.p, r.len, PROT_READ | PROT_WRITE), 0);
	for (size_t i = 0; i < PAGES; i++)
		assert_pte(r.fd, r.p + i * PAGE_SZ, r.keyid, true, "after NONE then READ|WRITE");
	cr_assert_eq(check(r.p, PAGES, 6), -1);
	cr_assert_eq(guest_write_in_child(r.p), 0);

	/* Half the range: the VMA splits, both halves keep the KeyID. */
	cr_assert_eq(mprotect(r.p, r.len / 2, PROT_READ), 0);
	assert_pte(r.fd, r.p, r.keyid, false, "lower half");
	assert_pte(r.fd, r.p + r.len / 2, r.keyid, true, "upper half");
	guest_region_free(&r);
}

Test(core_map, madvise_dontneed_is_refused_and_the_pages_stay)
{
	enum { PAGES = 4 };
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, PAGES);

	fill(r.p, PAGES, 7);
	/* mm/madvise.c: can_madv_lru_vma() excludes VM_PFNMAP. */
	cr_assert_eq(madvise(r.p, r.len, MADV_DONTNEED), -1, "MADV_DONTNEED accepted on a VM_PFNMAP region");
	cr_assert_eq(errno, EINVAL, "MADV_DONTNEED: %s", strerror(errno));
	cr_assert_eq(check(r.p, PAGES, 7), -1, "region content changed");
	cr_assert_eq(mktme_info(r.fd).nr_pages, PAGES);
	assert_pte(r.fd, r.p, r.keyid, true, "after MADV_DONTNEED");
	guest_region_free(&r);
}

Test(core_map, vma_flags_pfnmap_dontdump_dontexpand_no_exec)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 2);
	char *smaps = guest_read_file("/proc/self/smaps", NULL);
	char start[32], *vma, *flags;

	cr_assert_not_null(smaps);
	snprintf(start, sizeof(start), "%lx-", (unsigned long)r.p);
	vma = strstr(smaps, start);
	cr_assert_not_null(vma, "mapping %s not in smaps", start);
	flags = strstr(vma, "VmFlags:");
	cr_assert_not_null(flags);
	*strchrnul(flags, '\n') = '\0';
	cr_assert(strstr(flags, " pf"), "not VM_PFNMAP: %s", flags);
	cr_assert(strstr(flags, " dd"), "not VM_DONTDUMP: %s", flags);
	cr_assert(strstr(flags, " de"), "not VM_DONTEXPAND: %s", flags);
	cr_assert(strstr(flags, " sh"), "not shared: %s", flags);
	cr_assert_null(strstr(flags, " ex"), "executable: %s", flags);
	cr_assert_null(strstr(flags, " me"), "VM_MAYEXEC: %s", flags);
	free(smaps);

	/* VM_DONTEXPAND: growing the mapping fails. */
	cr_assert_eq(mremap(r.p, r.len, 2 * r.len, MREMAP_MAYMOVE), MAP_FAILED, "mremap grew the mapping");
	cr_assert_eq(errno, EFAULT, "mremap: %s", strerror(errno));
	guest_region_free(&r);
}

Test(core_map, refusals_have_clean_errnos)
{
	key_serial_t k = mktme_key_add_ok("core-map-refusals", PAYLOAD_CPU_128);
	key_serial_t other = mktme_key_add_ok("core-map-other", PAYLOAD_CPU_128);
	key_serial_t user = add_key("user", "core-map-user", "x", 1, KEY_SPEC_PROCESS_KEYRING);
	long pages = mktme_sysfs("pages_mapped");
	int fd = mktme_open();
	struct mktme_region_info info;
	char *p;

	cr_assert_gt(user, 0, "add user key: %s", strerror(errno));

	/* Before SET_KEY: no mapping. */
	cr_assert_eq(mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED,
		     "mmap before SET_KEY");
	cr_assert_eq(errno, ERR_MMAP_NO_KEY, "mmap before SET_KEY: %s", strerror(errno));

	/* SET_KEY with what is not a usable mktme key. */
	cr_assert_eq(mktme_set_key(fd, user), ERR_NOT_MKTME_KEY, "SET_KEY with a user key");
	cr_assert_eq(mktme_set_key(fd, 0x7ffffff0), ENOKEY, "SET_KEY with no such key");
	cr_assert_eq(mktme_set_key(fd, 0), EINVAL, "SET_KEY with serial 0");
	cr_assert_eq(mktme_set_key(fd, KEY_SPEC_PROCESS_KEYRING), EINVAL, "SET_KEY with a special keyring ID");
	info = mktme_info(fd);
	cr_assert_eq(info.key_serial, 0);

	cr_assert_eq(mktme_set_key(fd, k), 0);
	info = mktme_info(fd);
	cr_assert_eq(info.key_serial, k);
	cr_assert_eq(info.keyid, (unsigned int)mktme_key_keyid(k));

	/* Set once. */
	cr_assert_eq(mktme_set_key(fd, other), ERR_SECOND_SET_KEY, "second SET_KEY, another key");
	cr_assert_eq(mktme_set_key(fd, k), ERR_SECOND_SET_KEY, "second SET_KEY, same key");
	cr_assert_eq(mktme_info(fd).key_serial, k, "a second SET_KEY rebound the region");

	cr_assert_eq(mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), MAP_FAILED,
		     "MAP_PRIVATE accepted");
	cr_assert_eq(errno, ERR_MAP_PRIVATE, "MAP_PRIVATE: %s", strerror(errno));
	cr_assert_eq(mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED, fd, 0), MAP_FAILED,
		     "PROT_EXEC accepted");
	cr_assert_eq(errno, ERR_PROT_EXEC, "PROT_EXEC: %s", strerror(errno));
	cr_assert_eq(mmap(NULL, PAGE_SZ, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0), MAP_FAILED,
		     "PROT_READ|PROT_EXEC accepted");
	cr_assert_eq(errno, ERR_PROT_EXEC, "PROT_READ|PROT_EXEC: %s", strerror(errno));

	p = mktme_map(fd, PAGE_SZ, PROT_READ | PROT_WRITE);
	p[0] = 42;
	cr_assert_eq(mprotect(p, PAGE_SZ, PROT_READ | PROT_EXEC), -1, "mprotect added PROT_EXEC");
	cr_assert_eq(errno, ERR_MPROTECT_EXEC, "mprotect +EXEC: %s", strerror(errno));
	assert_pte(fd, p, info.keyid, true, "after the refused mprotect");

	cr_assert_eq(p[0], 42);

	cr_assert_eq(mktme_sysfs("pages_mapped"), pages + 1, "a refused call allocated pages");
	munmap(p, PAGE_SZ);
	close(fd);
	mktme_key_drop(k);
	mktme_key_drop(other);
	keyctl_unlink(user, KEY_SPEC_PROCESS_KEYRING);
}

Test(core_map, fork_shares_the_pages)
{
	enum { PAGES = 4 };
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, PAGES);
	int to_child[2], to_parent[2];
	pid_t pid;
	int status;

	cr_assert_eq(pipe(to_child), 0);
	cr_assert_eq(pipe(to_parent), 0);
	fill(r.p, 1, 8);		/* page 0 touched before the fork */
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		char c;
		struct mktme_pte_query q;

		/* Sees the parent's page 0, writes page 1 for the parent. */
		if (check(r.p, 1, 8) != -1)
			_exit(10);
		fill(r.p + PAGE_SZ, 1, 9);
		if (mktme_query(r.fd, r.p + PAGE_SZ, &q) || q.keyid != (unsigned int)r.keyid)
			_exit(11);
		if (write(to_parent[1], "1", 1) != 1 || read(to_child[0], &c, 1) != 1)
			_exit(12);
		/* The parent wrote page 2 after the fork. */
		if (check(r.p + 2 * PAGE_SZ, 1, 10) != -1)
			_exit(13);
		_exit(0);
	}
	{
		char c;

		cr_assert_eq(read(to_parent[0], &c, 1), 1);
		cr_assert_eq(check(r.p + PAGE_SZ, 1, 9), -1, "the child's write is not visible to the parent");
		fill(r.p + 2 * PAGE_SZ, 1, 10);
		cr_assert_eq(write(to_child[1], "1", 1), 1);
	}
	status = guest_wait_child(pid);
	cr_assert(WIFEXITED(status), "child died: %#x", status);
	cr_assert_eq(WEXITSTATUS(status), 0,
		     "child: 10 parent's page unseen, 11 KeyID, 12 pipe, 13 parent's later write unseen; got %d",
		     WEXITSTATUS(status));
	assert_pte(r.fd, r.p + PAGE_SZ, r.keyid, true, "page the child touched first");
	cr_assert_eq(mktme_info(r.fd).nr_pages, 3);
	guest_region_free(&r);
}

static void send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	cr_assert_eq(sendmsg(sock, &msg, 0), 1, "sendmsg: %s", strerror(errno));
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

Test(core_map, fd_passed_over_scm_rights_shares_the_pages)
{
	enum { PAGES = 4 };
	int sv[2];
	pid_t pid;
	int status;
	struct guest_region r;
	char c;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* The receiver exists before the region: it can only get it by fd passing. */
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct mktme_region_info info;
		struct mktme_pte_query q;
		int fd = recv_fd(sv[1]);
		char *p;

		if (fd < 0)
			_exit(10);
		if (ioctl(fd, MKTME_IOC_GET_INFO, &info) || info.keyid == 0)
			_exit(11);
		p = mmap(NULL, PAGES * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(12);
		if (check(p, 1, 11) != -1)
			_exit(13);
		fill(p + PAGE_SZ, 1, 12);
		if (mktme_query(fd, p + PAGE_SZ, &q) || q.keyid != info.keyid || q.level != MKTME_PTE_4K)
			_exit(14);
		if (write(sv[1], "1", 1) != 1 || read(sv[1], &c, 1) != 1)
			_exit(15);
		if (check(p + 2 * PAGE_SZ, 1, 13) != -1)
			_exit(16);
		_exit(0);
	}
	r = guest_region_new(PAYLOAD_CPU_128, PAGES);
	fill(r.p, 1, 11);
	send_fd(sv[0], r.fd);
	cr_assert_eq(read(sv[0], &c, 1), 1, "the receiver did not get that far");
	cr_assert_eq(check(r.p + PAGE_SZ, 1, 12), -1, "the receiver's write is not visible");
	fill(r.p + 2 * PAGE_SZ, 1, 13);
	cr_assert_eq(write(sv[0], "1", 1), 1);
	status = guest_wait_child(pid);
	cr_assert(WIFEXITED(status), "receiver died: %#x", status);
	cr_assert_eq(WEXITSTATUS(status), 0,
		     "receiver: 10 recv, 11 GET_INFO, 12 mmap, 13 sender's page, 14 KeyID, 15 sync, "
		     "16 later write; got %d", WEXITSTATUS(status));
	cr_assert_eq(mktme_info(r.fd).nr_pages, 3);
	guest_region_free(&r);
}

#define TEST_CGROUP "/sys/fs/cgroup/mktme-core-map"

/* memory.current of TEST_CGROUP, in bytes. */
static long cgroup_memory(void)
{
	long v = guest_read_long(TEST_CGROUP "/memory.current");

	cr_assert_geq(v, 0, "%s/memory.current: %s", TEST_CGROUP, strerror(errno));
	return v;
}

/*
 * Pages are charged to the memory cgroup of the task that opened the region
 * (as RLIMIT_MEMLOCK is charged to the opener's user), whoever faults them:
 * here the region is opened inside TEST_CGROUP and faulted from outside.
 */
Test(core_map, pages_are_charged_to_the_openers_memory_cgroup)
{
	enum { PAGES = 512 };
	char *home = guest_cgroup_self();
	key_serial_t k = mktme_key_add_ok("core-map-memcg", PAYLOAD_CPU_128);
	long before, touched, freed, outside;
	int fd;
	char *p;

	rmdir(TEST_CGROUP);
	cr_assert_eq(mkdir(TEST_CGROUP, 0755), 0, "mkdir %s: %s", TEST_CGROUP, strerror(errno));
	guest_cgroup_enter(TEST_CGROUP);
	fd = mktme_region(k);
	guest_cgroup_enter(home);
	p = mktme_map(fd, PAGES * PAGE_SZ, PROT_READ | PROT_WRITE);
	cr_assert_eq(madvise(p, PAGES * PAGE_SZ, MADV_NOHUGEPAGE), 0);

	before = cgroup_memory();
	for (size_t i = 0; i < PAGES; i++)
		p[i * PAGE_SZ] = 1;
	touched = cgroup_memory();
	cr_assert_geq(touched - before, (long)(PAGES * PAGE_SZ),
		      "memory.current of the opener's cgroup grew by %ld bytes for %d pages", touched - before,
		      PAGES);
	outside = guest_wait_cgroup_stat(TEST_CGROUP, "kernel", PAGES * PAGE_SZ);
	cr_assert_geq(outside, (long)(PAGES * PAGE_SZ), "memory.stat kernel %ld for %d pages", outside, PAGES);

	/* Freed with the region: uncharged from the cgroup it was charged to. */
	cr_assert_eq(munmap(p, PAGES * PAGE_SZ), 0);
	close(fd);
	freed = cgroup_memory();
	cr_assert_leq(freed, touched - (long)(PAGES * PAGE_SZ), "memory.current %ld -> %ld after the free",
		      touched, freed);
	mktme_key_drop(k);
	cr_assert_eq(rmdir(TEST_CGROUP), 0, "rmdir: %s", strerror(errno));
	free(home);
}
