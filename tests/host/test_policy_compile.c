// SPDX-License-Identifier: GPL-2.0
/*
 * The compiler: the exact map entries a policy becomes (precedence order in
 * each bucket, "*" rules merged into named buckets, limits, meta), the
 * errors only visible once rules are grouped (duplicates, conflicts, sizes),
 * runtime assignments, and the way back (policy show). Cgroups are
 * HOST-SIMULATED (policy_test.h).
 */
#include "policy_test.h"

#include <errno.h>

#include <fcntl.h>

TestSuite(compile, .init = test_tree, .fini = test_tree_remove);

/* Every cgroup_id() call, test_cgid()'s included (the link's --wrap=cgroup_id: mk/mktmectl.mk). */
static int cgroup_lookups;
int __real_cgroup_id(const char *root, const char *path, uint64_t *id);
int __wrap_cgroup_id(const char *root, const char *path, uint64_t *id);
int __wrap_cgroup_id(const char *root, const char *path, uint64_t *id)
{
	cgroup_lookups++;
	return __real_cgroup_id(root, path, id);
}

/* The map value of (@cg, @name), NULL if there is none (test_bucket()). */
static const struct mktme_pol_bucket *bucket(const struct compiled *c, const char *cg,
					     const char *name)
{
	struct mktme_pol_rule_key k;

	memset(&k, 0, sizeof(k));
	k.cgid = test_cgid(cg);
	strncpy(k.name, name, sizeof(k.name) - 1);
	return test_bucket(c, &k);
}

Test(compile, meta_entry)
{
	struct policy p;
	struct compiled c;

	assert_ok("version: 1\nmode: audit\ndefault: allow\n", &p, &c);
	cr_assert_eq(compiled_entries(&c), 1);
	cr_assert_eq(c.nr_b + c.nr_cg, 0, "only the metadata");
	const struct mktme_pol_meta *m = compiled_meta(&c);
	cr_assert_not_null(m);
	cr_assert_eq(m->generation, 1);
	cr_assert_eq(m->mode, MKTME_MODE_AUDIT);
	cr_assert_eq(m->dflt, MKTME_ALLOW);
	cr_assert_eq(m->audit, MKTME_AUDIT_DENIALS, "allows are not logged unless asked for");
	compiled_free(&c);
	policy_free(&p);
}

/* audit: all reaches the programs (meta), and comes back from the map (policy show). */
Test(compile, audit_all_in_meta_and_back)
{
	struct policy p, back;
	struct compiled c;
	struct resolve_opts o = { .cgroup_root = test_root };

	assert_ok("version: 1\naudit: all\n", &p, &c);
	cr_assert_eq(compiled_meta(&c)->audit, MKTME_AUDIT_ALL);
	cr_assert_eq(policy_decompile(&c, &o, &back), 0);
	cr_assert_eq(back.audit, MKTME_AUDIT_ALL);
	policy_free(&back);
	compiled_free(&c);
	policy_free(&p);
}

Test(compile, keys_are_zero_padded)
{
	struct policy p;
	struct compiled c;

	assert_ok("version: 1\nrules:\n  - {cgroup: /tenants/a, keys: [ab], verdict: allow}\n", &p, &c);
	cr_assert_gt(c.nr_b, 0);
	for (size_t i = 0; i < c.nr_b; i++) {
		const struct mktme_pol_rule_key *k = &c.b[i].key;
		size_t len = strlen(k->name);

		for (size_t j = len; j < sizeof(k->name); j++)
			cr_assert_eq(k->name[j], 0, "the BPF side hashes the whole key");
	}
	compiled_free(&c);
	policy_free(&p);
}

Test(compile, one_bucket_per_cgroup_and_name)
{
	struct policy p;
	struct compiled c;

	assert_ok("version: 1\nrules:\n"
		  "  - {cgroup: /tenants/a, keys: [a, shared], verdict: allow}\n"
		  "  - {cgroup: /tenants/b, keys: [b, shared], verdict: allow}\n",
		  &p, &c);
	cr_assert_eq(compiled_entries(&c), 1 + 4);
	const struct mktme_pol_bucket *v = bucket(&c, "/tenants/a", "a");
	cr_assert_not_null(v);
	cr_assert_eq(v->nr, 1);
	cr_assert_eq(v->r[0].id, 1);
	cr_assert_eq(v->r[0].verdict, MKTME_ALLOW);
	cr_assert_eq(v->r[0].ops, MKTME_OPS_ALL);
	cr_assert_eq(bucket(&c, "/tenants/b", "shared")->r[0].id, 2);
	cr_assert_null(bucket(&c, "/tenants/a", "b"));
	compiled_free(&c);
	policy_free(&p);
}

