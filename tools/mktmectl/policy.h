/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A policy in three forms: as written (struct policy, from YAML), resolved
 * (the same structs with cgroup ids and executable inodes filled in), and
 * compiled (struct compiled: the exact entries of one generation's
 * mktme_rules map). policy/REFERENCE.md is the format.
 */
#ifndef MKTMECTL_POLICY_H
#define MKTMECTL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mktme_policy.h"

#define POLICY_MAX_FILE		MKTME_SOURCE_MAX	/* 1 MiB */
#define POLICY_MAX_KEYS		64	/* keys: per rule */
#define POLICY_MAX_LIMITS	MKTME_MAX_LIMITS
#define POLICY_MAX_PATH		4095
#define POLICY_MAX_UID		4294967294u
#define POLICY_MAX_LIVE		65535u

/* Position in the file, from 1; 0:0 when there is no better place. */
struct pos {
	int line, col;
};

/* The first error found: what, where. */
struct diag {
	char file[256];
	struct pos pos;
	char msg[512];
};

struct policy_key {
	char *name;	/* "*" for the wildcard */
	struct pos pos;
};

struct policy_rule {
	unsigned int id;	/* 1-based position in rules: */
	struct pos pos;
	char *cgroup;
	struct pos cgroup_pos;
	bool may_appear_later;
	char *exe;		/* NULL: any (or decompiled: see exe_dev) */
	struct pos exe_pos;
	bool has_exe;
	bool has_uid;
	uint32_t uid;
	struct policy_key *keys;
	size_t nr_keys;
	uint8_t types, algs, ops, verdict;
	bool final;		/* final: true */
	bool owner_subtree;	/* owner: subtree */
	bool from_assign;	/* decompiled from a runtime assignment */

	/* Filled by policy_resolve(). */
	uint64_t cgid;		/* 0: pending (may_appear_later) */
	uint64_t exe_dev;	/* kernel dev_t */
	uint64_t exe_ino;
};

struct policy_limit {
	struct pos pos;
	char *cgroup;
	struct pos cgroup_pos;
	bool may_appear_later;
	bool has_max_live_keys;
	uint32_t max_live_keys;
	uint32_t denial_rate;	/* denial_records_per_second; 0: none */
	uint64_t cgid;		/* filled by policy_resolve(); 0: pending */
};

struct policy {
	char *file;
	char *source;		/* the text parsed (policy_parse_buf()), for mktme_source */
	size_t source_len;
	unsigned int version;
	uint8_t mode, dflt;
	uint8_t audit;		/* enum mktme_pol_audit: which decisions are logged */
	struct policy_rule *rules;
	size_t nr_rules;
	struct policy_limit *limits;
	size_t nr_limits;

	/* Only for a policy read back from the maps (policy show). */
	bool loaded;
	uint32_t generation;
	uint64_t loaded_at;

	/* Resolved offline (policy check --offline): ids are stand-ins. */
	bool offline;
};

/* Where cgroups and executables are looked up: real paths, or test trees. */
struct resolve_opts {
	const char *cgroup_root;	/* default /sys/fs/cgroup */
	bool missing_ok;		/* every missing cgroup is pending (the daemon
					 * re-resolving a loaded policy) */
	bool offline;			/* look nothing up: one stand-in id per
					 * distinct cgroup path and per distinct
					 * executable path (policy check --offline) */
	const char *mountinfo;		/* default /proc/self/mountinfo (tests) */
};

/* A runtime assignment (mktmectl assign), merged into every generation. */
struct assignment {
	uint64_t cgid;
	char name[MKTME_NAME_LEN];
	uint32_t id;
	uint64_t assigned_at;
	bool owner_any;		/* assign --owner any: no owner condition */
};

/*
 * An entry of the generation's mktme_rules map, compactly: its rules are
 * r[first .. first + nr) of struct compiled. The map's value holds
 * MKTME_BUCKET_MAX rules however many the bucket has (520 bytes), so it is
 * made only when the map is filled (compiled_bucket_value()): kept whole,
 * a 10,000-rule policy's buckets, most of one rule, were 5.9 MB of
 * mktmectl's 9.3 MB, every page of it zeroed and copied.
 */
