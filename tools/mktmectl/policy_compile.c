// SPDX-License-Identifier: GPL-2.0
/*
 * Resolved policy → the entries of one generation's maps (meta, rules,
 * cgroups), and back. The BPF side only ever walks buckets in order (mktme_policy.h), so
 * all of the precedence is decided here, where it can be tested.
 */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "cgroup.h"
#include "grow.h"

/* ---- resolve ------------------------------------------------------------ */

/*
 * What cgroup_id()'s answer @ret for @path means for a rule or limit: 0 (its
 * id in *cgid, or 0: pending, when it @later appears), or -1 with the error.
 */
static int cgroup_verdict(const char *file, const char *root, const char *path, int ret,
			  bool later, struct pos at, uint64_t *cgid, struct diag *d)
{
	if (ret == 0)
		return 0;
	*cgid = 0;
	if (ret == -ENOENT && later)
		return 0;
	if (ret == -ENOENT)
		diag_set(d, file, at, "cgroup: %s does not exist under %s (add \"may_appear_later: true\" if it will be created later)",
			 path, root);
	else if (ret == -ENOTDIR)
		diag_set(d, file, at, "cgroup: %s is not a cgroup (not a directory under %s)", path,
			 root);
	else
		diag_set(d, file, at, "cgroup: %s: %s", path, strerror(-ret));
	return -1;
}

/* The kernel's dev_t (MKDEV), as the programs read it from the inode's super_block. */
static uint64_t kernel_dev(unsigned int maj, unsigned int min)
{
	return ((uint64_t)maj << 20) | min;
}

/*
 * The device of mount @mnt_id as the kernel names it: the major:minor that
 * mountinfo shows is the super_block's s_dev (fs/proc_namespace.c,
 * show_mountinfo()), which is what the programs compare. stat()'s st_dev
 * is the filesystem's own answer and differs on btrfs subvolumes (each
 * subvolume's anonymous device) and on overlayfs (a file's layer device).
 * 0, or a negative errno (-ENOENT: no such mount in the table).
 */
static int mount_dev(const char *mountinfo, uint64_t mnt_id, uint64_t *dev)
{
	FILE *f = fopen(mountinfo ? mountinfo : "/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		uint64_t id;
		unsigned int parent, maj, min;

		if (sscanf(line, "%" SCNu64 " %u %u:%u", &id, &parent, &maj, &min) == 4 &&
		    id == mnt_id) {
			*dev = kernel_dev(maj, min);
			ret = 0;
			break;
		}
	}
	free(line);
	fclose(f);
	return ret;
}

/*
 * A file the kernel hands to an interpreter (fs/binfmt_script.c: "#!"): at
 * exec, bprm->file is then the interpreter. Unreadable: not known to be one.
 */
static bool is_script(const char *path)
{
	char head[2];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	bool script;

	if (fd < 0)
		return false;
	script = read(fd, head, 2) == 2 && head[0] == '#' && head[1] == '!';
	close(fd);
	return script;
}

/* An executable's (device, inode) as the programs see it at exec. */
static int resolve_exe(const struct policy *p, struct policy_rule *r, const char *mountinfo,
		       struct diag *d)
{
	struct statx stx;
	int fd = open(r->exe, O_PATH | O_CLOEXEC), ret;

	if (fd < 0 || statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO | STATX_MNT_ID, &stx)) {
		diag_set(d, p->file, r->exe_pos, "exe: %s: %s", r->exe, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (!S_ISREG(stx.stx_mode)) {
		diag_set(d, p->file, r->exe_pos, "exe: %s is not a regular file", r->exe);
		return -1;
	}
	if (is_script(r->exe)) {
		diag_set(d, p->file, r->exe_pos,
			 "exe: %s is a script (#!): the kernel runs its interpreter, which is the executable recorded at exec, so this rule could never match. Name the interpreter (every script it runs), or the program the script starts",
			 r->exe);
		return -1;
	}
	if (!(stx.stx_mask & STATX_MNT_ID)) {
		diag_set(d, p->file, r->exe_pos,
			 "exe: %s: the kernel does not say which mount it is on (statx STATX_MNT_ID, Linux 5.8)",
			 r->exe);
		return -1;
	}
	ret = mount_dev(mountinfo, stx.stx_mnt_id, &r->exe_dev);
	if (ret) {
		diag_set(d, p->file, r->exe_pos, "exe: %s: mount %" PRIu64 " not found in %s: %s",
			 r->exe, (uint64_t)stx.stx_mnt_id,
			 mountinfo ? mountinfo : "/proc/self/mountinfo", strerror(-ret));
		return -1;
	}
	r->exe_ino = stx.stx_ino;
	return 0;
}

/*
 * "/a//b/" and "/a/b" are one cgroup: paths are equal when their components
 * are. A policy of 10,000 rules names a handful of cgroups, so equal paths
 * are found through a hash of the components, each path compared in full
 * only with those of its hash: comparing every rule with every other took
 * seconds, and sorting the paths (most of them equal, each comparison
 * walking the whole path) was a sixth of a load's instructions.
 */
static bool path_eq(const char *a, const char *b)
{
	for (;;) {
		while (*a == '/')
			a++;
		while (*b == '/')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		while (*a && *a != '/' && *a == *b) {
			a++;
			b++;
		}
		if ((*a && *a != '/') || (*b && *b != '/'))
			return false;
	}
}

/* FNV-1a over the components, each ended by a '/'. */
static uint64_t path_hash(const char *p)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			return h;
		for (; *p && *p != '/'; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
		h = (h ^ '/') * 0x100000001b3ULL;
	}
}