Test(compile, wildcard_rules_join_named_buckets)
{
	struct policy p;
	struct compiled c;

	assert_ok("version: 1\nrules:\n"
		  "  - {cgroup: /vm, keys: [\"*\"], verdict: deny}\n"
		  "  - {cgroup: /vm, keys: [k], verdict: allow}\n",
		  &p, &c);
	const struct mktme_pol_bucket *w = bucket(&c, "/vm", "*"), *k = bucket(&c, "/vm", "k");
	cr_assert_eq(w->nr, 1);
	cr_assert_eq(w->r[0].id, 1);
	cr_assert(w->r[0].flags & MKTME_RF_WILDCARD);
	cr_assert_eq(k->nr, 2);
	cr_assert_eq(k->r[0].id, 2, "exact name before \"*\" (same subject)");
	cr_assert_eq(k->r[1].id, 1);
	compiled_free(&c);
	policy_free(&p);
}

Test(compile, precedence_order)
{
	struct policy p;
	struct compiled c;

	/* Written least specific first; the bucket must come out reversed. */
	assert_ok("version: 1\nrules:\n"
		  "  - {cgroup: /vm, keys: [\"*\"], verdict: allow}\n"			/* 8 */
		  "  - {cgroup: /vm, keys: [k], verdict: allow}\n"			/* 7 */
		  "  - {cgroup: /vm, uid: 5, keys: [\"*\"], verdict: allow}\n"		/* 6 */
		  "  - {cgroup: /vm, uid: 5, keys: [k], verdict: allow}\n"		/* 5 */
		  "  - {cgroup: /vm, exe: /bin/sh, keys: [\"*\"], verdict: allow}\n"	/* 4 */
		  "  - {cgroup: /vm, exe: /bin/sh, keys: [k], verdict: allow}\n"	/* 3 */
		  "  - {cgroup: /vm, exe: /bin/sh, uid: 5, keys: [\"*\"], verdict: allow}\n" /* 2 */
		  "  - {cgroup: /vm, exe: /bin/sh, uid: 5, keys: [k], verdict: allow}\n", /* 1 */
		  &p, &c);
	const struct mktme_pol_bucket *k = bucket(&c, "/vm", "k");
	cr_assert_eq(k->nr, 8);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(k->r[i].id, 8 - i, "position %d holds rule %u", i, k->r[i].id);
	const struct mktme_pol_bucket *w = bucket(&c, "/vm", "*");
	cr_assert_eq(w->nr, 4);
	cr_assert_eq(w->r[0].id, 7);
	cr_assert_eq(w->r[3].id, 1);
	compiled_free(&c);
	policy_free(&p);
}

Test(compile, deny_before_allow_and_filtered_before_plain)
{
	struct policy p;
	struct compiled c;

	assert_ok("version: 1\nrules:\n"
		  "  - {cgroup: /vm, keys: [k], operations: [mmap], verdict: allow}\n"
		  "  - {cgroup: /vm, keys: [k], operations: [mmap, bind], key_types: [user], verdict: allow}\n"
		  "  - {cgroup: /vm, keys: [k], operations: [create], verdict: deny}\n",
		  &p, &c);
	const struct mktme_pol_bucket *k = bucket(&c, "/vm", "k");
	cr_assert_eq(k->nr, 3);
	cr_assert_eq(k->r[0].id, 2, "filtered first");
	cr_assert_eq(k->r[1].id, 3, "then deny");
	cr_assert_eq(k->r[2].id, 1);
	cr_assert_eq(k->r[0].types, 1 << 1);
	compiled_free(&c);
	policy_free(&p);
}

Test(compile, limits)
{
	struct policy p;
	struct compiled c;
	__u64 cgid;

	assert_ok("version: 1\nlimits:\n  - {cgroup: /tenants, max_live_keys: 6}\n  - {cgroup: /tenants/a, max_live_keys: 0}\n",
		  &p, &c);
	cr_assert_eq(compiled_entries(&c), 3);
	cr_assert_eq(c.nr_cg, 2, "one entry per limited cgroup, in the cgroups map");
	cgid = test_cgid("/tenants");
	cr_assert_eq(compiled_cgroup(&c, &cgid)->live_limit, 6);
	cr_assert_eq(compiled_cgroup(&c, &cgid)->flags, MKTME_CF_LIMIT);
	cgid = test_cgid("/tenants/a");
	cr_assert_eq(compiled_cgroup(&c, &cgid)->live_limit, 0);
	cr_assert_eq(compiled_cgroup(&c, &cgid)->flags, MKTME_CF_LIMIT);
	compiled_free(&c);
	policy_free(&p);
}

/*
 * A denial budget alone is no live-key limit: its entry must not carry
 * MKTME_CF_LIMIT, whose live_limit 0 would refuse every key.
 */
