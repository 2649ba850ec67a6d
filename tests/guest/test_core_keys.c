// SPDX-License-Identifier: GPL-2.0
/*
 * The "mktme" key type (issue 3, Deliver 2 and 5): payload forms, one key one
 * KeyID, what the emulated backend was asked to program, what keyctl shows,
 * and the lifecycles (add, update, revoke, unlink, invalidate, a key that
 * outlives its last link because a region still uses its KeyID).
 *
 * Kernel behaviour relied on (kernel/src/arch/x86/mm/mktme/key.c, payload.c,
 * keyid.c, backend_emu.c):
 *   - a malformed payload fails in ->preparse with EINVAL: no KeyID taken,
 *     nothing programmed (program_calls unchanged);
 *   - instantiate programs once (cpu: set-key-random, user: set-key-direct,
 *     clear: clear-key, no-encrypt: no-encrypt); the last put of a KeyID
 *     programs it once more with clear-key;
 *   - keyctl read and /proc/keys show "keyid=N type=T alg=A" and nothing else;
 *   - no ->update: keyctl update is refused (EACCES: no write permission is
 *     ever granted without ->update; EOPNOTSUPP if granted by hand);
 *   - revoke releases the key's KeyID reference at once; a revoked key cannot
 *     be bound (EKEYREVOKED), a region of it maps no more memory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest.h"

#define HEX32_A "00112233445566778899aabbccddeeff"
#define HEX32_B "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define HEX64_A HEX32_A "ffeeddccbbaa99887766554433221100"
#define HEX64_B HEX32_B "f0e1d2c3b4a5968778695a4b3c2d1e0f"

TestSuite(core_keys, .init = guest_settle, .timeout = GUEST_TIMEOUT(120));

/* The row of debugfs emu_keyids for @keyid: "keyid command alg generation". */
struct emu_row {
	char cmd[32];
	char alg[32];
	unsigned long generation;
};

static struct emu_row emu_keyid_row(int keyid)
{
	struct emu_row row = { "", "", 0 };
	char *s = guest_read_file(MKTME_DEBUGFS "/emu_keyids", NULL);
	char *line;
	bool found = false;

	cr_assert_not_null(s, "cannot read %s/emu_keyids: %s", MKTME_DEBUGFS, strerror(errno));
	for (line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
		int k;

		if (sscanf(line, "%d %31s %31s %lu", &k, row.cmd, row.alg, &row.generation) == 4 &&
		    k == keyid) {
			found = true;
			break;
		}
	}
	free(s);
	cr_assert(found, "KeyID %d not listed in emu_keyids", keyid);
	return row;
}

Test(core_keys, sysfs_describes_the_emulated_backend)
{
	char *backend = guest_read_file(MKTME_SYSFS "/backend", NULL);
	char *algs = guest_read_file(MKTME_SYSFS "/algorithms", NULL);

	cr_assert_not_null(backend, "no %s/backend: %s", MKTME_SYSFS, strerror(errno));
	cr_assert_str_eq(backend, "emulate\n");
	cr_assert_not_null(algs, "no %s/algorithms: %s", MKTME_SYSFS, strerror(errno));
	cr_assert(guest_list_has(algs, "aes-xts-128"), "algorithms: %s", algs);
	cr_assert(guest_list_has(algs, "aes-xts-256"), "algorithms: %s", algs);
	cr_assert_leq(mktme_sysfs("keyids_in_use"), mktme_sysfs("nr_keyids"));
	cr_assert_geq(mktme_sysfs("pages_mapped"), 0);
	cr_assert_eq(access(MKTME_DEV, R_OK | W_OK), 0, "%s: %s", MKTME_DEV, strerror(errno));
	free(backend);
	free(algs);
}

/*
 * The emulated KeyID field of a leaf entry, from the x86 page-table format,
 * not from the emulator: the CPU ignores bits 58:52 of a leaf entry (Intel
 * SDM vol. 3A, 4.5, "Ignored"; 62:59 are protection keys, 63 XD), and 6.12
 * takes bit 57 (_PAGE_BIT_SOFTW4, _PAGE_DEVMAP) and bit 58 (_PAGE_BIT_SOFTW5)
 * for itself (arch/x86/include/asm/pgtable_types.h). That leaves 52..56.
 */
