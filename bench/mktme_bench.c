// SPDX-License-Identifier: GPL-2.0
/*
 * make bench, the guest side: fault-in and teardown of /dev/mktme against
 * its baselines, measured in one boot, variants interleaved round by round
 * so that whatever slows the machine slows them all alike.
 *
 *   anon-4k        anonymous memory, THP off for the range (MADV_NOHUGEPAGE)
 *   anon-thp       anonymous memory, 2 MiB-aligned, MADV_HUGEPAGE
 *   memfd_secret   memfd_secret(2), the kernel's own out-of-direct-map memory
 *   mktme-4k       /dev/mktme mapped 4 KiB past a 2 MiB boundary: 4 KiB PTEs
 *   mktme-2m       /dev/mktme mapped 2 MiB-aligned: 2 MiB PMDs
 *
 * Each round maps SIZE bytes per variant, touches one byte per 4 KiB page
 * (the fault-in time), then unmaps and closes (the teardown time). For the
 * /dev/mktme variants it also reads /proc/vmstat direct_map_level2_splits and
 * DirectMap4k before, while mapped and after. Then, per NUMA node, the same
 * fault-in under set_mempolicy(MPOL_BIND) (what numactl --membind does) and
 * where each page landed (QUERY_PTE's frame, /proc/zoneinfo's spans).
 *
 * Writes one JSON document (json-c) to the file given, raw samples included;
 * bench/run makes the medians, ratios, table and chart from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <keyutils.h>
#include <linux/mempolicy.h>
#include <linux/mktme.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define PAGE_SZ		4096UL
#define HUGE_SZ		(2UL << 20)

static size_t size = 64UL << 20;
static int rounds = 7;

static void die(const char *what)
{
	fprintf(stderr, "mktme_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static long file_field(const char *path, const char *name)
{
	char line[256];
	size_t n = strlen(name);
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		die(path);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && (line[n] == ' ' || line[n] == ':'))
			v = atol(line + n + 1 + (line[n] == ':'));
	fclose(f);
	return v;
}

static long splits(void)
{
	return file_field("/proc/vmstat", "direct_map_level2_splits");
}

static long dm4k_kb(void)
{
	return file_field("/proc/meminfo", "DirectMap4k");
}

struct mapping {
	int fd;
	char *p;
	char *hole;	/* the reservation around p, unmapped with it */
};

/*
 * Reserve @size + 4 MiB of address space in @m->hole; the address in it
 * aligned to 2 MiB + @skew, to map over.
 */
static char *aligned_hole(struct mapping *m, size_t skew)
{
	m->hole = mmap(NULL, size + 2 * HUGE_SZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->hole == MAP_FAILED)
		die("reserve");
	return (char *)(((uintptr_t)m->hole + HUGE_SZ - 1) & ~(HUGE_SZ - 1)) + skew;
}

enum variant { ANON_4K, ANON_THP, SECRET, MKTME_4K, MKTME_2M, NR_VARIANTS };
static const char *const names[NR_VARIANTS] = {
	"anon-4k", "anon-thp", "memfd_secret", "mktme-4k", "mktme-2m",
};


static key_serial_t key;

static struct mapping map_variant(enum variant v)
{
	struct mapping m = { .fd = -1 };
	int flags = MAP_SHARED | MAP_FIXED;