Test(compile, denial_rates)
{
	struct policy p;
	struct compiled c;
	__u64 cgid;

	assert_ok("version: 1\nlimits:\n  - {cgroup: /tenants, denial_records_per_second: 50}\n"
		  "  - {cgroup: /tenants/a, max_live_keys: 3, denial_records_per_second: 7}\n",
		  &p, &c);
	cr_assert_eq(c.nr_cg, 2);
	cgid = test_cgid("/tenants");
	cr_assert_eq(compiled_cgroup(&c, &cgid)->flags, MKTME_CF_DENIAL_RATE);
	cr_assert_eq(compiled_cgroup(&c, &cgid)->denial_rate, 50);
	cgid = test_cgid("/tenants/a");
	cr_assert_eq(compiled_cgroup(&c, &cgid)->flags, MKTME_CF_LIMIT | MKTME_CF_DENIAL_RATE);
	cr_assert_eq(compiled_cgroup(&c, &cgid)->live_limit, 3);
	cr_assert_eq(compiled_cgroup(&c, &cgid)->denial_rate, 7);
	compiled_free(&c);
	policy_free(&p);
}

/* ---- errors seen only with all rules ------------------------------------ */

Test(compile, duplicate_rule)
{
	assert_error("version: 1\nrules:\n"
		     "  - cgroup: /tenants/a\n    keys: [x]\n    verdict: allow\n"
		     "  - cgroup: /tenants/a\n    keys: [y, x]\n    verdict: allow\n",
		     "7:15: rule 2 duplicates rule 1 (line 3): same cgroup /tenants/a, same subject, key \"x\" and overlapping operations");
}

Test(compile, conflicting_rule)
{
	assert_error("version: 1\nrules:\n"
		     "  - cgroup: /tenants/a\n    keys: [x]\n    verdict: allow\n"
		     "  - cgroup: /tenants/a\n    keys: [x]\n    operations: [mmap]\n    verdict: deny\n",
		     "7:12: rule 2 conflicts with rule 1 (line 3): same cgroup /tenants/a, same subject, key \"x\" and overlapping operations, but opposite verdicts");
}

Test(compile, conflicting_wildcards)
{
	assert_error("version: 1\nrules:\n"
		     "  - {cgroup: /vm, uid: 7, keys: [\"*\"], verdict: allow}\n"
		     "  - {cgroup: /vm, uid: 7, keys: [\"*\"], verdict: deny}\n",
		     "4:34: rule 2 conflicts with rule 1 (line 3): same cgroup /vm, same subject, key \"*\" and overlapping operations, but opposite verdicts");
}

Test(compile, same_executable_by_another_path_conflicts)
{
	char link[256], y[1024], want[1024];

	snprintf(link, sizeof(link), "%s/sh-link", test_dir);
	cr_assert_eq(symlink("/bin/sh", link), 0);
	snprintf(y, sizeof(y), "version: 1\nrules:\n"
		 "  - {cgroup: /vm, exe: /bin/sh, keys: [k], verdict: allow}\n"
		 "  - {cgroup: /vm, exe: %s, keys: [k], verdict: deny}\n", link);
	snprintf(want, sizeof(want), "4:%zu: rule 2 conflicts with rule 1 (line 3): same cgroup /vm, same subject, key \"k\" and overlapping operations, but opposite verdicts",
		 strlen("  - {cgroup: /vm, exe: , keys: [") + strlen(link) + 1);
	assert_error(y, want);
}

Test(compile, same_cgroup_by_another_spelling_conflicts)
{
	assert_error("version: 1\nrules:\n"
		     "  - {cgroup: /tenants/a, keys: [k], verdict: allow}\n"
		     "  - {cgroup: //tenants//a/, keys: [k], verdict: deny}\n",
		     "4:36: rule 2 conflicts with rule 1 (line 3): same cgroup //tenants//a/, same subject, key \"k\" and overlapping operations, but opposite verdicts");
}

Test(compile, not_conflicts)
{
	struct policy p;
	struct compiled c;

	/* Disjoint operations, other subjects, exact vs "*", filtered vs
	 * not, disjoint types: precedence or nothing decides, no error. */
	assert_ok("version: 1\nrules:\n"
		  "  - {cgroup: /vm, keys: [k], operations: [create], verdict: allow}\n"
		  "  - {cgroup: /vm, keys: [k], operations: [bind, mmap], verdict: deny}\n"
		  "  - {cgroup: /vm, uid: 1, keys: [k], verdict: deny}\n"
		  "  - {cgroup: /vm, uid: 2, keys: [k], verdict: allow}\n"
		  "  - {cgroup: /vm, keys: [\"*\"], verdict: deny}\n"
		  "  - {cgroup: /vm, uid: 3, keys: [k], key_types: [cpu], verdict: allow}\n"
		  "  - {cgroup: /vm, uid: 3, keys: [k], verdict: deny}\n"
		  "  - {cgroup: /vm, uid: 4, keys: [k], key_types: [cpu], verdict: allow}\n"
		  "  - {cgroup: /vm, uid: 4, keys: [k], key_types: [user], verdict: deny}\n"
		  "  - {cgroup: /tenants, keys: [k], verdict: deny}\n",
		  &p, &c);
	compiled_free(&c);
	policy_free(&p);
}

