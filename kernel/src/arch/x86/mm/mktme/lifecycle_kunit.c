// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the hardware lifecycle: programming every package or
 * none (a fake topology and a fake PCONFIG, scripted per package), the
 * in-use count across CLEAR_KEY, suspend and kexec refused while keys
 * live, and a failed start undone step by step. This machine has no
 * TME-MK: the hw backend's loop runs here against the fakes, never the
 * real PCONFIG, and the pools are private ones, never the live pool.
 */
#include <kunit/test.h>
#include <linux/notifier.h>
#include <linux/suspend.h>

#include "mktme.h"

#define ALG128		MKTME_ALG_AES_XTS_128
#define BIT128		MKTME_ALG_BIT(ALG128)
#define BOTH		(BIT128 | MKTME_ALG_BIT(MKTME_ALG_AES_XTS_256))
#define CTRL(cmd)	((cmd) | (BIT128 << MKTME_CTRL_ALG_SHIFT))
#define SET_RANDOM	MKTME_KEYID_SET_KEY_RANDOM
#define CLEAR		MKTME_KEYID_CLEAR_KEY
#define NONE		0xffffffffU

/* ---- a fake machine: packages, their lead CPUs, PCONFIG ---------------- */

#define FAKE_PKGS	4
#define FAKE_SCRIPT	4
#define FAKE_CPU0	10	/* lead CPU of package n: FAKE_CPU0 + n */

struct fake_machine {
	unsigned int nr;
	bool offline[FAKE_PKGS];		/* no online CPU */
	int script[FAKE_PKGS][FAKE_SCRIPT];	/* codes of its executions */
	unsigned int execs[FAKE_PKGS];
	u32 table[FAKE_PKGS];			/* keyid_ctrl it took last */
	unsigned int total;
};

static unsigned int fake_nr_packages(void *ctx)
{
	return ((struct fake_machine *)ctx)->nr;
}

static int fake_lead_cpu(void *ctx, unsigned int pkg)
{
	struct fake_machine *m = ctx;

	return m->offline[pkg] ? -1 : FAKE_CPU0 + pkg;
}

static int fake_pconfig(void *ctx, int cpu, const struct mktme_key_program *p)
{
	struct fake_machine *m = ctx;
	unsigned int pkg = cpu - FAKE_CPU0, n;
	int code = 0;

	if (WARN_ON(pkg >= m->nr || m->offline[pkg]))
		return -EINVAL;	/* PCONFIG on a CPU that is not there */
	n = m->execs[pkg]++;
	m->total++;
	if (n < FAKE_SCRIPT)
		code = m->script[pkg][n];
	if (!code)
		m->table[pkg] = p->keyid_ctrl;
	return code;
}

static struct mktme_key_program fake_prog, fake_undo;

static void fake_setup(struct fake_machine *fm, struct mktme_hw_machine *m,
		       unsigned int nr)
{
	unsigned int i;

	memset(fm, 0, sizeof(*fm));
	fm->nr = nr;
	for (i = 0; i < FAKE_PKGS; i++)
		fm->table[i] = NONE;
	m->nr_packages = fake_nr_packages;
	m->lead_cpu = fake_lead_cpu;
	m->pconfig = fake_pconfig;
	m->undo = &fake_undo;
	m->ctx = fm;
	memset(&fake_prog, 0, sizeof(fake_prog));
	fake_prog.keyid = 5;
	fake_prog.keyid_ctrl = CTRL(SET_RANDOM);
}

static void mktme_hw_every_package_test(struct kunit *test)
{
	struct fake_machine fm;
	struct mktme_hw_machine m;
	unsigned int pkg;

	fake_setup(&fm, &m, 3);
	KUNIT_EXPECT_EQ(test, mktme_hw_program_packages(&m, &fake_prog), 0);
	KUNIT_EXPECT_EQ(test, fm.total, 3U);
	for (pkg = 0; pkg < 3; pkg++) {
		KUNIT_EXPECT_EQ(test, fm.execs[pkg], 1U);
		KUNIT_EXPECT_EQ(test, fm.table[pkg], CTRL(SET_RANDOM));
	}
}

/*
 * Issue 9 §4: a package with no online CPU was skipped and success
 * returned, so its key table kept the previous key for the KeyID. Now
 * nothing is programmed anywhere and the caller is told.
 */
