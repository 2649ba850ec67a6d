// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the keys side of the mktme core: the KEY_PROGRAM operand
 * layout, the emulated backend against a table written from the PCONFIG
 * specification, the operand checks, the retrying programmer, the KeyID
 * pool and the key payload parser.
 *
 * Every test runs against its own emulated backend and pool, never the live
 * ones, so the results do not depend on the mktme= boot parameter.
 */
#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/stddef.h>
#include <linux/string.h>

#include "mktme.h"

#define ALG128		MKTME_ALG_AES_XTS_128
#define ALG256		MKTME_ALG_AES_XTS_256
#define BIT128		MKTME_ALG_BIT(ALG128)
#define BIT256		MKTME_ALG_BIT(ALG256)
#define BOTH		(BIT128 | BIT256)

#define SET_DIRECT	MKTME_KEYID_SET_KEY_DIRECT
#define SET_RANDOM	MKTME_KEYID_SET_KEY_RANDOM
#define CLEAR		MKTME_KEYID_CLEAR_KEY
#define NO_ENCRYPT	MKTME_KEYID_NO_ENCRYPT

#define BAD_CMD		MKTME_INVALID_PROG_CMD
#define BAD_KEYID	MKTME_INVALID_KEYID
#define BAD_ALG		MKTME_INVALID_ENC_ALG
#define OK		MKTME_PROG_SUCCESS

#define NEVER		0xff

/* ---- struct mktme_key_program ------------------------------------------ */

static void mktme_layout_test(struct kunit *test)
{
	/* ISE / SDM PCONFIG, MKTME_KEY_PROGRAM_STRUCT format. */
	KUNIT_EXPECT_EQ(test, offsetof(struct mktme_key_program, keyid), 0);
	KUNIT_EXPECT_EQ(test, offsetof(struct mktme_key_program, keyid_ctrl), 2);
	KUNIT_EXPECT_EQ(test, offsetof(struct mktme_key_program, __rsvd), 6);
	KUNIT_EXPECT_EQ(test, offsetof(struct mktme_key_program, key_field_1),
			64);
	KUNIT_EXPECT_EQ(test, offsetof(struct mktme_key_program, key_field_2),
			128);
	KUNIT_EXPECT_EQ(test, sizeof(struct mktme_key_program), 256);
	KUNIT_EXPECT_EQ(test, __alignof__(struct mktme_key_program), 256);
	KUNIT_EXPECT_EQ(test, sizeof(((struct mktme_key_program *)0)->__rsvd),
			58);
}

static struct kunit_case mktme_layout_cases[] = {
	KUNIT_CASE(mktme_layout_test),
	{}
};

static struct kunit_suite mktme_layout_suite = {
	.name = "mktme_layout",
	.test_cases = mktme_layout_cases,
};

/* ---- the emulated backend against the specification ------------------- */

/*
 * What PCONFIG MKTME_KEY_PROGRAM answers, written down from the Intel
 * documents and not from mktme.h or program.c, so that a mistake there
 * (in mktme_program_check(), which the emulated backend calls, or in a
 * constant) cannot hide itself: the operand is built byte by byte and every
 * expected status is a number from the specification.
 *
 * Sources: Intel Architecture Memory Encryption Technologies Specification
 * and the ISE reference, PCONFIG, MKTME_KEY_PROGRAM (the order of checks is
 * the one the ISE "Operation" section gives, quoted in program.c):
 *   operand (256-byte aligned): bytes 1:0 KEYID, 5:2 KEYID_CTRL, 63:6
 *     reserved, 127:64 KEY_FIELD_1, 191:128 KEY_FIELD_2;
 *   KEYID_CTRL: bits 7:0 COMMAND (0 KEYID_SET_KEY_DIRECT, 1
 *     KEYID_SET_KEY_RANDOM, 2 KEYID_CLEAR_KEY, 3 KEYID_NO_ENCRYPT), bits
 *     23:8 ENC_ALG (bit n is bit n of IA32_TME_CAPABILITY[15:0] and of
 *     IA32_TME_ACTIVATE[63:48]: 0 AES-XTS-128, 1 AES-XTS-128 with integrity,
 *     2 AES-XTS-256), bits 31:24 reserved;
 *   return codes: 0 PROG_SUCCESS, 1 INVALID_PROG_CMD, 2 ENTROPY_ERROR,
 *     3 INVALID_KEYID, 4 INVALID_ENC_ALG, 5 DEVICE_BUSY;
 *   #GP(0) before any of them for non-zero reserved bytes or bits, and key
 *     bytes beyond the key (ISE: 63:16 of each key field; for AES-XTS-256,
 *     whose keys are 32 bytes, 63:32, our extension: see program.c). A
 *     fault is no return code: the emulated backend answers MKTME_PROG_GP.
 * Checks in this order: #GP, COMMAND, KEYID (0, or above the KeyIDs the
 * platform has), ENC_ALG (exactly one bit, and an activated algorithm,
 * for every command).
 */
enum {
	S_SUCCESS	= 0,
	S_BAD_CMD	= 1,
	S_BAD_KEYID	= 3,
	S_BAD_ALG	= 4,
	S_GP		= MKTME_PROG_GP,
};

/* IA32_TME_ACTIVATE[63:48] >> 48: the algorithms the platform activated. */
#define A_128	0x1
#define A_256	0x4
#define A_BOTH	0x5

struct spec_case {
	const char *what;
	unsigned int nr_keyids;	/* KeyIDs 1..nr exist */
	u32 activated;		/* A_* */
	u16 keyid;		/* operand bytes 1:0 */
	u32 ctrl;		/* operand bytes 5:2, KEYID_CTRL */
	u8 poke;		/* operand byte made non-zero; 0 for none */
	int status;		/* S_* */
};