#define FIELD_LO	52
#define FIELD_HI	56
#define FIELD_KEYIDS	((1 << (FIELD_HI - FIELD_LO + 1)) - 1)	/* KeyID 0 is "none" */

/*
 * This boot names no mktme.emu_keyids: the emulated platform has every
 * KeyID the field holds. Count what can actually be obtained, and check that
 * each one lands in the field of a real entry and nowhere else.
 */
Test(core_keys, default_pool_is_every_keyid_the_pte_field_holds)
{
	key_serial_t keys[64];
	unsigned long long seen = 0;
	int n = 0, err = 0;

	cr_assert_eq(mktme_sysfs("keyids_in_use"), 0, "precondition: KeyIDs in use");
	for (;;) {
		char name[32];

		cr_assert_lt(n, 64, "more than 63 KeyIDs obtained");
		snprintf(name, sizeof(name), "core-keys-pool-%d", n);
		keys[n] = mktme_key_add(name, "type=no-encrypt");
		if (keys[n] < 0) {
			err = errno;
			break;
		}
		n++;
	}
	cr_assert_eq(err, ENOKEY, "key %d: %s, want ENOKEY", n + 1, strerror(err));
	cr_assert_eq(n, FIELD_KEYIDS, "%d KeyIDs obtainable, the PTE field (bits %d..%d) holds %d", n,
		     FIELD_LO, FIELD_HI, FIELD_KEYIDS);
	cr_assert_eq(mktme_sysfs("nr_keyids"), n, "sysfs nr_keyids disagrees with what was obtained");
	for (int i = 0; i < n; i++) {
		int keyid = mktme_key_keyid(keys[i]), fd;
		struct mktme_pte_query q;
		char *p;

		cr_assert(keyid >= 1 && keyid <= FIELD_KEYIDS, "KeyID %d", keyid);
		cr_assert_eq(seen & (1ULL << keyid), 0, "KeyID %d handed out twice", keyid);
		seen |= 1ULL << keyid;
		fd = mktme_region(keys[i]);
		p = mktme_map(fd, PAGE_SZ, PROT_READ | PROT_WRITE);
		p[0] = 1;
		cr_assert_eq(mktme_query(fd, p, &q), 0);
		/* Bits 52..56 hold exactly the KeyID; 57 (_PAGE_DEVMAP) stays clear.
		 * Bit 58 is the kernel's to set (_PAGE_SAVED_DIRTY on write-protect). */
		cr_assert_eq((q.entry >> FIELD_LO) & FIELD_KEYIDS, (unsigned long long)keyid,
			     "KeyID %d: entry %#llx", keyid, (unsigned long long)q.entry);
		cr_assert_eq(q.entry & (1ULL << (FIELD_HI + 1)), 0, "KeyID %d: entry %#llx has bit 57",
			     keyid, (unsigned long long)q.entry);
		munmap(p, PAGE_SZ);
		close(fd);
	}
	for (int i = 0; i < n; i++)
		mktme_key_drop(keys[i]);
	cr_assert_eq(mktme_wait_keyids(0), 0);
}

struct valid_form {
	const char *payload;
	const char *read;	/* keyctl read, after "keyid=N " */
	const char *emu_cmd;	/* what the emulated backend was told */
};

static const struct valid_form valid_forms[] = {
	{ "type=cpu", "type=cpu alg=aes-xts-128", "set-key-random" },
	{ "type=cpu algorithm=aes-xts-128", "type=cpu alg=aes-xts-128", "set-key-random" },
	{ "type=cpu algorithm=aes-xts-256", "type=cpu alg=aes-xts-256", "set-key-random" },
	{ "algorithm=aes-xts-256 type=cpu", "type=cpu alg=aes-xts-256", "set-key-random" },
	{ " \ttype=cpu\n algorithm=aes-xts-256 \n", "type=cpu alg=aes-xts-256", "set-key-random" },
	{ "type=user key=" HEX32_A " tweak=" HEX32_B, "type=user alg=aes-xts-128", "set-key-direct" },
	{ "type=user algorithm=aes-xts-128 key=" HEX32_A " tweak=" HEX32_B,
	  "type=user alg=aes-xts-128", "set-key-direct" },
	{ "type=user algorithm=aes-xts-256 key=" HEX64_A " tweak=" HEX64_B,
	  "type=user alg=aes-xts-256", "set-key-direct" },
	{ "tweak=" HEX32_B " key=" HEX32_A " type=user", "type=user alg=aes-xts-128", "set-key-direct" },
	{ "type=clear", "type=clear alg=aes-xts-128", "clear-key" },
	{ "type=clear algorithm=aes-xts-256", "type=clear alg=aes-xts-256", "clear-key" },
	{ "type=no-encrypt", "type=no-encrypt alg=aes-xts-128", "no-encrypt" },
};

