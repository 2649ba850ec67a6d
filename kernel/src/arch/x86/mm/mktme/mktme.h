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
 *
 * Lock order, outer to inner (lockdep_assert_held() marks the functions
 * that rely on a lock their caller took):
 *
 *   mmap_lock (faults: read; mmap: write)
 *     -> region lock (r->lock: the binding; mmap reads it, never across
 *        the LSM hook)
 *     -> region publish mutex (r->publish: which page backs an offset;
 *        never across allocation, zeroing, freeing or memcg charging)
 *   keyring->sem -> key_construction_mutex (add_key) -> (LSM hook)
 *     -> pool mutex
 *   key->sem (read: SET_KEY; write: revoke) -> (LSM hook) -> r->lock
 *     -> pool mutex
 *   system_transition_mutex (suspend: PM notifier; kexec: kernel_kexec())
 *     -> pool mutex (freeze/thaw)
 *   pool mutex (mktme_keyid_pool.lock; also the per-user KeyID counts)
 *     -> programming mutex (program.c)
 *     -> hw: cpus_read_lock() -> IPIs; emulated: emu->lock (spinlock)
 *   per-node block spinlock (blocks.c): innermost, nothing sleeps under it
 *   per-CPU KeyID alias (alias.c): preemption off, no lock inside
 *
 * Never: r->lock and r->publish together; mmap_lock under key->sem or the
 * pool mutex; the pool mutex under cpus_read_lock() (CPU hotplug and PM
 * callbacks read mktme_busy() without a lock). ->release takes no region
 * lock: no mapping, and so no fault, is left.
 */
#ifndef _ARCH_X86_MM_MKTME_H
#define _ARCH_X86_MM_MKTME_H

#include <linux/types.h>
#include <linux/atomic.h>
#include <linux/gfp_types.h>
#include <linux/mktme.h>
#include <linux/nodemask.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/uidgid.h>
#include <linux/xarray.h>
#include <asm/pgtable_types.h>
#include <uapi/linux/mktme.h>

struct key;
struct dentry;
struct seq_file;

/*
 * PCONFIG (0F 01 C5), its KEY_PROGRAM leaf and operand, the commands and the
 * return codes, as the Intel ISE reference for PCONFIG defines them. The
 * names and values are those of Linux 6.1's
 * arch/x86/include/asm/intel_pconfig.h (Kirill A. Shutemov, Intel, 2017);
 * 6.12 no longer has that header or its CPUID enumeration
 * (arch/x86/kernel/cpu/intel_pconfig.c), since nothing upstream used them,
 * so the core carries its own copy (the enumeration is in backend_hw.c).
 */
#define PCONFIG				".byte 0x0f, 0x01, 0xc5"

/* PCONFIG targets (CPUID leaf 0x1B) and leaves (EAX). */
#define MKTME_TARGET			1
#define MKTME_KEY_PROGRAM		0

/* mktme_key_program::keyid_ctrl COMMAND, bits [7:0] */
#define MKTME_KEYID_SET_KEY_DIRECT	0
#define MKTME_KEYID_SET_KEY_RANDOM	1
#define MKTME_KEYID_CLEAR_KEY		2
#define MKTME_KEYID_NO_ENCRYPT		3

/* Return codes from the PCONFIG MKTME_KEY_PROGRAM */
#define MKTME_PROG_SUCCESS		0
#define MKTME_INVALID_PROG_CMD		1
#define MKTME_ENTROPY_ERROR		2
#define MKTME_INVALID_KEYID		3
#define MKTME_INVALID_ENC_ALG		4
#define MKTME_DEVICE_BUSY		5

