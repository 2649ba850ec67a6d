// SPDX-License-Identifier: GPL-2.0
/*
 * The KeyID pool.
 *
 * KeyIDs are scarce (real parts have from 3 to a few hundred), and a KeyID
 * that goes back to the pool must not be able to decrypt what was written
 * with its previous key: the last put reprograms it with CLEAR_KEY before
 * it can be handed out again. A KeyID whose reprogramming fails is not
 * handed out ("quarantined"); it is retried when the pool is otherwise
 * exhausted, and counted (debugfs, sysfs keyids_quarantined).
 *
 * One mutex covers allocation, references and the reprogramming on the last
 * put, so that a KeyID is never handed out between its last put and its
 * CLEAR_KEY. References are taken and dropped in process context only, so a
 * plain count under the mutex is enough; in_use is atomic only so that
 * mktme_active() can be read from CPU hotplug and PM callbacks without
 * taking the mutex (which nests outside cpus_read_lock() in the hw backend).
 */
#define pr_fmt(fmt) "mktme: " fmt

#include <linux/bitmap.h>
#include <linux/errno.h>
#include <linux/mktme.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "mktme.h"

#define KEYID_NEVER	0xff	/* mktme_keyid_info.last_cmd: never programmed */

int mktme_pool_init(struct mktme_keyid_pool *pool,
		    const struct mktme_backend *b)
{
	unsigned int i, n = b->nr_keyids;

	memset(pool, 0, sizeof(*pool));
	if (!n || n > U16_MAX)
		return -EINVAL;
	pool->backend = b;
	pool->nr_keyids = n;
	mutex_init(&pool->lock);
	/* Bit and index n is KeyID n; KeyID 0 (the TME KeyID) is never ours. */
	pool->busy = bitmap_zalloc(n + 1, GFP_KERNEL);
	pool->quarantined = bitmap_zalloc(n + 1, GFP_KERNEL);
	pool->info = kcalloc(n + 1, sizeof(*pool->info), GFP_KERNEL);
	if (!pool->busy || !pool->quarantined || !pool->info) {
		mktme_pool_destroy(pool);
		return -ENOMEM;
	}
	__set_bit(0, pool->busy);
	for (i = 0; i <= n; i++)
		pool->info[i].last_cmd = KEYID_NEVER;
	atomic_set(&pool->in_use, 0);
	atomic_set(&pool->nr_quarantined, 0);
	return 0;
}

void mktme_pool_destroy(struct mktme_keyid_pool *pool)
{
	bitmap_free(pool->busy);
	bitmap_free(pool->quarantined);
	kfree(pool->info);
	pool->busy = NULL;
	pool->quarantined = NULL;
	pool->info = NULL;
}

/* CLEAR_KEY needs a valid, activated algorithm bit too (DESIGN.md 2.1). */
static int mktme_keyid_clear(struct mktme_keyid_pool *pool, unsigned int keyid)
{
	unsigned int alg = mktme_default_alg(pool->backend);
	int ret;

	lockdep_assert_held(&pool->lock);
	ret = __mktme_program_keyid(pool->backend, keyid, MKTME_KEYID_CLEAR_KEY,
				    alg, NULL, NULL, 0);
	if (!ret) {
		pool->info[keyid].last_cmd = MKTME_KEYID_CLEAR_KEY;
		pool->info[keyid].last_alg = alg;
	}
	return ret;
}

int __mktme_keyid_alloc(struct mktme_keyid_pool *pool)
{
	unsigned int keyid;

	if (!pool->backend)
		return -ENODEV;

	mutex_lock(&pool->lock);
	keyid = find_first_zero_bit(pool->busy, pool->nr_keyids + 1);
	if (keyid > pool->nr_keyids) {
		/*
		 * Exhausted: last chance for the quarantined ones. A KeyID
		 * that now takes its CLEAR_KEY is as good as a free one.
		 */
		for_each_set_bit(keyid, pool->quarantined, pool->nr_keyids + 1) {
			if (!mktme_keyid_clear(pool, keyid)) {
				__clear_bit(keyid, pool->quarantined);
				atomic_dec(&pool->nr_quarantined);
				pr_info("KeyID %u reprogrammed, out of quarantine\n",
					keyid);
				goto found;
			}
		}
		mutex_unlock(&pool->lock);
		return -ENOKEY;
	}
	__set_bit(keyid, pool->busy);
found:
	pool->info[keyid].refs = 1;
	atomic_inc(&pool->in_use);
	mutex_unlock(&pool->lock);
	return keyid;
}