	switch (v) {
	case ANON_4K:
	case ANON_THP:
		m.p = mmap(aligned_hole(&m, 0), size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (m.p == MAP_FAILED)
			die("mmap anon");
		if (madvise(m.p, size, v == ANON_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
			die("madvise");
		break;
	case SECRET:
		m.fd = syscall(SYS_memfd_secret, 0);
		if (m.fd < 0 || ftruncate(m.fd, size))
			die("memfd_secret");
		m.p = mmap(aligned_hole(&m, 0), size, PROT_READ | PROT_WRITE, flags, m.fd, 0);
		break;
	case MKTME_4K:
	case MKTME_2M:
		m.fd = open("/dev/mktme", O_RDWR | O_CLOEXEC);
		if (m.fd < 0 || ioctl(m.fd, MKTME_IOC_SET_KEY, (unsigned long)key))
			die("/dev/mktme");
		m.p = mmap(aligned_hole(&m, v == MKTME_4K ? PAGE_SZ : 0), size,
			   PROT_READ | PROT_WRITE, flags, m.fd, 0);
		break;
	default:
		abort();
	}
	if (m.p == MAP_FAILED)
		die(names[v]);
	return m;
}

static void touch(char *p)
{
	for (size_t off = 0; off < size; off += PAGE_SZ)
		((volatile char *)p)[off] = 1;
}

static void unmap_variant(struct mapping *m)
{
	if (munmap(m->hole, size + 2 * HUGE_SZ))
		die("munmap");
	if (m->fd >= 0)
		close(m->fd);
}

/* The level of the entry mapping @p (a /dev/mktme variant), as a check. */
static unsigned int level_of(int fd, const void *p, unsigned long *pfn)
{
	struct mktme_pte_query q = { .addr = (uintptr_t)p };

	if (ioctl(fd, MKTME_IOC_QUERY_PTE, &q))
		die("QUERY_PTE");
	if (pfn)
		*pfn = q.level == MKTME_PTE_2M ?
			((q.entry & 0x000fffffffe00000ULL) >> 12) + (((uintptr_t)p & (HUGE_SZ - 1)) >> 12) :
			(q.entry & 0x000ffffffffff000ULL) >> 12;
	return q.level;
}

struct span { int node; unsigned long start, end; };
static struct span spans[16];
static int nr_spans;

static void read_spans(void)
{
	char line[256];
	FILE *f = fopen("/proc/zoneinfo", "r");
	int node = -1;
	unsigned long spanned = 0, start;

	if (!f)
		die("/proc/zoneinfo");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d,", &node) == 1)
			continue;
		if (sscanf(line, " spanned %lu", &spanned) == 1)
			continue;
		if (sscanf(line, " start_pfn: %lu", &start) == 1 && spanned && nr_spans < 16)
			spans[nr_spans++] = (struct span){ node, start, start + spanned };
	}
	fclose(f);
}

static int node_of(unsigned long pfn)
{
	for (int i = 0; i < nr_spans; i++)
		if (pfn >= spans[i].start && pfn < spans[i].end)
			return spans[i].node;
	return -1;
}

static json_object *samples[NR_VARIANTS][2];	/* fault-in, teardown: µs */
static json_object *dm;

static void run_round(int round)
{
	for (int k = 0; k < NR_VARIANTS; k++) {
		/* Rotate the order each round. */
		enum variant v = (k + round) % NR_VARIANTS;
		bool mk = v == MKTME_4K || v == MKTME_2M;
		long s0 = splits(), d0 = dm4k_kb(), s1, d1;
		struct mapping m = map_variant(v);
		double t0, t1, t2;

		t0 = now_us();
		touch(m.p);
		t1 = now_us();
		s1 = splits();
		d1 = dm4k_kb();
		if (mk && level_of(m.fd, m.p, NULL) != (v == MKTME_2M ? MKTME_PTE_2M : MKTME_PTE_4K)) {
			fprintf(stderr, "mktme_bench: %s is not mapped at the size it measures\n", names[v]);
			exit(1);
		}
		unmap_variant(&m);
		t2 = now_us();
		json_object_array_add(samples[v][0], json_object_new_double(t1 - t0));
		json_object_array_add(samples[v][1], json_object_new_double(t2 - t1));
		if (mk || v == SECRET) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "variant", json_object_new_string(names[v]));
			json_object_object_add(o, "round", json_object_new_int(round));
			json_object_object_add(o, "level2_splits", json_object_new_int64(s1 - s0));
			json_object_object_add(o, "directmap4k_kb_before", json_object_new_int64(d0));
			json_object_object_add(o, "directmap4k_kb_during", json_object_new_int64(d1));
			json_object_object_add(o, "directmap4k_kb_after", json_object_new_int64(dm4k_kb()));
			json_object_array_add(dm, o);
		}
	}
}