static void mktme_hw_offline_package_test(struct kunit *test)
{
	struct fake_machine fm;
	struct mktme_hw_machine m;
	unsigned int off, pkg;

	for (off = 0; off < 3; off++) {
		fake_setup(&fm, &m, 3);
		fm.offline[off] = true;
		KUNIT_EXPECT_EQ_MSG(test,
				    mktme_hw_program_packages(&m, &fake_prog),
				    -ENODEV, "package %u offline", off);
		/* Refused before any package was touched. */
		KUNIT_EXPECT_EQ_MSG(test, fm.total, 0U, "package %u offline",
				    off);
		for (pkg = 0; pkg < 3; pkg++)
			KUNIT_EXPECT_EQ(test, fm.table[pkg], NONE);
	}

	/* CLEAR_KEY too: keyid.c then quarantines the KeyID. */
	fake_setup(&fm, &m, 2);
	fake_prog.keyid_ctrl = CTRL(CLEAR);
	fm.offline[1] = true;
	KUNIT_EXPECT_EQ(test, mktme_hw_program_packages(&m, &fake_prog),
			-ENODEV);
	KUNIT_EXPECT_EQ(test, fm.total, 0U);
}

/* A package fails: those before it go back to CLEAR_KEY, its code returned. */
static void mktme_hw_rollback_test(struct kunit *test)
{
	static const int codes[] = {
		MKTME_ENTROPY_ERROR, MKTME_DEVICE_BUSY, MKTME_INVALID_KEYID,
		-EIO,
	};
	struct fake_machine fm;
	struct mktme_hw_machine m;
	unsigned int fail, pkg, i;

	for (i = 0; i < ARRAY_SIZE(codes); i++) {
		for (fail = 0; fail < 4; fail++) {
			fake_setup(&fm, &m, 4);
			fm.script[fail][0] = codes[i];
			KUNIT_EXPECT_EQ_MSG(test,
				mktme_hw_program_packages(&m, &fake_prog),
				codes[i], "package %u fails", fail);
			for (pkg = 0; pkg < fail; pkg++) {
				/* Programmed, then put back. */
				KUNIT_EXPECT_EQ(test, fm.execs[pkg], 2U);
				KUNIT_EXPECT_EQ(test, fm.table[pkg],
						CTRL(CLEAR));
			}
			KUNIT_EXPECT_EQ(test, fm.execs[fail], 1U);
			KUNIT_EXPECT_EQ(test, fm.table[fail], NONE);
			for (pkg = fail + 1; pkg < 4; pkg++)
				KUNIT_EXPECT_EQ(test, fm.execs[pkg], 0U);
		}
	}

	/* The rollback retries DEVICE_BUSY, as the programmer does. */
	fake_setup(&fm, &m, 2);
	fm.script[1][0] = MKTME_ENTROPY_ERROR;
	fm.script[0][1] = MKTME_DEVICE_BUSY;
	fm.script[0][2] = MKTME_DEVICE_BUSY;
	KUNIT_EXPECT_EQ(test, mktme_hw_program_packages(&m, &fake_prog),
			MKTME_ENTROPY_ERROR);
	KUNIT_EXPECT_EQ(test, fm.execs[0], 4U);
	KUNIT_EXPECT_EQ(test, fm.table[0], CTRL(CLEAR));
	/* The rollback operand never carries the key fields. */
	KUNIT_EXPECT_FALSE(test, memchr_inv(fake_undo.key_field_1, 0,
					    sizeof(fake_undo.key_field_1)));
}

/* ---- the pool: in_use across CLEAR_KEY --------------------------------- */

static struct mktme_keyid_pool *spy_pool;
static int spy_in_use_at_clear;
static int spy_clear_code;

static int spy_program(const struct mktme_backend *b,
		       const struct mktme_key_program *prog)
{
	if ((prog->keyid_ctrl & MKTME_CTRL_CMD_MASK) != CLEAR)
		return MKTME_PROG_SUCCESS;
	/* What the CPU hotplug callbacks would read now, without a lock. */
	spy_in_use_at_clear = atomic_read(&spy_pool->in_use);
	return spy_clear_code;
}

/*
 * Issue 9 §4: in_use dropped before CLEAR_KEY, so a CPU hotplug callback
 * could see no KeyID in use and take a package offline that CLEAR_KEY
 * had not reached yet.
 */
static void mktme_pool_in_use_across_clear_test(struct kunit *test)
{
	struct mktme_backend spy = {
		.name = "spy", .encrypts = true, .nr_keyids = 3,
		.keyid_bits = 2, .algorithms = BOTH, .program = spy_program,
	};
	struct mktme_keyid_pool pool;
	int k;

	KUNIT_ASSERT_EQ(test, mktme_pool_init(&pool, &spy), 0);
	spy_pool = &pool;

	/* CLEAR_KEY succeeds. */
	spy_clear_code = MKTME_PROG_SUCCESS;
	spy_in_use_at_clear = -1;
	k = __mktme_keyid_alloc(&pool);
	KUNIT_ASSERT_GT(test, k, 0);
	__mktme_keyid_put(&pool, k);
	KUNIT_EXPECT_EQ(test, spy_in_use_at_clear, 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool.in_use), 0);

	/* CLEAR_KEY fails: quarantined, and only then out of in_use. */
	spy_clear_code = MKTME_INVALID_ENC_ALG;
	spy_in_use_at_clear = -1;
	k = __mktme_keyid_alloc(&pool);
	KUNIT_ASSERT_GT(test, k, 0);
	__mktme_keyid_put(&pool, k);
	KUNIT_EXPECT_EQ(test, spy_in_use_at_clear, 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool.in_use), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool.nr_quarantined), 1);

	spy_pool = NULL;
	mktme_pool_destroy(&pool);
}

