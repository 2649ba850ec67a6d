// SPDX-License-Identifier: GPL-2.0
/*
 * The decision, from bpf/mktme_policy.h: the same code the LSM programs run
 * (they cannot be BPF_PROG_TEST_RUN), here over compiled policies. Cgroup
 * ids come from the HOST-SIMULATED tree (policy_test.h); the subject is
 * built as the programs build it, nearest cgroup first.
 */
#include <stdint.h>

/* The live-key counts, as mktme_live holds them. */
static struct {
	uint64_t cgid;
	uint64_t count;
} live[64];
static int live_full;	/* simulate a full mktme_live */

static uint64_t live_add(uint64_t cgid)
{
	for (int i = 0; i < 64; i++) {
		if (live[i].cgid == cgid || (!live[i].cgid && !live_full)) {
			live[i].cgid = cgid;
			return live[i].count++;
		}
	}
	return ~0ULL;
}

static void live_sub(uint64_t cgid)
{
	for (int i = 0; i < 64; i++)
		if (live[i].cgid == cgid && live[i].count)
			live[i].count--;
}

static uint64_t live_of(uint64_t cgid)
{
	for (int i = 0; i < 64; i++)
		if (live[i].cgid == cgid)
			return live[i].count;
	return 0;
}

#include "policy_test.h"

#define MKTME_LOOKUP_BUCKET(map, key) test_bucket((const struct compiled *)(map), (key))
#define MKTME_LOOKUP_CGROUP(map, cgid) compiled_cgroup((const struct compiled *)(map), (cgid))
#define MKTME_CHARGE(map, cgid) ((void)(map), live_add(cgid))
#define MKTME_UNCHARGE(map, cgid) ((void)(map), live_sub(cgid))
#include "mktme_policy.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <linux/mktme.h>

TestSuite(decide, .init = test_tree, .fini = test_tree_remove);

static struct policy P;
static struct compiled C;

static void load(const char *yaml)
{
	assert_ok(yaml, &P, &C);
}

/*
 * A task in @cg, as fill_subject() in bpf/mktme_policy.bpf.c sees it: its
 * ancestors at levels 0..MKTME_MAX_DEPTH - 1 (bpf_get_current_ancestor_cgroup_id()
 * of each level), nearest first. A task deeper than that is seen from its
 * ancestor at level MKTME_MAX_DEPTH - 1.
 */
static struct mktme_pol_subject subject(const char *cg)
{
	struct mktme_pol_subject s;
	uint64_t chain[64];	/* nearest first, down to the root */
	int n = 0, skip;
	char path[512];

	memset(&s, 0, sizeof(s));
	snprintf(path, sizeof(path), "%s", cg);
	for (;;) {
		cr_assert_lt(n, 64);
		chain[n++] = test_cgid(path);
		if (!strcmp(path, "/"))
			break;
		char *slash = strrchr(path, '/');
		if (slash == path)
			path[1] = '\0';
		else
			*slash = '\0';
	}
	skip = n > MKTME_MAX_DEPTH ? n - MKTME_MAX_DEPTH : 0;
	for (int i = skip; i < n; i++)
		s.o.cgids[s.o.depth++] = chain[i];
	s.uid = 1000;
	s.o.type = MKTME_KEY_TYPE_CPU;
	s.o.alg = MKTME_ALG_AES_XTS_128;
	/* As at create: the key is the task's own. */
	s.owner_levels = s.o.depth;
	return s;
}

/* A key created by a task in @cg, as bind and mmap by @s see it. */
static void key_from(struct mktme_pol_subject *s, const char *cg)
{
	struct mktme_pol_subject creator = subject(cg);

	s->owner_levels = mktme_owner_levels(&creator.o, &s->o);
}

static struct mktme_pol_decision decide(const struct mktme_pol_subject *s, const char *name,
					uint32_t op)
{
	struct mktme_pol_rule_key kname, kwild;
	struct mktme_pol_decision d;
	const struct mktme_pol_meta *meta = compiled_meta(&C);
	bool name_ok = strlen(name) < MKTME_NAME_LEN;

	cr_assert_not_null(meta);
	memset(&kname, 0, sizeof(kname));
	memset(&kwild, 0, sizeof(kwild));
	if (name_ok)
		strcpy(kname.name, name);
	kwild.name[0] = '*';
	mktme_decide(&C, meta, s, &kname, &kwild, name_ok, op, &d);
	return d;
}