Test(core_keys, every_valid_form_takes_one_keyid_programmed_once)
{
	long nr = mktme_sysfs("nr_keyids");

	for (size_t i = 0; i < sizeof(valid_forms) / sizeof(valid_forms[0]); i++) {
		const struct valid_form *f = &valid_forms[i];
		long in_use = mktme_sysfs("keyids_in_use");
		long calls = mktme_debugfs("program_calls");
		char want[128], got[128];
		struct emu_row row;
		key_serial_t k;
		long n;
		int keyid;

		k = mktme_key_add_ok("core-keys-valid", f->payload);
		cr_assert_eq(mktme_sysfs("keyids_in_use"), in_use + 1, "\"%s\": keyids_in_use", f->payload);
		cr_assert_eq(mktme_debugfs("program_calls"), calls + 1, "\"%s\": programs", f->payload);

		n = keyctl_read(k, got, sizeof(got) - 1);
		cr_assert_gt(n, 0, "keyctl read: %s", strerror(errno));
		got[n] = '\0';
		keyid = mktme_key_keyid(k);
		cr_assert(keyid >= 1 && keyid <= nr, "\"%s\": KeyID %d out of 1..%ld", f->payload, keyid, nr);
		snprintf(want, sizeof(want), "keyid=%d %s\n", keyid, f->read);
		cr_assert_str_eq(got, want, "\"%s\"", f->payload);

		row = emu_keyid_row(keyid);
		cr_assert_str_eq(row.cmd, f->emu_cmd, "\"%s\": KeyID %d", f->payload, keyid);
		cr_assert_str_eq(row.alg, strstr(f->read, "alg=") + 4, "\"%s\"", f->payload);

		mktme_key_drop(k);
		cr_assert_eq(mktme_wait_keyids(in_use), in_use, "\"%s\": KeyID not released", f->payload);
		/* Released = reprogrammed with CLEAR_KEY, exactly once. */
		cr_assert_eq(mktme_wait_debugfs("program_calls", calls + 2), calls + 2,
			     "\"%s\": programs after release", f->payload);
		row = emu_keyid_row(keyid);
		cr_assert_str_eq(row.cmd, "clear-key", "\"%s\": KeyID %d after release", f->payload, keyid);
	}
}

static const char *const invalid_forms[] = {
	" ",
	"\n",
	"type=",
	"type",
	"=cpu",
	"type=foo",
	"type=CPU",
	"TYPE=cpu",
	"type=cpu,algorithm=aes-xts-128",
	"algorithm=aes-xts-128",
	"type=cpu type=cpu",
	"type=cpu type=user",
	"type=cpu algorithm=aes-xts-128 algorithm=aes-xts-128",
	"type=cpu algorithm=aes-xts-512",
	"type=cpu algorithm=",
	"type=cpu algorithm=AES-XTS-128",
	"type=cpu key=" HEX32_A,
	"type=cpu tweak=" HEX32_B,
	"type=clear key=" HEX32_A " tweak=" HEX32_B,
	"type=no-encrypt key=" HEX32_A " tweak=" HEX32_B,
	"type=cpu junk",
	"type=cpu foo=bar",
	"type=user",
	"type=user algorithm=aes-xts-128",
	"type=user key=" HEX32_A,
	"type=user tweak=" HEX32_B,
	"type=user key=" HEX32_A " key=" HEX32_A " tweak=" HEX32_B,
	/* Lengths: 31, 33 digits; the 256-bit length without algorithm= (means 128). */
	"type=user key=0112233445566778899aabbccddeeff tweak=f1e2d3c4b5a69788796a5b4c3d2e1f0",
	"type=user key=" HEX32_A "0 tweak=" HEX32_B "0",
	"type=user key=" HEX64_A " tweak=" HEX64_B,
	"type=user algorithm=aes-xts-256 key=" HEX32_A " tweak=" HEX32_B,
	"type=user algorithm=aes-xts-128 key=" HEX64_A " tweak=" HEX64_B,
	"type=user key=" HEX32_A " tweak=" HEX64_B,
	/* Not hex. */
	"type=user key=zz112233445566778899aabbccddeeff tweak=" HEX32_B,
	"type=user key=0x112233445566778899aabbccddeeff tweak=" HEX32_B,
	/* key == tweak: an XTS key must have two different halves. */
	"type=user key=" HEX32_A " tweak=" HEX32_A,
	/* Non-printable byte. */
	"type=cpu\x01",
	"type=cpu\r",
};