Test(compile, overlapping_types_conflict)
{
	assert_error("version: 1\nrules:\n"
		     "  - {cgroup: /vm, keys: [k], key_types: [cpu, user], verdict: allow}\n"
		     "  - {cgroup: /vm, keys: [k], key_types: [user], verdict: deny}\n",
		     "4:26: rule 2 conflicts with rule 1 (line 3): same cgroup /vm, same subject, key \"k\" and overlapping operations, but opposite verdicts");
}

Test(compile, duplicate_limit)
{
	assert_error("version: 1\nlimits:\n  - cgroup: /tenants\n    max_live_keys: 1\n  - cgroup: /tenants/\n    max_live_keys: 2\n",
		     "5:5: limit for /tenants/ duplicates the limit at line 3 (same cgroup)");
}

Test(compile, bucket_overflow)
{
	char y[8192];
	size_t len = snprintf(y, sizeof(y), "version: 1\nrules:\n");

	for (int i = 0; i <= MKTME_BUCKET_MAX; i++)
		len += snprintf(y + len, sizeof(y) - len,
				"  - {cgroup: /vm, uid: %d, keys: [k], verdict: allow}\n", i);
	assert_error(y, "19:35: cgroup /vm, key \"k\": 17 rules apply (at most 16, counting the cgroup's \"*\" rules)");
}

Test(compile, bucket_overflow_through_wildcards)
{
	char y[8192];
	size_t len = snprintf(y, sizeof(y), "version: 1\nrules:\n");

	for (int i = 0; i < MKTME_BUCKET_MAX; i++)
		len += snprintf(y + len, sizeof(y) - len,
				"  - {cgroup: /vm, uid: %d, keys: [\"*\"], verdict: allow}\n", i);
	len += snprintf(y + len, sizeof(y) - len, "  - {cgroup: /vm, keys: [k], verdict: deny}\n");
	assert_error(y, "19:26: cgroup /vm, key \"k\": 17 rules apply (at most 16, counting the cgroup's \"*\" rules)");
}

Test(compile, too_many_map_entries)
{
	/* 1025 rules x 64 names: 65,600 buckets > 65,536. */
	size_t cap = 1025 * 64 * 12 + 4096;
	char *y = malloc(cap);
	size_t len = snprintf(y, cap, "version: 1\nrules:\n");

	for (int r = 0; r < 1025; r++) {
		len += snprintf(y + len, cap - len, "  - {cgroup: /vm, verdict: allow, keys: [");
		for (int k = 0; k < 64; k++)
			len += snprintf(y + len, cap - len, "%sk%d_%d", k ? "," : "", r, k);
		len += snprintf(y + len, cap - len, "]}\n");
	}
	assert_error(y, "0:0: the policy compiles to 65600 rule entries, one per (cgroup, key name) (at most 65536): fewer cgroups or key names");
	free(y);
}

/* The scale the format promises (issue 10 §5): 10,000 rules, 65,536 entries. */
Test(compile, ten_thousand_rules_and_65536_entries)
{
	size_t cap = 10000 * 64 + 1024 * 64 * 12 + 4096;
	char *y = malloc(cap);
	size_t len = snprintf(y, cap, "version: 1\nrules:\n");
	struct policy p;
	struct compiled c;

	for (int r = 0; r < 10000; r++)
		len += snprintf(y + len, cap - len, "  - {cgroup: /vm, keys: [k%d], verdict: allow}\n", r);
	assert_ok(y, &p, &c);
	cr_assert_eq(p.nr_rules, 10000);
	cr_assert_eq(c.nr_b, 10000);
	compiled_free(&c);
	policy_free(&p);
	len = snprintf(y, cap, "version: 1\nrules:\n");
	for (int r = 0; r < 1024; r++) {
		len += snprintf(y + len, cap - len, "  - {cgroup: /vm, verdict: allow, keys: [");
		for (int k = 0; k < 64; k++)
			len += snprintf(y + len, cap - len, "%sk%d_%d", k ? "," : "", r, k);
		len += snprintf(y + len, cap - len, "]}\n");
	}
	assert_ok(y, &p, &c);
	cr_assert_eq(c.nr_b, MKTME_RULES_ENTRIES);
	compiled_free(&c);
	policy_free(&p);
	free(y);
}

/*
 * A policy of thousands of rules names a handful of cgroups: each is looked
 * up once, however it is spelled, and limits share the rules' answers. One
 * lookup per rule (a few system calls each) made a 10,000-rule load spend
 * seconds in the guest before any map was written.
 */