/* Hardware requires the structure to be 256 byte aligned. Otherwise #GP(0). */
struct mktme_key_program {
	u16 keyid;
	u32 keyid_ctrl;
	u8 __rsvd[58];
	u8 key_field_1[64];
	u8 key_field_2[64];
} __packed __aligned(256);

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
	/*
	 * false for the emulated backend. true also for hw under a
	 * hypervisor, which keeps the hardware's lifecycle rules (key tables
	 * outside the kernel), but there @model is set too: TME-MK there is a
	 * model (tools/qemu) that encrypts nothing, and sysfs says so.
	 */
	bool encrypts;
	bool model;
	unsigned int nr_keyids;		/* usable KeyIDs are 1..nr_keyids */
	unsigned int keyid_bits;	/* width of the KeyID field */
	u32 algorithms;			/* MKTME_ALG_BIT() of activated algorithms */
	/*
	 * Execute one KEY_PROGRAM everywhere it must run (hw: once per
	 * package). Returns a PCONFIG return code or MKTME_PROG_GP; never
	 * partial success. @b is the backend itself (the emulated backend
	 * keeps its state next to it, see struct mktme_emu). Called with the
	 * programming mutex held, in process context.
	 */
	int (*program)(const struct mktme_backend *b,
		       const struct mktme_key_program *prog);
	/* Optional: backend files under /sys/kernel/debug/mktme/. */
	void (*debugfs_init)(const struct mktme_backend *b, struct dentry *dir);
	/*
	 * Optional: what the backend sets up when mktme starts (hw: the CPU
	 * hotplug callbacks), and its undoing if a later step fails.
	 */
	int (*start)(const struct mktme_backend *b);
	void (*stop)(const struct mktme_backend *b);
};

/* The selected backend, or NULL when mktme is off. Set once at boot. */
extern const struct mktme_backend *mktme_backend;

/*
 * The checks the hardware makes before executing KEY_PROGRAM, in the order
 * it makes them (see program.c): a PCONFIG return code, or MKTME_PROG_GP.
 */
int mktme_program_check(const struct mktme_key_program *prog,
			unsigned int nr_keyids, u32 activated_algorithms);

/*
 * How many times mktme_program_keyid() executes KEY_PROGRAM when the backend
 * keeps answering DEVICE_BUSY or ENTROPY_ERROR: the first attempt included.
 */
#define MKTME_PROGRAM_ATTEMPTS		10

/*
 * Program @keyid through the backend, retrying DEVICE_BUSY and ENTROPY_ERROR
 * (MKTME_PROGRAM_ATTEMPTS executions at most). Returns 0 or a negative errno
 * (mapping in program.c). @key and @tweak are used by SET_KEY_DIRECT only,
 * which needs both, @key_len bytes each (16 for AES-XTS-128, 32 for
 * AES-XTS-256); pass NULL and 0 for every other command. The operand is a
 * static 256-byte-aligned buffer under a mutex, wiped (memzero_explicit)
 * before return. Might sleep.
 */
int mktme_program_keyid(unsigned int keyid, unsigned int cmd, unsigned int alg,
			const u8 *key, const u8 *tweak, size_t key_len);
/* The same through an explicit backend (the KUnit tests use their own). */
int __mktme_program_keyid(const struct mktme_backend *b, unsigned int keyid,
			  unsigned int cmd, unsigned int alg,
			  const u8 *key, const u8 *tweak, size_t key_len);
/* "set-key-direct", "set-key-random", "clear-key", "no-encrypt" or "?" */
const char *mktme_cmd_name(unsigned int cmd);
/* "aes-xts-128", "aes-xts-256" or "?" */
const char *mktme_alg_name(unsigned int alg);
/* The algorithm used when nothing asks for one: AES-XTS-128 if activated. */
unsigned int mktme_default_alg(const struct mktme_backend *b);

/*
 * KeyID pool. A KeyID is handed out with one reference; every holder (the key,
 * each /dev/mktme region bound to it) takes its own. On the last put the KeyID
 * is reprogrammed (CLEAR_KEY) so old ciphertext cannot be decrypted, and only
 * then returned to the pool; if reprogramming fails it stays out of the pool
 * ("quarantined") and is retried when the pool is otherwise exhausted.
 * alloc, get and put might sleep (put reprograms); call them from process
 * context. A caller of mktme_keyid_get() must already hold a reference
 * (to bind a key's KeyID, see mktme_key_get_keyid()).
 *
 * A KeyID is charged to @uid (the key's user) from alloc to the last put:
 * -EDQUOT when @uid already holds its limit (kernel.keys.mktme_maxkeyids,
 * or mktme_root_maxkeyids for root), checked before anything is taken.
 */