static void assert_einval_nothing_taken(const void *payload, size_t len, const char *what)
{
	long in_use = mktme_sysfs("keyids_in_use");
	long calls = mktme_debugfs("program_calls");
	key_serial_t k = add_key(MKTME_KEY_TYPE, "core-keys-invalid", payload, len,
				 KEY_SPEC_PROCESS_KEYRING);

	cr_assert_eq(k, -1, "%s: accepted (key %d)", what, k);
	cr_assert_eq(errno, EINVAL, "%s: %s, want EINVAL", what, strerror(errno));
	cr_assert_eq(mktme_sysfs("keyids_in_use"), in_use, "%s: a KeyID was taken", what);
	cr_assert_eq(mktme_debugfs("program_calls"), calls, "%s: something was programmed", what);
	cr_assert_eq(keyctl_search(KEY_SPEC_PROCESS_KEYRING, MKTME_KEY_TYPE, "core-keys-invalid", 0), -1,
		     "%s: a key was linked", what);
}

Test(core_keys, every_malformed_form_is_einval_with_nothing_taken)
{
	for (size_t i = 0; i < sizeof(invalid_forms) / sizeof(invalid_forms[0]); i++) {
		char what[600];

		snprintf(what, sizeof(what), "payload \"%s\"", invalid_forms[i]);
		assert_einval_nothing_taken(invalid_forms[i], strlen(invalid_forms[i]), what);
	}
}

Test(core_keys, empty_nul_and_oversized_payloads_are_einval)
{
	static const char nul[] = "type=cpu\0algorithm=aes-xts-128";
	char big[1100];
	key_serial_t k;
	long in_use;

	assert_einval_nothing_taken(NULL, 0, "no payload");
	assert_einval_nothing_taken(nul, sizeof(nul) - 1, "a NUL inside");
	assert_einval_nothing_taken("type=cpu", sizeof("type=cpu"), "a trailing NUL");

	/* 1024 bytes is the limit: exactly 1024 is accepted, 1025 is not. */
	memset(big, ' ', sizeof(big));
	memcpy(big, "type=cpu", 8);
	assert_einval_nothing_taken(big, 1025, "1025 bytes");

	in_use = mktme_sysfs("keyids_in_use");
	k = add_key(MKTME_KEY_TYPE, "core-keys-1024", big, 1024, KEY_SPEC_PROCESS_KEYRING);
	cr_assert_gt(k, 0, "1024-byte payload refused: %s", strerror(errno));
	cr_assert_eq(mktme_sysfs("keyids_in_use"), in_use + 1);
	mktme_key_drop(k);
	cr_assert_eq(mktme_wait_keyids(in_use), in_use);
}

/* The whole kernel log, NUL-terminated. */
static char *kernel_log(void)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;
	int n;

	cr_assert_gt(size, 0, "klogctl size: %s", strerror(errno));
	buf = calloc(1, size + 1);
	cr_assert_not_null(buf);
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	cr_assert_geq(n, 0, "klogctl read: %s", strerror(errno));
	buf[n] = '\0';
	return buf;
}