#define assert_decision(s, name, op, want_verdict, want_rule)                        \
	do {                                                                         \
		struct mktme_pol_decision d_ = decide((s), (name), (op));            \
		cr_assert_eq(d_.verdict, (want_verdict), "%s op %d: verdict %d, rule %u", \
			     (name), (op), d_.verdict, d_.rule_id);                  \
		cr_assert_eq(d_.rule_id, (want_rule), "%s op %d: rule %u, want %u",  \
			     (name), (op), d_.rule_id, (want_rule));                 \
	} while (0)

#define TWO_TENANTS                                                                  \
	"version: 1\ndefault: deny\nrules:\n"                                        \
	"  - {cgroup: /tenants/a, keys: [ka], verdict: allow}\n"                     \
	"  - {cgroup: /tenants/b, keys: [kb], verdict: allow}\n"

Test(decide, tenants_own_key_only)
{
	load(TWO_TENANTS);
	struct mktme_pol_subject a = subject("/tenants/a"), b = subject("/tenants/b");

	for (uint32_t op = 0; op < MKTME_NR_OPS; op++) {
		assert_decision(&a, "ka", op, MKTME_ALLOW, 1);
		assert_decision(&a, "kb", op, MKTME_DENY, 0);
		assert_decision(&b, "kb", op, MKTME_ALLOW, 2);
		assert_decision(&b, "ka", op, MKTME_DENY, 0);
	}
	struct mktme_pol_decision d = decide(&a, "kb", MKTME_OP_BIND);
	cr_assert_eq(d.reason, MKTME_REASON_DEFAULT);
	d = decide(&a, "ka", MKTME_OP_BIND);
	cr_assert_eq(d.reason, MKTME_REASON_RULE);
	cr_assert_eq(d.rule_cgid, test_cgid("/tenants/a"));
}

Test(decide, descendants_inherit)
{
	load(TWO_TENANTS);
	struct mktme_pol_subject s = subject("/tenants/a/job/step");

	assert_decision(&s, "ka", MKTME_OP_MMAP, MKTME_ALLOW, 1);
	assert_decision(&s, "kb", MKTME_OP_MMAP, MKTME_DENY, 0);
}

Test(decide, nearest_ancestor_wins)
{
	load("version: 1\ndefault: allow\nrules:\n"
	     "  - {cgroup: /tenants, keys: [\"*\"], verdict: deny}\n"
	     "  - {cgroup: /tenants/a, keys: [ka], verdict: allow}\n"
	     "  - {cgroup: /tenants/a/job, keys: [ka], verdict: deny}\n");
	struct mktme_pol_subject a = subject("/tenants/a"), job = subject("/tenants/a/job/step"),
				 b = subject("/tenants/b"), vm = subject("/vm");

	assert_decision(&a, "ka", MKTME_OP_BIND, MKTME_ALLOW, 2);
	assert_decision(&job, "ka", MKTME_OP_BIND, MKTME_DENY, 3);
	/* /tenants/a has no rule for "other": its parent decides. */
	assert_decision(&a, "other", MKTME_OP_BIND, MKTME_DENY, 1);
	assert_decision(&b, "ka", MKTME_OP_BIND, MKTME_DENY, 1);
	assert_decision(&vm, "ka", MKTME_OP_BIND, MKTME_ALLOW, 0);
}

Test(decide, root_rules_apply_everywhere)
{
	load("version: 1\ndefault: allow\nrules:\n  - {cgroup: /, keys: [secret], verdict: deny}\n");
	struct mktme_pol_subject s = subject("/tenants/a/job"), r = subject("/");

	assert_decision(&s, "secret", MKTME_OP_CREATE, MKTME_DENY, 1);
	assert_decision(&r, "secret", MKTME_OP_CREATE, MKTME_DENY, 1);
	assert_decision(&s, "public", MKTME_OP_CREATE, MKTME_ALLOW, 0);
}

