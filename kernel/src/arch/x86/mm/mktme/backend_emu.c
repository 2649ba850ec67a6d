// SPDX-License-Identifier: GPL-2.0
/*
 * The emulated backend: a model of TME-MK key programming for machines
 * without it (QEMU among them). It accepts and rejects exactly what
 * mktme_program_check() says the hardware does, returns the same codes,
 * and keeps per-KeyID state for debugfs and the tests. It does not encrypt
 * anything: pages mapped with an emulated KeyID are plain memory.
 *
 * Boot parameters:
 *   mktme.emu_keyids=N      usable KeyIDs 1..N, 1 <= N <= 31 (default 31):
 *                           the emulated PTE layout has 5 bits (52..56).
 *   mktme.emu_algs=LIST     activated algorithms, comma-separated from
 *                           aes-xts-128,aes-xts-256 (default both).
 *
 * debugfs (/sys/kernel/debug/mktme/):
 *   inject_busy      write N: the next N programs return DEVICE_BUSY
 *   inject_entropy   write N: the next N SET_KEY_RANDOM programs return
 *                    ENTROPY_ERROR (the hardware raises it for no other
 *                    command: ISE, PCONFIG, KEYID_SET_KEY_RANDOM)
 *   program_calls    programs executed so far, failed ones included
 *   emu_keyids       per KeyID: last successful command, algorithm, and
 *                    how many times it was programmed
 */
#define pr_fmt(fmt) "mktme: " fmt

#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/string.h>

#include "mktme.h"

#undef MODULE_PARAM_PREFIX
#define MODULE_PARAM_PREFIX "mktme."

static unsigned int emu_keyids = MKTME_EMU_MAX_KEYIDS;
module_param(emu_keyids, uint, 0444);
MODULE_PARM_DESC(emu_keyids, "emulated KeyIDs (1-31)");

static char *emu_algs = "aes-xts-128,aes-xts-256";
module_param(emu_algs, charp, 0444);
MODULE_PARM_DESC(emu_algs, "emulated activated algorithms");

#define EMU_NEVER	0xff	/* mktme_emu_keyid.cmd of a never-programmed KeyID */

static int mktme_emu_program(const struct mktme_backend *b,
			     const struct mktme_key_program *prog)
{
	struct mktme_emu *emu = container_of(b, struct mktme_emu, backend);
	unsigned int cmd = prog->keyid_ctrl & MKTME_CTRL_CMD_MASK;
	int code;

	spin_lock(&emu->lock);
	emu->program_calls++;
	/* The operand checks come first, as in the ISE flow (program.c). */
	code = mktme_program_check(prog, b->nr_keyids, b->algorithms);
	if (code != MKTME_PROG_SUCCESS)
		goto out;
	/* Then the key table lock, then (random keys only) the RNG. */
	if (emu->inject_busy) {
		emu->inject_busy--;
		code = MKTME_DEVICE_BUSY;
		goto out;
	}
	if (cmd == MKTME_KEYID_SET_KEY_RANDOM && emu->inject_entropy) {
		emu->inject_entropy--;
		code = MKTME_ENTROPY_ERROR;
		goto out;
	}
	/* Success: the key table entry changes. The key bytes are not kept. */
	emu->keyids[prog->keyid].cmd = cmd;
	emu->keyids[prog->keyid].alg =
		__ffs((prog->keyid_ctrl & MKTME_CTRL_ALG_MASK) >>
		      MKTME_CTRL_ALG_SHIFT);
	emu->keyids[prog->keyid].generation++;
out:
	spin_unlock(&emu->lock);
	return code;
}

int mktme_emu_init(struct mktme_emu *emu, unsigned int nr_keyids, u32 algs)
{
	unsigned int i;

	if (nr_keyids < 1 || nr_keyids > MKTME_EMU_MAX_KEYIDS)
		return -EINVAL;
	algs &= MKTME_ALG_BIT(MKTME_ALG_AES_XTS_128) |
		MKTME_ALG_BIT(MKTME_ALG_AES_XTS_256);
	if (!algs)
		return -EINVAL;

	memset(emu, 0, sizeof(*emu));
	spin_lock_init(&emu->lock);
	for (i = 0; i <= MKTME_EMU_MAX_KEYIDS; i++)
		emu->keyids[i].cmd = EMU_NEVER;
	emu->backend.name = "emulate";
	emu->backend.encrypts = false;
	emu->backend.nr_keyids = nr_keyids;
	/* The layout, not the count: KeyIDs live in PTE bits 52..56. */
	emu->backend.keyid_bits = 5;
	emu->backend.algorithms = algs;
	emu->backend.program = mktme_emu_program;
	return 0;
}

struct mktme_emu_keyid mktme_emu_keyid_state(struct mktme_emu *emu,
					     unsigned int keyid)
{
	struct mktme_emu_keyid st = { .cmd = EMU_NEVER };

	if (keyid <= MKTME_EMU_MAX_KEYIDS) {
		spin_lock(&emu->lock);
		st = emu->keyids[keyid];
		spin_unlock(&emu->lock);
	}
	return st;
}