/*
 * first[i] = the smallest j with the same path as paths[i] (i itself if none
 * comes before it; NULL paths are their own). NULL if out of memory. Free it.
 */
static size_t *first_same_path(const char *const *paths, size_t n)
{
	size_t *first = calloc(n ? n : 1, sizeof(*first)), size = 16, *slot;

	/* An open-addressed table of first indices, at most half full. */
	while (size < 2 * n)
		size *= 2;
	slot = malloc(size * sizeof(*slot));
	if (!first || !slot) {
		free(first);
		free(slot);
		return NULL;
	}
	for (size_t k = 0; k < size; k++)
		slot[k] = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		size_t k;

		first[i] = i;
		if (!paths[i])
			continue;
		for (k = path_hash(paths[i]) & (size - 1); slot[k] != SIZE_MAX; k = (k + 1) & (size - 1)) {
			if (path_eq(paths[slot[k]], paths[i])) {
				first[i] = slot[k];
				break;
			}
		}
		if (slot[k] == SIZE_MAX)
			slot[k] = i;
	}
	free(slot);
	return first;
}

/*
 * For each rule's cgroup, then each limit's: the index (in that order) of
 * the first with the same path. Rules come first, so a limit shares the id
 * of the first rule naming its cgroup, else of the first limit.
 */
static size_t *first_same_cgroup(const struct policy *p)
{
	size_t n = p->nr_rules + p->nr_limits, *first;
	const char **paths = calloc(n ? n : 1, sizeof(*paths));

	if (!paths)
		return NULL;
	for (size_t i = 0; i < p->nr_rules; i++)
		paths[i] = p->rules[i].cgroup;
	for (size_t i = 0; i < p->nr_limits; i++)
		paths[p->nr_rules + i] = p->limits[i].cgroup;
	first = first_same_path(paths, n);
	free(paths);
	return first;
}

/* For each rule: the first rule with the same executable (rules without one: their own). */
static size_t *first_same_exe(const struct policy *p)
{
	const char **paths = calloc(p->nr_rules ? p->nr_rules : 1, sizeof(*paths));
	size_t *first;

	if (!paths)
		return NULL;
	for (size_t i = 0; i < p->nr_rules; i++)
		paths[i] = p->rules[i].exe;
	first = first_same_path(paths, p->nr_rules);
	free(paths);
	return first;
}

static struct policy_limit *limit_at(struct policy *p, size_t i)
{
	return &p->limits[i - p->nr_rules];
}

/*
 * Stand-in ids, never 0 (pending): a cgroup's id is 1 + its first index in
 * first_same_cgroup()'s order (rules, then limits); an executable's inode is
 * 1 + the index of the first rule naming it.
 */
static int resolve_offline(struct policy *p, struct diag *d)
{
	size_t *cg = first_same_cgroup(p), *exe = first_same_exe(p);

	if (!cg || !exe) {
		free(cg);
		free(exe);
		diag_set(d, p->file, (struct pos){ 0 }, "out of memory resolving %zu rules", p->nr_rules);
		return -1;
	}
	p->offline = true;
	for (size_t i = 0; i < p->nr_rules; i++) {
		struct policy_rule *r = &p->rules[i];

		r->cgid = cg[i] + 1;
		r->exe_dev = 0;
		r->exe_ino = r->exe ? exe[i] + 1 : 0;
	}
	for (size_t i = p->nr_rules; i < p->nr_rules + p->nr_limits; i++)
		limit_at(p, i)->cgid = cg[i] + 1;
	free(cg);
	free(exe);
	return 0;
}

/*
 * The hierarchy's root has no cgroup.events (CFTYPE_NOT_ON_ROOT in
 * kernel/cgroup/cgroup.c); every other cgroup has, the root of a cgroup
 * namespace too. Paths from another root would name cgroups whose real
 * depth the rules' author cannot see, past the walk's MKTME_MAX_DEPTH
 * levels (bpf/mktme_policy.h) unnoticed.
 */
static bool root_is_top(const char *root)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/cgroup.events", root);
	return access(path, F_OK) != 0;
}

/*
 * Each distinct cgroup and executable is looked up once: every rule that
 * names it again takes the first one's answer (each lookup is a few system
 * calls; 10,000 rules on a handful of cgroups made 40,000). Whether a
 * missing cgroup is an error is still each rule's own (may_appear_later),
 * and errors come in file order, rules first.
 */