Test(decide, default_verdict)
{
	load("version: 1\ndefault: allow\n");
	struct mktme_pol_subject s = subject("/vm");

	assert_decision(&s, "k", MKTME_OP_CREATE, MKTME_ALLOW, 0);
	policy_free(&P);
	compiled_free(&C);
	load("version: 1\n");
	assert_decision(&s, "k", MKTME_OP_CREATE, MKTME_DENY, 0);
}

Test(decide, operations)
{
	load("version: 1\ndefault: deny\nrules:\n"
	     "  - {cgroup: /machines, keys: [\"*\"], operations: [mmap], verdict: allow}\n");
	struct mktme_pol_subject s = subject("/machines");

	assert_decision(&s, "k", MKTME_OP_MMAP, MKTME_ALLOW, 1);
	assert_decision(&s, "k", MKTME_OP_BIND, MKTME_DENY, 0);
	assert_decision(&s, "k", MKTME_OP_CREATE, MKTME_DENY, 0);
}

Test(decide, exe_and_uid)
{
	load("version: 1\ndefault: allow\nrules:\n"
	     "  - {cgroup: /vm, exe: /bin/sh, uid: 107, keys: [\"*\"], verdict: allow}\n"
	     "  - {cgroup: /vm, uid: 107, keys: [\"*\"], operations: [create], verdict: deny}\n"
	     "  - {cgroup: /vm, keys: [vm-key], verdict: deny}\n");
	struct mktme_pol_subject vmm = subject("/vm"), other = subject("/vm");

	vmm.uid = 107;
	vmm.exe_known = 1;
	vmm.exe_dev = P.rules[0].exe_dev;
	vmm.exe_ino = P.rules[0].exe_ino;
	other.exe_known = 1;
	/* Subject before object: the VMM's "*" beats everyone's exact name. */
	assert_decision(&vmm, "vm-key", MKTME_OP_CREATE, MKTME_ALLOW, 1);
	assert_decision(&other, "vm-key", MKTME_OP_CREATE, MKTME_DENY, 3);
	assert_decision(&other, "else", MKTME_OP_CREATE, MKTME_ALLOW, 0);
	other.uid = 107;
	assert_decision(&other, "else", MKTME_OP_CREATE, MKTME_DENY, 2);
	assert_decision(&other, "else", MKTME_OP_MMAP, MKTME_ALLOW, 0);
	/* Same uid, another binary (another inode on the same device). */
	vmm.exe_ino++;
	assert_decision(&vmm, "vm-key", MKTME_OP_CREATE, MKTME_DENY, 2);
	/* Same inode number on another device. */
	vmm.exe_ino--;
	vmm.exe_dev ^= 1;
	assert_decision(&vmm, "vm-key", MKTME_OP_MMAP, MKTME_DENY, 3);
}

Test(decide, wildcard_and_exact)
{
	load("version: 1\ndefault: allow\nrules:\n"
	     "  - {cgroup: /vm, keys: [\"*\"], verdict: deny}\n"
	     "  - {cgroup: /vm, keys: [mine], verdict: allow}\n");
	struct mktme_pol_subject s = subject("/vm");

	assert_decision(&s, "mine", MKTME_OP_BIND, MKTME_ALLOW, 2);
	assert_decision(&s, "yours", MKTME_OP_BIND, MKTME_DENY, 1);
}

Test(decide, long_names_match_only_the_wildcard)
{
	char longname[100];

	memset(longname, 'x', 99);
	longname[99] = '\0';
	load("version: 1\ndefault: allow\nrules:\n"
	     "  - {cgroup: /vm, keys: [\"*\"], operations: [bind], verdict: deny}\n"
	     "  - {cgroup: /vm, keys: [xxx], verdict: allow}\n");
	struct mktme_pol_subject s = subject("/vm");

	assert_decision(&s, longname, MKTME_OP_BIND, MKTME_DENY, 1);
	assert_decision(&s, longname, MKTME_OP_MMAP, MKTME_ALLOW, 0);
}

