// SPDX-License-Identifier: GPL-2.0
/*
 * What only ciphertext shows (issue 11 stage 2), under the TME-MK model with
 * tme-ciphertext=on: bytes written through a KeyID are stored encrypted with
 * its key, and the model's RAM is readable from here as the files
 * $MKTME_OUT/ram-node0 and ram-node1 (tools/vm/run), the way someone holding
 * the DIMMs would read it. So the core is checked for what the emulated
 * backend can only assume:
 *
 * - a type=user key's pages hold exactly the AES-XTS ciphertext of what was
 *   written (computed here with OpenSSL, with the model's tweak: each
 *   64-byte line one XTS data unit, tweak value its physical address), so
 *   the key and tweak reach PCONFIG's KEY_FIELD_1 and KEY_FIELD_2 intact;
 * - a type=cpu key's pages hold no plaintext line;
 * - a fresh page reads zero through its KeyID while RAM holds the
 *   encryption of zero: the core zeroed it through the KeyID, not through
 *   the direct map (which would read back as garbage here);
 * - a page shared across fork reads the same from both packages' CPUs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "guest.h"

#define LINE 64
/* A known key and tweak key (type=user, AES-XTS-128): they must differ. */
#define USER_KEY "000102030405060708090a0b0c0d0e0f"
#define USER_TWEAK "f0e0d0c0b0a090807060504030201000"
#define PAYLOAD_USER "type=user algorithm=aes-xts-128 key=" USER_KEY " tweak=" USER_TWEAK

TestSuite(hw_cipher, .init = guest_settle, .timeout = GUEST_TIMEOUT(600));

/*
 * The physical address of the page mapped at @p in @r, without KeyID bits:
 * from the entry MKTME_IOC_QUERY_PTE reads back (root sees the PFN in it;
 * /proc/self/pagemap skips VM_PFNMAP mappings). The KeyID is the top
 * IA32_TME_ACTIVATE[35:32] bits of the model's physical address width.
 */
static uint64_t phys_of(const struct guest_region *r, const void *p)
{
	static uint64_t below_keyid;	/* the model's log, read once */
	struct mktme_pte_query q = { .addr = (uintptr_t)p };
	uint64_t size;

	if (!below_keyid) {
		struct hwmodel_msrs m = hwmodel_msrs();

		below_keyid = (1ULL << (m.phys_bits - ((m.activate >> 32) & 0xf))) - 1;
	}
	cr_assert_eq(mktme_query(r->fd, p, &q), 0, "MKTME_IOC_QUERY_PTE at %p", p);
	cr_assert(q.flags & MKTME_PTE_F_PRESENT, "page at %p not present", p);
	cr_assert_eq(q.keyid, (unsigned int)r->keyid, "page at %p has KeyID %u", p, q.keyid);
	size = q.level == MKTME_PTE_4K ? PAGE_SZ : q.level == MKTME_PTE_2M ? 1ULL << 21 : 0;
	cr_assert_neq(size, 0, "page at %p: level %u", p, q.level);
	cr_assert_neq(q.entry & below_keyid & ~(size - 1), 0, "no PFN in the entry (not root?)");
	return (q.entry & below_keyid & ~(size - 1)) + ((uintptr_t)p & (size - 1) & ~(PAGE_SZ - 1));
}

/*
 * @len bytes of RAM at physical address @pa, as stored: node 0's file holds
 * guest-physical 0 up to its size, node 1's the rest (tools/vm/run; the
 * guest has less than 3.5 GiB, so all of it is below 4 GiB).
 */
