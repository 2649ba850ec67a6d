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
 * CLEAR_KEY. References are taken and dropped in process context only,
 * under the mutex; they are refcount_t for its checks (a get on a KeyID
 * nobody holds is a use after free). in_use is atomic only so that
 * mktme_active() can be read from CPU hotplug and PM callbacks without
 * taking the mutex (which nests outside cpus_read_lock() in the hw backend).
 *
 * Per-user limit. The key quota (kernel.keys.maxkeys, 200 keys for a user
 * other than root) is far above the number of KeyIDs a part has, so one
 * user could take them all. Each KeyID is charged, from its allocation to
 * its return to the pool, to the user its key was created for (key->uid,
 * the creator's fsuid, which the key quota charges too), and a user may
 * hold at most kernel.keys.mktme_maxkeyids of them (root:
 * kernel.keys.mktme_root_maxkeyids); beyond it, -EDQUOT. The charge stays
 * with that user while regions keep the KeyID after its key is gone, and
 * does not follow keyctl chown (CAP_SYS_ADMIN only): uncharging always
 * goes to the user that was charged. Counts are kept in an xarray indexed
 * by kuid, under the pool mutex.
 */
#define pr_fmt(fmt) "mktme: " fmt

#include <linux/bitmap.h>
#include <linux/cred.h>
#include <linux/errno.h>
#include <linux/mktme.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/suspend.h>
#include <linux/sysctl.h>
#include <linux/uidgid.h>

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
	/* Non-root: a quarter of the KeyIDs, at least one; root: all. */
	pool->max_user = max(1U, n / 4);
	pool->max_root = n;
	mutex_init(&pool->lock);
	xa_init(&pool->users);
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
	xa_destroy(&pool->users);
	pool->busy = NULL;
	pool->quarantined = NULL;
	pool->info = NULL;
	pool->backend = NULL;
}

/* CLEAR_KEY needs a valid, activated algorithm bit too (program.c). */
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

static unsigned long mktme_user_count(struct mktme_keyid_pool *pool,
				     kuid_t uid)
{
	void *entry;

	lockdep_assert_held(&pool->lock);
	entry = xa_load(&pool->users, __kuid_val(uid));
	return entry ? xa_to_value(entry) : 0;
}

unsigned int mktme_user_limit(struct mktme_keyid_pool *pool, kuid_t uid)
{
	return uid_eq(uid, GLOBAL_ROOT_UID) ? READ_ONCE(pool->max_root) :
					      READ_ONCE(pool->max_user);
}

/* One more KeyID for @uid, or -EDQUOT at its limit (-ENOMEM). */
static int mktme_user_charge(struct mktme_keyid_pool *pool, kuid_t uid)
{
	unsigned long n = mktme_user_count(pool, uid);
	unsigned int limit = mktme_user_limit(pool, uid);

	/* A limit of every KeyID is none: exhaustion says -ENOKEY. */
	if (limit < pool->nr_keyids && n >= limit) {
		pr_notice_ratelimited("uid %u holds %lu KeyIDs, its limit (kernel.keys.%s = %u): no KeyID handed out\n",
				      from_kuid(&init_user_ns, uid), n,
				      uid_eq(uid, GLOBAL_ROOT_UID) ?
				      "mktme_root_maxkeyids" : "mktme_maxkeyids",
				      limit);
		return -EDQUOT;
	}
	return xa_err(xa_store(&pool->users, __kuid_val(uid),
			       xa_mk_value(n + 1), GFP_KERNEL));
}

static void mktme_user_uncharge(struct mktme_keyid_pool *pool, kuid_t uid)
{
	unsigned long n = mktme_user_count(pool, uid);

	if (WARN_ON_ONCE(!n))
		return;
	/* Replacing an entry allocates nothing: this cannot fail. */
	if (n == 1)
		xa_erase(&pool->users, __kuid_val(uid));
	else
		xa_store(&pool->users, __kuid_val(uid), xa_mk_value(n - 1),
			 GFP_KERNEL);
}

unsigned int __mktme_user_keyids(struct mktme_keyid_pool *pool, kuid_t uid)
{
	unsigned int n;

	mutex_lock(&pool->lock);
	n = mktme_user_count(pool, uid);
	mutex_unlock(&pool->lock);
	return n;
}

int __mktme_keyid_alloc_user(struct mktme_keyid_pool *pool, kuid_t uid)
{
	unsigned int keyid;
	int ret;

	if (!pool->backend)
		return -ENODEV;

	mutex_lock(&pool->lock);
	if (pool->frozen) {
		pr_notice_ratelimited("no KeyID handed out: %s is under way, and the %s backend's keys would not survive it\n",
				      pool->frozen, pool->backend->name);
		mutex_unlock(&pool->lock);
		return -EBUSY;
	}
	/* The user's limit first: over it, nothing is taken or programmed. */
	ret = mktme_user_charge(pool, uid);
	if (ret) {
		mutex_unlock(&pool->lock);
		return ret;
	}
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
		mktme_user_uncharge(pool, uid);
		mutex_unlock(&pool->lock);
		return -ENOKEY;
	}
	__set_bit(keyid, pool->busy);