Test(decide, key_types_and_algorithms)
{
	load("version: 1\ndefault: deny\nrules:\n"
	     "  - {cgroup: /vm, keys: [\"*\"], key_types: [cpu], algorithms: [aes-xts-256], verdict: allow}\n");
	struct mktme_pol_subject s = subject("/vm");

	s.o.alg = MKTME_ALG_AES_XTS_256;
	assert_decision(&s, "k", MKTME_OP_CREATE, MKTME_ALLOW, 1);
	s.o.type = MKTME_KEY_TYPE_USER;
	assert_decision(&s, "k", MKTME_OP_CREATE, MKTME_DENY, 0);
	s.o.type = MKTME_KEY_TYPE_CPU;
	s.o.alg = MKTME_ALG_AES_XTS_128;
	assert_decision(&s, "k", MKTME_OP_CREATE, MKTME_DENY, 0);
	/* A key of unknown type or algorithm is never allowed by a rule that filters on them. */
	s.o.type = s.o.alg = MKTME_TYPE_UNKNOWN;
	assert_decision(&s, "k", MKTME_OP_MMAP, MKTME_DENY, 0);
}

/*
 * Fail closed: a key whose type or algorithm is unknown matches every deny
 * rule that filters on them (default allow, so a miss would show as allow).
 */
Test(decide, unknown_type_or_algorithm_matches_deny_rules)
{
	load("version: 1\ndefault: allow\nrules:\n"
	     "  - {cgroup: /vm, keys: [\"*\"], key_types: [no-encrypt], verdict: deny}\n"
	     "  - {cgroup: /machines, keys: [\"*\"], algorithms: [aes-xts-128], verdict: deny}\n");
	struct mktme_pol_subject s = subject("/vm");

	s.o.type = MKTME_KEY_TYPE_CPU;
	assert_decision(&s, "k", MKTME_OP_BIND, MKTME_ALLOW, 0);
	s.o.type = MKTME_KEY_TYPE_NO_ENCRYPT;
	assert_decision(&s, "k", MKTME_OP_BIND, MKTME_DENY, 1);
	s.o.type = MKTME_TYPE_UNKNOWN;
	assert_decision(&s, "k", MKTME_OP_BIND, MKTME_DENY, 1);
	s = subject("/machines");
	s.o.alg = MKTME_ALG_AES_XTS_256;
	assert_decision(&s, "k", MKTME_OP_MMAP, MKTME_ALLOW, 0);
	s.o.alg = MKTME_TYPE_UNKNOWN;
	assert_decision(&s, "k", MKTME_OP_MMAP, MKTME_DENY, 2);
}

Test(decide, audit_mode_never_denies)
{
	load("version: 1\nmode: audit\ndefault: deny\nrules:\n"
	     "  - {cgroup: /tenants/a, keys: [ka], verdict: allow}\n"
	     "  - {cgroup: /tenants/b, keys: [ka], verdict: deny}\n");
	const struct mktme_pol_meta *m = compiled_meta(&C);
	struct mktme_pol_subject a = subject("/tenants/a"), b = subject("/tenants/b"),
				 vm = subject("/vm");
	struct mktme_pol_decision d;

	d = decide(&b, "ka", MKTME_OP_MMAP);
	cr_assert_eq(d.verdict, MKTME_DENY, "the decision is still taken (and logged)");
	cr_assert_eq(d.rule_id, 2);
	cr_assert_eq(mktme_hook_ret(m->mode, &d), 0);
	d = decide(&vm, "ka", MKTME_OP_MMAP);
	cr_assert_eq(d.verdict, MKTME_DENY);
	cr_assert_eq(mktme_hook_ret(m->mode, &d), 0);
	d = decide(&a, "ka", MKTME_OP_MMAP);
	cr_assert_eq(mktme_hook_ret(m->mode, &d), 0);
}

Test(decide, enforce_mode_returns_eperm)
{
	load(TWO_TENANTS);
	struct mktme_pol_subject a = subject("/tenants/a");
	struct mktme_pol_decision d = decide(&a, "kb", MKTME_OP_CREATE);

	cr_assert_eq(mktme_hook_ret(compiled_meta(&C)->mode, &d), -EPERM);
	d = decide(&a, "ka", MKTME_OP_CREATE);
	cr_assert_eq(mktme_hook_ret(compiled_meta(&C)->mode, &d), 0);
}