static void assert_no_material(const char *where, const char *text, size_t len)
{
	static const unsigned char key_bytes[] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 };
	static const unsigned char tweak_bytes[] = { 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78 };

	/* Any 8 consecutive hex digits of key= or tweak=, in either case, or the raw bytes. */
	for (size_t off = 0; off + 8 <= 64; off += 4) {
		char frag[9];

		memcpy(frag, HEX64_A + off, 8);
		frag[8] = '\0';
		cr_assert(!guest_memmem(text, len, frag, 8), "%s contains key hex %s", where, frag);
		memcpy(frag, HEX64_B + off, 8);
		cr_assert(!guest_memmem(text, len, frag, 8), "%s contains tweak hex %s", where, frag);
	}
	cr_assert(!guest_memmem(text, len, key_bytes, sizeof(key_bytes)), "%s contains key bytes", where);
	cr_assert(!guest_memmem(text, len, tweak_bytes, sizeof(tweak_bytes)), "%s contains tweak bytes", where);
}

Test(core_keys, key_material_is_never_read_back_listed_or_logged)
{
	const char *payload = "type=user algorithm=aes-xts-256 key=" HEX64_A " tweak=" HEX64_B;
	key_serial_t k = mktme_key_add_ok("core-keys-secret", payload);
	int keyid = mktme_key_keyid(k);
	char buf[4096], want[128], *desc, *keys, *log;
	long n;

	/* keyctl read: exactly the KeyID, type and algorithm, whatever the buffer size. */
	n = keyctl_read(k, buf, sizeof(buf));
	cr_assert_gt(n, 0, "keyctl read: %s", strerror(errno));
	snprintf(want, sizeof(want), "keyid=%d type=user alg=aes-xts-256\n", keyid);
	cr_assert_eq(n, (long)strlen(want), "keyctl read returned %ld bytes", n);
	cr_assert(memcmp(buf, want, n) == 0, "keyctl read: %.*s", (int)n, buf);
	assert_no_material("keyctl read", buf, n);
	/* A short buffer: the full length back (6.12 copies nothing then). */
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(keyctl_read(k, buf, 5), (long)strlen(want));
	assert_no_material("keyctl read (short buffer)", buf, sizeof(buf));

	cr_assert_geq(keyctl_describe_alloc(k, &desc), 0, "describe: %s", strerror(errno));
	cr_assert(!strncmp(desc, "mktme;", 6), "describe: %s", desc);
	assert_no_material("keyctl describe", desc, strlen(desc));

	keys = guest_read_file("/proc/keys", NULL);
	cr_assert_not_null(keys);
	snprintf(want, sizeof(want), "core-keys-secret: keyid=%d type=user alg=aes-xts-256", keyid);
	cr_assert(strstr(keys, want), "/proc/keys lacks \"%s\":\n%s", want, keys);
	assert_no_material("/proc/keys", keys, strlen(keys));

	log = kernel_log();
	assert_no_material("the kernel log", log, strlen(log));

	free(desc);
	free(keys);
	free(log);
	mktme_key_drop(k);
}

/*
 * No ->update (key.c): the key core then never grants write permission
 * (key_create_or_update() in security/keys/key.c), so keyctl update fails
 * with EACCES; with write permission given by hand, with EOPNOTSUPP.
 */
Test(core_keys, update_is_refused_and_changes_nothing)
{
	key_serial_t k = mktme_key_add_ok("core-keys-update", PAYLOAD_CPU_128);
	int keyid = mktme_key_keyid(k);
	long in_use = mktme_sysfs("keyids_in_use");
	long calls = mktme_debugfs("program_calls");
	static const char *const payloads[] = { PAYLOAD_CPU_256, "type=bogus" };

	for (int i = 0; i < 2; i++) {
		cr_assert_eq(keyctl_update(k, payloads[i], strlen(payloads[i])), -1, "update \"%s\" accepted",
			     payloads[i]);
		cr_assert_eq(errno, EACCES, "update \"%s\": %s", payloads[i], strerror(errno));
	}
	cr_assert_eq(keyctl_setperm(k, KEY_POS_ALL | KEY_USR_VIEW), 0, "setperm: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(keyctl_update(k, payloads[i], strlen(payloads[i])), -1,
			     "update \"%s\" accepted with write permission", payloads[i]);
		cr_assert_eq(errno, EOPNOTSUPP, "update \"%s\" with write permission: %s", payloads[i],
			     strerror(errno));
	}
	cr_assert_eq(mktme_key_keyid(k), keyid);
	cr_assert_eq(mktme_sysfs("keyids_in_use"), in_use);
	cr_assert_eq(mktme_debugfs("program_calls"), calls);
	cr_assert_str_eq(emu_keyid_row(keyid).alg, "aes-xts-128");
	mktme_key_drop(k);
}

