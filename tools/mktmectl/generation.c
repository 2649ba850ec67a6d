// SPDX-License-Identifier: GPL-2.0
/*
 * Policy generations: building one in fresh maps, switching to it, reading
 * back the one in force, removing it. The layout and why the switch is
 * atomic: bpf/mktme_policy.h and docs/design.md, "Generations".
 */
#include "generation.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "assign_map.h"
#include "main.h"
#include "pins.h"

/* The map behind id @id, or -1 (errno set). */
static int map_fd(__u32 id)
{
	return bpf_map_get_fd_by_id(id);
}

/*
 * The generation in force: the meta map in the slot, its entry. Returns
 * the meta map's fd (the caller closes it) and fills @meta; -ENOENT: the
 * slot is empty; -ENODATA: the meta map has no generation in it.
 */
static int meta_in_force(const struct pins *p, struct mktme_pol_meta *meta, int *fd)
{
	__u32 zero = 0, id;

	*fd = -1;
	if (bpf_map_lookup_elem(p->policy, &zero, &id))
		return -ENOENT;
	*fd = map_fd(id);
	if (*fd < 0)
		return -errno;
	/* An array: entry 0 is always there, zero until it is filled. */
	if (bpf_map_lookup_elem(*fd, &zero, meta) || !meta->generation)
		return -ENODATA;
	return 0;
}

/* The inner map of @outer at @slot: an fd, or a negative errno. */
static int gen_map(int outer, __u32 slot)
{
	__u32 id;
	int fd;

	if (bpf_map_lookup_elem(outer, &slot, &id))
		return -errno;
	fd = map_fd(id);
	return fd < 0 ? -errno : fd;
}

#define BATCH 4096	/* entries per batched read */

/*
 * Every entry of the hash map @fd, BATCH at a time (one system call each,
 * where one per entry made the daemon's refresh of 65,536 entries slow).
 */
static int read_all(int fd, size_t key_size, size_t value_size, struct compiled *c,
		    int (*add)(struct compiled *c, const void *k, const void *v))
{
	char *keys = malloc(BATCH * key_size), *vals = malloc(BATCH * value_size);
	__u32 in = 0, out = 0;
	bool first = true, done = false;
	int err = 0;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	while (!done && !err) {
		__u32 n = BATCH;

		/* The token of a hash map is a bucket index (kernel/bpf/hashtab.c). */
		if (bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &n, NULL)) {
			if (errno != ENOENT) {
				err = -errno;
				break;
			}
			done = true;	/* the last batch: @n entries, maybe none */
		}
		for (__u32 i = 0; i < n && !err; i++)
			err = add(c, keys + i * key_size, vals + i * value_size);
		in = out;
		first = false;
	}
out:
	free(keys);
	free(vals);
	return err;
}

static int add_bucket(struct compiled *c, const void *k, const void *v)
{
	return compiled_add_bucket(c, k, v);
}

static int add_cgroup(struct compiled *c, const void *k, const void *v)
{
	__u64 cgid;

	memcpy(&cgid, k, sizeof(cgid));
	return compiled_add_cgroup(c, cgid, v);
}

int policy_current(const struct pins *p, struct compiled *c)
{
	int mfd, fd, err;

	memset(c, 0, sizeof(*c));
	err = meta_in_force(p, &c->meta, &mfd);
	if (mfd >= 0)
		close(mfd);
	if (err == -ENODATA)
		return 0;	/* a generation without its metadata: shown as such */
	if (err)
		return err;
	c->has_meta = true;
	fd = gen_map(p->gen_rules, c->meta.slot);
	if (fd >= 0) {
		err = read_all(fd, sizeof(struct mktme_pol_rule_key),
			       sizeof(struct mktme_pol_bucket), c, add_bucket);
		close(fd);
	}
	fd = gen_map(p->gen_cgroups, c->meta.slot);
	if (!err && fd >= 0)
		err = read_all(fd, sizeof(__u64), sizeof(struct mktme_pol_cgroup), c,
			       add_cgroup);
	if (fd >= 0)
		close(fd);
	if (err)
		compiled_free(c);
	return err;
}

unsigned int generation_in_force(const struct pins *p)
{
	struct mktme_pol_meta meta;
	int fd, err = meta_in_force(p, &meta, &fd);

	if (fd >= 0)
		close(fd);
	return err ? 0 : meta.generation;
}

