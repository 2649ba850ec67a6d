/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interfaces of the mktme core (arch/x86/mm/mktme/).
 *
 * Split of responsibilities:
 *   program.c      KEY_PROGRAM operand checks and the retrying programmer
 *   backend_hw.c   TME-MK enumeration (CPUID/MSR) and PCONFIG, once per package
 *   backend_emu.c  a model of the same hardware, for machines without TME-MK
 *   keyid.c        KeyID pool, references, reprogramming on release
 *   payload.c      "mktme" key payload parser
 *   key.c          the "mktme" key type
 *   pte.c          KeyID <-> page-table entry bits, for both layouts
 *   dev.c          /dev/mktme
 *   core.c         boot parameter, backend selection, sysfs, debugfs
 */
#ifndef _ARCH_X86_MM_MKTME_H
#define _ARCH_X86_MM_MKTME_H

#include <linux/types.h>
#include <uapi/linux/mktme.h>

struct key;

/*
 * The KEY_PROGRAM operand (struct mktme_key_program), its commands
 * (MKTME_KEYID_*) and return codes (MKTME_PROG_SUCCESS, MKTME_INVALID_PROG_CMD,
 * MKTME_ENTROPY_ERROR, MKTME_INVALID_KEYID, MKTME_INVALID_ENC_ALG,
 * MKTME_DEVICE_BUSY) are the kernel's own, from Linux 6.1
 * arch/x86/include/asm/intel_pconfig.h, which follows the Intel ISE
 * reference for PCONFIG. Only what that header lacks is defined here.
 */
#include <asm/intel_pconfig.h>

/* keyid_ctrl: bits 7:0 command, bits 23:8 algorithm (one bit), 31:24 zero. */
#define MKTME_CTRL_CMD_MASK		0x000000ffU
#define MKTME_CTRL_ALG_SHIFT		8
#define MKTME_CTRL_ALG_MASK		0x00ffff00U
#define MKTME_CTRL_RSVD_MASK		0xff000000U

/*
 * Algorithm bits: bit n of keyid_ctrl[23:8] and of IA32_TME_ACTIVATE[63:48]
 * name the same algorithm (n = 0 AES-XTS-128, n = 2 AES-XTS-256), matching
 * enum mktme_key_alg. MKTME_ALG_BIT() gives the activated-algorithms form,
 * MKTME_ALG_BIT() << MKTME_CTRL_ALG_SHIFT the keyid_ctrl form.
 */
#define MKTME_ALG_BIT(alg)		(1U << (alg))

/*
 * Ours, not the hardware's: the operand checks for which PCONFIG raises #GP
 * instead of returning a code (non-zero reserved fields, non-zero upper key
 * bytes for AES-XTS-128). The emulated backend returns it; the hw backend
 * never executes an operand that mktme_program_check() rejects.
 */
#define MKTME_PROG_GP			0x100

struct mktme_backend {
	const char *name;		/* "hw", "emulate" */
	bool encrypts;			/* false for the emulated backend */
	unsigned int nr_keyids;		/* usable KeyIDs are 1..nr_keyids */
	unsigned int keyid_bits;	/* width of the KeyID field */
	u32 algorithms;			/* MKTME_ALG_BIT() of activated algorithms */
	/*
	 * Execute one KEY_PROGRAM everywhere it must run (hw: once per
	 * package). Returns a PCONFIG return code or MKTME_PROG_GP; never
	 * partial success.
	 */
	int (*program)(const struct mktme_key_program *prog);
};

/* The selected backend, or NULL when mktme is off. Set once at boot. */
extern const struct mktme_backend *mktme_backend;

/* The checks the hardware makes before executing KEY_PROGRAM: a PCONFIG
 * return code, or MKTME_PROG_GP. */
int mktme_program_check(const struct mktme_key_program *prog,
			unsigned int nr_keyids, u32 activated_algorithms);

/*
 * Program @keyid through the backend, retrying DEVICE_BUSY and ENTROPY_ERROR a
 * bounded number of times. Returns 0 or a negative errno. @key and @tweak may
 * be NULL (they are for every command but SET_KEY_DIRECT, which needs both);
 * the on-stack operand is wiped (memzero_explicit) before return.
 */
int mktme_program_keyid(unsigned int keyid, unsigned int cmd, unsigned int alg,
			const u8 *key, const u8 *tweak, size_t key_len);

/*
 * KeyID pool. A KeyID is handed out with one reference; every holder (the key,
 * each /dev/mktme region bound to it) takes its own. On the last put the KeyID
 * is reprogrammed (CLEAR_KEY) so old ciphertext cannot be decrypted, and only
 * then returned to the pool; if reprogramming fails it stays out of the pool.
 */
int mktme_keyid_alloc(void);		/* KeyID >= 1, or -ENOKEY / -ENODEV */
void mktme_keyid_get(unsigned int keyid);
void mktme_keyid_put(unsigned int keyid);
unsigned int mktme_keyids_in_use(void);

/* Parsed "mktme" key payload; see payload.c for the grammar. */
#define MKTME_KEY_BYTES			32	/* up to XTS-256 */
struct mktme_payload {
	enum mktme_key_type type;
	enum mktme_key_alg alg;
	bool alg_set;
	u8 key[MKTME_KEY_BYTES];
	u8 tweak[MKTME_KEY_BYTES];
	size_t key_len;			/* bytes of key= and of tweak= */
};
int mktme_payload_parse(const char *data, size_t len, struct mktme_payload *p);

/* What a key of type "mktme" points at: key->payload.data[0]. */
struct mktme_key {
	unsigned int keyid;
	enum mktme_key_type type;
	enum mktme_key_alg alg;
};

/* The KeyID of a valid (instantiated, not revoked) mktme key, or -errno. */
int mktme_key_keyid(const struct key *key);
extern struct key_type key_type_mktme;

/* Page-table encoding of a KeyID (pte.c). */
extern u64 mktme_keyid_mask;		/* PTE bits that hold the KeyID, 0 if off */
extern unsigned int mktme_keyid_shift;
static inline u64 mktme_keyid_to_pte(unsigned int keyid)
{
	return ((u64)keyid << mktme_keyid_shift) & mktme_keyid_mask;
}
static inline unsigned int mktme_pte_to_keyid(u64 entry)
{
	return (entry & mktme_keyid_mask) >> mktme_keyid_shift;
}

/* Statistics shown in /sys/kernel/mm/mktme/. */
extern atomic_long_t mktme_pages_mapped;

int mktme_dev_init(void);

#endif /* _ARCH_X86_MM_MKTME_H */