static json_object *numa_run(enum variant v, int node)
{
	unsigned long mask = 1UL << node;
	json_object *o = json_object_new_object();
	struct mapping m;
	double t0, t1;
	long on = 0, pages = 0;

	if (syscall(SYS_set_mempolicy, MPOL_BIND, &mask, 8 * sizeof(mask)))
		die("set_mempolicy");
	m = map_variant(v);
	t0 = now_us();
	touch(m.p);
	t1 = now_us();
	if (syscall(SYS_set_mempolicy, MPOL_DEFAULT, NULL, 0))
		die("set_mempolicy");
	for (size_t off = 0; off < size; off += PAGE_SZ, pages++) {
		unsigned long pfn;

		level_of(m.fd, m.p + off, &pfn);
		on += node_of(pfn) == node;
	}
	unmap_variant(&m);
	json_object_object_add(o, "variant", json_object_new_string(names[v]));
	json_object_object_add(o, "node", json_object_new_int(node));
	json_object_object_add(o, "fault_us", json_object_new_double(t1 - t0));
	json_object_object_add(o, "pages", json_object_new_int64(pages));
	json_object_object_add(o, "pages_on_node", json_object_new_int64(on));
	return o;
}

int main(int argc, char **argv)
{
	json_object *root = json_object_new_object(), *var, *numa;
	struct utsname u;

	if (argc < 2) {
		fprintf(stderr, "usage: mktme_bench OUT.json [ROUNDS [SIZE_MIB]]\n");
		return 2;
	}
	if (argc > 2)
		rounds = atoi(argv[2]);
	if (argc > 3)
		size = strtoul(argv[3], NULL, 0) << 20;
	if (rounds < 1 || size < HUGE_SZ || size % HUGE_SZ) {
		fprintf(stderr, "mktme_bench: ROUNDS >= 1, SIZE_MIB a multiple of 2\n");
		return 2;
	}
	/*
	 * memfd_secret charges each page to RLIMIT_MEMLOCK whatever the
	 * caller's capabilities (Debian's 6.12 mm/secretmem.c): lift it.
	 */
	if (setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){ RLIM_INFINITY, RLIM_INFINITY }))
		die("setrlimit(RLIMIT_MEMLOCK)");
	key = add_key("mktme", "bench", "type=cpu algorithm=aes-xts-128", 30,
		      KEY_SPEC_PROCESS_KEYRING);
	if (key < 0)
		die("add_key");
	read_spans();
	dm = json_object_new_array();
	for (int v = 0; v < NR_VARIANTS; v++)
		for (int k = 0; k < 2; k++)
			samples[v][k] = json_object_new_array();

	/* One round not counted: first-use costs (page tables, pool blocks). */
	run_round(0);
	for (int v = 0; v < NR_VARIANTS; v++)
		for (int k = 0; k < 2; k++) {
			json_object_put(samples[v][k]);
			samples[v][k] = json_object_new_array();
		}
	/* Round 0's direct-map records stay: first use is when splits happen. */
	for (int r = 1; r <= rounds; r++)
		run_round(r);

	uname(&u);
	json_object_object_add(root, "kernel", json_object_new_string(u.release));
	json_object_object_add(root, "rounds", json_object_new_int(rounds));
	json_object_object_add(root, "size_bytes", json_object_new_int64(size));
	var = json_object_new_object();
	for (int v = 0; v < NR_VARIANTS; v++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "fault_us", samples[v][0]);
		json_object_object_add(o, "teardown_us", samples[v][1]);
		json_object_object_add(var, names[v], o);
	}
	json_object_object_add(root, "variants", var);
	json_object_object_add(root, "direct_map", dm);

	numa = json_object_new_array();
	for (int node = 0; node < 2; node++) {
		json_object_array_add(numa, numa_run(MKTME_4K, node));
		json_object_array_add(numa, numa_run(MKTME_2M, node));
	}
	json_object_object_add(root, "numa", numa);

	if (json_object_to_file_ext(argv[1], root, JSON_C_TO_STRING_PRETTY))
		die(argv[1]);
	json_object_put(root);
	return 0;
}