/* ---- suspend to RAM and kexec ------------------------------------------ */

struct freeze_fixture {
	struct mktme_emu emu;
	struct mktme_keyid_pool pool;
};

static struct freeze_fixture *freeze_setup(struct kunit *test, bool encrypts)
{
	struct freeze_fixture *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_ASSERT_EQ(test, mktme_emu_init(&f->emu, 3, BOTH), 0);
	/* The emulated model, standing in for a backend that encrypts. */
	f->emu.backend.encrypts = encrypts;
	KUNIT_ASSERT_EQ(test, mktme_pool_init(&f->pool, &f->emu.backend), 0);
	return f;
}

/* Issue 9 §4: S3 loses the keys; the PM notifier refuses while any live. */
static void mktme_suspend_refused_test(struct kunit *test)
{
	struct freeze_fixture *f = freeze_setup(test, true);
	struct mktme_keyid_pool *pool = &f->pool;
	int k;

	k = __mktme_keyid_alloc(pool);
	KUNIT_ASSERT_GT(test, k, 0);
	KUNIT_EXPECT_EQ(test, __mktme_pm_notify(pool, PM_SUSPEND_PREPARE),
			notifier_from_errno(-EBUSY));
	/* Refused: nothing frozen, keys still handed out. */
	k = __mktme_keyid_alloc(pool);
	KUNIT_EXPECT_GT(test, k, 0);
	__mktme_keyid_put(pool, 1);
	__mktme_keyid_put(pool, 2);

	/* No key: allowed, and no KeyID is handed out until it is over. */
	KUNIT_EXPECT_EQ(test, __mktme_pm_notify(pool, PM_SUSPEND_PREPARE),
			NOTIFY_OK);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), -EBUSY);
	KUNIT_EXPECT_EQ(test, atomic_read(&pool->in_use), 0);
	KUNIT_EXPECT_EQ(test, __mktme_pm_notify(pool, PM_POST_SUSPEND),
			NOTIFY_OK);
	k = __mktme_keyid_alloc(pool);
	KUNIT_EXPECT_GT(test, k, 0);
	__mktme_keyid_put(pool, k);

	/* Other PM events are not ours. */
	KUNIT_EXPECT_EQ(test, __mktme_pm_notify(pool, PM_HIBERNATION_PREPARE),
			NOTIFY_DONE);
	mktme_pool_destroy(pool);
}

/* The emulated key table is kernel memory: S3 and kexec keep it. */
static void mktme_suspend_emulated_test(struct kunit *test)
{
	struct freeze_fixture *f = freeze_setup(test, false);
	struct mktme_keyid_pool *pool = &f->pool;
	int k;

	k = __mktme_keyid_alloc(pool);
	KUNIT_ASSERT_GT(test, k, 0);
	KUNIT_EXPECT_EQ(test, __mktme_pm_notify(pool, PM_SUSPEND_PREPARE),
			NOTIFY_OK);
	KUNIT_EXPECT_EQ(test, __mktme_keyids_freeze(pool, "kexec"), 0);
	/* And nothing is frozen. */
	KUNIT_EXPECT_GT(test, __mktme_keyid_alloc(pool), 0);
	__mktme_pm_notify(pool, PM_POST_SUSPEND);
	__mktme_keyids_thaw(pool);
	mktme_pool_destroy(pool);
}

/* Issue 9 §4: kexec (patch 0015) refused while keys live on hw. */
static void mktme_kexec_refused_test(struct kunit *test)
{
	struct freeze_fixture *f = freeze_setup(test, true);
	struct mktme_keyid_pool *pool = &f->pool;
	int k;

	k = __mktme_keyid_alloc(pool);
	KUNIT_ASSERT_GT(test, k, 0);
	/* Held by a region after its key was revoked: still refused. */
	__mktme_keyid_get(pool, k);
	__mktme_keyid_put(pool, k);
	KUNIT_EXPECT_EQ(test, __mktme_keyids_freeze(pool, "kexec"), -EBUSY);
	KUNIT_EXPECT_NULL(test, pool->frozen);
	__mktme_keyid_put(pool, k);

	/* No KeyID in use: allowed, and none handed out from then on. */
	KUNIT_EXPECT_EQ(test, __mktme_keyids_freeze(pool, "kexec"), 0);
	KUNIT_EXPECT_EQ(test, __mktme_keyid_alloc(pool), -EBUSY);
	/* kexec returned (KEXEC_JUMP) or failed later. */
	__mktme_keyids_thaw(pool);
	k = __mktme_keyid_alloc(pool);
	KUNIT_EXPECT_GT(test, k, 0);
	__mktme_keyid_put(pool, k);
	mktme_pool_destroy(pool);
}