Test(core_keys, add_with_the_same_name_makes_a_new_key_and_frees_the_old_keyid)
{
	long base = mktme_sysfs("keyids_in_use");
	key_serial_t a = mktme_key_add_ok("core-keys-same", PAYLOAD_CPU_128);
	int ka = mktme_key_keyid(a);
	key_serial_t b = mktme_key_add_ok("core-keys-same", PAYLOAD_CPU_256);
	int kb = mktme_key_keyid(b);

	cr_assert_neq(a, b, "add_key updated the key in place");
	cr_assert_neq(ka, kb, "two live keys share KeyID %d", ka);
	/* a lost its only link: destroyed, its KeyID back in the pool. */
	cr_assert_eq(mktme_wait_keyids(base + 1), base + 1);
	cr_assert_eq(keyctl_search(KEY_SPEC_PROCESS_KEYRING, MKTME_KEY_TYPE, "core-keys-same", 0), b);
	mktme_key_drop(b);
	cr_assert_eq(mktme_wait_keyids(base), base);
}

Test(core_keys, distinct_live_keys_have_distinct_keyids)
{
	enum { N = 16 };
	long base = mktme_sysfs("keyids_in_use");
	key_serial_t keys[N];
	int ids[N];

	for (int i = 0; i < N; i++) {
		char name[32];

		snprintf(name, sizeof(name), "core-keys-many-%d", i);
		keys[i] = mktme_key_add_ok(name, i % 2 ? PAYLOAD_CPU_256 : "type=no-encrypt");
		ids[i] = mktme_key_keyid(keys[i]);
		for (int j = 0; j < i; j++)
			cr_assert_neq(ids[i], ids[j], "keys %d and %d share KeyID %d", i, j, ids[i]);
	}
	cr_assert_eq(mktme_sysfs("keyids_in_use"), base + N);
	for (int i = 0; i < N; i++)
		mktme_key_drop(keys[i]);
	cr_assert_eq(mktme_wait_keyids(base), base);
}

Test(core_keys, unlink_and_invalidate_release_the_keyid)
{
	long base = mktme_sysfs("keyids_in_use");
	key_serial_t a = mktme_key_add_ok("core-keys-unlink", PAYLOAD_CPU_128);
	key_serial_t b = mktme_key_add_ok("core-keys-invalidate", PAYLOAD_CPU_128);

	cr_assert_eq(mktme_sysfs("keyids_in_use"), base + 2);
	mktme_key_drop(a);
	cr_assert_eq(mktme_wait_keyids(base + 1), base + 1, "unlinked key's KeyID not released");
	cr_assert_eq(keyctl_invalidate(b), 0, "invalidate: %s", strerror(errno));
	cr_assert_eq(mktme_wait_keyids(base), base, "invalidated key's KeyID not released");
	cr_assert_eq(mktme_key_keyid(b), -ENOKEY, "an invalidated key is still readable");
}

/*
 * Revoke drops the key's KeyID reference at once (key.c ->revoke: in this
 * tree, Debian 6.12, the key garbage collector never drops a revoked key that
 * is still linked, since key_is_dead() looks only at key->expiry). A revoked
 * key binds no region; a region already bound keeps its own reference, and
 * its pages, but maps no more memory.
 */
Test(core_keys, revoke_releases_the_keyid_and_binds_nothing)
{
	long base = mktme_sysfs("keyids_in_use");
	key_serial_t k = mktme_key_add_ok("core-keys-revoke", PAYLOAD_CPU_128);
	int fd = mktme_open();
	struct mktme_region_info info;
	long calls = mktme_debugfs("program_calls");
	char buf[64];

	cr_assert_eq(keyctl_revoke(k), 0, "revoke: %s", strerror(errno));
	cr_assert_eq(mktme_sysfs("keyids_in_use"), base, "revoke did not release the KeyID");
	cr_assert_eq(mktme_debugfs("program_calls"), calls + 1, "released without its CLEAR_KEY");
	cr_assert_eq(keyctl_read(k, buf, sizeof(buf)), -1);
	cr_assert_eq(errno, EKEYREVOKED, "read after revoke: %s", strerror(errno));
	cr_assert_eq(mktme_set_key(fd, k), EKEYREVOKED, "SET_KEY with a revoked key");
	info = mktme_info(fd);
	cr_assert_eq(info.key_serial, 0, "a refused SET_KEY bound the region to %d", info.key_serial);
	cr_assert_eq(info.keyid, 0u);
	close(fd);
	mktme_key_drop(k);
	cr_assert_eq(mktme_sysfs("keyids_in_use"), base);
}

