/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the policy host tests.
 *
 * HOST-SIMULATED: the cgroup tree is a plain directory tree in a temporary
 * directory standing in for /sys/fs/cgroup (MKTME_CGROUP_ROOT /
 * resolve_opts.cgroup_root). Its "cgroup ids" come from the same
 * name_to_handle_at() call as on cgroup2, but only on cgroup2 do they equal
 * what BPF sees; the guest tests check that.
 */
#ifndef MKTME_TESTS_POLICY_TEST_H
#define MKTME_TESTS_POLICY_TEST_H

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "policy.h"

/*
 * The map value of the bucket of @k in @c, NULL if there is none: what the
 * programs' bpf_map_lookup_elem() gives. Each call fills the next of a ring
 * of values, so a test (or a walk, one bucket at a time) can hold a few.
 */
static inline const struct mktme_pol_bucket *test_bucket(const struct compiled *c,
							 const struct mktme_pol_rule_key *k)
{
	static struct mktme_pol_bucket ring[4];
	static unsigned int next;
	struct mktme_pol_bucket *v = &ring[next++ % 4];

	return compiled_bucket(c, k, v) ? v : NULL;
}

/* Directories of the stand-in cgroup tree. */
static const char *const test_cgroups[] = {
	"/tenants", "/tenants/a", "/tenants/a/job", "/tenants/a/job/step",
	"/tenants/b", "/machines", "/vm",
};

static char test_dir[128];
static char test_root[160];
static char test_file[192];

/* A fresh tree per test (Criterion runs each test in its own process). */
static inline void test_tree(void)
{
	char path[PATH_MAX * 2];

	snprintf(test_dir, sizeof(test_dir), "/tmp/mktme-policy-test-XXXXXX");
	cr_assert_not_null(mkdtemp(test_dir));
	snprintf(test_root, sizeof(test_root), "%s/cgroup", test_dir);
	cr_assert_eq(mkdir(test_root, 0755), 0);
	for (size_t i = 0; i < sizeof(test_cgroups) / sizeof(test_cgroups[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", test_root, test_cgroups[i]);
		cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s", path);
	}
	snprintf(path, sizeof(path), "%s/tenants/cgroup.procs", test_root);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fclose(f);
	snprintf(test_file, sizeof(test_file), "%s/policy.yaml", test_dir);
}

static inline void test_tree_remove(void)
{
	char cmd[PATH_MAX + 16];

	if (!test_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", test_dir);
}

static inline uint64_t test_cgid(const char *path)
{
	uint64_t id = 0;

	cr_assert_eq(cgroup_id(test_root, path, &id), 0, "no cgroup %s", path);
	return id;
}

static inline void test_write(const char *yaml)
{
	FILE *f = fopen(test_file, "w");

	cr_assert_not_null(f);
	fputs(yaml, f);
	fclose(f);
}

/*
 * Parse, resolve and compile @yaml as the file policy.yaml. Returns 0, or -1
 * with "LINE:COL: message" in @err.
 */
static inline int test_load(const char *yaml, struct policy *p, struct compiled *c, char *err,
			    size_t errlen)
{
	struct resolve_opts o = { .cgroup_root = test_root };
	struct diag d;

	test_write(yaml);
	err[0] = '\0';
	if (policy_parse_file(test_file, p, &d))
		goto bad;
	if (policy_resolve(p, &o, &d) || policy_compile(p, NULL, 0, 1, c, &d)) {
		policy_free(p);
		goto bad;
	}
	return 0;
bad:
	cr_assert_str_eq(d.file, test_file);
	snprintf(err, errlen, "%d:%d: %s", d.pos.line, d.pos.col, d.msg);
	return -1;
}

/* @yaml must fail with exactly @want ("LINE:COL: message"). */
#define assert_error(yaml, want)                                                   \
	do {                                                                       \
		struct policy p_;                                                  \
		struct compiled c_;                                                \
		char err_[1024];                                                   \
		cr_assert_eq(test_load((yaml), &p_, &c_, err_, sizeof(err_)), -1,  \
			     "accepted, expected: %s", (want));                    \
		cr_assert_str_eq(err_, (want));                                    \
	} while (0)

#define assert_ok(yaml, p, c)                                                      \
	do {                                                                       \
		char err_[1024];                                                   \
		cr_assert_eq(test_load((yaml), (p), (c), err_, sizeof(err_)), 0,   \
			     "rejected: %s", err_);                                \
	} while (0)

#endif