int mktme_keyid_alloc(kuid_t uid);	/* KeyID >= 1, or -errno */
void mktme_keyid_get(unsigned int keyid);
void mktme_keyid_put(unsigned int keyid);
unsigned int mktme_keyids_in_use(void);	/* referenced, quarantine excluded */
unsigned int mktme_keyids_quarantined(void);
unsigned int mktme_user_keyids(kuid_t uid);	/* charged to @uid now */
/*
 * What would be lost if memory were written to a hibernation image, or if a
 * package lost its key table: pages of regions (plaintext on the emulated
 * backend, ciphertext no KeyID decrypts after resume on hw), or, on a
 * backend that encrypts, live keys that cannot be programmed again (their
 * bytes are not kept). Lockless: safe from CPU hotplug and PM callbacks.
 * mktme_active() (linux/mktme.h) is mktme_busy() != MKTME_IDLE, and
 * mktme_report_busy() logs which of the two refused @what.
 */
enum mktme_busy { MKTME_IDLE, MKTME_BUSY_PAGES, MKTME_BUSY_KEYS };
enum mktme_busy mktme_busy(void);
/*
 * Program a KeyID the caller holds a reference on, and record the command
 * for debugfs: what key.c uses, instead of mktme_program_keyid().
 */
int mktme_keyid_program(unsigned int keyid, unsigned int cmd, unsigned int alg,
			const u8 *key, const u8 *tweak, size_t key_len);

/*
 * The pool as an object, so that the KUnit tests can run one against a
 * private emulated backend without touching the live one.
 */
struct mktme_keyid_pool {
	const struct mktme_backend *backend;
	struct mutex lock;
	unsigned int nr_keyids;
	unsigned long *busy;		/* bit n: KeyID n allocated or quarantined */
	unsigned long *quarantined;	/* bit n: KeyID n failed reprogramming */
	struct mktme_keyid_info {
		refcount_t refs;	/* 0: free or quarantined */
		kuid_t uid;		/* charged for it while refs > 0 */
		u8 last_cmd;		/* last successful command, 0xff: none */
		u8 last_alg;
	} *info;			/* indexed by KeyID, [0] unused */
	atomic_t in_use;
	atomic_t nr_quarantined;
	struct xarray users;		/* kuid -> KeyIDs charged (value) */
	unsigned int max_user;		/* per user other than root */
	unsigned int max_root;		/* for GLOBAL_ROOT_UID */
	/* Non-NULL: suspend or kexec under way, no KeyID handed out. */
	const char *frozen;
};
int mktme_pool_init(struct mktme_keyid_pool *pool,
		    const struct mktme_backend *b);
void mktme_pool_destroy(struct mktme_keyid_pool *pool);
int __mktme_keyid_alloc_user(struct mktme_keyid_pool *pool, kuid_t uid);
/* For root, whose default limit is every KeyID: the pool's own tests. */
static inline int __mktme_keyid_alloc(struct mktme_keyid_pool *pool)
{
	return __mktme_keyid_alloc_user(pool, GLOBAL_ROOT_UID);
}
unsigned int __mktme_user_keyids(struct mktme_keyid_pool *pool, kuid_t uid);
unsigned int mktme_user_limit(struct mktme_keyid_pool *pool, kuid_t uid);
void __mktme_keyid_get(struct mktme_keyid_pool *pool, unsigned int keyid);
void __mktme_keyid_put(struct mktme_keyid_pool *pool, unsigned int keyid);
int __mktme_keyid_program(struct mktme_keyid_pool *pool, unsigned int keyid,
			  unsigned int cmd, unsigned int alg,
			  const u8 *key, const u8 *tweak, size_t key_len);
/*
 * On a backend that encrypts: -EBUSY (logged, "@what refused") while any
 * KeyID is in use, else no KeyID is handed out (-EBUSY) until thaw. For
 * suspend to RAM and kexec, whose keys the hardware does not keep (keyid.c).
 * The emulated backend: always 0, nothing frozen.
 */