int policy_resolve(struct policy *p, const struct resolve_opts *o, struct diag *d)
{
	const char *root = cgroup_root(o ? o->cgroup_root : NULL);
	size_t n = p->nr_rules + p->nr_limits, *cg, *exe;
	int *cg_ret = NULL, ret = -1;

	if (o && o->offline)
		return resolve_offline(p, d);
	if (n && !root_is_top(root)) {
		diag_set(d, p->file, (struct pos){ 0, 0 },
			 "%s is not the root of the cgroup hierarchy (it has cgroup.events: a cgroup namespace's root, or a cgroup below the root); the programs count a cgroup's levels from the hierarchy's root, so its paths are named from there: pass the host's cgroup2 mount (--cgroup-root)",
			 root);
		return -1;
	}

	cg = first_same_cgroup(p);
	exe = first_same_exe(p);
	cg_ret = calloc(n ? n : 1, sizeof(*cg_ret));
	if (!cg || !exe || !cg_ret) {
		diag_set(d, p->file, (struct pos){ 0 }, "out of memory resolving %zu rules", p->nr_rules);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		bool is_rule = i < p->nr_rules;
		struct policy_rule *r = is_rule ? &p->rules[i] : NULL;
		struct policy_limit *l = is_rule ? NULL : limit_at(p, i);
		uint64_t *cgid = is_rule ? &r->cgid : &l->cgid;

		if (cg[i] == i) {
			cg_ret[i] = cgroup_id(root, is_rule ? r->cgroup : l->cgroup, cgid);
		} else {
			size_t f = cg[i];

			cg_ret[i] = cg_ret[f];
			*cgid = f < p->nr_rules ? p->rules[f].cgid : limit_at(p, f)->cgid;
		}
		if (is_rule ? cgroup_verdict(p->file, root, r->cgroup, cg_ret[i],
					     r->may_appear_later || (o && o->missing_ok),
					     r->cgroup_pos, cgid, d)
			    : cgroup_verdict(p->file, root, l->cgroup, cg_ret[i],
					     l->may_appear_later || (o && o->missing_ok),
					     l->cgroup_pos, cgid, d))
			goto out;
		if (!r || !r->exe)
			continue;
		if (exe[i] != i) {
			r->exe_dev = p->rules[exe[i]].exe_dev;
			r->exe_ino = p->rules[exe[i]].exe_ino;
		} else if (resolve_exe(p, r, o ? o->mountinfo : NULL, d)) {
			goto out;
		}
	}
	ret = 0;
out:
	free(cg);
	free(exe);
	free(cg_ret);
	return ret;
}

/* ---- compile ------------------------------------------------------------ */

/* One (rule, key name) pair: a rule with three keys makes three. */
struct item {
	uint64_t cgid;
	const char *name;	/* "*" for the wildcard */
	struct mktme_pol_rule r;
	const struct policy_rule *src;	/* NULL: an assignment */
	struct pos pos;
};

static bool is_wild(const struct item *it)
{
	return !strcmp(it->name, "*");
}

static int subject_rank(const struct mktme_pol_rule *r)
{
	bool exe = r->flags & MKTME_RF_EXE, uid = r->flags & MKTME_RF_UID;

	return exe && uid ? 0 : exe ? 1 : uid ? 2 : 3;
}

/*
 * A condition on the key's type or algorithm. Not owner: an owner condition
 * only narrows an allow (or a deny), and ranking it first would let an
 * assignment (owner: subtree by default) beat a deny of the file.
 */
static bool filtered(const struct mktme_pol_rule *r)
{
	return r->types != MKTME_TYPES_ALL || r->algs != MKTME_ALGS_ALL;
}

/*
 * policy/REFERENCE.md, "Precedence within one cgroup". Final rules first:
 * mktme_decide() relies on a bucket's first match being final whenever any
 * of its final rules matches.
 */
static int precedence_cmp(const struct mktme_pol_rule *a, const struct mktme_pol_rule *b)
{
	int ka[] = { !(a->flags & MKTME_RF_FINAL), subject_rank(a),
		     !!(a->flags & MKTME_RF_WILDCARD), !filtered(a),
		     a->verdict == MKTME_DENY ? 0 : 1, !!(a->flags & MKTME_RF_ASSIGN) };
	int kb[] = { !(b->flags & MKTME_RF_FINAL), subject_rank(b),
		     !!(b->flags & MKTME_RF_WILDCARD), !filtered(b),
		     b->verdict == MKTME_DENY ? 0 : 1, !!(b->flags & MKTME_RF_ASSIGN) };

	for (size_t i = 0; i < sizeof(ka) / sizeof(ka[0]); i++)
		if (ka[i] != kb[i])
			return ka[i] - kb[i];
	return a->id < b->id ? -1 : a->id > b->id;
}

