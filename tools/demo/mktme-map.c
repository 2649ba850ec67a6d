// SPDX-License-Identifier: GPL-2.0
/*
 * mktme-map KEY [PAGES]: what a tenant's program does with /dev/mktme, for
 * the demo. Finds the mktme key named KEY in the caller's user keyring (or
 * takes #SERIAL: a key another user shared, found by its serial), binds a
 * region to it, maps PAGES pages, writes and reads them back, and prints the
 * KeyID each page's PTE carries, read from the real page tables.
 * Exit status: 0 mapped, 1 refused (the message says at which step), 2 usage.
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <keyutils.h>
#include <linux/mktme.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *level_name(unsigned int level)
{
	switch (level) {
	case MKTME_PTE_4K: return "4K";
	case MKTME_PTE_2M: return "2M";
	case MKTME_PTE_1G: return "1G";
	default: return "not mapped";
	}
}

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long pages = 4;
	struct mktme_region_info info;
	key_serial_t serial;
	unsigned char *p;
	int fd, rc = 1;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: mktme-map KEY|#SERIAL [PAGES]\n");
		return 2;
	}
	if (argc == 3) {
		char *end;

		pages = strtoul(argv[2], &end, 10);
		if (*end || pages == 0 || pages > 4096) {
			fprintf(stderr, "mktme-map: PAGES must be 1..4096, not \"%s\"\n", argv[2]);
			return 2;
		}
	}
	if (argv[1][0] == '#') {
		char *end;
		long n;

		errno = 0;
		n = strtol(argv[1] + 1, &end, 10);
		if (errno || end == argv[1] + 1 || *end || n <= 0 || n > INT32_MAX) {
			fprintf(stderr, "mktme-map: #SERIAL wants a key serial, not \"%s\"\n", argv[1]);
			return 2;
		}
		serial = (key_serial_t)n;
	} else {
		serial = keyctl_search(KEY_SPEC_USER_KEYRING, "mktme", argv[1], 0);
	}
	if (serial < 0) {
		printf("  find key \"%s\": %s\n", argv[1], strerror(errno));
		return 1;
	}
	fd = open("/dev/mktme", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("  open /dev/mktme: %s\n", strerror(errno));
		return 1;
	}
	if (ioctl(fd, MKTME_IOC_SET_KEY, (unsigned long)serial) < 0) {
		printf("  bind key \"%s\" (serial %d): %s\n", argv[1], serial, strerror(errno));
		goto out_close;
	}
	p = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		printf("  mmap key \"%s\": %s\n", argv[1], strerror(errno));
		goto out_close;
	}
	for (unsigned long i = 0; i < pages * page; i++)
		p[i] = (unsigned char)(i * 7 + 1);
	for (unsigned long i = 0; i < pages * page; i++) {
		if (p[i] != (unsigned char)(i * 7 + 1)) {
			printf("  read back differs at byte %lu\n", i);
			goto out_unmap;
		}
	}
	if (ioctl(fd, MKTME_IOC_GET_INFO, &info) < 0) {
		printf("  MKTME_IOC_GET_INFO: %s\n", strerror(errno));
		goto out_unmap;
	}
	printf("  key \"%s\" (serial %d, KeyID %u): %lu pages mapped, written and read back\n",
	       argv[1], serial, info.keyid, pages);
	for (unsigned long i = 0; i < pages; i++) {
		struct mktme_pte_query q = { .addr = (unsigned long)(p + i * page) };

		if (ioctl(fd, MKTME_IOC_QUERY_PTE, &q) < 0) {
			printf("  MKTME_IOC_QUERY_PTE: %s\n", strerror(errno));
			goto out_unmap;
		}
		printf("    page %lu at %p: %s PTE, KeyID %u\n", i, (void *)(p + i * page),
		       level_name(q.level), q.keyid);
	}
	rc = 0;
out_unmap:
	munmap(p, pages * page);
out_close:
	close(fd);
	return rc;
}