found:
	refcount_set(&pool->info[keyid].refs, 1);
	pool->info[keyid].uid = uid;
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
	WARN_ON_ONCE(!refcount_inc_not_zero(&pool->info[keyid].refs));
	mutex_unlock(&pool->lock);
}

void __mktme_keyid_put(struct mktme_keyid_pool *pool, unsigned int keyid)
{
	might_sleep();
	if (WARN_ON_ONCE(!keyid || keyid > pool->nr_keyids))
		return;
	mutex_lock(&pool->lock);
	if (WARN_ON_ONCE(!refcount_read(&pool->info[keyid].refs)))
		goto out;
	if (!refcount_dec_and_test(&pool->info[keyid].refs))
		goto out;

	/* Nobody holds it: whatever becomes of it, its user is free of it. */
	mktme_user_uncharge(pool, pool->info[keyid].uid);
	/*
	 * The last holder is gone and no page carries the KeyID any more
	 * (every region holds a reference until its last page is freed):
	 * forget the key before anyone else can get this KeyID.
	 *
	 * in_use drops only after CLEAR_KEY: until then the key is still in
	 * the key tables, and the lockless readers of in_use (mktme_busy()
	 * from the CPU hotplug callbacks) must keep refusing to take a
	 * package offline, or CLEAR_KEY could miss that package.
	 */
	if (mktme_keyid_clear(pool, keyid)) {
		__set_bit(keyid, pool->quarantined);
		atomic_inc(&pool->nr_quarantined);
		atomic_dec(&pool->in_use);
		pr_warn("KeyID %u: CLEAR_KEY failed, quarantined\n", keyid);
		goto out;	/* stays busy: not handed out */
	}
	atomic_dec(&pool->in_use);
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
	if (WARN_ON_ONCE(!refcount_read(&pool->info[keyid].refs))) {
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

/*
 * Suspend to RAM and kexec, on a backend that encrypts.
 *
 * S3: the TME-MK key tables are in the processor, which loses power in S3.
 * The Intel Architecture Memory Encryption Technologies Specification (rev.
 * 1.4, 336907-004, IA32_TME_ACTIVATE: "key select", "save TME key for
 * standby") provides for saving and restoring the TME key (KeyID 0) across
 * standby, and says nothing of the sort for TME-MK KeyIDs; we could not
 * verify what a part does with them, so we take them as lost, and the
 * kernel cannot program them again (it keeps no key bytes). So suspend is
 * refused while any KeyID is in use.
 *
 * kexec: 6.12 writes back and invalidates caches (WBINVD) on the way into
 * the new kernel only when SME is active (arch/x86/kernel/
 * machine_kexec_64.c: host_mem_enc_active; relocate_kernel_64.S), not for
 * TME-MK. Dirty lines written through a KeyID could then be written back
 * over memory the new kernel already uses, with the old key, and the key
 * tables would keep the tenants' keys. Pages leave regions flushed
 * (alias.c), so with no KeyID in use neither can happen: kexec is refused
 * while any KeyID is in use (kernel/kexec_core.c, patch 0015).
 *
 * In both cases, once allowed, no KeyID is handed out until the transition
 * is over (thaw), so that nothing programs a key between the check and the
 * point where no task runs any more. The emulated key table is kernel
 * memory and caches hold no KeyIDs: nothing is refused or frozen there.
 */
int __mktme_keyids_freeze(struct mktme_keyid_pool *pool, const char *what)
{
	int ret = 0;

	if (!pool->backend || !pool->backend->encrypts)
		return 0;
	mutex_lock(&pool->lock);
	if (atomic_read(&pool->in_use)) {
		pr_notice("%s refused: %d KeyIDs hold keys that the %s backend would not keep; nothing changed\n",
			  what, atomic_read(&pool->in_use), pool->backend->name);
		ret = -EBUSY;
	} else {
		pool->frozen = what;
	}
	mutex_unlock(&pool->lock);
	return ret;
}

void __mktme_keyids_thaw(struct mktme_keyid_pool *pool)
{
	if (!pool->backend)
		return;
	mutex_lock(&pool->lock);
	pool->frozen = NULL;
	mutex_unlock(&pool->lock);
}

/*
 * PM_SUSPEND_PREPARE comes before tasks are frozen; PM_POST_SUSPEND follows
 * it whether suspend happened or another notifier refused it (kernel/power/
 * suspend.c, suspend_prepare(): pm_notifier_call_chain_robust()); when we
 * refuse, we get no PM_POST_SUSPEND, and have frozen nothing.
 */
int __mktme_pm_notify(struct mktme_keyid_pool *pool, unsigned long action)
{
	switch (action) {
	case PM_SUSPEND_PREPARE:
		return notifier_from_errno(__mktme_keyids_freeze(pool,
							"suspend to RAM"));
	case PM_POST_SUSPEND:
		__mktme_keyids_thaw(pool);
		return NOTIFY_OK;
	}
	return NOTIFY_DONE;
}

/* The live pool, set up by core.c for the selected backend. */
static struct mktme_keyid_pool mktme_pool;

/*
 * kernel.keys.mktme_maxkeyids and kernel.keys.mktme_root_maxkeyids, next to
 * the key quotas (kernel.keys.maxkeys, root_maxkeys): 0 to nr_keyids.
 * Lowering a limit takes no KeyID away; it refuses the next ones.
 */
static struct ctl_table mktme_keyid_sysctls[] = {
	{
		.procname	= "mktme_maxkeyids",
		.data		= &mktme_pool.max_user,
		.maxlen		= sizeof(unsigned int),
		.mode		= 0644,
		.proc_handler	= proc_douintvec_minmax,
		.extra1		= SYSCTL_ZERO,
		.extra2		= &mktme_pool.nr_keyids,
	},
	{
		.procname	= "mktme_root_maxkeyids",
		.data		= &mktme_pool.max_root,
		.maxlen		= sizeof(unsigned int),
		.mode		= 0644,
		.proc_handler	= proc_douintvec_minmax,
		.extra1		= SYSCTL_ZERO,
		.extra2		= &mktme_pool.nr_keyids,
	},
};

static struct ctl_table_header *mktme_keyid_sysctl_header;

int mktme_keyids_init(const struct mktme_backend *b)
{
	int ret = mktme_pool_init(&mktme_pool, b);

	if (ret)
		return ret;
	/* Without the files the defaults still hold: fail closed, not off. */
	mktme_keyid_sysctl_header = register_sysctl("kernel/keys",
						    mktme_keyid_sysctls);
	if (!mktme_keyid_sysctl_header)
		pr_warn("kernel.keys.mktme_*maxkeyids: not registered; defaults %u (root %u)\n",
			mktme_pool.max_user, mktme_pool.max_root);
	return 0;
}

/* A later step of mktme_start() failed: no KeyID was handed out. */
void mktme_keyids_exit(const struct mktme_backend *b)
{
	unregister_sysctl_table(mktme_keyid_sysctl_header);
	mktme_keyid_sysctl_header = NULL;
	mktme_pool_destroy(&mktme_pool);
}

static int mktme_pm_notify(struct notifier_block *nb, unsigned long action,
			   void *unused)
{
	return __mktme_pm_notify(&mktme_pool, action);
}

static struct notifier_block mktme_pm_nb = {
	.notifier_call = mktme_pm_notify,
};

int mktme_pm_init(const struct mktme_backend *b)
{
	return register_pm_notifier(&mktme_pm_nb);
}

void mktme_pm_exit(const struct mktme_backend *b)
{
	unregister_pm_notifier(&mktme_pm_nb);
}

int mktme_kexec_prepare(void)
{
	return __mktme_keyids_freeze(&mktme_pool, "kexec");
}

void mktme_kexec_finish(void)
{
	__mktme_keyids_thaw(&mktme_pool);
}

int mktme_keyid_alloc(kuid_t uid)
{
	return __mktme_keyid_alloc_user(&mktme_pool, uid);
}

unsigned int mktme_user_keyids(kuid_t uid)
{
	return __mktme_user_keyids(&mktme_pool, uid);
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

enum mktme_busy mktme_busy(void)
{
	if (atomic_long_read(&mktme_pages_mapped))
		return MKTME_BUSY_PAGES;
	/*
	 * The emulated key table is kernel memory: it is in a hibernation
	 * image and survives anything a CPU does. A hardware key table is
	 * not, and keys are not kept to be programmed again.
	 */
	if (mktme_pool.backend && mktme_pool.backend->encrypts &&
	    atomic_read(&mktme_pool.in_use))
		return MKTME_BUSY_KEYS;
	return MKTME_IDLE;
}

bool mktme_active(void)
{
	return mktme_busy() != MKTME_IDLE;
}

void mktme_report_busy(const char *what)
{
	switch (mktme_busy()) {
	case MKTME_BUSY_PAGES:
		pr_notice_ratelimited("%s refused: %ld pages of /dev/mktme regions exist\n",
				      what, atomic_long_read(&mktme_pages_mapped));
		break;
	case MKTME_BUSY_KEYS:
		pr_notice_ratelimited("%s refused: %d KeyIDs hold live keys that the %s backend would lose and cannot program again\n",
				      what, atomic_read(&mktme_pool.in_use),
				      mktme_pool.backend->name);
		break;
	case MKTME_IDLE:
		break;
	}
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
			seq_printf(m, "%u %u %s - -\n", keyid,
				   refcount_read(&info->refs), state);
		else
			seq_printf(m, "%u %u %s %s %s\n", keyid,
				   refcount_read(&info->refs),
				   state, mktme_cmd_name(info->last_cmd),
				   mktme_alg_name(info->last_alg));
	}
	mutex_unlock(&pool->lock);
}