int __mktme_keyids_freeze(struct mktme_keyid_pool *pool, const char *what);
void __mktme_keyids_thaw(struct mktme_keyid_pool *pool);
/* The PM notifier's decision: PM_SUSPEND_PREPARE freezes, POST thaws. */
int __mktme_pm_notify(struct mktme_keyid_pool *pool, unsigned long action);
int mktme_keyids_init(const struct mktme_backend *b);	/* the live pool */
void mktme_keyids_exit(const struct mktme_backend *b);
int mktme_pm_init(const struct mktme_backend *b);	/* PM notifier */
void mktme_pm_exit(const struct mktme_backend *b);
void mktme_keyids_show(struct seq_file *m);		/* debugfs "keyids" */

/* The emulated backend (backend_emu.c). */
#define MKTME_EMU_MAX_KEYIDS		31	/* PTE bits 52..56 */
struct mktme_emu_keyid {
	u8 cmd;				/* last successful command, 0xff: none */
	u8 alg;				/* its algorithm (enum mktme_key_alg) */
	u32 generation;			/* successful programs of this KeyID */
};
struct mktme_emu {
	struct mktme_backend backend;	/* first: b -> emu by container_of */
	spinlock_t lock;
	unsigned int inject_busy;	/* next N calls: DEVICE_BUSY */
	unsigned int inject_entropy;	/* next N SET_KEY_RANDOMs: ENTROPY_ERROR */
	unsigned long program_calls;	/* every call, failed ones included */
	struct mktme_emu_keyid keyids[MKTME_EMU_MAX_KEYIDS + 1];
};
int mktme_emu_init(struct mktme_emu *emu, unsigned int nr_keyids, u32 algs);
struct mktme_emu_keyid mktme_emu_keyid_state(struct mktme_emu *emu,
					     unsigned int keyid);
void mktme_emu_inject(struct mktme_emu *emu, unsigned int busy,
		      unsigned int entropy);
unsigned long mktme_emu_program_calls(struct mktme_emu *emu);
const struct mktme_backend *mktme_emu_probe(void);	/* from boot params */

/* The hardware backend (backend_hw.c): NULL unless TME-MK is usable. */
const struct mktme_backend *mktme_hw_probe(void);
struct mktme_hw_enum {
	unsigned int keyid_bits;	/* IA32_TME_ACTIVATE[35:32] */
	unsigned int nr_keyids;
	u32 algorithms;			/* activated and known to us */
};
int mktme_hw_decode(u64 act, u64 cap, const u64 *part, struct mktme_hw_enum *e);
/*
 * What programming every package needs of the machine, so that the KUnit
 * tests can run it against a fake topology and a fake PCONFIG. Packages
 * are 0..nr_packages() - 1; lead_cpu() is an online CPU of one, or -1 if it
 * has none; pconfig() executes an operand on a CPU (a PCONFIG return code,
 * or -errno); @undo is scratch for the rollback operand.
 */
struct mktme_hw_machine {
	unsigned int (*nr_packages)(void *ctx);
	int (*lead_cpu)(void *ctx, unsigned int pkg);
	int (*pconfig)(void *ctx, int cpu, const struct mktme_key_program *prog);
	struct mktme_key_program *undo;
	void *ctx;
};
/*
 * Execute @prog on every package or on none: -ENODEV (logged) without
 * executing anything if a package has no online CPU; if one fails, the
 * packages already done are put back to CLEAR_KEY and its code returned.
 */
int mktme_hw_program_packages(const struct mktme_hw_machine *m,
			      const struct mktme_key_program *prog);

/*
 * Parsed "mktme" key payload; see payload.c for the grammar. key_len is the
 * length of key= and of tweak= in bytes (type=user only).
 */
#define MKTME_PAYLOAD_MAX		1024
#define MKTME_KEY_BYTES			32	/* up to XTS-256 */
struct mktme_payload {
	enum mktme_key_type type;
	enum mktme_key_alg alg;
	bool alg_set;			/* algorithm= was given */
	u8 key[MKTME_KEY_BYTES];
	u8 tweak[MKTME_KEY_BYTES];
	size_t key_len;
};
int mktme_payload_parse(const char *data, size_t len, struct mktme_payload *p);
const char *mktme_key_type_name(enum mktme_key_type type);