unsigned int generation_last(const struct pins *p)
{
	struct mktme_pol_state st;
	unsigned int in_force = generation_in_force(p);
	__u32 zero = 0;

	/*
	 * The one in force too: a state write that failed after its switch
	 * (warned about) left mktme_state behind it, and a number handed out
	 * again would let kept answers of the old content pass as the new
	 * one's (they are kept by generation).
	 */
	if (bpf_map_lookup_elem(p->state, &zero, &st) || st.generation < in_force)
		return in_force;
	return st.generation;
}

/*
 * Empty both slots of mktme_gen_rules and mktme_gen_cgroups (policy unload,
 * once nothing is in force). Each removal is a map-in-map update, which
 * returns only once no program can still be reading the map it removed
 * (maybe_wait_bpf_programs(), kernel/bpf/syscall.c: synchronize_rcu(); the
 * programs are not sleepable); an empty slot costs nothing.
 */
static void slots_clear(const struct pins *p)
{
	int outer[] = { p->gen_rules, p->gen_cgroups };

	for (size_t i = 0; i < 2; i++)
		for (__u32 slot = 0; slot < MKTME_GEN_SLOTS; slot++)
			bpf_map_delete_elem(outer[i], &slot);
}

/*
 * A map for one kind of entry, of @type with @flags (the template's, which
 * the outer map checks its inner maps against), with the BTF of its
 * template (bpftool shows fields).
 */
static int gen_create(int tpl, enum bpf_map_type type, __u32 flags, const char *name,
		      __u32 key_size, __u32 value_size, __u32 max_entries)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	int btf_fd = -1, fd, err;

	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(tpl, &info, &len) && info.btf_id) {
		btf_fd = bpf_btf_get_fd_by_id(info.btf_id);
		if (btf_fd >= 0) {
			opts.btf_fd = btf_fd;
			opts.btf_key_type_id = info.btf_key_type_id;
			opts.btf_value_type_id = info.btf_value_type_id;
		}
	}
	fd = bpf_map_create(type, name, key_size, value_size, max_entries, &opts);
	err = errno;
	if (btf_fd >= 0)
		close(btf_fd);
	errno = err;
	return fd;
}

/* Entry @i of @c's rules map, or of its cgroups map, into @key and @val. */
typedef void (*entry_fn)(const struct compiled *c, size_t i, void *key, void *val);

static void rules_entry(const struct compiled *c, size_t i, void *key, void *val)
{
	memcpy(key, &c->b[i].key, sizeof(c->b[i].key));
	compiled_bucket_value(c, i, val);
}

static void cgroups_entry(const struct compiled *c, size_t i, void *key, void *val)
{
	memcpy(key, &c->cg[i].cgid, sizeof(c->cg[i].cgid));
	memcpy(val, &c->cg[i].val, sizeof(c->cg[i].val));
}

/*
 * Entries written per batch, made from the compiled form batch by batch: a
 * few hundred KiB at a time rather than the whole map's worth (5 MB of
 * values for 10,000 rules, every page of it faulted in afresh). The kernel
 * copies a hash map's batch in one entry at a time all the same
 * (generic_map_update_batch() in kernel/bpf/syscall.c), so larger batches
 * would only save system calls.
 */
#define FILL_BATCH 256

/*
 * @n entries of @c (@entry makes each, @ksz and @vsz bytes) into the fresh
 * map @fd, in batched updates: a system call per batch, not per entry (a
 * 10,000-rule policy is as many buckets).
 */
static int fill(int fd, const struct compiled *c, size_t n, entry_fn entry, size_t ksz,
		size_t vsz, const char *what, char *err, size_t errlen)
{
	size_t per = n < FILL_BATCH ? n : FILL_BATCH, done = 0;
	char *keys, *vals;
	int ret = 0;

	if (!n)
		return 0;
	keys = malloc(per * ksz);
	vals = malloc(per * vsz);
	if (!keys || !vals) {
		snprintf(err, errlen, "out of memory");
		ret = -1;
		goto out;
	}
	while (done < n) {
		size_t want = n - done < per ? n - done : per;
		__u32 count = want;

		for (size_t i = 0; i < want; i++)
			entry(c, done + i, keys + i * ksz, vals + i * vsz);
		/*
		 * The batch is named, not a count of entries written: a batch the
		 * kernel refuses before its first entry leaves @count as it was.
		 */
		if (bpf_map_update_batch(fd, keys, vals, &count, NULL)) {
			snprintf(err, errlen,
				 "cannot fill the new generation's %s (the batch of entries %zu to %zu of %zu): %s",
				 what, done + 1, done + want, n, strerror(errno));
			ret = -1;
			goto out;
		}
		done += want;
	}
out:
	free(keys);
	free(vals);
	return ret;
}