Test(compile, each_cgroup_is_looked_up_once_however_spelled)
{
	size_t cap = 2000 * 80 + 512;
	char *y = malloc(cap);
	size_t len = snprintf(y, cap, "version: 1\nlimits:\n"
			      "  - {cgroup: /vm/, max_live_keys: 3}\n"
			      "  - {cgroup: /machines, max_live_keys: 2}\n"
			      "rules:\n");
	uint64_t a = test_cgid("/tenants/a"), vm = test_cgid("/vm"), machines = test_cgid("/machines");
	struct policy p;
	struct compiled c;

	for (int r = 0; r < 2000; r++)
		len += snprintf(y + len, cap - len, "  - {cgroup: %s, keys: [k%d], verdict: allow}\n",
				r % 3 == 0 ? "/tenants/a" : r % 3 == 1 ? "//tenants//a/" : "/vm", r);
	cgroup_lookups = 0;
	assert_ok(y, &p, &c);
	cr_assert_eq(cgroup_lookups, 3, "%d lookups for 3 cgroups", cgroup_lookups);
	for (size_t r = 0; r < p.nr_rules; r++)
		cr_assert_eq(p.rules[r].cgid, r % 3 == 2 ? vm : a, "rule %zu", r + 1);
	cr_assert_eq(p.limits[0].cgid, vm);
	cr_assert_eq(p.limits[1].cgid, machines);
	compiled_free(&c);
	policy_free(&p);
	free(y);
}

/* One answer per cgroup, but whether a missing one is an error stays each rule's own. */
Test(compile, a_missing_cgroup_is_an_error_for_each_rule_that_does_not_wait_for_it)
{
	struct policy p;
	struct compiled c;
	char want[512];

	snprintf(want, sizeof(want),
		 "4:14: cgroup: //gone/ does not exist under %s (add \"may_appear_later: true\" if it will be created later)",
		 test_root);
	assert_error("version: 1\nrules:\n"
		     "  - {cgroup: /gone, may_appear_later: true, keys: [k], verdict: allow}\n"
		     "  - {cgroup: //gone/, keys: [j], verdict: allow}\n",
		     want);
	assert_ok("version: 1\nlimits:\n"
		  "  - {cgroup: /gone, max_live_keys: 1, may_appear_later: true}\n"
		  "rules:\n"
		  "  - {cgroup: /gone, may_appear_later: true, keys: [k], verdict: allow}\n"
		  "  - {cgroup: /gone/, may_appear_later: true, keys: [j], verdict: allow}\n", &p, &c);
	cr_assert_eq(p.rules[0].cgid, 0, "pending");
	cr_assert_eq(p.rules[1].cgid, 0, "pending");
	cr_assert_eq(p.limits[0].cgid, 0, "pending");
	compiled_free(&c);
	policy_free(&p);
}

/*
 * Rules and limits waiting for their cgroup are checked against each other
 * at load, as if it existed: skipped until it appeared, a latent conflict
 * made every later reload fail once a tenant created the cgroup.
 */
Test(compile, rules_waiting_for_their_cgroup_are_checked_at_load)
{
	struct policy p;
	struct compiled c;
	char err[1024];
	static const char *const bad[] = {
		/* conflicting verdicts for one pending cgroup, two spellings */
		"version: 1\nrules:\n"
		"  - {cgroup: /later, may_appear_later: true, keys: [k], verdict: allow}\n"
		"  - {cgroup: //later/, may_appear_later: true, keys: [k], verdict: deny}\n",
		/* the same limit twice */
		"version: 1\nlimits:\n"
		"  - {cgroup: /later, max_live_keys: 1, may_appear_later: true}\n"
		"  - {cgroup: /later, max_live_keys: 2, may_appear_later: true}\n",
	};
	static const char *const want[] = { "conflicts with rule 1", "duplicates the limit at line 3" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(test_load(bad[i], &p, &c, err, sizeof(err)), -1, "accepted: %s", bad[i]);
		cr_assert(strstr(err, want[i]), "%s", err);
	}
	/* 17 rules for one pending cgroup and key: over a bucket. */
	{
		char yaml[4096] = "version: 1\nrules:\n";

		for (int i = 0; i < MKTME_BUCKET_MAX + 1; i++)
			snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml),
				 "  - {cgroup: /later, may_appear_later: true, uid: %d, keys: [k], verdict: allow}\n",
				 1000 + i);
		cr_assert_eq(test_load(yaml, &p, &c, err, sizeof(err)), -1, "17 pending rules in one bucket accepted");
	}
	/* Without a conflict: loads, both pending, nothing compiled for them. */
	assert_ok("version: 1\nrules:\n"
		  "  - {cgroup: /later, may_appear_later: true, keys: [k], verdict: allow}\n"
		  "  - {cgroup: /later, may_appear_later: true, keys: [j], verdict: deny}\n", &p, &c);
	cr_assert_eq(c.nr_pending, 2);
	cr_assert_eq(c.nr_b, 0);
	compiled_free(&c);
	policy_free(&p);
}