void __mktme_keyid_get(struct mktme_keyid_pool *pool, unsigned int keyid)
{
	if (WARN_ON_ONCE(!keyid || keyid > pool->nr_keyids))
		return;
	mutex_lock(&pool->lock);
	/* The caller's own reference (or its key's) keeps refs above zero. */
	if (!WARN_ON_ONCE(!pool->info[keyid].refs))
		pool->info[keyid].refs++;
	mutex_unlock(&pool->lock);
}

void __mktme_keyid_put(struct mktme_keyid_pool *pool, unsigned int keyid)
{
	might_sleep();
	if (WARN_ON_ONCE(!keyid || keyid > pool->nr_keyids))
		return;
	mutex_lock(&pool->lock);
	if (WARN_ON_ONCE(!pool->info[keyid].refs))
		goto out;
	if (--pool->info[keyid].refs)
		goto out;

	atomic_dec(&pool->in_use);
	/*
	 * The last holder is gone and no page carries the KeyID any more
	 * (every region holds a reference until its last page is freed):
	 * forget the key before anyone else can get this KeyID.
	 */
	if (mktme_keyid_clear(pool, keyid)) {
		__set_bit(keyid, pool->quarantined);
		atomic_inc(&pool->nr_quarantined);
		pr_warn("KeyID %u: CLEAR_KEY failed, quarantined\n", keyid);
		goto out;	/* stays busy: not handed out */
	}
	__clear_bit(keyid, pool->busy);
out:
	mutex_unlock(&pool->lock);
}

int __mktme_keyid_program(struct mktme_keyid_pool *pool, unsigned int keyid,
			  unsigned int cmd, unsigned int alg,
			  const u8 *key, const u8 *tweak, size_t key_len)
{
	int ret;

	if (WARN_ON_ONCE(!keyid || keyid > pool->nr_keyids))
		return -EINVAL;
	mutex_lock(&pool->lock);
	if (WARN_ON_ONCE(!pool->info[keyid].refs)) {
		ret = -EINVAL;
		goto out;
	}
	ret = __mktme_program_keyid(pool->backend, keyid, cmd, alg,
				    key, tweak, key_len);
	if (!ret) {
		pool->info[keyid].last_cmd = cmd;
		pool->info[keyid].last_alg = alg;
	}
out:
	mutex_unlock(&pool->lock);
	return ret;
}

/* The live pool, set up by core.c for the selected backend. */
static struct mktme_keyid_pool mktme_pool;

int mktme_keyids_init(const struct mktme_backend *b)
{
	return mktme_pool_init(&mktme_pool, b);
}

int mktme_keyid_alloc(void)
{
	return __mktme_keyid_alloc(&mktme_pool);
}

void mktme_keyid_get(unsigned int keyid)
{
	__mktme_keyid_get(&mktme_pool, keyid);
}

void mktme_keyid_put(unsigned int keyid)
{
	__mktme_keyid_put(&mktme_pool, keyid);
}

int mktme_keyid_program(unsigned int keyid, unsigned int cmd, unsigned int alg,
			const u8 *key, const u8 *tweak, size_t key_len)
{
	return __mktme_keyid_program(&mktme_pool, keyid, cmd, alg,
				     key, tweak, key_len);
}

unsigned int mktme_keyids_in_use(void)
{
	return atomic_read(&mktme_pool.in_use);
}

unsigned int mktme_keyids_quarantined(void)
{
	return atomic_read(&mktme_pool.nr_quarantined);
}

bool mktme_active(void)
{
	return atomic_read(&mktme_pool.in_use) != 0;
}

void mktme_keyids_show(struct seq_file *m)
{
	struct mktme_keyid_pool *pool = &mktme_pool;
	unsigned int keyid;

	if (!pool->backend)
		return;
	seq_puts(m, "keyid refs state last_command alg\n");
	mutex_lock(&pool->lock);
	for (keyid = 1; keyid <= pool->nr_keyids; keyid++) {
		const struct mktme_keyid_info *info = &pool->info[keyid];
		const char *state = "free";

		if (test_bit(keyid, pool->quarantined))
			state = "quarantined";
		else if (test_bit(keyid, pool->busy))
			state = "in-use";
		if (info->last_cmd == KEYID_NEVER)
			seq_printf(m, "%u %u %s - -\n", keyid, info->refs,
				   state);
		else
			seq_printf(m, "%u %u %s %s %s\n", keyid, info->refs,
				   state, mktme_cmd_name(info->last_cmd),
				   mktme_alg_name(info->last_alg));
	}
	mutex_unlock(&pool->lock);
}