/* For bpftool: the maps of the generation in force under fixed names. */
static void pin_in_force(int fd, const char *name)
{
	char path[512];

	if (pin_path(path, sizeof(path), name))
		return;
	unlink(path);
	if (bpf_obj_pin(fd, path))
		fprintf(stderr, "mktmectl: warning: cannot pin %s: %s\n", path, strerror(errno));
}

/*
 * The file generation @gen was compiled from, into mktme_source (what
 * policy_reassign() compiles again). Not stored, reassign refuses with the
 * reason rather than guess.
 */
static void source_store(const struct pins *p, const struct compiled *c, __u32 gen)
{
	struct mktme_pol_source *s = calloc(1, sizeof(*s));
	__u32 zero = 0;

	if (!s) {
		fprintf(stderr, "mktmectl: warning: out of memory storing the policy file of generation %u: `assign` will ask for the policy to be loaded again\n",
			gen);
		return;
	}
	if (c->source && c->source_len <= sizeof(s->text)) {
		s->generation = gen;
		s->len = c->source_len;
		snprintf(s->file, sizeof(s->file), "%s", c->source_file ? c->source_file : "");
		memcpy(s->text, c->source, c->source_len);
	}
	if (bpf_map_update_elem(p->source, &zero, s, BPF_ANY))
		fprintf(stderr, "mktmectl: warning: cannot store the policy file of generation %u in mktme_source: %s; `assign` will ask for the policy to be loaded again\n",
			gen, strerror(errno));
	free(s);
}

int policy_switch(const struct pins *p, const struct compiled *c, char *err, size_t errlen)
{
	struct mktme_pol_state st = { .changed_at = time(NULL) };
	struct mktme_pol_meta cur, next;
	__u32 zero = 0, slot = 0, gen = c->has_meta ? c->meta.generation : 0;
	int rules = -1, cgroups = -1, meta = -1, mfd = -1, ret = -1;

	if (!gen) {
		snprintf(err, errlen, "internal error: a generation without its metadata (or numbered 0)");
		return -1;
	}
	/*
	 * The slot not in force. Its maps are the generation before the one
	 * in force (or an earlier failed load's): the switch to the one in
	 * force waited for every program that could read them. Nothing in
	 * force (or metadata without a generation, which no decision takes
	 * a slot from): either slot.
	 */
	ret = meta_in_force(p, &cur, &mfd);
	if (mfd >= 0)
		close(mfd);
	if (!ret) {
		slot = cur.slot == 0;
	} else if (ret != -ENOENT && ret != -ENODATA) {
		/* Which slot is in force is unknown: writing either could be it. */
		snprintf(err, errlen, "cannot read the generation in force: %s", strerror(-ret));
		return -1;
	}
	ret = -1;
	next = c->meta;
	next.slot = slot;

	rules = gen_create(p->rules_tpl, BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, "mktme_rules",
			   sizeof(struct mktme_pol_rule_key), sizeof(struct mktme_pol_bucket),
			   MKTME_RULES_ENTRIES);
	cgroups = gen_create(p->cgroups_tpl, BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC, "mktme_cgroups",
			     sizeof(__u64), sizeof(struct mktme_pol_cgroup), MKTME_MAX_LIMITS);
	/* An array of one (bpf/mktme_policy.bpf.c, MKTME_META_MAP): read inline. */
	meta = gen_create(p->meta_tpl, BPF_MAP_TYPE_ARRAY, 0, "mktme_meta", sizeof(__u32),
			  sizeof(struct mktme_pol_meta), 1);
	if (rules < 0 || cgroups < 0 || meta < 0) {
		snprintf(err, errlen, "cannot create the new generation's maps: %s", strerror(errno));
		goto out;
	}
	if (fill(rules, c, c->nr_b, rules_entry, sizeof(struct mktme_pol_rule_key),
		 sizeof(struct mktme_pol_bucket), "rules", err, errlen) ||
	    fill(cgroups, c, c->nr_cg, cgroups_entry, sizeof(__u64),
		 sizeof(struct mktme_pol_cgroup), "cgroups", err, errlen))
		goto out;
	if (bpf_map_update_elem(meta, &zero, &next, BPF_ANY)) {
		snprintf(err, errlen, "cannot fill the new generation's metadata: %s", strerror(errno));
		goto out;
	}
	/*
	 * In the slot before the switch: no decision ever finds them missing.
	 * A failure leaves the slot not in force as it is, or holding this
	 * generation's maps: the next load replaces them.
	 */
	if (bpf_map_update_elem(p->gen_rules, &slot, &rules, BPF_ANY) ||
	    bpf_map_update_elem(p->gen_cgroups, &slot, &cgroups, BPF_ANY)) {
		snprintf(err, errlen, "cannot add generation %u: %s", gen, strerror(errno));
		goto out;
	}
	/* The switch: one update. Before it nothing the programs read changed. */
	if (bpf_map_update_elem(p->policy, &zero, &meta, BPF_ANY)) {
		snprintf(err, errlen, "cannot switch to the new generation: %s", strerror(errno));
		goto out;
	}
	ret = 0;
	st.generation = gen;
	if (bpf_map_update_elem(p->state, &zero, &st, BPF_ANY))
		fprintf(stderr, "mktmectl: warning: cannot record generation %u: %s\n",
			st.generation, strerror(errno));
	source_store(p, c, gen);
	pin_in_force(meta, "mktme_meta");
	pin_in_force(rules, "mktme_rules");
	pin_in_force(cgroups, "mktme_cgroups");
out:
	if (rules >= 0)
		close(rules);
	if (cgroups >= 0)
		close(cgroups);
	if (meta >= 0)
		close(meta);
	return ret;
}