static int rule_cmp(const void *x, const void *y)
{
	return precedence_cmp(x, y);
}

/* Group items by cgroup, then name ("*" sorts first: '*' < any letter is not
 * guaranteed, so it is tested explicitly), then file order. */
static int item_cmp(const void *x, const void *y)
{
	const struct item *a = x, *b = y;
	int c;

	if (a->cgid != b->cgid)
		return a->cgid < b->cgid ? -1 : 1;
	if (is_wild(a) != is_wild(b))
		return is_wild(a) ? -1 : 1;
	c = strcmp(a->name, b->name);
	if (c)
		return c;
	return a->r.id < b->r.id ? -1 : a->r.id > b->r.id;
}

static bool same_subject(const struct mktme_pol_rule *a, const struct mktme_pol_rule *b)
{
	if ((a->flags & (MKTME_RF_EXE | MKTME_RF_UID)) != (b->flags & (MKTME_RF_EXE | MKTME_RF_UID)))
		return false;
	if ((a->flags & MKTME_RF_EXE) && (a->exe_dev != b->exe_dev || a->exe_ino != b->exe_ino))
		return false;
	if ((a->flags & MKTME_RF_UID) && a->uid != b->uid)
		return false;
	return true;
}

/* Same rank and an overlap: precedence could not tell them apart. */
static bool overlap(const struct mktme_pol_rule *a, const struct mktme_pol_rule *b)
{
	return filtered(a) == filtered(b) && (a->ops & b->ops) && (a->types & b->types) &&
	       (a->algs & b->algs);
}

int compiled_add_bucket(struct compiled *c, const struct mktme_pol_rule_key *k,
			const struct mktme_pol_bucket *v)
{
	uint32_t nr = v->nr < MKTME_BUCKET_MAX ? v->nr : MKTME_BUCKET_MAX;

	if (grow(&c->b, &c->cap_b, c->nr_b, sizeof(*c->b)))
		return -ENOMEM;
	if (grow_to(&c->r, &c->cap_r, c->nr_r + nr, sizeof(*c->r)))
		return -ENOMEM;
	if (nr)	/* c->r may still be NULL: a bucket read back empty */
		memcpy(c->r + c->nr_r, v->r, nr * sizeof(*c->r));
	c->b[c->nr_b].key = *k;
	c->b[c->nr_b].first = c->nr_r;
	c->b[c->nr_b].nr = nr;
	c->nr_r += nr;
	c->nr_b++;
	return 0;
}

int compiled_add_cgroup(struct compiled *c, uint64_t cgid, const struct mktme_pol_cgroup *v)
{
	if (grow(&c->cg, &c->cap_cg, c->nr_cg, sizeof(*c->cg)))
		return -ENOMEM;
	c->cg[c->nr_cg] = (struct compiled_cgroup){ .cgid = cgid, .val = *v };
	c->nr_cg++;
	return 0;
}

static struct mktme_pol_rule_key make_key(uint64_t cgid, const char *name)
{
	struct mktme_pol_rule_key k;

	memset(&k, 0, sizeof(k));
	k.cgid = cgid;
	strncpy(k.name, name, sizeof(k.name) - 1);
	return k;
}

static const char *rule_desc(const struct item *it, char *buf, size_t len)
{
	if (it->src)
		snprintf(buf, len, "rule %u (line %d)", it->src->id, it->src->pos.line);
	else
		snprintf(buf, len, "assignment of key \"%s\"", it->name);
	return buf;
}

static int check_pairs(const struct policy *p, struct item *items, size_t n, struct diag *d)
{
	for (size_t lo = 0, hi; lo < n; lo = hi) {
		for (hi = lo + 1; hi < n && items[hi].cgid == items[lo].cgid &&
				  !strcmp(items[hi].name, items[lo].name); hi++)
			;
		for (size_t j = lo + 1; j < hi; j++) {
			for (size_t i = lo; i < j; i++) {
				const struct item *a = &items[i], *b = &items[j];
				char da[96];

				/* Assignments rank after file rules: never an error. */
				if (!a->src || !b->src || a->src == b->src)
					continue;
				if (!same_subject(&a->r, &b->r) || !overlap(&a->r, &b->r))
					continue;
				diag_set(d, p->file, b->pos,
					 "rule %u %s %s: same cgroup %s, same subject, key \"%s\" and overlapping operations%s",
					 b->src->id,
					 a->r.verdict == b->r.verdict ? "duplicates" : "conflicts with",
					 rule_desc(a, da, sizeof(da)), b->src->cgroup, b->name,
					 a->r.verdict == b->r.verdict ? "" : ", but opposite verdicts");
				return -1;
			}
		}
	}
	return 0;
}