static void ram_read(uint64_t pa, void *buf, size_t len)
{
	const char *out = getenv("MKTME_OUT");
	char path[4096];
	struct stat st;
	int fd;

	cr_assert_not_null(out, "MKTME_OUT is not set: not run by tools/vm/run");
	snprintf(path, sizeof(path), "%s/ram-node0", out);
	cr_assert_eq(stat(path, &st), 0, "%s: %s (not booted with tme-ciphertext=on?)", path,
		     strerror(errno));
	if (pa >= (uint64_t)st.st_size) {
		pa -= st.st_size;
		snprintf(path, sizeof(path), "%s/ram-node1", out);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(pread(fd, buf, len, (off_t)pa), (ssize_t)len, "%s at %#llx", path,
		     (unsigned long long)pa);
	close(fd);
}

static void hex_to(const char *hex, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(sscanf(hex + 2 * i, "%2hhx", &out[i]), 1);
}

/* AES-XTS-128 of one 64-byte line at @pa, as the model computes it. */
static void xts_line(const unsigned char *in, unsigned char *out, uint64_t pa)
{
	unsigned char key[32], iv[16] = { 0 };
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0;

	hex_to(USER_KEY, key, 16);
	hex_to(USER_TWEAK, key + 16, 16);
	for (int i = 0; i < 8; i++)
		iv[i] = (unsigned char)(pa >> (8 * i));
	cr_assert_not_null(c);
	cr_assert_eq(EVP_EncryptInit_ex(c, EVP_aes_128_xts(), NULL, key, iv), 1);
	cr_assert_eq(EVP_EncryptUpdate(c, out, &n, in, LINE), 1);
	cr_assert_eq(n, LINE);
	EVP_CIPHER_CTX_free(c);
}

static void fill(unsigned char *p, unsigned int seed)
{
	for (size_t i = 0; i < PAGE_SZ; i++)
		p[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 8));
}

Test(hw_cipher, a_user_key_stores_the_aes_xts_ciphertext_of_what_was_written)
{
	struct guest_region r = guest_region_new(PAYLOAD_USER, 1);
	unsigned char plain[PAGE_SZ], raw[PAGE_SZ], want[LINE];
	uint64_t pa;

	fill(plain, 1);
	memcpy(r.p, plain, PAGE_SZ);
	cr_assert_eq(memcmp(r.p, plain, PAGE_SZ), 0, "the page does not read back what was written");
	pa = phys_of(&r, r.p);
	ram_read(pa, raw, PAGE_SZ);
	for (size_t l = 0; l < PAGE_SZ; l += LINE) {
		xts_line(plain + l, want, pa + l);
		cr_assert_eq(memcmp(raw + l, want, LINE), 0,
			     "line %zu of the page at %#llx is not AES-XTS(key, tweak) of what was written",
			     l / LINE, (unsigned long long)pa);
	}
	guest_region_free(&r);
}

Test(hw_cipher, a_cpu_key_leaves_no_plaintext_line_in_ram)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 4);
	unsigned char plain[PAGE_SZ], raw[PAGE_SZ];

	for (int pg = 0; pg < 4; pg++) {
		fill(plain, 10 + pg);
		memcpy(r.p + pg * PAGE_SZ, plain, PAGE_SZ);
	}
	for (int pg = 0; pg < 4; pg++) {
		fill(plain, 10 + pg);
		cr_assert_eq(memcmp(r.p + pg * PAGE_SZ, plain, PAGE_SZ), 0, "page %d reads back wrong", pg);
		ram_read(phys_of(&r, r.p + pg * PAGE_SZ), raw, PAGE_SZ);
		for (size_t l = 0; l < PAGE_SZ; l += LINE)
			cr_assert_neq(memcmp(raw + l, plain + l, LINE), 0,
				      "page %d line %zu is stored in the clear", pg, l / LINE);
	}
	guest_region_free(&r);
}

/*
 * Zeroed through the KeyID: RAM holds the encryption of zero, and the page
 * reads zero. Zeroed through the direct map, RAM would hold zeros and the
 * page would read back as their decryption.
 */
Test(hw_cipher, a_fresh_page_is_zeroed_through_its_keyid)
{
	enum { PAGES = 8 };
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, PAGES);
	static const unsigned char zero[PAGE_SZ];
	unsigned char raw[PAGE_SZ];

	for (int pg = 0; pg < PAGES; pg++) {
		const unsigned char *p = (const unsigned char *)r.p + pg * PAGE_SZ;

		cr_assert_eq(memcmp(p, zero, PAGE_SZ), 0, "fresh page %d does not read zero", pg);
		ram_read(phys_of(&r, p), raw, PAGE_SZ);
		for (size_t l = 0; l < PAGE_SZ; l += LINE)
			cr_assert_neq(memcmp(raw + l, zero, LINE), 0,
				      "fresh page %d line %zu is zero in RAM: zeroed without its KeyID", pg,
				      l / LINE);
	}
	guest_region_free(&r);
}

/*
 * The model's two packages each program their own random key for a KeyID;
 * what a page holds must not depend on which package's CPU reads it (the
 * memory's own controller encrypts).
 */