static const struct spec_case spec_cases[] = {
	/* KEYID: 1..nr only; 0 is the TME KeyID. */
	{ "keyid 0", 31, A_BOTH, 0, 0x00000101, 0, S_BAD_KEYID },
	{ "keyid 1", 31, A_BOTH, 1, 0x00000101, 0, S_SUCCESS },
	{ "keyid 31 of 31", 31, A_BOTH, 31, 0x00000101, 0, S_SUCCESS },
	{ "keyid 32 of 31", 31, A_BOTH, 32, 0x00000101, 0, S_BAD_KEYID },
	{ "keyid 0xffff", 31, A_BOTH, 0xffff, 0x00000102, 0, S_BAD_KEYID },
	{ "keyid 3 of 3", 3, A_BOTH, 3, 0x00000402, 0, S_SUCCESS },
	{ "keyid 4 of 3", 3, A_BOTH, 4, 0x00000402, 0, S_BAD_KEYID },
	{ "keyid 1 of 1", 1, A_128, 1, 0x00000103, 0, S_SUCCESS },
	{ "keyid 2 of 1", 1, A_128, 2, 0x00000103, 0, S_BAD_KEYID },
	/* COMMAND: 0..3. */
	{ "set-key-direct", 31, A_BOTH, 5, 0x00000400, 0, S_SUCCESS },
	{ "set-key-random", 31, A_BOTH, 5, 0x00000401, 0, S_SUCCESS },
	{ "clear-key", 31, A_BOTH, 5, 0x00000102, 0, S_SUCCESS },
	{ "no-encrypt", 31, A_BOTH, 5, 0x00000103, 0, S_SUCCESS },
	{ "command 4", 31, A_BOTH, 5, 0x00000104, 0, S_BAD_CMD },
	{ "command 0x80", 31, A_BOTH, 5, 0x00000180, 0, S_BAD_CMD },
	{ "command 0xff", 31, A_BOTH, 5, 0x000001ff, 0, S_BAD_CMD },
	/* ENC_ALG: one bit, activated; for every command. */
	{ "no algorithm", 31, A_BOTH, 5, 0x00000001, 0, S_BAD_ALG },
	{ "two algorithms", 31, A_BOTH, 5, 0x00000501, 0, S_BAD_ALG },
	{ "xts-128 with integrity", 31, A_BOTH, 5, 0x00000201, 0, S_BAD_ALG },
	{ "algorithm bit 15", 31, A_BOTH, 5, 0x00800001, 0, S_BAD_ALG },
	{ "xts-256 not activated", 31, A_128, 5, 0x00000401, 0, S_BAD_ALG },
	{ "xts-128 not activated", 31, A_256, 5, 0x00000101, 0, S_BAD_ALG },
	{ "clear-key without algorithm", 31, A_BOTH, 5, 0x00000002, 0,
	  S_BAD_ALG },
	{ "no-encrypt without algorithm", 31, A_BOTH, 5, 0x00000003, 0,
	  S_BAD_ALG },
	{ "clear-key, xts-128 not activated", 31, A_256, 5, 0x00000102, 0,
	  S_BAD_ALG },
	/* Reserved bits and bytes: #GP. */
	{ "KEYID_CTRL bit 24", 31, A_BOTH, 5, 0x01000101, 0, S_GP },
	{ "KEYID_CTRL bit 31", 31, A_BOTH, 5, 0x80000102, 0, S_GP },
	{ "reserved byte 6", 31, A_BOTH, 5, 0x00000101, 6, S_GP },
	{ "reserved byte 63", 31, A_BOTH, 5, 0x00000103, 63, S_GP },
	/* Key bytes beyond the key: #GP. */
	{ "xts-128: KEY_FIELD_1 byte 15", 31, A_BOTH, 5, 0x00000100, 64 + 15,
	  S_SUCCESS },
	{ "xts-128: KEY_FIELD_1 byte 16", 31, A_BOTH, 5, 0x00000100, 64 + 16,
	  S_GP },
	{ "xts-128: KEY_FIELD_1 byte 31", 31, A_BOTH, 5, 0x00000100, 64 + 31,
	  S_GP },
	{ "xts-128: KEY_FIELD_2 byte 63", 31, A_BOTH, 5, 0x00000100, 128 + 63,
	  S_GP },
	{ "xts-128, clear-key: KEY_FIELD_1 byte 16", 31, A_BOTH, 5, 0x00000102,
	  64 + 16, S_GP },
	{ "xts-256: KEY_FIELD_1 byte 16", 31, A_BOTH, 5, 0x00000400, 64 + 16,
	  S_SUCCESS },
	{ "xts-256: KEY_FIELD_1 byte 31", 31, A_BOTH, 5, 0x00000400, 64 + 31,
	  S_SUCCESS },
	{ "xts-256: KEY_FIELD_2 byte 32", 31, A_BOTH, 5, 0x00000400, 128 + 32,
	  S_GP },
	{ "xts-256: KEY_FIELD_2 byte 63", 31, A_BOTH, 5, 0x00000400, 128 + 63,
	  S_GP },
	/* Without exactly one algorithm the 16-byte rule holds (ISE 63:16). */
	{ "no algorithm: KEY_FIELD_1 byte 16", 31, A_BOTH, 5, 0x00000000,
	  64 + 16, S_GP },
	{ "two algorithms: KEY_FIELD_1 byte 31", 31, A_BOTH, 5, 0x00000500,
	  64 + 31, S_GP },
	/* Order: #GP, then COMMAND, then KEYID, then ENC_ALG. */
	{ "#GP before command", 31, A_BOTH, 5, 0x01000104, 0, S_GP },
	{ "#GP before keyid", 31, A_BOTH, 0, 0x00000102, 6, S_GP },
	{ "#GP before algorithm", 31, A_BOTH, 5, 0x00000002, 63, S_GP },
	{ "command before keyid", 31, A_BOTH, 0, 0x00000104, 0, S_BAD_CMD },
	{ "command before algorithm", 31, A_BOTH, 5, 0x00000004, 0, S_BAD_CMD },
	{ "keyid before algorithm", 31, A_BOTH, 32, 0x00000002, 0,
	  S_BAD_KEYID },
	{ "keyid 0 before algorithm", 31, A_128, 0, 0x00000402, 0,
	  S_BAD_KEYID },
};

/* The operand of @c, byte by byte (little-endian, as the CPU reads it). */
static void spec_operand(u8 *op, const struct spec_case *c)
{
	memset(op, 0, 256);
	op[0] = c->keyid & 0xff;
	op[1] = c->keyid >> 8;
	op[2] = c->ctrl & 0xff;
	op[3] = (c->ctrl >> 8) & 0xff;
	op[4] = (c->ctrl >> 16) & 0xff;
	op[5] = c->ctrl >> 24;
	/* Bytes 15:0 of each key field are key in every algorithm. */
	memset(op + 64, 0xa5, 16);
	memset(op + 128, 0x5a, 16);
	if (c->poke)
		op[c->poke] = 0xff;
}

static void mktme_emu_spec_test(struct kunit *test)
{
	struct mktme_key_program *op;
	struct mktme_emu *emu;
	int i;

	/* kmalloc(256) is 256-byte aligned, as PCONFIG wants its operand. */
	op = kunit_kzalloc(test, 256, GFP_KERNEL);
	emu = kunit_kzalloc(test, sizeof(*emu), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, op);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, emu);
	KUNIT_ASSERT_TRUE(test, IS_ALIGNED((unsigned long)op, 256));

	for (i = 0; i < ARRAY_SIZE(spec_cases); i++) {
		const struct spec_case *c = &spec_cases[i];
		const struct mktme_backend *b = &emu->backend;
		struct mktme_emu_keyid before, after;
		int code;

		KUNIT_ASSERT_EQ(test, mktme_emu_init(emu, c->nr_keyids,
						     c->activated), 0);
		spec_operand((u8 *)op, c);
		before = mktme_emu_keyid_state(emu, c->keyid);
		code = b->program(b, op);
		after = mktme_emu_keyid_state(emu, c->keyid);
		KUNIT_EXPECT_EQ_MSG(test, code, c->status, "%s", c->what);
		KUNIT_EXPECT_EQ_MSG(test, mktme_emu_program_calls(emu), 1UL,
				    "calls: %s", c->what);
		/* The KeyID's key table entry changes on success only. */
		if (c->status == S_SUCCESS) {
			KUNIT_EXPECT_EQ_MSG(test, after.cmd, c->ctrl & 0xff,
					    "%s", c->what);
			KUNIT_EXPECT_EQ_MSG(test, 0x100U << after.alg,
					    c->ctrl & 0xffff00, "%s", c->what);
			KUNIT_EXPECT_EQ_MSG(test, after.generation,
					    before.generation + 1, "%s",
					    c->what);
		} else {
			KUNIT_EXPECT_EQ_MSG(test, after.cmd, before.cmd, "%s",
					    c->what);
			KUNIT_EXPECT_EQ_MSG(test, after.generation,
					    before.generation, "%s", c->what);
		}
	}
}