static int fill_bucket(const struct policy *p, struct compiled *c, uint64_t cgid,
		       const char *name, const struct item *exact, size_t nexact,
		       const struct item *wild, size_t nwild, struct diag *d)
{
	struct mktme_pol_rule_key k = make_key(cgid, name);
	struct mktme_pol_bucket v;
	const struct item *last = nexact ? &exact[nexact - 1] : &wild[nwild - 1];

	if (nexact + nwild > MKTME_BUCKET_MAX) {
		diag_set(d, p->file, last->pos,
			 "cgroup %s, key \"%s\": %zu rules apply (at most %d, counting the cgroup's \"*\" rules)",
			 last->src ? last->src->cgroup : "(assigned)", name, nexact + nwild,
			 MKTME_BUCKET_MAX);
		return -1;
	}
	memset(&v, 0, sizeof(v));
	for (size_t i = 0; i < nexact; i++)
		v.r[v.nr++] = exact[i].r;
	for (size_t i = 0; i < nwild; i++)
		v.r[v.nr++] = wild[i].r;
	qsort(v.r, v.nr, sizeof(v.r[0]), rule_cmp);
	if (compiled_add_bucket(c, &k, &v)) {
		diag_set(d, p->file, (struct pos){ 0, 0 }, "out of memory");
		return -1;
	}
	return 0;
}

static int compile_items(const struct policy *p, struct compiled *c, struct item *items,
			 size_t n, struct diag *d)
{
	qsort(items, n, sizeof(*items), item_cmp);
	if (check_pairs(p, items, n, d))
		return -1;
	/*
	 * Every bucket has an item of its own (its name's, or its cgroup's
	 * "*" ones), so n buckets at most, and n rules at least (a cgroup's
	 * "*" rules go into each of its buckets: more grow as they come):
	 * room for them at once, where doubling copied them over and over.
	 */
	if (reserve(&c->b, &c->cap_b, n, sizeof(*c->b)) ||
	    reserve(&c->r, &c->cap_r, n, sizeof(*c->r))) {
		diag_set(d, p->file, (struct pos){ 0, 0 }, "out of memory");
		return -1;
	}
	for (size_t lo = 0, hi; lo < n; lo = hi) {
		size_t wlo = lo, whi = lo;

		/* One cgroup: its "*" items first (item_cmp), then names. */
		for (hi = lo; hi < n && items[hi].cgid == items[lo].cgid; hi++)
			;
		while (whi < hi && is_wild(&items[whi]))
			whi++;
		if (whi > wlo &&
		    fill_bucket(p, c, items[lo].cgid, "*", NULL, 0, &items[wlo], whi - wlo, d))
			return -1;
		for (size_t a = whi, b; a < hi; a = b) {
			for (b = a + 1; b < hi && !strcmp(items[b].name, items[a].name); b++)
				;
			if (fill_bucket(p, c, items[a].cgid, items[a].name, &items[a], b - a,
					&items[wlo], whi - wlo, d))
				return -1;
		}
	}
	return 0;
}

/* Stand-in ids for pending cgroups: above every real one (kernfs ids are 64-bit counters). */
#define PENDING_ID (1ULL << 63)

static bool has_pending(const struct policy *p)
{
	for (size_t i = 0; i < p->nr_rules; i++)
		if (!p->rules[i].cgid)
			return true;
	for (size_t i = 0; i < p->nr_limits; i++)
		if (!p->limits[i].cgid)
			return true;
	return false;
}

/*
 * The checks that need rules grouped (duplicates, conflicts, bucket and map
 * sizes, duplicate limits) for rules and limits whose cgroup does not exist
 * yet, as if it did: a stand-in id per path, as `check --offline` gives.
 * Skipped until the cgroup appeared, they made a file valid until a tenant
 * chose to create that cgroup, after which every reload of it failed
 * (latent conflicts, a pending final deny that never took effect).
 */
static int check_pending(const struct policy *p, const struct assignment *assign,
			 size_t nr_assign, struct diag *d)
{
	struct policy q = *p;
	size_t *first = first_same_cgroup(p);
	struct compiled c;
	int ret = -1;

	q.rules = malloc((p->nr_rules ? p->nr_rules : 1) * sizeof(*q.rules));
	q.limits = malloc((p->nr_limits ? p->nr_limits : 1) * sizeof(*q.limits));
	if (!first || !q.rules || !q.limits) {
		diag_set(d, p->file, (struct pos){ 0, 0 }, "out of memory");
		goto out;
	}
	/* A policy without rules or limits has NULL there: no copy from NULL. */
	if (p->nr_rules)
		memcpy(q.rules, p->rules, p->nr_rules * sizeof(*q.rules));
	if (p->nr_limits)
		memcpy(q.limits, p->limits, p->nr_limits * sizeof(*q.limits));
	for (size_t i = 0; i < p->nr_rules; i++)
		if (!q.rules[i].cgid)
			q.rules[i].cgid = PENDING_ID | (first[i] + 1);
	for (size_t i = 0; i < p->nr_limits; i++)
		if (!q.limits[i].cgid)
			q.limits[i].cgid = PENDING_ID | (first[p->nr_rules + i] + 1);
	ret = policy_compile(&q, assign, nr_assign, 1, &c, d);
	if (!ret)
		compiled_free(&c);
out:
	free(first);
	free(q.rules);
	free(q.limits);
	return ret;
}