int policy_clear(const struct pins *p)
{
	static const char *const names[] = { "mktme_meta", "mktme_rules", "mktme_cgroups" };
	char path[512];
	__u32 zero = 0;

	if (bpf_map_delete_elem(p->policy, &zero) && errno != ENOENT)
		return -errno;
	slots_clear(p);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (pin_path(path, sizeof(path), names[i]))
			continue;
		unlink(path);
	}
	return 0;
}

int policy_reassign(const struct pins *p, char *err, size_t errlen)
{
	struct resolve_opts o = { .cgroup_root = cli.cgroup_root, .missing_ok = true };
	struct mktme_pol_source *src = NULL;
	struct mktme_pol_meta cur;
	struct assignment *a = NULL;
	struct compiled next;
	struct policy pol;
	struct diag d;
	size_t n = 0;
	__u32 zero = 0;
	int mfd, ret;

	memset(&pol, 0, sizeof(pol));
	ret = meta_in_force(p, &cur, &mfd);
	if (mfd >= 0)
		close(mfd);
	if (ret == -ENOENT)
		return 0;
	if (ret) {
		snprintf(err, errlen, "cannot read the generation in force: %s",
			 ret == -ENODATA ? "it has no metadata" : strerror(-ret));
		return -1;
	}
	src = malloc(sizeof(*src));
	if (!src) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (bpf_map_lookup_elem(p->source, &zero, src)) {
		snprintf(err, errlen, "cannot read mktme_source: %s", strerror(errno));
		ret = -1;
		goto out;
	}
	/*
	 * The file of the generation in force and the stored assignments,
	 * compiled as a load does; never the maps read back. Cgroups gone
	 * since the load wait for their cgroup, as the daemon's refresh has
	 * them: the file was valid when it was loaded.
	 */
	if (src->generation != cur.generation || src->len > sizeof(src->text)) {
		snprintf(err, errlen, "cannot recompile the generation in force: its policy file (generation %u) is not stored (mktme_source holds generation %u): load the policy again (mktmectl policy load FILE)",
			 cur.generation, src->generation);
		ret = -1;
		goto out;
	}
	if (policy_parse_buf(src->file, src->text, src->len, &pol, &d) ||
	    policy_resolve(&pol, &o, &d)) {
		snprintf(err, errlen, "cannot recompile the generation in force: its policy file (generation %u, %s) no longer compiles: %s:%d:%d: %s",
			 cur.generation, src->file, d.file, d.pos.line, d.pos.col, d.msg);
		ret = -1;
		goto out;
	}
	ret = assignments_read(p, &a, &n);
	if (ret) {
		snprintf(err, errlen, "cannot read the assignments: %s", strerror(-ret));
		ret = -1;
		goto out;
	}
	if (policy_compile(&pol, a, n, generation_last(p) + 1, &next, &d)) {
		snprintf(err, errlen, "%s", d.msg);
		ret = -1;
		goto out;
	}
	ret = policy_switch(p, &next, err, errlen);
	compiled_free(&next);
out:
	free(a);
	free(src);
	policy_free(&pol);
	return ret;
}