/* ---- the operand checks and the emulated backend's extras ------------- */

/* A valid-looking operand: key bytes 15:0 set, everything else zero. */
static void build_operand(struct mktme_key_program *op, u32 keyid, u32 cmd,
			  u32 alg_bits)
{
	memset(op, 0, sizeof(*op));
	op->keyid = keyid;
	op->keyid_ctrl = cmd | (alg_bits << MKTME_CTRL_ALG_SHIFT);
	memset(op->key_field_1, 0xa5, 16);
	memset(op->key_field_2, 0x5a, 16);
}

/*
 * mktme_program_check() itself, which the hw backend runs before PCONFIG
 * too (up to 63 KeyIDs here, more than the emulated PTE field holds): every
 * command x every algorithm bit x KeyID edges, for one setup, against the
 * order of checks written out here.
 */
static void check_sweep(struct kunit *test, struct mktme_key_program *op,
			unsigned int nr, u32 act)
{
	const u32 keyids[] = { 0, 1, nr, nr + 1 };
	unsigned int cmd, alg, e;

	for (cmd = 0; cmd <= 5; cmd++) {
		for (alg = 0; alg < 16; alg++) {
			for (e = 0; e < ARRAY_SIZE(keyids); e++) {
				u32 keyid = keyids[e];
				bool keyid_ok;
				int expect;

				keyid_ok = keyid >= 1 && keyid <= nr;
				if (cmd > NO_ENCRYPT)
					expect = BAD_CMD;
				else if (!keyid_ok)
					expect = BAD_KEYID;
				else if (!(BIT(alg) & act))
					expect = BAD_ALG;
				else
					expect = OK;
				build_operand(op, keyid, cmd, BIT(alg));
				KUNIT_EXPECT_EQ_MSG(test,
						    mktme_program_check(op, nr,
									act),
						    expect,
						    "nr %u act %#x cmd %u alg %u keyid %u",
						    nr, act, cmd, alg, keyid);
			}
		}
	}
}

static void mktme_check_sweep_test(struct kunit *test)
{
	static const unsigned int nrs[] = { 1, 3, 7, 63 };
	static const u32 acts[] = { BIT128, BIT256, BOTH };
	struct mktme_key_program *op;
	unsigned int n, a;

	op = kunit_kzalloc(test, sizeof(*op), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, op);
	for (n = 0; n < ARRAY_SIZE(nrs); n++)
		for (a = 0; a < ARRAY_SIZE(acts); a++)
			check_sweep(test, op, nrs[n], acts[a]);
}

/* Fault injection: after the operand checks; entropy for RANDOM only. */
static void mktme_emu_inject_test(struct kunit *test)
{
	struct mktme_key_program *op;
	const struct mktme_backend *b;
	struct mktme_emu *emu;

	op = kunit_kzalloc(test, sizeof(*op), GFP_KERNEL);
	emu = kunit_kzalloc(test, sizeof(*emu), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, op);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, emu);
	KUNIT_ASSERT_EQ(test, mktme_emu_init(emu, 3, BOTH), 0);
	b = &emu->backend;
	KUNIT_EXPECT_FALSE(test, b->encrypts);
	KUNIT_EXPECT_EQ(test, b->nr_keyids, 3U);
	KUNIT_EXPECT_EQ(test, b->keyid_bits, 5U);

	/* Busy: any command, N times, then through. */
	mktme_emu_inject(emu, 2, 0);
	build_operand(op, 2, CLEAR, BIT128);
	KUNIT_EXPECT_EQ(test, b->program(b, op), MKTME_DEVICE_BUSY);
	KUNIT_EXPECT_EQ(test, b->program(b, op), MKTME_DEVICE_BUSY);
	KUNIT_EXPECT_EQ(test, mktme_emu_keyid_state(emu, 2).cmd, NEVER);
	KUNIT_EXPECT_EQ(test, b->program(b, op), OK);
	KUNIT_EXPECT_EQ(test, mktme_emu_keyid_state(emu, 2).cmd, CLEAR);

	/* An invalid operand fails its check and leaves the injection. */
	mktme_emu_inject(emu, 1, 0);
	build_operand(op, 0, CLEAR, BIT128);
	KUNIT_EXPECT_EQ(test, b->program(b, op), BAD_KEYID);
	build_operand(op, 2, CLEAR, BIT128);
	KUNIT_EXPECT_EQ(test, b->program(b, op), MKTME_DEVICE_BUSY);
	KUNIT_EXPECT_EQ(test, b->program(b, op), OK);

	/* Entropy: only SET_KEY_RANDOM needs the RNG. */
	mktme_emu_inject(emu, 0, 1);
	build_operand(op, 2, NO_ENCRYPT, BIT128);
	KUNIT_EXPECT_EQ(test, b->program(b, op), OK);
	build_operand(op, 2, SET_RANDOM, BIT128);
	KUNIT_EXPECT_EQ(test, b->program(b, op), MKTME_ENTROPY_ERROR);
	KUNIT_EXPECT_EQ(test, mktme_emu_keyid_state(emu, 2).cmd, NO_ENCRYPT);
	KUNIT_EXPECT_EQ(test, b->program(b, op), OK);
	KUNIT_EXPECT_EQ(test, mktme_emu_keyid_state(emu, 2).cmd, SET_RANDOM);
	KUNIT_EXPECT_EQ(test, mktme_emu_program_calls(emu), 9UL);

	/* Boot parameter limits: 1..31 KeyIDs, at least one algorithm. */
	KUNIT_EXPECT_EQ(test, mktme_emu_init(emu, 0, BOTH), -EINVAL);
	KUNIT_EXPECT_EQ(test, mktme_emu_init(emu, 32, BOTH), -EINVAL);
	KUNIT_EXPECT_EQ(test, mktme_emu_init(emu, 31, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, mktme_emu_init(emu, 31, BIT(1)), -EINVAL);
	KUNIT_EXPECT_EQ(test, mktme_emu_init(emu, 31, BIT256), 0);
}

