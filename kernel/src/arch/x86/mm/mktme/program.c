// SPDX-License-Identifier: GPL-2.0
/*
 * KEY_PROGRAM: the operand checks every backend applies, and the programmer
 * that builds the operand, retries what may be retried and maps the result
 * to an errno.
 */
#define pr_fmt(fmt) "mktme: " fmt

#include <linux/bitops.h>
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/string.h>

#include "mktme.h"

/*
 * Source of the checks: Intel Architecture Instruction Set Extensions and
 * Future Features Programming Reference (ISE), PCONFIG, "Operation" (the
 * May 2019 edition, the one Linux 6.1's intel_pconfig.h was written
 * against). Its MKTME_KEY_PROGRAM flow checks, in this order:
 *
 *  1. #GP(0): reserved bytes 63:6 non-zero, KEYID_CTRL[31:24] non-zero,
 *     KEY_FIELD_1/KEY_FIELD_2 bytes 63:16 non-zero;
 *  2. INVALID_PROG_CMD: COMMAND is not one of 0..3;
 *  3. INVALID_KEYID: KEYID == 0, or above 2^MK_TME_KEYID_BITS - 1, or above
 *     IA32_TME_CAPABILITY.MK_TME_MAX_KEYS (our @nr_keyids is the smallest
 *     of these and, under TDX, of IA32_MKTME_KEYID_PARTITIONING[31:0]);
 *  4. INVALID_ENC_ALG: ENC_ALG does not set exactly one bit, or sets one
 *     that IA32_TME_ACTIVATE[63:48] does not activate;
 *  5. DEVICE_BUSY: the key table lock is taken (not an operand check);
 *  6. ENTROPY_ERROR: SET_KEY_RANDOM only, the RNG ran dry.
 *
 * The first failing check decides the result; mktme_program_check() makes
 * 1 to 4 in that order, and the backends model 5 and 6.
 *
 * The ISE's byte 63:16 rule predates AES-XTS-256, whose keys are 32 bytes:
 * we require the bytes beyond the selected algorithm's key size to be zero
 * (63:16 unless ENC_ALG is exactly AES-XTS-256, then 63:32). That extension
 * could not be checked against a hardware reference here.
 *
 * The current Intel SDM (Vol. 2B, PCONFIG) differs, and we cannot run real
 * hardware to tell which one a given part follows: it says bytes 63:6 and
 * the unused key bytes are ignored, and that an invalid command, KeyID or
 * algorithm raises #GP(0) instead of returning a code. Either way the hw
 * backend runs this check first and never executes an operand it rejects,
 * so no operand that either document faults on reaches PCONFIG.
 */
int mktme_program_check(const struct mktme_key_program *prog,
			unsigned int nr_keyids, u32 activated_algorithms)
{
	u32 ctrl = prog->keyid_ctrl;
	u32 alg_bits = (ctrl & MKTME_CTRL_ALG_MASK) >> MKTME_CTRL_ALG_SHIFT;
	size_t key_size = 16;

	/* 1. Reserved fields: #GP(0) on the hardware. */
	if (ctrl & MKTME_CTRL_RSVD_MASK)
		return MKTME_PROG_GP;
	if (memchr_inv(prog->__rsvd, 0, sizeof(prog->__rsvd)))
		return MKTME_PROG_GP;
	if (alg_bits == MKTME_ALG_BIT(MKTME_ALG_AES_XTS_256))
		key_size = 32;
	if (memchr_inv(prog->key_field_1 + key_size, 0,
		       sizeof(prog->key_field_1) - key_size) ||
	    memchr_inv(prog->key_field_2 + key_size, 0,
		       sizeof(prog->key_field_2) - key_size))
		return MKTME_PROG_GP;

	/* 2. Command. */
	if ((ctrl & MKTME_CTRL_CMD_MASK) > MKTME_KEYID_NO_ENCRYPT)
		return MKTME_INVALID_PROG_CMD;

	/* 3. KeyID: 0 is the TME KeyID and cannot be programmed. */
	if (prog->keyid == 0 || prog->keyid > nr_keyids)
		return MKTME_INVALID_KEYID;

	/* 4. Exactly one algorithm, and an activated one. */
	if (hweight32(alg_bits) != 1 || !(alg_bits & activated_algorithms))
		return MKTME_INVALID_ENC_ALG;

	return MKTME_PROG_SUCCESS;
}

/*
 * PCONFIG return code -> errno, for callers of mktme_program_keyid():
 *
 *   SUCCESS            0
 *   DEVICE_BUSY        -EBUSY       (after MKTME_PROGRAM_ATTEMPTS tries)
 *   ENTROPY_ERROR      -EAGAIN      (after MKTME_PROGRAM_ATTEMPTS tries)
 *   INVALID_ENC_ALG    -EOPNOTSUPP  (algorithm not activated)
 *   INVALID_PROG_CMD   -EINVAL      (a bug of ours: the kernel builds the
 *   INVALID_KEYID      -EINVAL       operand, userspace never does)
 *   MKTME_PROG_GP      -EINVAL
 *   anything else      -EIO
 *
 * A negative value from the backend (hw: -ENXIO from mktme_key_program()
 * when the MKTME PCONFIG target vanished) is passed through.
 */