Test(hw_cipher, both_packages_read_what_either_wrote)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 2);
	unsigned char plain[PAGE_SZ];
	pid_t pid;

	cr_assert_geq(sysconf(_SC_NPROCESSORS_ONLN), 2, "needs a CPU on each package");
	cr_assert_eq(guest_pin_cpu(0), 0, "pin to CPU 0");
	fill(plain, 20);
	memcpy(r.p, plain, PAGE_SZ);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (guest_pin_cpu(1))
			_exit(10);
		if (memcmp(r.p, plain, PAGE_SZ))
			_exit(11);
		fill(plain, 21);
		memcpy(r.p + PAGE_SZ, plain, PAGE_SZ);
		_exit(0);
	}
	cr_assert_eq(guest_wait_child(pid), 0,
		     "the child on CPU 1 (package 1): 10 affinity, 11 page 0 read wrong");
	fill(plain, 21);
	cr_assert_eq(memcmp(r.p + PAGE_SZ, plain, PAGE_SZ), 0, "CPU 0 reads CPU 1's page wrong");
	guest_region_free(&r);
}

/*
 * Released: the key revoked and its KeyID given back, which the core
 * reprograms with CLEAR_KEY. Through that KeyID (and the direct map) the
 * model reads RAM as stored, so what a later owner of the KeyID or the page
 * could read is what RAM holds now: never the plaintext.
 */
Test(hw_cipher, after_release_no_plaintext_is_left_to_read)
{
	long in_use = mktme_sysfs("keyids_in_use"), calls = mktme_program_calls();
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 2);
	unsigned char plain[PAGE_SZ], raw[PAGE_SZ];
	uint64_t pa[2];
	long keyid = r.keyid;

	for (int pg = 0; pg < 2; pg++) {
		fill(plain, 30 + pg);
		memcpy(r.p + pg * PAGE_SZ, plain, PAGE_SZ);
		pa[pg] = phys_of(&r, r.p + pg * PAGE_SZ);
	}
	guest_region_free(&r);
	/* Its program, then the CLEAR_KEY once the key is destroyed. */
	cr_assert_eq(mktme_wait_keyids(in_use), in_use, "the KeyID was not released");
	cr_assert_eq(mktme_wait_program_calls(calls + 2), calls + 2, "no CLEAR_KEY after release");
	cr_assert_str_eq(hwmodel_state(0, keyid), "clear", "KeyID %ld not cleared on package 0", keyid);
	cr_assert_str_eq(hwmodel_state(1, keyid), "clear", "KeyID %ld not cleared on package 1", keyid);
	for (int pg = 0; pg < 2; pg++) {
		fill(plain, 30 + pg);
		ram_read(pa[pg], raw, PAGE_SZ);
		for (size_t l = 0; l < PAGE_SZ; l += LINE)
			cr_assert_neq(memcmp(raw + l, plain + l, LINE), 0,
				      "page %d line %zu is in the clear after release", pg, l / LINE);
	}
}

/*
 * A page of one tenant's region, released and handed to another tenant's
 * region (the pool reuses it): through the new KeyID it reads zero, never
 * the first tenant's data nor its decryption under the wrong key.
 */
Test(hw_cipher, a_reused_page_reads_zero_through_the_next_keyid)
{
	enum { A_PAGES = 8, B_PAGES = 64 };
	long in_use = mktme_sysfs("keyids_in_use");
	struct guest_region a = guest_region_new(PAYLOAD_CPU_128, A_PAGES), b;
	static const unsigned char zero[PAGE_SZ];
	uint64_t pa[A_PAGES];
	int reused = 0;

	for (int pg = 0; pg < A_PAGES; pg++) {
		fill((unsigned char *)a.p + pg * PAGE_SZ, 40 + pg);
		pa[pg] = phys_of(&a, a.p + pg * PAGE_SZ);
	}
	guest_region_free(&a);
	cr_assert_eq(mktme_wait_keyids(in_use), in_use, "the first KeyID was not released");
	b = guest_region_new(PAYLOAD_CPU_128, B_PAGES);
	for (int pg = 0; pg < B_PAGES; pg++) {
		const unsigned char *p = (const unsigned char *)b.p + pg * PAGE_SZ;
		uint64_t at;

		cr_assert_eq(memcmp(p, zero, PAGE_SZ), 0, "page %d of the second region is not zero", pg);
		at = phys_of(&b, p);
		for (int i = 0; i < A_PAGES; i++)
			reused += at == pa[i];
	}
	cr_assert_gt(reused, 0, "none of the first region's %d pages came back in the next %d: nothing tested",
		     A_PAGES, B_PAGES);
	guest_region_free(&b);
}