static struct kunit_case mktme_emu_cases[] = {
	KUNIT_CASE(mktme_emu_spec_test),
	KUNIT_CASE(mktme_check_sweep_test),
	KUNIT_CASE(mktme_emu_inject_test),
	{}
};

static struct kunit_suite mktme_emu_suite = {
	.name = "mktme_emu",
	.test_cases = mktme_emu_cases,
};

/* ---- hw backend: TME MSR decoding ---------------------------------------- */

#define ACT_ON		(BIT_ULL(0) | BIT_ULL(1))	/* locked, enabled */
#define ACT_BITS(n)	((u64)(n) << 32)
#define ACT_TDX(n)	((u64)(n) << 36)
#define ACT_ALGS(a)	((u64)(a) << 48)
#define CAP_KEYS(n)	((u64)(n) << 36)

struct decode_case {
	const char *what;
	u64 act, cap;
	bool have_part;
	u64 part;
	int expect;
	unsigned int bits, nr;
	u32 algs;
};

static const struct decode_case decode_cases[] = {
	{ "6 bits, 63 keys, XTS-128", ACT_ON | ACT_BITS(6) | ACT_ALGS(BIT128),
	  CAP_KEYS(63), false, 0, 0, 6, 63, BIT128 },
	{ "both algorithms", ACT_ON | ACT_BITS(6) | ACT_ALGS(BOTH),
	  CAP_KEYS(63), false, 0, 0, 6, 63, BOTH },
	{ "MK_TME_MAX_KEYS below 2^bits - 1",
	  ACT_ON | ACT_BITS(6) | ACT_ALGS(BIT256), CAP_KEYS(15), false, 0, 0,
	  6, 15, BIT256 },
	{ "2^bits - 1 below MK_TME_MAX_KEYS",
	  ACT_ON | ACT_BITS(2) | ACT_ALGS(BIT128), CAP_KEYS(0x7fff), false, 0,
	  0, 2, 3, BIT128 },
	{ "15 bits", ACT_ON | ACT_BITS(15) | ACT_ALGS(BIT128),
	  CAP_KEYS(0x7fff), false, 0, 0, 15, 0x7fff, BIT128 },
	{ "unknown algorithm bits dropped",
	  ACT_ON | ACT_BITS(4) | ACT_ALGS(BIT128 | BIT(1) | BIT(15)),
	  CAP_KEYS(15), false, 0, 0, 4, 15, BIT128 },
	{ "TDX: MSR 0x87 bounds our KeyIDs",
	  ACT_ON | ACT_BITS(6) | ACT_TDX(2) | ACT_ALGS(BIT128), CAP_KEYS(63),
	  true, (16ULL << 32) | 47, 0, 6, 47, BIT128 },
	{ "TDX: MSR 0x87 above the other bounds",
	  ACT_ON | ACT_BITS(4) | ACT_TDX(1) | ACT_ALGS(BIT128), CAP_KEYS(15),
	  true, 100, 0, 4, 15, BIT128 },
	{ "no TDX bits: MSR 0x87 ignored",
	  ACT_ON | ACT_BITS(6) | ACT_ALGS(BIT128), CAP_KEYS(63), true, 5, 0, 6,
	  63, BIT128 },
	/* Not usable */
	{ "not locked", BIT_ULL(1) | ACT_BITS(6) | ACT_ALGS(BIT128),
	  CAP_KEYS(63), false, 0, -ENODEV },
	{ "not enabled", BIT_ULL(0) | ACT_BITS(6) | ACT_ALGS(BIT128),
	  CAP_KEYS(63), false, 0, -ENODEV },
	{ "no KeyID bits", ACT_ON | ACT_ALGS(BIT128), CAP_KEYS(63), false, 0,
	  -ENODEV },
	{ "no known algorithm", ACT_ON | ACT_BITS(6) | ACT_ALGS(BIT(1)),
	  CAP_KEYS(63), false, 0, -ENODEV },
	{ "MK_TME_MAX_KEYS 0", ACT_ON | ACT_BITS(6) | ACT_ALGS(BIT128), 0,
	  false, 0, -ENODEV },
	{ "TDX bits, MSR 0x87 unreadable",
	  ACT_ON | ACT_BITS(6) | ACT_TDX(2) | ACT_ALGS(BIT128), CAP_KEYS(63),
	  false, 0, -ENODEV },
	{ "TDX took every KeyID",
	  ACT_ON | ACT_BITS(6) | ACT_TDX(6) | ACT_ALGS(BIT128), CAP_KEYS(63),
	  true, 63ULL << 32, -ENODEV },
};

static void mktme_hw_decode_test(struct kunit *test)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(decode_cases); i++) {
		const struct decode_case *c = &decode_cases[i];
		struct mktme_hw_enum e = { };
		int ret;

		ret = mktme_hw_decode(c->act, c->cap,
				      c->have_part ? &c->part : NULL, &e);
		KUNIT_EXPECT_EQ_MSG(test, ret, c->expect, "%s", c->what);
		if (ret || c->expect)
			continue;
		KUNIT_EXPECT_EQ_MSG(test, e.keyid_bits, c->bits, "%s", c->what);
		KUNIT_EXPECT_EQ_MSG(test, e.nr_keyids, c->nr, "%s", c->what);
		KUNIT_EXPECT_EQ_MSG(test, e.algorithms, c->algs, "%s", c->what);
	}
}

static struct kunit_case mktme_hw_cases[] = {
	KUNIT_CASE(mktme_hw_decode_test),
	{}
};

static struct kunit_suite mktme_hw_suite = {
	.name = "mktme_hw",
	.test_cases = mktme_hw_cases,
};

/* ---- the retrying programmer -------------------------------------------- */

static const u8 key16[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
			      15, 16 };
static const u8 tweak16[16] = { 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5,
				4, 3, 2, 1 };
static const u8 key32[32] = { [0] = 1, [31] = 2 };
static const u8 tweak32[32] = { [0] = 3, [31] = 4 };

static int mktme_emu_test_init(struct kunit *test)
{
	struct mktme_emu *emu = kunit_kzalloc(test, sizeof(*emu), GFP_KERNEL);

	if (!emu)
		return -ENOMEM;
	if (mktme_emu_init(emu, 3, BOTH))
		return -EINVAL;
	test->priv = emu;
	return 0;
}