/* A cgroup root that is not the hierarchy's (it has cgroup.events) is refused. */
Test(compile, a_cgroup_root_below_the_top_is_refused)
{
	char path[300], err[1024];
	struct policy p;
	struct compiled c;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.events", test_root);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs("populated 1\nfrozen 0\n", f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(test_load("version: 1\nrules:\n  - {cgroup: /vm, keys: [k], verdict: allow}\n",
			       &p, &c, err, sizeof(err)), -1, "accepted under a nested root");
	cr_assert(strstr(err, "is not the root of the cgroup hierarchy"), "%s", err);
	cr_assert_eq(unlink(path), 0);
	assert_ok("version: 1\nrules:\n  - {cgroup: /vm, keys: [k], verdict: allow}\n", &p, &c);
	compiled_free(&c);
	policy_free(&p);
}

/* Final rules first in their bucket (mktme_decide() relies on it), whatever their rank. */
Test(compile, final_rules_sort_first)
{
	struct policy p;
	struct compiled c;

	assert_ok("version: 1\nrules:\n"
		  "  - {cgroup: /vm, exe: /bin/sh, uid: 5, keys: [k], verdict: allow}\n"
		  "  - {cgroup: /vm, keys: [\"*\"], final: true, verdict: deny}\n"
		  "  - {cgroup: /vm, keys: [k], owner: subtree, verdict: deny}\n",
		  &p, &c);
	const struct mktme_pol_bucket *k = bucket(&c, "/vm", "k");
	cr_assert_eq(k->nr, 3);
	cr_assert_eq(k->r[0].id, 2);
	cr_assert_eq(k->r[0].flags & (MKTME_RF_FINAL | MKTME_RF_WILDCARD),
		     MKTME_RF_FINAL | MKTME_RF_WILDCARD);
	cr_assert_eq(k->r[1].id, 1);
	cr_assert_eq(k->r[2].id, 3);
	cr_assert(k->r[2].flags & MKTME_RF_OWNER);
	cr_assert(!(k->r[1].flags & (MKTME_RF_OWNER | MKTME_RF_FINAL)));
	compiled_free(&c);
	policy_free(&p);
}

/*
 * The exe's device is the kernel's name for its mount's super_block (the
 * major:minor of mountinfo), not stat()'s st_dev: a mountinfo that names
 * the file's mount 0:77 must give MKDEV(0, 77), whatever st_dev says.
 */
/*
 * A script is never the executable recorded at exec (the kernel runs its
 * interpreter), so an exe rule naming one could never match: refused.
 */