int policy_compile(const struct policy *p, const struct assignment *assign, size_t nr_assign,
		   uint32_t generation, struct compiled *c, struct diag *d)
{
	struct item *items = NULL;
	size_t n = 0, total = nr_assign;
	int ret = -1;

	memset(c, 0, sizeof(*c));
	memset(d, 0, sizeof(*d));
	/* No recursion: the copy has no pending cgroup. */
	if (has_pending(p) && check_pending(p, assign, nr_assign, d))
		return -1;
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < p->nr_rules; i++)
		total += p->rules[i].nr_keys;
	items = calloc(total ? total : 1, sizeof(*items));
	if (!items) {
		diag_set(d, p->file, (struct pos){ 0, 0 }, "out of memory");
		return -1;
	}

	c->source_file = p->file;
	c->source = p->source;
	c->source_len = p->source_len;
	c->has_meta = true;
	c->meta.generation = generation;
	c->meta.mode = p->mode;
	c->meta.dflt = p->dflt;
	c->meta.audit = p->audit;
	c->meta.nr_rules = p->nr_rules;
	c->meta.nr_assign = nr_assign;
	c->meta.loaded_at = time(NULL);

	for (size_t i = 0; i < p->nr_limits; i++) {
		const struct policy_limit *l = &p->limits[i];

		if (!l->cgid) {
			c->nr_pending++;
			continue;
		}
		for (size_t j = 0; j < i; j++) {
			if (p->limits[j].cgid == l->cgid) {
				diag_set(d, p->file, l->pos, "limit for %s duplicates the limit at line %d (same cgroup)",
					 l->cgroup, p->limits[j].pos.line);
				goto out;
			}
		}
		if (compiled_add_cgroup(c, l->cgid, &(struct mktme_pol_cgroup){
						.flags = (l->has_max_live_keys ? MKTME_CF_LIMIT : 0) |
							 (l->denial_rate ? MKTME_CF_DENIAL_RATE : 0),
						.live_limit = l->max_live_keys,
						.denial_rate = l->denial_rate }))
			goto oom;
	}

	for (size_t i = 0; i < p->nr_rules; i++) {
		const struct policy_rule *r = &p->rules[i];

		if (!r->cgid) {
			c->nr_pending++;
			continue;
		}
		for (size_t j = 0; j < r->nr_keys; j++) {
			struct item *it = &items[n++];

			it->cgid = r->cgid;
			it->name = r->keys[j].name;
			it->src = r;
			it->pos = r->keys[j].pos;
			it->r.id = r->id;
			it->r.ops = r->ops;
			it->r.verdict = r->verdict;
			it->r.types = r->types;
			it->r.algs = r->algs;
			if (r->has_exe) {
				it->r.flags |= MKTME_RF_EXE;
				it->r.exe_dev = r->exe_dev;
				it->r.exe_ino = r->exe_ino;
			}
			if (r->has_uid) {
				it->r.flags |= MKTME_RF_UID;
				it->r.uid = r->uid;
			}
			if (r->final)
				it->r.flags |= MKTME_RF_FINAL;
			if (r->owner_subtree)
				it->r.flags |= MKTME_RF_OWNER;
			if (is_wild(it))
				it->r.flags |= MKTME_RF_WILDCARD;
		}
	}
	for (size_t i = 0; i < nr_assign; i++) {
		struct item *it = &items[n++];

		it->cgid = assign[i].cgid;
		it->name = assign[i].name;
		it->r.id = assign[i].id;
		it->r.flags = MKTME_RF_ASSIGN | (is_wild(it) ? MKTME_RF_WILDCARD : 0) |
			      (assign[i].owner_any ? 0 : MKTME_RF_OWNER);
		it->r.ops = MKTME_OPS_ALL;
		it->r.verdict = MKTME_ALLOW;
		it->r.types = MKTME_TYPES_ALL;
		it->r.algs = MKTME_ALGS_ALL;
	}
	if (compile_items(p, c, items, n, d))
		goto out;
	if (c->nr_b > MKTME_RULES_ENTRIES) {
		diag_set(d, p->file, (struct pos){ 0, 0 },
			 "the policy compiles to %zu rule entries, one per (cgroup, key name) (at most %d): fewer cgroups or key names",
			 c->nr_b, MKTME_RULES_ENTRIES);
		goto out;
	}
	ret = 0;
	goto out;
oom:
	diag_set(d, p->file, (struct pos){ 0, 0 }, "out of memory");
out:
	free(items);
	if (ret)
		compiled_free(c);
	return ret;
}

void compiled_free(struct compiled *c)
{
	free(c->b);
	free(c->r);
	free(c->cg);
	memset(c, 0, sizeof(*c));
}