static void mktme_program_ok_test(struct kunit *test)
{
	struct mktme_emu *emu = test->priv;
	const struct mktme_backend *b = &emu->backend;
	struct mktme_emu_keyid st;

	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 1, SET_RANDOM, ALG128,
						    NULL, NULL, 0), 0);
	st = mktme_emu_keyid_state(emu, 1);
	KUNIT_EXPECT_EQ(test, st.cmd, SET_RANDOM);
	KUNIT_EXPECT_EQ(test, st.alg, ALG128);
	KUNIT_EXPECT_EQ(test, st.generation, 1U);

	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 2, SET_DIRECT, ALG128,
						    key16, tweak16, 16), 0);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 3, SET_DIRECT, ALG256,
						    key32, tweak32, 32), 0);
	st = mktme_emu_keyid_state(emu, 3);
	KUNIT_EXPECT_EQ(test, st.cmd, SET_DIRECT);
	KUNIT_EXPECT_EQ(test, st.alg, ALG256);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 3, SET_RANDOM, ALG256,
						    NULL, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 3, CLEAR, ALG128,
						    NULL, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 3, NO_ENCRYPT, ALG256,
						    NULL, NULL, 0), 0);
	st = mktme_emu_keyid_state(emu, 3);
	KUNIT_EXPECT_EQ(test, st.cmd, NO_ENCRYPT);
	KUNIT_EXPECT_EQ(test, st.generation, 4U);
	KUNIT_EXPECT_EQ(test, mktme_emu_program_calls(emu), 6UL);
}

static void mktme_program_errors_test(struct kunit *test)
{
	struct mktme_emu *emu = test->priv;
	const struct mktme_backend *b = &emu->backend;

	/* Refused before the backend: bad key arguments. */
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 1, SET_DIRECT, ALG128,
						    NULL, NULL, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 1, SET_DIRECT, ALG128,
						    key16, NULL, 16), -EINVAL);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 1, SET_DIRECT, ALG256,
						    key16, tweak16, 16),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 1, SET_DIRECT, ALG128,
						    key32, tweak32, 32),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 1, CLEAR, ALG128,
						    key16, tweak16, 16),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 0x10000, CLEAR, ALG128,
						    NULL, NULL, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(NULL, 1, CLEAR, ALG128,
						    NULL, NULL, 0), -ENODEV);
	KUNIT_EXPECT_EQ(test, mktme_emu_program_calls(emu), 0UL);

	/* Refused by the backend, once each, mapped to errnos. */
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 0, CLEAR, ALG128,
						    NULL, NULL, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 4, CLEAR, ALG128,
						    NULL, NULL, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 1, 4, ALG128,
						    NULL, NULL, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 1, CLEAR, 1,
						    NULL, NULL, 0),
			-EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, mktme_emu_program_calls(emu), 4UL);
	KUNIT_EXPECT_EQ(test, mktme_emu_keyid_state(emu, 1).cmd, NEVER);
}

static void mktme_program_retry_test(struct kunit *test)
{
	struct mktme_emu *emu = test->priv;
	const struct mktme_backend *b = &emu->backend;
	unsigned long calls;

	/* A few busy answers: retried, then success. */
	mktme_emu_inject(emu, 3, 0);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 1, CLEAR, ALG128,
						    NULL, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, mktme_emu_program_calls(emu), 4UL);

	/* Busy for good: exactly MKTME_PROGRAM_ATTEMPTS executions. */
	mktme_emu_inject(emu, 1000, 0);
	calls = mktme_emu_program_calls(emu);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 2, SET_RANDOM, ALG128,
						    NULL, NULL, 0), -EBUSY);
	KUNIT_EXPECT_EQ(test, mktme_emu_program_calls(emu) - calls,
			(unsigned long)MKTME_PROGRAM_ATTEMPTS);
	KUNIT_EXPECT_EQ(test, mktme_emu_keyid_state(emu, 2).cmd, NEVER);

	/* No entropy for good: the same bound, -EAGAIN. */
	mktme_emu_inject(emu, 0, 1000);
	calls = mktme_emu_program_calls(emu);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 2, SET_RANDOM, ALG256,
						    NULL, NULL, 0), -EAGAIN);
	KUNIT_EXPECT_EQ(test, mktme_emu_program_calls(emu) - calls,
			(unsigned long)MKTME_PROGRAM_ATTEMPTS);

	/* One short of the bound still succeeds. */
	mktme_emu_inject(emu, MKTME_PROGRAM_ATTEMPTS - 1, 0);
	calls = mktme_emu_program_calls(emu);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 2, SET_RANDOM, ALG256,
						    NULL, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, mktme_emu_program_calls(emu) - calls,
			(unsigned long)MKTME_PROGRAM_ATTEMPTS);
	KUNIT_EXPECT_EQ(test, mktme_emu_keyid_state(emu, 2).cmd, SET_RANDOM);

	/* Errors other than busy and entropy are not retried. */
	mktme_emu_inject(emu, 0, 0);
	calls = mktme_emu_program_calls(emu);
	KUNIT_EXPECT_EQ(test, __mktme_program_keyid(b, 9, CLEAR, ALG128,
						    NULL, NULL, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, mktme_emu_program_calls(emu) - calls, 1UL);
}

static struct kunit_case mktme_program_cases[] = {
	KUNIT_CASE(mktme_program_ok_test),
	KUNIT_CASE(mktme_program_errors_test),
	KUNIT_CASE(mktme_program_retry_test),
	{}
};

static struct kunit_suite mktme_program_suite = {
	.name = "mktme_program",
	.init = mktme_emu_test_init,
	.test_cases = mktme_program_cases,
};

/* ---- the KeyID pool ----------------------------------------------------- */

struct pool_fixture {
	struct mktme_emu emu;
	struct mktme_keyid_pool pool;
};

static int mktme_pool_test_init(struct kunit *test)
{
	struct pool_fixture *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	if (mktme_emu_init(&f->emu, 3, BOTH))
		return -EINVAL;
	if (mktme_pool_init(&f->pool, &f->emu.backend))
		return -ENOMEM;
	test->priv = f;
	return 0;
}

static void mktme_pool_test_exit(struct kunit *test)
{
	struct pool_fixture *f = test->priv;

	mktme_pool_destroy(&f->pool);
}

static void mktme_pool_exhaustion_test(struct kunit *test)
{
	struct pool_fixture *f = test->priv;
	struct mktme_keyid_pool *pool = &f->pool;

	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), 1);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), 2);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), 3);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->in_use), 3);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), -ENOKEY);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), -ENOKEY);
	/* Allocation alone programs nothing; the key programs its KeyID. */
	KUNIT_EXPECT_EQ(test, mktme_emu_program_calls(&f->emu), 0UL);

	__mktme_keyid_put(pool, 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->in_use), 2);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), 2);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), -ENOKEY);

	__mktme_keyid_put(pool, 1);
	__mktme_keyid_put(pool, 2);
	__mktme_keyid_put(pool, 3);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->in_use), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->nr_quarantined), 0);
}