Test(compile, an_exe_that_is_a_script_is_refused)
{
	char path[300], yaml[600], err[1024];
	struct policy p;
	struct compiled c;
	FILE *f;

	snprintf(path, sizeof(path), "%s/job.sh", test_dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("#!/bin/sh\nexec true\n", f);
	cr_assert_eq(fclose(f), 0);
	snprintf(yaml, sizeof(yaml), "version: 1\nrules:\n"
		 "  - {cgroup: /vm, exe: %s, keys: [k], verdict: deny}\n", path);
	cr_assert_eq(test_load(yaml, &p, &c, err, sizeof(err)), -1, "a script accepted as exe");
	cr_assert(strstr(err, "is a script (#!)"), "%s", err);
	/* An executable that is not a script is taken. */
	snprintf(yaml, sizeof(yaml), "version: 1\nrules:\n"
		 "  - {cgroup: /vm, exe: /bin/sh, keys: [k], verdict: deny}\n");
	assert_ok(yaml, &p, &c);
	compiled_free(&c);
	policy_free(&p);
}

Test(compile, exe_device_comes_from_mountinfo)
{
	struct policy p;
	struct diag d;
	struct statx stx;
	char mi[300];
	FILE *f;

	cr_assert_eq(statx(AT_FDCWD, "/bin/sh", 0, STATX_INO | STATX_MNT_ID, &stx), 0);
	cr_assert(stx.stx_mask & STATX_MNT_ID);
	snprintf(mi, sizeof(mi), "%s/mountinfo", test_dir);
	f = fopen(mi, "w");
	cr_assert_not_null(f);
	fprintf(f, "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n");
	fprintf(f, "%llu 1 0:77 / /usr rw - btrfs /dev/sdb rw,subvol=/usr\n",
		(unsigned long long)stx.stx_mnt_id);
	fclose(f);
	test_write("version: 1\nrules:\n  - {cgroup: /vm, exe: /bin/sh, keys: [k], verdict: allow}\n");
	cr_assert_eq(policy_parse_file(test_file, &p, &d), 0);
	struct resolve_opts o = { .cgroup_root = test_root, .mountinfo = mi };
	cr_assert_eq(policy_resolve(&p, &o, &d), 0, "%s", d.msg);
	cr_assert_eq(p.rules[0].exe_dev, 77, "dev %#llx", (unsigned long long)p.rules[0].exe_dev);
	cr_assert_eq(p.rules[0].exe_ino, stx.stx_ino);
	policy_free(&p);

	/* A mount the table does not list: an error, not st_dev. */
	f = fopen(mi, "w");
	cr_assert_not_null(f);
	fprintf(f, "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n");
	fclose(f);
	cr_assert_eq(policy_parse_file(test_file, &p, &d), 0);
	cr_assert_eq(policy_resolve(&p, &o, &d), -1, "resolved without its mount");
	cr_assert(strstr(d.msg, "exe: /bin/sh: mount ") && strstr(d.msg, "not found in"), "%s", d.msg);
	policy_free(&p);
}

/* ---- assignments and the way back --------------------------------------- */

Test(compile, assignments_merge_after_file_rules)
{
	struct policy p;
	struct compiled c;
	struct diag d;
	struct assignment a[2] = {
		{ .cgid = 0, .name = "k", .id = MKTME_ASSIGN_ID_BASE },
		{ .cgid = 0, .name = "new", .id = MKTME_ASSIGN_ID_BASE + 1, .owner_any = true },
	};

	test_write("version: 1\nrules:\n  - {cgroup: /vm, keys: [k], verdict: deny}\n");
	cr_assert_eq(policy_parse_file(test_file, &p, &d), 0);
	struct resolve_opts o = { .cgroup_root = test_root };
	cr_assert_eq(policy_resolve(&p, &o, &d), 0);
	a[0].cgid = a[1].cgid = test_cgid("/vm");
	cr_assert_eq(policy_compile(&p, a, 2, 7, &c, &d), 0, "%s", d.msg);
	const struct mktme_pol_bucket *k = bucket(&c, "/vm", "k");
	cr_assert_eq(k->nr, 2);
	cr_assert_eq(k->r[0].id, 1, "the file's deny ranks first");
	cr_assert_eq(k->r[1].id, MKTME_ASSIGN_ID_BASE);
	cr_assert(k->r[1].flags & MKTME_RF_ASSIGN);
	cr_assert(k->r[1].flags & MKTME_RF_OWNER, "assignments are owner: subtree by default");
	cr_assert_eq(bucket(&c, "/vm", "new")->r[0].verdict, MKTME_ALLOW);
	cr_assert(!(bucket(&c, "/vm", "new")->r[0].flags & MKTME_RF_OWNER), "--owner any");
	cr_assert_eq(compiled_meta(&c)->nr_assign, 2);
	cr_assert_eq(compiled_meta(&c)->generation, 7);
	compiled_free(&c);
	policy_free(&p);
}

Test(compile, decompile_round_trip)
{
	struct policy p, back;
	struct compiled c;
	struct resolve_opts o = { .cgroup_root = test_root };

	assert_ok("version: 1\nmode: audit\ndefault: allow\n"
		  "limits:\n  - {cgroup: /tenants, max_live_keys: 3}\n"
		  "rules:\n"
		  "  - {cgroup: /tenants/a, keys: [a, \"*\"], operations: [bind], verdict: deny}\n"
		  "  - {cgroup: /vm, exe: /bin/sh, uid: 9, keys: [v], key_types: [cpu], verdict: allow}\n",
		  &p, &c);
	cr_assert_eq(policy_decompile(&c, &o, &back), 0);
	cr_assert(back.loaded);
	cr_assert_eq(back.generation, 1);
	cr_assert_eq(back.mode, MKTME_MODE_AUDIT);
	cr_assert_eq(back.dflt, MKTME_ALLOW);
	cr_assert_eq(back.nr_limits, 1);
	cr_assert_str_eq(back.limits[0].cgroup, "/tenants");
	cr_assert_eq(back.limits[0].max_live_keys, 3);
	cr_assert_eq(back.nr_rules, 2);
	cr_assert_eq(back.rules[0].id, 1);
	cr_assert_str_eq(back.rules[0].cgroup, "/tenants/a");
	cr_assert_eq(back.rules[0].nr_keys, 2, "a and *, each once");
	cr_assert_eq(back.rules[0].ops, 1 << MKTME_OP_BIND);
	cr_assert_eq(back.rules[1].id, 2);
	cr_assert_str_eq(back.rules[1].cgroup, "/vm");
	cr_assert(back.rules[1].has_exe && back.rules[1].has_uid);
	cr_assert_eq(back.rules[1].exe_ino, p.rules[1].exe_ino);
	cr_assert_eq(back.rules[1].uid, 9);
	cr_assert_eq(back.rules[1].types, 1);
	policy_free(&back);
	compiled_free(&c);
	policy_free(&p);
}

/*
 * The daemon's refresh compares what it compiled with the generation read
 * back from the maps (compiled_same()): buckets come back in the hash's
 * order, as full 520-byte values, into a rules pool of their own.
 */
static void read_back(const struct compiled *c, struct compiled *back)
{
	struct mktme_pol_bucket v;

	memset(back, 0, sizeof(*back));
	back->has_meta = c->has_meta;
	back->meta = c->meta;
	for (size_t i = c->nr_b; i-- > 0;) {
		compiled_bucket_value(c, i, &v);
		cr_assert_eq(compiled_add_bucket(back, &c->b[i].key, &v), 0);
	}
	for (size_t i = c->nr_cg; i-- > 0;)
		cr_assert_eq(compiled_add_cgroup(back, c->cg[i].cgid, &c->cg[i].val), 0);
}

Test(compile, same_as_read_back_in_any_order)
{
	struct policy p;
	struct compiled c, back;

	assert_ok("version: 1\nmode: enforce\ndefault: deny\n"
		  "limits:\n  - {cgroup: /tenants, max_live_keys: 3}\n"
		  "rules:\n"
		  "  - {cgroup: /tenants/a, keys: [a, \"*\"], operations: [bind], verdict: deny}\n"
		  "  - {cgroup: /tenants/a, keys: [a], operations: [mmap], verdict: allow}\n"
		  "  - {cgroup: /tenants, keys: [b, c, d], verdict: allow}\n"
		  "  - {cgroup: /vm, uid: 9, keys: [v], key_types: [cpu], verdict: allow}\n",
		  &p, &c);
	cr_assert_gt(c.nr_b, 3);
	read_back(&c, &back);
	cr_assert(compiled_same(&c, &back));
	cr_assert(compiled_same(&back, &c));
	/*
	 * In force in the other slot, loaded at another time, as generation
	 * 7: the same policy (a fresh compile has no slot until the switch).
	 */
	back.meta.slot = 1;
	back.meta.loaded_at = 12345;
	back.meta.generation = 7;
	cr_assert(compiled_same(&c, &back), "the slot in force made the same policy differ");

	/* One rule's verdict in one bucket: not the same generation. */
	back.r[back.b[0].first].verdict ^= 1;
	cr_assert_not(compiled_same(&c, &back));
	compiled_free(&back);

	/* A bucket missing, or a limit changed. */
	read_back(&c, &back);
	back.nr_b--;
	cr_assert_not(compiled_same(&c, &back));
	compiled_free(&back);
	read_back(&c, &back);
	back.cg[0].val.live_limit++;
	cr_assert_not(compiled_same(&c, &back));
	compiled_free(&back);
	compiled_free(&c);
	policy_free(&p);
}

/*
 * struct compiled_cgroup has 4 bytes of padding after its value, and the
 * array is realloc'd: whatever the heap held there must not make two equal
 * limits differ (it made the refresh reload every policy with `limits:`).
 */
Test(compile, same_whatever_the_padding_of_cgroup_entries_holds)
{
	struct compiled a, b;
	struct mktme_pol_cgroup v = { .live_limit = 3, .denial_rate = 5 };

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.has_meta = b.has_meta = true;
	/* Room made in advance, filled with 0xa5: what compiled_add_cgroup() finds there. */
	b.cap_cg = 4;
	b.cg = malloc(b.cap_cg * sizeof(*b.cg));
	cr_assert_not_null(b.cg);
	memset(b.cg, 0xa5, b.cap_cg * sizeof(*b.cg));
	cr_assert_eq(compiled_add_cgroup(&a, 42, &v), 0);
	cr_assert_eq(compiled_add_cgroup(&b, 42, &v), 0);
	cr_assert(compiled_same(&a, &b), "padding bytes made equal limits differ");
	v.live_limit = 4;
	cr_assert_eq(compiled_add_cgroup(&a, 43, &v), 0);
	v.live_limit = 5;
	cr_assert_eq(compiled_add_cgroup(&b, 43, &v), 0);
	cr_assert_not(compiled_same(&a, &b));
	compiled_free(&a);
	compiled_free(&b);
}

/* Nothing in either: the same, with no pool or cgroups at all. */
Test(compile, same_when_empty)
{
	struct compiled a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.has_meta = b.has_meta = true;
	a.meta.generation = b.meta.generation = 3;
	cr_assert(compiled_same(&a, &b));
}

Test(compile, decompile_names_removed_cgroups)
{
	struct policy p, back;
	struct compiled c;
	struct resolve_opts o = { .cgroup_root = test_root };
	char path[256];

	assert_ok("version: 1\nrules:\n  - {cgroup: /machines, keys: [m], verdict: allow}\n", &p, &c);
	snprintf(path, sizeof(path), "%s/machines", test_root);
	cr_assert_eq(rmdir(path), 0);
	cr_assert_eq(policy_decompile(&c, &o, &back), 0);
	cr_assert(strstr(back.rules[0].cgroup, "removed cgroup"), "%s", back.rules[0].cgroup);
	policy_free(&back);
	compiled_free(&c);
	policy_free(&p);
}