struct compiled_bucket {
	struct mktme_pol_rule_key key;
	uint32_t first, nr;
};

/* An entry of the generation's mktme_cgroups map. */
struct compiled_cgroup {
	uint64_t cgid;
	struct mktme_pol_cgroup val;
};

struct compiled {
	bool has_meta;
	struct mktme_pol_meta meta;	/* the mktme_meta map's one entry */
	struct compiled_bucket *b;
	size_t nr_b, cap_b;
	struct mktme_pol_rule *r;	/* the buckets' rules, each bucket's in order */
	size_t nr_r, cap_r;
	struct compiled_cgroup *cg;
	size_t nr_cg, cap_cg;
	size_t nr_pending;	/* rules and limits waiting for their cgroup */
	/* The policy's file and text, borrowed from it (valid while it is): NULL
	 * for a generation read back from the maps. */
	const char *source_file, *source;
	size_t source_len;
};

/* Returns 0, or -1 with @d filled. Nothing is allocated on failure. */
int policy_parse_file(const char *path, struct policy *p, struct diag *d);
int policy_parse_buf(const char *name, const char *buf, size_t len,
		     struct policy *p, struct diag *d);
void policy_free(struct policy *p);

/*
 * Cgroup ids and executable inodes; errors for what must exist and does not.
 * Offline, every cgroup and executable gets a stand-in id instead (equal
 * paths, equal ids), so that policy_compile() still finds duplicates and
 * conflicts; two paths naming one cgroup or one file (a hard link) are not
 * known to be the same until the policy is checked on the system.
 */
int policy_resolve(struct policy *p, const struct resolve_opts *o, struct diag *d);

/*
 * The map entries for @p (resolved) plus @assign, in a fresh @c. Checks what
 * only shows once rules are grouped: duplicates, conflicts, bucket sizes.
 */
int policy_compile(const struct policy *p, const struct assignment *assign,
		   size_t nr_assign, uint32_t generation, struct compiled *c,
		   struct diag *d);
void compiled_free(struct compiled *c);
/* The map value of bucket @i (< c->nr_b) into @v, zero-filled past its rules. */
void compiled_bucket_value(const struct compiled *c, size_t i, struct mktme_pol_bucket *v);
/* The value of the bucket of key @k into @v; false if there is none. */
bool compiled_bucket(const struct compiled *c, const struct mktme_pol_rule_key *k,
		     struct mktme_pol_bucket *v);
const struct mktme_pol_cgroup *compiled_cgroup(const struct compiled *c, const __u64 *cgid);
/* NULL when there is none (a generation read back without its metadata). */
const struct mktme_pol_meta *compiled_meta(const struct compiled *c);
/* Entries in all three maps (what `policy check` and `load` report). */
size_t compiled_entries(const struct compiled *c);
/*
 * Same entries, the metadata's generation, slot and load time aside (its mode and
 * default count: a file that changes only those is a new policy).
 */
bool compiled_same(const struct compiled *a, const struct compiled *b);
/* For building a compiled policy from map contents (policy show). */
int compiled_add_bucket(struct compiled *c, const struct mktme_pol_rule_key *k,
			const struct mktme_pol_bucket *v);
int compiled_add_cgroup(struct compiled *c, uint64_t cgid, const struct mktme_pol_cgroup *v);

/*
 * Back from map entries to rules (ids, cgroup ids, inodes; paths where the
 * cgroup can still be found under @o's root), for policy show.
 */
int policy_decompile(const struct compiled *c, const struct resolve_opts *o,
		     struct policy *p);

/* Text and JSON views of a policy (check: as resolved; show: as loaded). */
void policy_print_text(const struct policy *p, const struct compiled *c, FILE *out);
struct json_object *policy_to_json(const struct policy *p, const struct compiled *c);

void diag_set(struct diag *d, const char *file, struct pos pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* "FILE:LINE:COL: message" (or "FILE: message" without a position). */
void diag_print(const struct diag *d, FILE *out);
struct json_object *diag_to_json(const struct diag *d);

#endif