/* What a key of type "mktme" points at: key->payload.data[0]. */
struct mktme_key {
	unsigned int keyid;
	enum mktme_key_type type;
	enum mktme_key_alg alg;
};

/*
 * The KeyID of a valid (instantiated, not revoked, not expired) mktme key, or
 * -errno: a status check. The key holds its KeyID reference until it is
 * revoked or destroyed, and revoke (under key->sem, write) drops it at once,
 * so a KeyID read here may be released before mktme_keyid_get() unless
 * key->sem is held for read across both: to bind to the KeyID, use
 * mktme_key_get_keyid(), which does exactly that and returns the KeyID with
 * a reference the caller owns (drop it with mktme_keyid_put()).
 */
int mktme_key_keyid(const struct key *key);
int mktme_key_get_keyid(struct key *key);
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

/* @prot with its KeyID field set to @keyid: for vm_page_prot and aliases. */
static inline pgprot_t mktme_pgprot(pgprot_t prot, unsigned int keyid)
{
	return __pgprot((pgprot_val(prot) & ~mktme_keyid_mask) |
			mktme_keyid_to_pte(keyid));
}

/*
 * pte.c (K2): set mktme_keyid_mask and mktme_keyid_shift for @backend (hw:
 * above the reduced physical-address bits, physical_mask reduced; emulated:
 * bits 52..56). Called once by core.c before any KeyID is handed out.
 */
int mktme_pte_init(const struct mktme_backend *backend);
void mktme_pte_exit(const struct mktme_backend *backend);	/* undo it */

/* The same computation without side effects, for any CPU (KUnit). */
struct mktme_pte_layout {
	u64 mask;			/* PTE bits holding the KeyID */
	unsigned int shift;		/* lowest of them */
	u64 phys_clear;			/* hw: bits taken out of physical_mask */
};
int mktme_pte_layout(const struct mktme_backend *b, unsigned int phys_bits,
		     unsigned int max_phys_bits, struct mktme_pte_layout *l);

/* Statistics shown in /sys/kernel/mm/mktme/. */
extern atomic_long_t mktme_pages_mapped;

/*
 * Blocks (blocks.c): region memory in 2 MiB blocks, each out of the direct
 * map as one PMD, per NUMA node.
 */
#define MKTME_BLOCK_ORDER		(PMD_SHIFT - PAGE_SHIFT)
#define MKTME_BLOCK_PAGES		(1UL << MKTME_BLOCK_ORDER)
#define MKTME_BLOCK_SIZE		(MKTME_BLOCK_PAGES << PAGE_SHIFT)
struct page *mktme_blocks_alloc(unsigned int order, int nid,
				const nodemask_t *allowed, gfp_t gfp);
void mktme_blocks_free(struct page *page, unsigned int order);
unsigned long mktme_blocks_empty(void);
unsigned long mktme_blocks_drain(unsigned long max_blocks);
int mktme_blocks_init(void);
extern atomic_long_t mktme_blocks_nr;		/* out of the direct map */
extern atomic_long_t mktme_single_pages;	/* fallback: split it */

/* Per-CPU KeyID aliases (alias.c), for pages out of the direct map. */
int mktme_alias_init(void);
void mktme_alias_clear(struct page *page, unsigned long nr,
		       unsigned int keyid);
void mktme_alias_scrub(struct page *page, unsigned long nr,
		       unsigned int keyid);

int mktme_dev_init(void);		/* dev.c (K2) */
void mktme_blocks_exit(void);		/* undo mktme_blocks_init() */
void mktme_alias_exit(void);		/* undo mktme_alias_init() */

/*
 * mktme_start() (core.c) as a list of steps, each with its undoing: on a
 * failure the steps already done are undone in reverse order, so that a
 * backend that fails to start leaves nothing behind (physical_mask, CPU
 * hotplug callbacks, the pool, ...). Not __init, for the KUnit tests.
 */
struct mktme_start_step {
	const char *what;
	int (*start)(const struct mktme_backend *b);
	void (*undo)(const struct mktme_backend *b);	/* NULL: nothing */
};
int mktme_run_steps(const struct mktme_start_step *steps, unsigned int n,
		    const struct mktme_backend *b);

#endif /* _ARCH_X86_MM_MKTME_H */