void compiled_bucket_value(const struct compiled *c, size_t i, struct mktme_pol_bucket *v)
{
	const struct compiled_bucket *b = &c->b[i];

	memset(v, 0, sizeof(*v));
	v->nr = b->nr;
	if (b->nr)
		memcpy(v->r, c->r + b->first, b->nr * sizeof(v->r[0]));
}

bool compiled_bucket(const struct compiled *c, const struct mktme_pol_rule_key *k,
		     struct mktme_pol_bucket *v)
{
	for (size_t i = 0; i < c->nr_b; i++) {
		if (!memcmp(&c->b[i].key, k, sizeof(*k))) {
			compiled_bucket_value(c, i, v);
			return true;
		}
	}
	return false;
}

const struct mktme_pol_cgroup *compiled_cgroup(const struct compiled *c, const __u64 *cgid)
{
	for (size_t i = 0; i < c->nr_cg; i++)
		if (c->cg[i].cgid == *cgid)
			return &c->cg[i].val;
	return NULL;
}

const struct mktme_pol_meta *compiled_meta(const struct compiled *c)
{
	return c->has_meta ? &c->meta : NULL;
}

size_t compiled_entries(const struct compiled *c)
{
	return c->has_meta + c->nr_b + c->nr_cg;
}

/* A bucket with its rules, to compare two compiled forms' buckets by content. */
struct bucket_ref {
	const struct compiled_bucket *b;
	const struct mktme_pol_rule *r;
};

static int bucket_cmp(const void *x, const void *y)
{
	const struct bucket_ref *a = x, *b = y;
	int k = memcmp(&a->b->key, &b->b->key, sizeof(a->b->key));

	if (k)
		return k;
	if (a->b->nr != b->b->nr)
		return a->b->nr < b->b->nr ? -1 : 1;
	return a->b->nr ? memcmp(a->r, b->r, a->b->nr * sizeof(*a->r)) : 0;
}

static struct bucket_ref *bucket_refs(const struct compiled *c)
{
	struct bucket_ref *refs = malloc(c->nr_b * sizeof(*refs) + 1);

	if (!refs)
		return NULL;
	for (size_t i = 0; i < c->nr_b; i++) {
		refs[i].b = &c->b[i];
		refs[i].r = c->r ? c->r + c->b[i].first : NULL;
	}
	qsort(refs, c->nr_b, sizeof(*refs), bucket_cmp);
	return refs;
}

/* The same buckets with the same rules, in any order (map order is the hash's). */
static bool same_buckets(const struct compiled *a, const struct compiled *b)
{
	struct bucket_ref *x = bucket_refs(a), *y = bucket_refs(b);
	bool same = x && y;

	for (size_t i = 0; same && i < a->nr_b; i++)
		same = !bucket_cmp(&x[i], &y[i]);
	free(x);
	free(y);
	return same;
}

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b))

/* Field by field: the struct's padding holds whatever the heap held. */
static int cgroup_cmp(const void *x, const void *y)
{
	const struct compiled_cgroup *a = x, *b = y;

	if (a->cgid != b->cgid)
		return CMP(a->cgid, b->cgid);
	if (a->val.flags != b->val.flags)
		return CMP(a->val.flags, b->val.flags);
	if (a->val.live_limit != b->val.live_limit)
		return CMP(a->val.live_limit, b->val.live_limit);
	return CMP(a->val.denial_rate, b->val.denial_rate);
}

/* Equal as sets: sorted copies compared by @cmp (map order is the hash's). */
static bool same_set(const void *a, const void *b, size_t n, size_t size,
		     int (*cmp)(const void *, const void *))
{
	char *x, *y;
	bool same = false;

	if (!n)
		return true;	/* @a and @b may be NULL */
	x = malloc(n * size);
	y = malloc(n * size);
	if (x && y) {
		memcpy(x, a, n * size);
		memcpy(y, b, n * size);
		qsort(x, n, size, cmp);
		qsort(y, n, size, cmp);
		same = true;
		for (size_t i = 0; same && i < n; i++)
			same = !cmp(x + i * size, y + i * size);
	}
	free(x);
	free(y);
	return same;
}

bool compiled_same(const struct compiled *a, const struct compiled *b)
{
	struct mktme_pol_meta ma = a->meta, mb = b->meta;

	if (a->has_meta != b->has_meta || a->nr_b != b->nr_b || a->nr_cg != b->nr_cg)
		return false;
	/*
	 * Where and when a generation was put, not what it decides: a fresh
	 * compile has no slot until policy_switch() picks one, so comparing it
	 * made every generation in slot 1 differ from the same policy.
	 */
	ma.generation = mb.generation = 0;
	ma.loaded_at = mb.loaded_at = 0;
	ma.slot = mb.slot = 0;
	if (memcmp(&ma, &mb, sizeof(ma)))
		return false;
	return same_buckets(a, b) &&
	       same_set(a->cg, b->cg, a->nr_cg, sizeof(*a->cg), cgroup_cmp);
}