/* ---- a failed start is undone ------------------------------------------ */

#define FAKE_STEPS	7

static unsigned long step_state;	/* bit n: step n done, not undone */
static int step_fail_at;
static int step_undone[FAKE_STEPS];
static unsigned int step_nr_undone;

static int fake_step_start(unsigned int n)
{
	if (n == step_fail_at)
		return -ENOMEM;
	__set_bit(n, &step_state);
	return 0;
}

static void fake_step_undo(unsigned int n)
{
	/* Only what was done, once, and the latest first. */
	if (WARN_ON(!test_bit(n, &step_state) ||
		    find_last_bit(&step_state, BITS_PER_LONG) != n))
		return;
	__clear_bit(n, &step_state);
	step_undone[step_nr_undone++] = n;
}

#define FAKE_STEP(n)							\
static int fake_start_##n(const struct mktme_backend *b)		\
{									\
	return fake_step_start(n);					\
}									\
static void fake_undo_##n(const struct mktme_backend *b)		\
{									\
	fake_step_undo(n);						\
}
FAKE_STEP(0)
FAKE_STEP(1)
FAKE_STEP(2)
FAKE_STEP(3)
FAKE_STEP(4)
FAKE_STEP(5)
FAKE_STEP(6)

/* The shape of core.c's mktme_start_steps[]: the last undoes itself. */
static const struct mktme_start_step fake_steps[FAKE_STEPS] = {
	{ "KeyID pool", fake_start_0, fake_undo_0 },
	{ "PTE KeyID field (physical_mask)", fake_start_1, fake_undo_1 },
	{ "backend start (CPU hotplug callbacks)", fake_start_2, fake_undo_2 },
	{ "PM notifier", fake_start_3, fake_undo_3 },
	{ "publishing the backend", fake_start_4, fake_undo_4 },
	{ "key type", fake_start_5, fake_undo_5 },
	{ "/dev/mktme", fake_start_6, NULL },
};

/* Issue 9 §4: a failure at each step undoes every step before it. */
static void mktme_start_undo_test(struct kunit *test)
{
	const struct mktme_backend b = { .name = "fake" };
	int fail, i;

	for (fail = 0; fail < FAKE_STEPS; fail++) {
		step_state = 0;
		step_fail_at = fail;
		step_nr_undone = 0;
		KUNIT_EXPECT_EQ_MSG(test,
				    mktme_run_steps(fake_steps, FAKE_STEPS, &b),
				    -ENOMEM, "failing %s", fake_steps[fail].what);
		KUNIT_EXPECT_EQ_MSG(test, step_state, 0UL,
				    "failing %s left steps done",
				    fake_steps[fail].what);
		KUNIT_EXPECT_EQ_MSG(test, step_nr_undone, (unsigned int)fail,
				    "failing %s", fake_steps[fail].what);
		for (i = 0; i < fail && i < step_nr_undone; i++)
			KUNIT_EXPECT_EQ(test, step_undone[i], fail - 1 - i);
	}

	/* No failure: every step done, nothing undone. */
	step_state = 0;
	step_fail_at = -1;
	step_nr_undone = 0;
	KUNIT_EXPECT_EQ(test, mktme_run_steps(fake_steps, FAKE_STEPS, &b), 0);
	KUNIT_EXPECT_EQ(test, step_state, (1UL << FAKE_STEPS) - 1);
	KUNIT_EXPECT_EQ(test, step_nr_undone, 0U);
}

static struct kunit_case mktme_lifecycle_cases[] = {
	KUNIT_CASE(mktme_hw_every_package_test),
	KUNIT_CASE(mktme_hw_offline_package_test),
	KUNIT_CASE(mktme_hw_rollback_test),
	KUNIT_CASE(mktme_pool_in_use_across_clear_test),
	KUNIT_CASE(mktme_suspend_refused_test),
	KUNIT_CASE(mktme_suspend_emulated_test),
	KUNIT_CASE(mktme_kexec_refused_test),
	KUNIT_CASE(mktme_start_undo_test),
	{}
};

static struct kunit_suite mktme_lifecycle_suite = {
	.name = "mktme_lifecycle",
	.test_cases = mktme_lifecycle_cases,
};

kunit_test_suites(&mktme_lifecycle_suite);