static int mktme_prog_errno(int code)
{
	if (code < 0)
		return code;
	switch (code) {
	case MKTME_PROG_SUCCESS:
		return 0;
	case MKTME_DEVICE_BUSY:
		return -EBUSY;
	case MKTME_ENTROPY_ERROR:
		return -EAGAIN;
	case MKTME_INVALID_ENC_ALG:
		return -EOPNOTSUPP;
	case MKTME_INVALID_PROG_CMD:
	case MKTME_INVALID_KEYID:
	case MKTME_PROG_GP:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/*
 * One operand for everybody: it must be 256-byte aligned (PCONFIG raises
 * #GP(0) otherwise), which a stack object is not guaranteed to be, and it
 * holds key material, so there is exactly one place to wipe. The mutex also
 * serializes KEY_PROGRAM, so that the hw backend's per-package loop and its
 * rollback never interleave with another programming.
 */
static DEFINE_MUTEX(mktme_prog_lock);
static struct mktme_key_program mktme_prog_op;

int __mktme_program_keyid(const struct mktme_backend *b, unsigned int keyid,
			  unsigned int cmd, unsigned int alg,
			  const u8 *key, const u8 *tweak, size_t key_len)
{
	struct mktme_key_program *op = &mktme_prog_op;
	size_t alg_len = alg == MKTME_ALG_AES_XTS_256 ? 32 : 16;
	int attempt, code;

	BUILD_BUG_ON(sizeof(struct mktme_key_program) != 256);
	BUILD_BUG_ON(__alignof__(struct mktme_key_program) != 256);

	might_sleep();
	if (!b)
		return -ENODEV;
	if (keyid > U16_MAX || cmd > MKTME_CTRL_CMD_MASK ||
	    alg >= 16)
		return -EINVAL;
	if (cmd == MKTME_KEYID_SET_KEY_DIRECT) {
		if (!key || !tweak || key_len != alg_len)
			return -EINVAL;
	} else if (key || tweak || key_len) {
		return -EINVAL;
	}

	mutex_lock(&mktme_prog_lock);
	memset(op, 0, sizeof(*op));
	op->keyid = keyid;
	op->keyid_ctrl = cmd | (MKTME_ALG_BIT(alg) << MKTME_CTRL_ALG_SHIFT);
	if (cmd == MKTME_KEYID_SET_KEY_DIRECT) {
		memcpy(op->key_field_1, key, key_len);
		memcpy(op->key_field_2, tweak, key_len);
	} else if (cmd == MKTME_KEYID_SET_KEY_RANDOM) {
		/*
		 * The CPU XORs the key fields into the keys it generates
		 * (ISE, PCONFIG, KEYID_SET_KEY_RANDOM): give it the kernel's
		 * entropy as well, so neither source alone decides the key.
		 */
		get_random_bytes(op->key_field_1, alg_len);
		get_random_bytes(op->key_field_2, alg_len);
	}

	for (attempt = 1; ; attempt++) {
		code = b->program(b, op);
		if (code != MKTME_DEVICE_BUSY && code != MKTME_ENTROPY_ERROR)
			break;
		if (attempt == MKTME_PROGRAM_ATTEMPTS)
			break;
		/*
		 * Both are transient by definition (another package or agent
		 * holds the key table lock, or the RNG is refilling): back
		 * off briefly rather than spin.
		 */
		cond_resched();
		usleep_range(50, 100);
	}

	memzero_explicit(op, sizeof(*op));
	mutex_unlock(&mktme_prog_lock);

	if (code != MKTME_PROG_SUCCESS)
		pr_debug("KeyID %u: %s failed with %d after %d attempt(s)\n",
			 keyid, mktme_cmd_name(cmd), code, attempt);
	return mktme_prog_errno(code);
}

int mktme_program_keyid(unsigned int keyid, unsigned int cmd, unsigned int alg,
			const u8 *key, const u8 *tweak, size_t key_len)
{
	return __mktme_program_keyid(mktme_backend, keyid, cmd, alg,
				     key, tweak, key_len);
}

const char *mktme_cmd_name(unsigned int cmd)
{
	switch (cmd) {
	case MKTME_KEYID_SET_KEY_DIRECT:
		return "set-key-direct";
	case MKTME_KEYID_SET_KEY_RANDOM:
		return "set-key-random";
	case MKTME_KEYID_CLEAR_KEY:
		return "clear-key";
	case MKTME_KEYID_NO_ENCRYPT:
		return "no-encrypt";
	default:
		return "?";
	}
}

const char *mktme_alg_name(unsigned int alg)
{
	switch (alg) {
	case MKTME_ALG_AES_XTS_128:
		return "aes-xts-128";
	case MKTME_ALG_AES_XTS_256:
		return "aes-xts-256";
	default:
		return "?";
	}
}

unsigned int mktme_default_alg(const struct mktme_backend *b)
{
	if (b->algorithms & MKTME_ALG_BIT(MKTME_ALG_AES_XTS_128))
		return MKTME_ALG_AES_XTS_128;
	return MKTME_ALG_AES_XTS_256;
}