/* ---- decompile ---------------------------------------------------------- */

static char *path_of(const char *root, uint64_t cgid)
{
	char *path = NULL;

	if (cgroup_path(root, cgid, &path) == 0)
		return path;
	if (asprintf(&path, "(removed cgroup, id %llu)", (unsigned long long)cgid) < 0)
		return NULL;
	return path;
}

static struct policy_rule *find_rule(struct policy *p, uint32_t id, uint64_t cgid)
{
	for (size_t i = 0; i < p->nr_rules; i++)
		if (p->rules[i].id == id && p->rules[i].cgid == cgid)
			return &p->rules[i];
	return NULL;
}

static int add_key_name(struct policy_rule *r, const char *name)
{
	struct policy_key *k;

	for (size_t i = 0; i < r->nr_keys; i++)
		if (!strcmp(r->keys[i].name, name))
			return 0;
	k = realloc(r->keys, (r->nr_keys + 1) * sizeof(*k));
	if (!k)
		return -ENOMEM;
	r->keys = k;
	memset(&k[r->nr_keys], 0, sizeof(*k));
	k[r->nr_keys].name = strdup(name);
	if (!k[r->nr_keys].name)
		return -ENOMEM;
	r->nr_keys++;
	return 0;
}

static int by_id(const void *x, const void *y)
{
	const struct policy_rule *a = x, *b = y;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return a->cgid < b->cgid ? -1 : a->cgid > b->cgid;
}

int policy_decompile(const struct compiled *c, const struct resolve_opts *o, struct policy *p)
{
	const char *root = cgroup_root(o ? o->cgroup_root : NULL);
	size_t cap_rules = 0, cap_limits = 0;

	memset(p, 0, sizeof(*p));
	p->loaded = true;
	p->version = 1;
	if (c->has_meta) {
		p->mode = c->meta.mode;
		p->dflt = c->meta.dflt;
		p->audit = c->meta.audit;
		p->generation = c->meta.generation;
		p->loaded_at = c->meta.loaded_at;
	}
	for (size_t i = 0; i < c->nr_cg; i++) {
		const struct compiled_cgroup *e = &c->cg[i];
		struct policy_limit *l;

		if (!(e->val.flags & (MKTME_CF_LIMIT | MKTME_CF_DENIAL_RATE)))
			continue;
		if (grow(&p->limits, &cap_limits, p->nr_limits, sizeof(*p->limits)))
			goto oom;
		l = &p->limits[p->nr_limits++];
		memset(l, 0, sizeof(*l));
		l->cgid = e->cgid;
		l->has_max_live_keys = e->val.flags & MKTME_CF_LIMIT;
		l->max_live_keys = e->val.live_limit;
		l->denial_rate = e->val.flags & MKTME_CF_DENIAL_RATE ? e->val.denial_rate : 0;
		l->cgroup = path_of(root, e->cgid);
		if (!l->cgroup)
			goto oom;
	}
	for (size_t i = 0; i < c->nr_b; i++) {
		const struct mktme_pol_rule_key *k = &c->b[i].key;
		bool wild_bucket = !strcmp(k->name, "*");

		for (uint32_t j = 0; j < c->b[i].nr; j++) {
			const struct mktme_pol_rule *mr = &c->r[c->b[i].first + j];
			struct policy_rule *r;

			/* "*" rules are copied into every named bucket of their
			 * cgroup; the "*" bucket is where they are shown. */
			if ((mr->flags & MKTME_RF_WILDCARD) && !wild_bucket)
				continue;
			r = find_rule(p, mr->id, k->cgid);
			if (!r) {
				if (grow(&p->rules, &cap_rules, p->nr_rules, sizeof(*p->rules)))
					goto oom;
				r = &p->rules[p->nr_rules++];
				memset(r, 0, sizeof(*r));
				r->id = mr->id;
				r->cgid = k->cgid;
				r->cgroup = path_of(root, k->cgid);
				if (!r->cgroup)
					goto oom;
				r->has_exe = mr->flags & MKTME_RF_EXE;
				r->exe_dev = mr->exe_dev;
				r->exe_ino = mr->exe_ino;
				r->has_uid = mr->flags & MKTME_RF_UID;
				r->uid = mr->uid;
				r->ops = mr->ops;
				r->verdict = mr->verdict;
				r->types = mr->types;
				r->algs = mr->algs;
				r->from_assign = mr->flags & MKTME_RF_ASSIGN;
				r->final = mr->flags & MKTME_RF_FINAL;
				r->owner_subtree = mr->flags & MKTME_RF_OWNER;
			}
			if (add_key_name(r, k->name))
				goto oom;
		}
	}
	if (p->nr_rules)
		qsort(p->rules, p->nr_rules, sizeof(*p->rules), by_id);
	return 0;
oom:
	policy_free(p);
	return -ENOMEM;
}