static void mktme_pool_refs_test(struct kunit *test)
{
	struct pool_fixture *f = test->priv;
	struct mktme_keyid_pool *pool = &f->pool;
	struct mktme_emu_keyid st;
	int k;

	k = __mktme_keyid_alloc(pool);
	KUNIT_ASSERT_EQ(test, k, 1);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_program(pool, k, SET_RANDOM,
						    ALG256, NULL, NULL, 0), 0);
	st = mktme_emu_keyid_state(&f->emu, k);
	KUNIT_EXPECT_EQ(test, st.cmd, SET_RANDOM);
	KUNIT_EXPECT_EQ(test, st.generation, 1U);

	/* Two more holders (say, two regions): the key goes first. */
	__mktme_keyid_get(pool, k);
	__mktme_keyid_get(pool, k);
	__mktme_keyid_put(pool, k);
	__mktme_keyid_put(pool, k);
	st = mktme_emu_keyid_state(&f->emu, k);
	KUNIT_EXPECT_EQ(test, st.cmd, SET_RANDOM);
	KUNIT_EXPECT_EQ(test, st.generation, 1U);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->in_use), 1);
	/* Still held: not handed out again. */
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), 2);

	/* The last put clears the key, with an activated algorithm. */
	__mktme_keyid_put(pool, k);
	st = mktme_emu_keyid_state(&f->emu, k);
	KUNIT_EXPECT_EQ(test, st.cmd, CLEAR);
	KUNIT_EXPECT_EQ(test, st.alg, ALG128);
	KUNIT_EXPECT_EQ(test, st.generation, 2U);
	KUNIT_EXPECT_EQ(test, pool->info[k].last_cmd, CLEAR);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->in_use), 1);

	/* Reuse only after that CLEAR_KEY. */
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), k);
	st = mktme_emu_keyid_state(&f->emu, k);
	KUNIT_EXPECT_EQ(test, st.cmd, CLEAR);
	KUNIT_EXPECT_EQ(test, st.generation, 2U);
	__mktme_keyid_put(pool, k);
	__mktme_keyid_put(pool, 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->in_use), 0);
}

static void mktme_pool_quarantine_test(struct kunit *test)
{
	struct pool_fixture *f = test->priv;
	struct mktme_keyid_pool *pool = &f->pool;
	unsigned long calls;

	KUNIT_ASSERT_EQ(test, __mktme_keyid_alloc(pool), 1);
	KUNIT_ASSERT_EQ(test, __mktme_keyid_program(pool, 1, SET_RANDOM,
						    ALG128, NULL, NULL, 0), 0);

	/* CLEAR_KEY keeps failing: bounded retries, then quarantine. */
	mktme_emu_inject(&f->emu, 1000, 0);
	calls = mktme_emu_program_calls(&f->emu);
	__mktme_keyid_put(pool, 1);
	KUNIT_EXPECT_EQ(test, mktme_emu_program_calls(&f->emu) - calls,
			(unsigned long)MKTME_PROGRAM_ATTEMPTS);
	KUNIT_EXPECT_EQ(test, mktme_emu_keyid_state(&f->emu, 1).cmd,
			SET_RANDOM);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->nr_quarantined), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->in_use), 0);

	/* Not handed out while others are free... */
	mktme_emu_inject(&f->emu, 0, 0);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), 2);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), 3);

	/* ...and when none is, only if CLEAR_KEY now works. */
	mktme_emu_inject(&f->emu, 1000, 0);
	calls = mktme_emu_program_calls(&f->emu);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), -ENOKEY);
	KUNIT_EXPECT_EQ(test, mktme_emu_program_calls(&f->emu) - calls,
			(unsigned long)MKTME_PROGRAM_ATTEMPTS);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->nr_quarantined), 1);

	mktme_emu_inject(&f->emu, 0, 0);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), 1);
	KUNIT_EXPECT_EQ(test, mktme_emu_keyid_state(&f->emu, 1).cmd, CLEAR);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->nr_quarantined), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->in_use), 3);

	__mktme_keyid_put(pool, 1);
	__mktme_keyid_put(pool, 2);
	__mktme_keyid_put(pool, 3);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->in_use), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->nr_quarantined), 0);
}

/* CLEAR_KEY on release uses an activated algorithm: here only XTS-256. */
static void mktme_pool_clear_alg_test(struct kunit *test)
{
	struct pool_fixture *f = test->priv;
	struct mktme_keyid_pool *pool = &f->pool;

	mktme_pool_destroy(pool);
	KUNIT_ASSERT_EQ(test, mktme_emu_init(&f->emu, 2, BIT256), 0);
	KUNIT_ASSERT_EQ(test, mktme_pool_init(pool, &f->emu.backend), 0);
	KUNIT_ASSERT_EQ(test, __mktme_keyid_alloc(pool), 1);
	__mktme_keyid_put(pool, 1);
	KUNIT_EXPECT_EQ(test, mktme_emu_keyid_state(&f->emu, 1).cmd, CLEAR);
	KUNIT_EXPECT_EQ(test, mktme_emu_keyid_state(&f->emu, 1).alg, ALG256);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->nr_quarantined), 0);
}

/*
 * The per-user limit: a quarter of the KeyIDs, at least one, for a user
 * other than root; every KeyID for root unless set lower. Charged to the
 * user at allocation, whoever else holds references, and uncharged at the
 * last put, quarantine included.
 */
static void mktme_pool_user_limit_test(struct kunit *test)
{
	struct pool_fixture *f = test->priv;
	struct mktme_keyid_pool *pool = &f->pool;
	kuid_t alice = KUIDT_INIT(1000), bob = KUIDT_INIT(65534);
	kuid_t root = GLOBAL_ROOT_UID;

	KUNIT_EXPECT_EQ(test, pool->max_user, 1U);
	KUNIT_EXPECT_EQ(test, pool->max_root, 3U);
	KUNIT_EXPECT_EQ(test, mktme_user_limit(pool, alice), 1U);
	KUNIT_EXPECT_EQ(test, mktme_user_limit(pool, root), 3U);

	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc_user(pool, alice), 1);
	/* Over the limit: refused before anything is taken. */
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc_user(pool, alice), -EDQUOT);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->in_use), 1);
	KUNIT_EXPECT_EQ(test, __mktme_user_keyids(pool, alice), 1U);
	/* Another user is not affected, nor is root. */
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc_user(pool, bob), 2);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc_user(pool, root), 3);
	/* Exhausted: -ENOKEY, and the refused one is not charged. */
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc_user(pool, root), -ENOKEY);
	KUNIT_EXPECT_EQ(test, __mktme_user_keyids(pool, root), 1U);

	/* A region's reference does not move the charge; the last put does. */
	__mktme_keyid_get(pool, 1);
	__mktme_keyid_put(pool, 1);
	KUNIT_EXPECT_EQ(test, __mktme_user_keyids(pool, alice), 1U);
	__mktme_keyid_put(pool, 1);
	KUNIT_EXPECT_EQ(test, __mktme_user_keyids(pool, alice), 0U);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc_user(pool, alice), 1);

	/* A quarantined KeyID is nobody's. */
	mktme_emu_inject(&f->emu, 1000, 0);
	__mktme_keyid_put(pool, 1);
	mktme_emu_inject(&f->emu, 0, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->nr_quarantined), 1);
	KUNIT_EXPECT_EQ(test, __mktme_user_keyids(pool, alice), 0U);
	/* Out of quarantine for alice: charged to her again. */
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc_user(pool, alice), 1);
	KUNIT_EXPECT_EQ(test, __mktme_user_keyids(pool, alice), 1U);

	/* Limits as the sysctls set them: 0 refuses all; root can be capped. */
	__mktme_keyid_put(pool, 1);
	pool->max_user = 0;
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc_user(pool, alice), -EDQUOT);
	__mktme_keyid_put(pool, 3);
	pool->max_root = 0;
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc_user(pool, root), -EDQUOT);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->in_use), 1);

	__mktme_keyid_put(pool, 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->in_use), 0);
	KUNIT_EXPECT_EQ(test, __mktme_user_keyids(pool, bob), 0U);
	KUNIT_EXPECT_TRUE(test, xa_empty(&pool->users));
}