/* ---- live-key limits ---------------------------------------------------- */

static int charge(const struct mktme_pol_subject *s)
{
	return mktme_charge(&C, NULL, s);
}

Test(decide, quota_per_cgroup)
{
	load("version: 1\ndefault: allow\nlimits:\n  - {cgroup: /tenants/a, max_live_keys: 2}\n");
	struct mktme_pol_subject a = subject("/tenants/a/job"), b = subject("/tenants/b");

	cr_assert_eq(charge(&a), -1);
	cr_assert_eq(charge(&a), -1);
	cr_assert_eq(charge(&a), 1, "the third key: the limit at level 1 (/tenants/a)");
	mktme_uncharge(NULL, &a.o);	/* refused: the program undoes the charge */
	cr_assert_eq(live_of(test_cgid("/tenants/a")), 2);
	cr_assert_eq(charge(&b), -1, "other cgroups are not limited");
	mktme_uncharge(NULL, &a.o);	/* key_free of one of a's keys */
	cr_assert_eq(charge(&a), -1, "room again after key_free");
}

Test(decide, quota_is_hierarchical)
{
	load("version: 1\ndefault: allow\nlimits:\n"
	     "  - {cgroup: /tenants, max_live_keys: 3}\n"
	     "  - {cgroup: /tenants/a, max_live_keys: 2}\n");
	struct mktme_pol_subject a = subject("/tenants/a"), b = subject("/tenants/b");

	cr_assert_eq(charge(&a), -1);
	cr_assert_eq(charge(&a), -1);
	cr_assert_eq(charge(&b), -1);
	cr_assert_eq(charge(&b), 1, "/tenants (level 1 for b) is full");
	mktme_uncharge(NULL, &b.o);
	cr_assert_eq(live_of(test_cgid("/tenants")), 3);
	cr_assert_eq(live_of(test_cgid("/")), 3, "the root counts too");
}

Test(decide, quota_zero_and_counts_survive_reload)
{
	struct mktme_pol_subject a = subject("/tenants/a");

	load("version: 1\ndefault: allow\n");
	cr_assert_eq(charge(&a), -1, "no limit: counted anyway");
	cr_assert_eq(charge(&a), -1);
	policy_free(&P);
	compiled_free(&C);
	load("version: 1\ndefault: allow\nlimits:\n  - {cgroup: /tenants/a, max_live_keys: 2}\n");
	cr_assert_eq(charge(&a), 0, "the keys from before the reload count");
	mktme_uncharge(NULL, &a.o);
	policy_free(&P);
	compiled_free(&C);
	load("version: 1\ndefault: allow\nlimits:\n  - {cgroup: /machines, max_live_keys: 0}\n");
	struct mktme_pol_subject m = subject("/machines");
	cr_assert_eq(charge(&m), 0, "limit 0: no keys at all");
}

Test(decide, quota_fails_closed_when_uncountable)
{
	load("version: 1\ndefault: allow\nlimits:\n  - {cgroup: /vm, max_live_keys: 100}\n");
	struct mktme_pol_subject s = subject("/vm");

	live_full = 1;
	cr_assert_eq(charge(&s), 0, "cannot count /vm: its limit counts as reached");
}