void mktme_emu_inject(struct mktme_emu *emu, unsigned int busy,
		      unsigned int entropy)
{
	spin_lock(&emu->lock);
	emu->inject_busy = busy;
	emu->inject_entropy = entropy;
	spin_unlock(&emu->lock);
}

unsigned long mktme_emu_program_calls(struct mktme_emu *emu)
{
	unsigned long n;

	spin_lock(&emu->lock);
	n = emu->program_calls;
	spin_unlock(&emu->lock);
	return n;
}

/* debugfs */

static int emu_inject_busy_get(void *data, u64 *val)
{
	struct mktme_emu *emu = data;

	spin_lock(&emu->lock);
	*val = emu->inject_busy;
	spin_unlock(&emu->lock);
	return 0;
}

static int emu_inject_busy_set(void *data, u64 val)
{
	struct mktme_emu *emu = data;

	if (val > UINT_MAX)
		return -EINVAL;
	spin_lock(&emu->lock);
	emu->inject_busy = val;
	spin_unlock(&emu->lock);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(emu_inject_busy_fops, emu_inject_busy_get,
			 emu_inject_busy_set, "%llu\n");

static int emu_inject_entropy_get(void *data, u64 *val)
{
	struct mktme_emu *emu = data;

	spin_lock(&emu->lock);
	*val = emu->inject_entropy;
	spin_unlock(&emu->lock);
	return 0;
}

static int emu_inject_entropy_set(void *data, u64 val)
{
	struct mktme_emu *emu = data;

	if (val > UINT_MAX)
		return -EINVAL;
	spin_lock(&emu->lock);
	emu->inject_entropy = val;
	spin_unlock(&emu->lock);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(emu_inject_entropy_fops, emu_inject_entropy_get,
			 emu_inject_entropy_set, "%llu\n");

static int emu_program_calls_get(void *data, u64 *val)
{
	*val = mktme_emu_program_calls(data);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(emu_program_calls_fops, emu_program_calls_get, NULL,
			 "%llu\n");

static int emu_keyids_show(struct seq_file *m, void *unused)
{
	struct mktme_emu *emu = m->private;
	unsigned int keyid;

	seq_puts(m, "keyid command alg generation\n");
	for (keyid = 1; keyid <= emu->backend.nr_keyids; keyid++) {
		struct mktme_emu_keyid st = mktme_emu_keyid_state(emu, keyid);

		if (st.cmd == EMU_NEVER)
			seq_printf(m, "%u - - 0\n", keyid);
		else
			seq_printf(m, "%u %s %s %u\n", keyid,
				   mktme_cmd_name(st.cmd),
				   mktme_alg_name(st.alg), st.generation);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(emu_keyids);

static void mktme_emu_debugfs_init(const struct mktme_backend *b,
				   struct dentry *dir)
{
	struct mktme_emu *emu = container_of(b, struct mktme_emu, backend);

	debugfs_create_file_unsafe("inject_busy", 0600, dir, emu,
				   &emu_inject_busy_fops);
	debugfs_create_file_unsafe("inject_entropy", 0600, dir, emu,
				   &emu_inject_entropy_fops);
	debugfs_create_file_unsafe("program_calls", 0400, dir, emu,
				   &emu_program_calls_fops);
	debugfs_create_file("emu_keyids", 0400, dir, emu, &emu_keyids_fops);
}

/* The live instance, selected with mktme=emulate. */
static struct mktme_emu mktme_emu_live;

static u32 __init emu_parse_algs(const char *list)
{
	char buf[64], *s = buf, *tok;
	u32 algs = 0;

	if (strscpy(buf, list, sizeof(buf)) < 0)
		return 0;
	while ((tok = strsep(&s, ",")) != NULL) {
		if (!strcmp(tok, "aes-xts-128"))
			algs |= MKTME_ALG_BIT(MKTME_ALG_AES_XTS_128);
		else if (!strcmp(tok, "aes-xts-256"))
			algs |= MKTME_ALG_BIT(MKTME_ALG_AES_XTS_256);
		else
			return 0;
	}
	return algs;
}

const struct mktme_backend * __init mktme_emu_probe(void)
{
	u32 algs = emu_parse_algs(emu_algs);

	if (!algs) {
		pr_err("mktme.emu_algs=%s: want a list of aes-xts-128,aes-xts-256\n",
		       emu_algs);
		return NULL;
	}
	if (mktme_emu_init(&mktme_emu_live, emu_keyids, algs)) {
		pr_err("mktme.emu_keyids=%u: want 1 to %u\n", emu_keyids,
		       MKTME_EMU_MAX_KEYIDS);
		return NULL;
	}
	mktme_emu_live.backend.debugfs_init = mktme_emu_debugfs_init;
	return &mktme_emu_live.backend;
}