Test(core_keys, revoke_under_a_mapped_region_keeps_its_pages_and_keyid)
{
	long base = mktme_sysfs("keyids_in_use");
	key_serial_t k = mktme_key_add_ok("core-keys-revoke-mapped", PAYLOAD_CPU_128);
	int keyid = mktme_key_keyid(k);
	int fd = mktme_region(k);
	char *p = mktme_map(fd, PAGE_SZ, PROT_READ | PROT_WRITE);
	long calls;

	p[0] = 0x42;
	calls = mktme_debugfs("program_calls");
	cr_assert_eq(keyctl_revoke(k), 0, "revoke: %s", strerror(errno));
	cr_assert_eq(mktme_sysfs("keyids_in_use"), base + 1, "KeyID %d released under its pages", keyid);
	cr_assert_eq(mktme_debugfs("program_calls"), calls, "KeyID %d reprogrammed under its pages", keyid);
	cr_assert_eq(p[0], 0x42);
	cr_assert_eq(mktme_info(fd).keyid, (unsigned int)keyid);
	cr_assert_eq(mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED,
		     "a region of a revoked key mapped more memory");
	cr_assert_eq(errno, EKEYREVOKED, "mmap: %s", strerror(errno));

	munmap(p, PAGE_SZ);
	close(fd);
	cr_assert_eq(mktme_sysfs("keyids_in_use"), base);
	cr_assert_eq(mktme_wait_debugfs("program_calls", calls + 1), calls + 1);
	cr_assert_str_eq(emu_keyid_row(keyid).cmd, "clear-key");
	mktme_key_drop(k);
}

Test(core_keys, keyid_outlives_the_key_while_a_region_holds_it)
{
	long base = mktme_sysfs("keyids_in_use");
	long pages = mktme_sysfs("pages_mapped");
	key_serial_t k = mktme_key_add_ok("core-keys-outlive", PAYLOAD_CPU_128);
	int keyid = mktme_key_keyid(k);
	int fd = mktme_region(k);
	char *p = mktme_map(fd, 2 * PAGE_SZ, PROT_READ | PROT_WRITE);
	long calls;

	memset(p, 0x5a, 2 * PAGE_SZ);
	cr_assert_eq(mktme_sysfs("pages_mapped"), pages + 2);
	mktme_key_drop(k);
	/*
	 * Its last link is gone; the region still holds the key (dev.c keeps
	 * the lookup's reference) and its own KeyID reference. Nothing may be
	 * released by the key garbage collector: let it run, then look.
	 */
	guest_key_gc_barrier();
	cr_assert_eq(mktme_keyid_refs(keyid), 2, "KeyID %d: want the key's and the region's reference",
		     keyid);
	cr_assert_eq(mktme_sysfs("keyids_in_use"), base + 1, "KeyID %d released while mapped", keyid);
	cr_assert_eq(keyctl_search(KEY_SPEC_PROCESS_KEYRING, MKTME_KEY_TYPE, "core-keys-outlive", 0), -1);
	cr_assert_eq(mktme_info(fd).keyid, (unsigned int)keyid);
	cr_assert_eq(p[0], 0x5a);
	cr_assert_eq(p[2 * PAGE_SZ - 1], 0x5a);
	cr_assert_str_eq(emu_keyid_row(keyid).cmd, "set-key-random", "KeyID reprogrammed under its pages");

	calls = mktme_debugfs("program_calls");
	cr_assert_eq(munmap(p, 2 * PAGE_SZ), 0);
	close(fd);
	cr_assert_eq(mktme_wait_keyids(base), base, "KeyID %d not released after the last unmap", keyid);
	cr_assert_eq(mktme_sysfs("pages_mapped"), pages);
	cr_assert_eq(mktme_wait_debugfs("program_calls", calls + 1), calls + 1);
	cr_assert_str_eq(emu_keyid_row(keyid).cmd, "clear-key");
}