Test(decide, deep_tasks_walk_from_level_15)
{
	char path[512] = "", dir[700], l15[512] = "";
	struct mktme_pol_subject s;

	/* A task at level 20: the programs see its ancestors at levels 15..0. */
	for (int i = 1; i <= 20; i++) {
		strcat(path, "/d");
		snprintf(dir, sizeof(dir), "%s%s", test_root, path);
		cr_assert_eq(mkdir(dir, 0755), 0, "mkdir %s", dir);
		if (i == 15)
			strcpy(l15, path);
	}
	load("version: 1\ndefault: allow\nrules:\n"
	     "  - {cgroup: /d/d/d/d/d/d/d/d/d/d/d/d/d/d/d, keys: [k], verdict: allow}\n"
	     "  - {cgroup: /d/d/d/d/d/d/d/d/d/d/d/d/d/d/d, keys: [x], verdict: deny}\n"
	     "  - {cgroup: /d, keys: [y], verdict: deny}\n");
	s = subject(path);
	cr_assert_eq(s.o.depth, MKTME_MAX_DEPTH);
	cr_assert_eq(s.o.cgids[0], test_cgid(l15), "the nearest cgroup seen is not the level-15 ancestor");
	cr_assert_eq(s.o.cgids[MKTME_MAX_DEPTH - 1], test_cgid("/"));
	assert_decision(&s, "k", MKTME_OP_BIND, MKTME_ALLOW, 1);
	/* Nesting deeper escapes no deny rule, near or far. */
	assert_decision(&s, "x", MKTME_OP_BIND, MKTME_DENY, 2);
	assert_decision(&s, "y", MKTME_OP_CREATE, MKTME_DENY, 3);
	assert_decision(&s, "z", MKTME_OP_BIND, MKTME_ALLOW, 0);
}

/*
 * The executable is what the task was exec'd from (the exec record), never
 * what mm->exe_file says: a task without a record (exec'd before the
 * programs ran) but whose mm->exe_file was pointed at the allowed binary
 * (prctl(PR_SET_MM_MAP)) gets no exe allow, and every exe deny.
 */
Test(decide, no_exec_record_matches_exe_deny_rules_only)
{
	load("version: 1\ndefault: allow\nrules:\n"
	     "  - {cgroup: /vm, exe: /bin/sh, keys: [\"*\"], verdict: allow}\n"
	     "  - {cgroup: /vm, keys: [\"*\"], verdict: deny}\n"
	     "  - {cgroup: /machines, exe: /bin/sh, keys: [\"*\"], verdict: deny}\n");
	struct mktme_pol_subject vm = subject("/vm"), m = subject("/machines");

	vm.exe_dev = m.exe_dev = P.rules[0].exe_dev;
	vm.exe_ino = m.exe_ino = P.rules[0].exe_ino;
	vm.exe_known = m.exe_known = 1;
	assert_decision(&vm, "k", MKTME_OP_BIND, MKTME_ALLOW, 1);
	assert_decision(&m, "k", MKTME_OP_BIND, MKTME_DENY, 3);
	m.exe_ino++;
	assert_decision(&m, "k", MKTME_OP_BIND, MKTME_ALLOW, 0);
	/* The same (dev, inode) without a record: unknown. */
	vm.exe_known = m.exe_known = 0;
	assert_decision(&vm, "k", MKTME_OP_BIND, MKTME_DENY, 2);
	assert_decision(&m, "k", MKTME_OP_BIND, MKTME_DENY, 3);
}

Test(decide, owner_levels_are_the_shared_ancestry)
{
	struct mktme_pol_subject a = subject("/tenants/a"), job = subject("/tenants/a/job/step"),
				 b = subject("/tenants/b"), root = subject("/");

	cr_assert_eq(mktme_owner_levels(&a.o, &a.o), 3);
	cr_assert_eq(mktme_owner_levels(&job.o, &a.o), 3);
	cr_assert_eq(mktme_owner_levels(&a.o, &job.o), 3);
	cr_assert_eq(mktme_owner_levels(&b.o, &a.o), 2, "/ and /tenants");
	cr_assert_eq(mktme_owner_levels(&root.o, &a.o), 1);
}

/*
 * owner: subtree: a key planted under a tenant's key name by anyone outside
 * the tenant's subtree does not get the tenant's allow; one made in the
 * subtree (by a descendant too) does. A key of unknown creator matches the
 * deny rules only.
 */