/* A part with 3 KeyIDs or fewer still lets a user have one. */
static void mktme_pool_user_limit_default_test(struct kunit *test)
{
	struct pool_fixture *f = test->priv;
	struct mktme_keyid_pool *pool = &f->pool;
	static const struct { unsigned int nr, user; } cases[] = {
		{ 1, 1 }, { 3, 1 }, { 4, 1 }, { 8, 2 }, { 31, 7 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		mktme_pool_destroy(pool);
		KUNIT_ASSERT_EQ(test, mktme_emu_init(&f->emu, cases[i].nr,
						     BOTH), 0);
		KUNIT_ASSERT_EQ(test, mktme_pool_init(pool, &f->emu.backend),
				0);
		KUNIT_EXPECT_EQ(test, pool->max_user, cases[i].user);
		KUNIT_EXPECT_EQ(test, pool->max_root, cases[i].nr);
	}
}

static struct kunit_case mktme_keyid_cases[] = {
	KUNIT_CASE(mktme_pool_exhaustion_test),
	KUNIT_CASE(mktme_pool_refs_test),
	KUNIT_CASE(mktme_pool_quarantine_test),
	KUNIT_CASE(mktme_pool_clear_alg_test),
	KUNIT_CASE(mktme_pool_user_limit_test),
	KUNIT_CASE(mktme_pool_user_limit_default_test),
	{}
};

static struct kunit_suite mktme_keyid_suite = {
	.name = "mktme_keyid",
	.init = mktme_pool_test_init,
	.exit = mktme_pool_test_exit,
	.test_cases = mktme_keyid_cases,
};

/* ---- the payload parser ------------------------------------------------- */

#define H32A	"000102030405060708090a0b0c0d0e0f"
#define H32B	"F0E1D2C3B4A5968778695A4B3C2D1E0F"
#define H64A	H32A "101112131415161718191a1b1c1d1e1f"
#define H64B	H32B "ffeeddccbbaa99887766554433221100"

struct payload_case {
	const char *in;
	int expect;
	enum mktme_key_type type;
	enum mktme_key_alg alg;
	bool alg_set;
	size_t key_len;
};

static const struct payload_case payload_valid[] = {
	{ "type=cpu", 0, MKTME_KEY_TYPE_CPU, ALG128, false, 0 },
	{ "type=clear", 0, MKTME_KEY_TYPE_CLEAR, ALG128, false, 0 },
	{ "type=no-encrypt", 0, MKTME_KEY_TYPE_NO_ENCRYPT, ALG128, false, 0 },
	{ "type=cpu algorithm=aes-xts-128", 0, MKTME_KEY_TYPE_CPU, ALG128,
	  true, 0 },
	{ "type=cpu algorithm=aes-xts-256", 0, MKTME_KEY_TYPE_CPU, ALG256,
	  true, 0 },
	{ "algorithm=aes-xts-256 type=clear", 0, MKTME_KEY_TYPE_CLEAR, ALG256,
	  true, 0 },
	{ "type=no-encrypt algorithm=aes-xts-256", 0,
	  MKTME_KEY_TYPE_NO_ENCRYPT, ALG256, true, 0 },
	{ "  type=cpu\n", 0, MKTME_KEY_TYPE_CPU, ALG128, false, 0 },
	{ "\ttype=cpu\t \talgorithm=aes-xts-128\n\n", 0, MKTME_KEY_TYPE_CPU,
	  ALG128, true, 0 },
	{ "type=user key=" H32A " tweak=" H32B, 0, MKTME_KEY_TYPE_USER,
	  ALG128, false, 16 },
	{ "tweak=" H32B " key=" H32A " type=user algorithm=aes-xts-128", 0,
	  MKTME_KEY_TYPE_USER, ALG128, true, 16 },
	{ "type=user algorithm=aes-xts-256 key=" H64A " tweak=" H64B, 0,
	  MKTME_KEY_TYPE_USER, ALG256, true, 32 },
};

static const char * const payload_invalid[] = {
	"",
	" ",
	"\n\t ",
	"type",
	"type=",
	"=cpu",
	"=",
	"type=foo",
	"type=CPU",
	"TYPE=cpu",
	"type =cpu",
	"type= cpu",
	"type=cpu=1",
	"type=cpux",
	"type=cp",
	"type=cpu type=cpu",
	"type=cpu type=user",
	"type=cpu junk",
	"type=cpu foo=bar",
	"type=cpu algorithm=",
	"type=cpu algorithm=aes-xts-512",
	"type=cpu algorithm=AES-XTS-128",
	"type=cpu algorithm=aes-xts-128 algorithm=aes-xts-128",
	"algorithm=aes-xts-128",
	"type=cpu key=" H32A,
	"type=cpu tweak=" H32B,
	"type=clear key=" H32A " tweak=" H32B,
	"type=no-encrypt key=" H32A " tweak=" H32B,
	"type=user",
	"type=user key=" H32A,
	"type=user tweak=" H32B,
	"type=user key= tweak=" H32B,
	"type=user key=" H32A " tweak=",
	"type=user key=" H32A "0 tweak=" H32B,
	"type=user key=" H32A "00 tweak=" H32B,
	"type=user key=0" H32A " tweak=" H32B "0",
	"type=user key=" H64A " tweak=" H64B,
	"type=user algorithm=aes-xts-128 key=" H64A " tweak=" H64B,
	"type=user algorithm=aes-xts-256 key=" H32A " tweak=" H32B,
	"type=user algorithm=aes-xts-256 key=" H64A " tweak=" H32B,
	"type=user key=000102030405060708090a0b0c0d0e0g tweak=" H32B,
	"type=user key=" H32A " tweak=x0E1D2C3B4A5968778695A4B3C2D1E0F",
	"type=user key=" H32A " tweak=" H32A,
	"type=user key=" H32A " key=" H32A " tweak=" H32B,
	"type=user key=" H32A " tweak=" H32B " tweak=" H32B,
	"type=cpu\r",
	"type=cpu\v",
	"type=cpu\x01",
	"type=cpu\x7f",
	"type=cpu \x80",
	"type=cpu \xff",
};

static void mktme_payload_valid_test(struct kunit *test)
{
	struct mktme_payload p;
	int i;

	for (i = 0; i < ARRAY_SIZE(payload_valid); i++) {
		const struct payload_case *c = &payload_valid[i];

		KUNIT_EXPECT_EQ_MSG(test, mktme_payload_parse(c->in,
							      strlen(c->in),
							      &p),
				    0, "\"%s\"", c->in);
		KUNIT_EXPECT_EQ_MSG(test, p.type, c->type, "\"%s\"", c->in);
		KUNIT_EXPECT_EQ_MSG(test, p.alg, c->alg, "\"%s\"", c->in);
		KUNIT_EXPECT_EQ_MSG(test, p.alg_set, c->alg_set, "\"%s\"",
				    c->in);
		KUNIT_EXPECT_EQ_MSG(test, p.key_len, c->key_len, "\"%s\"",
				    c->in);
	}
}

static void mktme_payload_key_bytes_test(struct kunit *test)
{
	static const u8 a[16] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
				  0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
				  0x0e, 0x0f };
	static const u8 b[16] = { 0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96,
				  0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d,
				  0x1e, 0x0f };
	static const u8 b_hi[16] = { 0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99,
				     0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22,
				     0x11, 0x00 };
	static const u8 zero[MKTME_KEY_BYTES];
	const char *in128 = "type=user key=" H32A " tweak=" H32B;
	const char *in256 = "type=user algorithm=aes-xts-256 key=" H64A
			    " tweak=" H64B;
	const char *bad = "type=user key=" H32A " tweak=" H32A;
	struct mktme_payload p;

	KUNIT_ASSERT_EQ(test, mktme_payload_parse(in128, strlen(in128), &p), 0);
	KUNIT_EXPECT_EQ(test, memcmp(p.key, a, 16), 0);
	KUNIT_EXPECT_EQ(test, memcmp(p.tweak, b, 16), 0);
	KUNIT_EXPECT_EQ(test, memcmp(p.key + 16, zero, 16), 0);
	KUNIT_EXPECT_EQ(test, memcmp(p.tweak + 16, zero, 16), 0);

	KUNIT_ASSERT_EQ(test, mktme_payload_parse(in256, strlen(in256), &p), 0);
	KUNIT_EXPECT_EQ(test, memcmp(p.key, a, 16), 0);
	KUNIT_EXPECT_EQ(test, p.key[16], 0x10);
	KUNIT_EXPECT_EQ(test, p.key[31], 0x1f);
	KUNIT_EXPECT_EQ(test, memcmp(p.tweak, b, 16), 0);
	KUNIT_EXPECT_EQ(test, memcmp(p.tweak + 16, b_hi, 16), 0);

	/* A payload that fails after decoding leaves no key bytes behind. */
	memset(&p, 0x77, sizeof(p));
	KUNIT_EXPECT_EQ(test, mktme_payload_parse(bad, strlen(bad), &p),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, memcmp(p.key, zero, sizeof(p.key)), 0);
	KUNIT_EXPECT_EQ(test, memcmp(p.tweak, zero, sizeof(p.tweak)), 0);
	KUNIT_EXPECT_EQ(test, p.key_len, 0UL);
}