Test(decide, owner_subtree)
{
	load("version: 1\ndefault: allow\nrules:\n"
	     "  - {cgroup: /tenants/a, keys: [ka], owner: subtree, verdict: allow}\n"
	     "  - {cgroup: /tenants/a, keys: [\"*\"], verdict: deny}\n"
	     "  - {cgroup: /vm, keys: [\"*\"], owner: subtree, verdict: deny}\n");
	struct mktme_pol_subject a = subject("/tenants/a/job"), vm = subject("/vm");

	/* create: the key is the creator's own. */
	assert_decision(&a, "ka", MKTME_OP_CREATE, MKTME_ALLOW, 1);
	key_from(&a, "/tenants/a/job/step");
	assert_decision(&a, "ka", MKTME_OP_BIND, MKTME_ALLOW, 1);
	key_from(&a, "/tenants/a");
	assert_decision(&a, "ka", MKTME_OP_MMAP, MKTME_ALLOW, 1);
	/* Planted by /tenants/b, or by a task in /tenants itself: not a's. */
	key_from(&a, "/tenants/b");
	assert_decision(&a, "ka", MKTME_OP_BIND, MKTME_DENY, 2);
	key_from(&a, "/tenants");
	assert_decision(&a, "ka", MKTME_OP_BIND, MKTME_DENY, 2);
	a.owner_levels = MKTME_OWNER_UNKNOWN;
	assert_decision(&a, "ka", MKTME_OP_BIND, MKTME_DENY, 2);

	/* A deny on the subtree's own keys: others' pass, unknown ones are denied. */
	key_from(&vm, "/vm");
	assert_decision(&vm, "k", MKTME_OP_BIND, MKTME_DENY, 3);
	key_from(&vm, "/machines");
	assert_decision(&vm, "k", MKTME_OP_BIND, MKTME_ALLOW, 0);
	vm.owner_levels = MKTME_OWNER_UNKNOWN;
	assert_decision(&vm, "k", MKTME_OP_BIND, MKTME_DENY, 3);
}

/*
 * final: an ancestor's final rule holds against every nearer rule; between
 * final rules the farthest wins; a final rule that does not match passes
 * the request on as any other.
 */
Test(decide, final_rules_beat_nearer_ones)
{
	load("version: 1\ndefault: allow\nrules:\n"
	     "  - {cgroup: /tenants, keys: [secret], final: true, verdict: deny}\n"
	     "  - {cgroup: /tenants/a, keys: [secret, ka], verdict: allow}\n"
	     "  - {cgroup: /tenants/a/job, keys: [secret], verdict: allow}\n"
	     "  - {cgroup: /, keys: [shared], operations: [bind], final: true, verdict: allow}\n"
	     "  - {cgroup: /tenants, keys: [shared], final: true, verdict: deny}\n"
	     "  - {cgroup: /tenants/a, keys: [\"*\"], final: true, verdict: deny}\n");
	struct mktme_pol_subject job = subject("/tenants/a/job/step"), b = subject("/tenants/b");

	assert_decision(&job, "secret", MKTME_OP_BIND, MKTME_DENY, 1);
	assert_decision(&b, "secret", MKTME_OP_BIND, MKTME_DENY, 1);
	struct mktme_pol_decision d = decide(&job, "secret", MKTME_OP_BIND);
	cr_assert_eq(d.rule_cgid, test_cgid("/tenants"));
	/* The farthest final rule wins: the root's allow for bind only. */
	assert_decision(&job, "shared", MKTME_OP_BIND, MKTME_ALLOW, 4);
	assert_decision(&job, "shared", MKTME_OP_MMAP, MKTME_DENY, 5);
	assert_decision(&b, "shared", MKTME_OP_MMAP, MKTME_DENY, 5);
	/* In its own cgroup a final "*" comes before a plain exact name. */
	assert_decision(&job, "ka", MKTME_OP_BIND, MKTME_DENY, 6);
	assert_decision(&b, "ka", MKTME_OP_BIND, MKTME_ALLOW, 0);
}

/* Without final the same policy is decided by the nearest rule. */
Test(decide, without_final_the_nearest_rule_wins)
{
	load("version: 1\ndefault: allow\nrules:\n"
	     "  - {cgroup: /tenants, keys: [secret], verdict: deny}\n"
	     "  - {cgroup: /tenants/a, keys: [secret], verdict: allow}\n");
	struct mktme_pol_subject a = subject("/tenants/a");

	assert_decision(&a, "secret", MKTME_OP_BIND, MKTME_ALLOW, 2);
}