static void mktme_payload_invalid_test(struct kunit *test)
{
	struct mktme_payload p;
	int i;

	for (i = 0; i < ARRAY_SIZE(payload_invalid); i++)
		KUNIT_EXPECT_EQ_MSG(test,
				    mktme_payload_parse(payload_invalid[i],
							strlen(payload_invalid[i]),
							&p),
				    -EINVAL, "\"%s\"", payload_invalid[i]);
}

/* Lengths and bytes strlen() cannot express. */
static void mktme_payload_bounds_test(struct kunit *test)
{
	static const char nul[] = "type=cpu\0";
	static const char nul_mid[] = "type=c\0pu";
	struct mktme_payload p;
	char *buf;

	KUNIT_EXPECT_EQ(test, mktme_payload_parse(NULL, 8, &p), -EINVAL);
	KUNIT_EXPECT_EQ(test, mktme_payload_parse("type=cpu", 0, &p), -EINVAL);
	/* Only the given length counts. */
	KUNIT_EXPECT_EQ(test, mktme_payload_parse("type=cpuXYZ", 8, &p), 0);
	KUNIT_EXPECT_EQ(test, mktme_payload_parse("type=cpu", 7, &p), -EINVAL);
	KUNIT_EXPECT_EQ(test, mktme_payload_parse(nul, sizeof(nul) - 1, &p),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, mktme_payload_parse(nul_mid, sizeof(nul_mid) - 1,
						  &p), -EINVAL);

	buf = kunit_kzalloc(test, MKTME_PAYLOAD_MAX + 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, buf);
	memset(buf, ' ', MKTME_PAYLOAD_MAX + 1);
	memcpy(buf, "type=cpu", 8);
	KUNIT_EXPECT_EQ(test, mktme_payload_parse(buf, MKTME_PAYLOAD_MAX, &p),
			0);
	KUNIT_EXPECT_EQ(test, mktme_payload_parse(buf, MKTME_PAYLOAD_MAX + 1,
						  &p), -EINVAL);
	memcpy(buf + MKTME_PAYLOAD_MAX - 8, "type=cpu", 8);
	memset(buf, ' ', 8);
	KUNIT_EXPECT_EQ(test, mktme_payload_parse(buf, MKTME_PAYLOAD_MAX, &p),
			0);
}

static void mktme_payload_names_test(struct kunit *test)
{
	KUNIT_EXPECT_STREQ(test, mktme_key_type_name(MKTME_KEY_TYPE_CPU),
			   "cpu");
	KUNIT_EXPECT_STREQ(test, mktme_key_type_name(MKTME_KEY_TYPE_USER),
			   "user");
	KUNIT_EXPECT_STREQ(test, mktme_key_type_name(MKTME_KEY_TYPE_CLEAR),
			   "clear");
	KUNIT_EXPECT_STREQ(test,
			   mktme_key_type_name(MKTME_KEY_TYPE_NO_ENCRYPT),
			   "no-encrypt");
	KUNIT_EXPECT_STREQ(test, mktme_alg_name(ALG128), "aes-xts-128");
	KUNIT_EXPECT_STREQ(test, mktme_alg_name(ALG256), "aes-xts-256");
	KUNIT_EXPECT_STREQ(test, mktme_alg_name(1), "?");
}

static struct kunit_case mktme_payload_cases[] = {
	KUNIT_CASE(mktme_payload_valid_test),
	KUNIT_CASE(mktme_payload_key_bytes_test),
	KUNIT_CASE(mktme_payload_invalid_test),
	KUNIT_CASE(mktme_payload_bounds_test),
	KUNIT_CASE(mktme_payload_names_test),
	{}
};

static struct kunit_suite mktme_payload_suite = {
	.name = "mktme_payload",
	.test_cases = mktme_payload_cases,
};

kunit_test_suites(&mktme_layout_suite, &mktme_emu_suite, &mktme_hw_suite,
		  &mktme_program_suite, &mktme_keyid_suite, &mktme_payload_suite);
