// SPDX-License-Identifier: GPL-2.0
/*
 * mktme policy: one BPF LSM program per mktme hook, deciding from the
 * policy generation whose metadata is in the mktme_policy slot
 * (bpf/mktme_policy.h has the decision and the map layout;
 * policy/REFERENCE.md the semantics).
 *
 * Global programs keyed by cgroup id rather than BPF_LSM_CGROUP: they use
 * none of the system-wide cgroup LSM slots, and a task's whole ancestry is
 * visible, so the nearest rule can win.
 *
 * The slot is read once per call, and the generation number in it names
 * that generation's rules and limits: every decision is taken wholly under
 * one generation, and a reload is one map update (mktmectl builds the new
 * generation completely in fresh maps first).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MKTME_LOOKUP_BUCKET(map, key) \
	((const struct mktme_pol_bucket *)bpf_map_lookup_elem(map, key))
#define MKTME_LOOKUP_CGROUP(map, cgid) \
	((const struct mktme_pol_cgroup *)bpf_map_lookup_elem(map, cgid))
#define MKTME_CHARGE(live, cgid) live_add(live, cgid)
#define MKTME_UNCHARGE(live, cgid) live_sub(live, cgid)
/*
 * The denial-record budget of each cgroup the policy gives a denial_rate
 * (struct mktme_pol_budget), in the cgroup's storage like mktme_live.
 */
struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mktme_pol_budget);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_denial_budget SEC(".maps");

static __always_inline __u64 live_add(void *live, __u64 cgid);
static __always_inline void live_sub(void *live, __u64 cgid);
/*
 * One rule bucket is matched in a global function, which the verifier checks
 * once, on its own: inlined into the walk over 16 cgroup levels, the 6.12
 * verifier gave up on mktme_create after a million instructions.
 */
#define MKTME_BUCKET_MATCH_FN __noinline
#include "mktme_policy.h"

char LICENSE[] SEC("license") = "GPL";

#ifdef MKTME_TEST_VARIANT
/* A second build of the same programs, for the upgrade test (mk/mktmectl.mk). */
const volatile __u32 mktme_test_variant = MKTME_TEST_VARIANT;
#endif

#define ENOSPC 28

/*
 * What an lsm/ program returns for a decision: mktme_hook_ret() answers 0 or
 * -EPERM. The verifier (6.12 and later) rejects an int hook's program unless
 * it can prove the return value is 0 or a negative errno, and it does not
 * track BPF_NEG, which clang emits for "deny ? -EPERM : 0" (as -(deny & 1)).
 * Hide the value from clang, so that each answer is a constant again.
 */
static __always_inline int lsm_ret(int ret)
{
	barrier_var(ret);
	return ret ? -MKTME_EPERM : 0;
}

/*
 * Templates of one generation's three maps, never filled: they give
 * mktmectl the BTF for the maps it creates. Defined before the outer maps:
 * clang emits only forward declarations for the key and value types of an
 * inner map.
 */
/*
 * The metadata is an array of one: read on every decision, and the verifier
 * inlines an array's lookup (array_map_gen_lookup(), kernel/bpf/arraymap.c),
 * where a hash's is a call and a hash of the key. Entry 0 always exists;
 * a zero generation in it is a generation without its metadata.
 */
#define MKTME_META_MAP							\
	__uint(type, BPF_MAP_TYPE_ARRAY);				\
	__uint(max_entries, 1);						\
	__type(key, __u32);						\
	__type(value, struct mktme_pol_meta)
#define MKTME_RULES_MAP							\
	__uint(type, BPF_MAP_TYPE_HASH);				\
	__uint(map_flags, BPF_F_NO_PREALLOC);				\
	__uint(max_entries, MKTME_RULES_ENTRIES);			\
	__type(key, struct mktme_pol_rule_key);				\
	__type(value, struct mktme_pol_bucket)
#define MKTME_CGROUPS_MAP						\
	__uint(type, BPF_MAP_TYPE_HASH);				\
	__uint(map_flags, BPF_F_NO_PREALLOC);				\
	__uint(max_entries, MKTME_MAX_LIMITS);				\
	__type(key, __u64);						\
	__type(value, struct mktme_pol_cgroup)

struct {
	MKTME_META_MAP;
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_meta_tpl SEC(".maps");

struct {
	MKTME_RULES_MAP;
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_rules_tpl SEC(".maps");

struct {
	MKTME_CGROUPS_MAP;
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_cgroups_tpl SEC(".maps");

/* The switch: the metadata of the generation in force. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct { MKTME_META_MAP; });
} mktme_policy SEC(".maps");

/*
 * Slot -> a generation's rules; -> its cgroups' settings. Arrays: the
 * verifier inlines their lookups (array_of_map_gen_lookup(),
 * kernel/bpf/arraymap.c), and a load replaces the slot not in force in one
 * update, with nothing to delete afterwards (mktme_policy.h).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MKTME_GEN_SLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct { MKTME_RULES_MAP; });
} mktme_gen_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MKTME_GEN_SLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct { MKTME_CGROUPS_MAP; });
} mktme_gen_cgroups SEC(".maps");

/*
 * Live keys created in each cgroup's subtree, in the cgroup's own storage:
 * it lives and dies with the cgroup, so no number of cgroups (a tenant's
 * delegated subtree making thousands) can fill a shared table and leave
 * the next limited cgroup uncountable, hence denied.
 */
struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_live SEC(".maps");

/* kernel/bpf/helpers.c: the cgroup of an id, with a reference. */
extern struct cgroup *bpf_cgroup_from_id(u64 cgid) __ksym;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MKTME_MAX_LIVE_KEYS);
	__type(key, __s32);	/* key serial */
	__type(value, struct mktme_pol_key_owner);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_keys SEC(".maps");

/*
 * The executable of each task, recorded at exec: see struct mktme_pol_exe.
 * Task storage goes with the task, so no number of tasks fills a table.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mktme_pol_exe);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_exe SEC(".maps");

/* Each task's latest allows: see struct mktme_pol_decided. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mktme_pol_decided);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_decided SEC(".maps");

/* mktme_epoch[0]: advanced by every key revoked or freed (mktme_decided). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_epoch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MKTME_MAX_COUNTERS);
	__type(key, struct mktme_pol_count_key);	/* the task's own cgroup */
	__type(value, struct mktme_pol_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_counters SEC(".maps");

/* Written by mktmectl only; here so that it is created and pinned with the rest. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MKTME_MAX_ASSIGN);
	__type(key, struct mktme_pol_cg_key);
	__type(value, struct mktme_pol_assign_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_assign SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mktme_pol_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mktme_pol_source);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_source SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mktme_pol_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_stats SEC(".maps");

/*
 * The build of the programs attached (tools/mktmectl/programs.c: a hash of
 * the BPF object mktmectl embeds). Written by mktmectl once every program
 * of a build is attached; a build that finds another's id here replaces
 * the programs, keeping every other map.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_build SEC(".maps");

/*
 * Audit: two ring buffers, so that no number of allows can take the place
 * of a denial. Denials (and would-deny) have mktme_denials to themselves;
 * allows, logged only under `audit: all`, go to mktme_events. A record that
 * finds its ring full is counted, per CPU, in mktme_stats and leaves a gap
 * in its stream's sequence numbers (mktme_seq): never silently gone.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, MKTME_DENIALS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_denials SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, MKTME_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MKTME_NR_STREAMS);
	__type(key, __u32);	/* enum mktme_pol_stream */
	__type(value, __u64);	/* the last sequence number given */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_seq SEC(".maps");

/*
 * The latest denial records, slot seq % MKTME_DENIALS_LAST: what bpftool
 * can read (it cannot read a ring buffer), with the record's BTF, and what
 * any number of readers can look at without taking records from the
 * stream's one consumer. A slot being rewritten can be read half-old.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MKTME_DENIALS_LAST);
	__type(key, __u32);
	__type(value, struct mktme_pol_event);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mktme_denials_last SEC(".maps");

static __always_inline __u64 live_add(void *live, __u64 cgid)
{
	struct cgroup *cg = bpf_cgroup_from_id(cgid);
	__u64 *cnt, before = ~0ULL;	/* uncountable: a limited cgroup denies */

	if (!cg)
		return before;
	cnt = bpf_cgrp_storage_get(&mktme_live, cg, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (cnt)
		before = __sync_fetch_and_add(cnt, 1);
	bpf_cgroup_release(cg);
	return before;
}

/* A cgroup gone since the charge took its count with it. */
static __always_inline void live_sub(void *live, __u64 cgid)
{
	struct cgroup *cg = bpf_cgroup_from_id(cgid);
	__u64 *cnt;

	if (!cg)
		return;
	cnt = bpf_cgrp_storage_get(&mktme_live, cg, 0, 0);
	if (cnt && *cnt > 0)
		__sync_fetch_and_sub(cnt, 1);
	bpf_cgroup_release(cg);
}

static __always_inline struct mktme_pol_stats *stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&mktme_stats, &zero);
}

/*
 * The task's effective uid: its own cred, loaded directly (no helper call).
 * @t is always current (bpf_get_current_task_btf(), taken once per decision:
 * it is a helper call too).
 */
static __always_inline __u32 task_euid(const struct task_struct *t)
{
	return t->cred->euid.val;
}

/*
 * Current's own cgroup id, as bpf_get_current_cgroup_id() gives it
 * (kernel/bpf/helpers.c: task_dfl_cgroup(current), its kernfs node's id),
 * with plain loads under the RCU read lock every LSM program runs in.
 */
static __always_inline __u64 task_cgid(const struct task_struct *t)
{
	return t->cgroups->dfl_cgrp->kn->id;
}

/*
 * The ids of @cg and its ancestors, nearest first, at most MKTME_MAX_DEPTH:
 * by kernfs parents (a cgroup's id is its kernfs node's, cgroup_id() in
 * include/linux/cgroup.h, and a cgroup never changes parent: cgroup_rename()
 * in kernel/cgroup/cgroup.c refuses it), with plain loads.
 */
static __always_inline __u32 ancestry(const struct cgroup *cg, struct mktme_pol_subject *s)
{
	struct kernfs_node *kn = cg->kn;
	__u32 n = 0;

	for (int i = 0; i < MKTME_MAX_DEPTH; i++) {
		if (!kn)
			break;
		s->o.cgids[i] = kn->id;
		kn = kn->parent;
		n = i + 1;
	}
	return n;
}

/* kernel/bpf/helpers.c: @cgrp's ancestor at @level, with a reference. */
extern struct cgroup *bpf_cgroup_ancestor(struct cgroup *cgrp, int level) __ksym;

/*
 * The task's cgroups, nearest first (see struct mktme_pol_subject), from one
 * reading of its cgroup. Asking bpf_get_current_ancestor_cgroup_id() level
 * by level read the task's cgroup anew each time: a task moved meanwhile
 * (its owner may move it within its own subtree) got a walk mixing two
 * cgroups' ancestries, and the decision of neither (test_policy,
 * a_task_moved_while_it_is_decided_gets_one_cgroups_decision).
 */
static __always_inline void fill_subject(struct task_struct *t, struct mktme_pol_subject *s)
{
	struct cgroup *cg = t->cgroups->dfl_cgrp, *anc;
	struct mktme_pol_exe *e;

	if (cg->level < MKTME_MAX_DEPTH) {
		s->o.depth = ancestry(cg, s);
	} else {
		/* Deeper than any rule can be: from its ancestor at level 15. */
		anc = bpf_cgroup_ancestor(cg, MKTME_MAX_DEPTH - 1);
		if (anc) {
			s->o.depth = ancestry(anc, s);
			bpf_cgroup_release(anc);
		}
	}
	s->uid = task_euid(t);
	/*
	 * The executable recorded at exec, never mm->exe_file: the root of a
	 * user namespace can point that at any executable it may run
	 * (prctl(PR_SET_MM_MAP), checkpoint_restore_ns_capable() in
	 * kernel/sys.c). No record (exec'd before the programs ran, or the
	 * record could not be made): unknown, matched by deny rules only.
	 * Reading mm->exe_file once instead would trust a link the task may
	 * already have changed before the programs were attached.
	 */
	e = bpf_task_storage_get(&mktme_exe, t, 0, 0);
	if (e) {
		s->exe_known = 1;
		s->exe_dev = e->dev;
		s->exe_ino = e->ino;
	}
}

/*
 * The key's description into @name, zero-padded (the caller zeroed it).
 * False if it is longer than any policy name can be: then only "*" may
 * match it.
 */
static __always_inline bool read_name(const struct key *key, char name[MKTME_NAME_LEN])
{
	const char *desc = key->description;
	char next = 0;
	long n;

	if (!desc)
		return false;
	n = bpf_probe_read_kernel_str(name, MKTME_NAME_LEN, desc);
	if (n < MKTME_NAME_LEN)
		return n > 0;
	bpf_probe_read_kernel(&next, 1, desc + MKTME_NAME_LEN - 1);
	return next == 0;
}

#define NSEC_PER_SEC 1000000000ULL

/*
 * The cgroup whose denial budget a denial of @s is under: the nearest
 * cgroup of its walk that the generation in force gives a denial_rate.
 * A tenant's own cgroups (a delegated subtree) have no entry in the
 * policy, only the operator's do, so making cgroups does not make budget.
 * 0 and *@rate 0: none (the record is logged, as with no policy).
 */
static __always_inline __u64 budget_cgroup(const struct mktme_pol_meta *meta,
					   const struct mktme_pol_subject *s, __u32 *rate)
{
	void *cgroups;
	__u32 slot;

	*rate = 0;
	if (!meta)
		return 0;
	slot = meta->slot;
	cgroups = bpf_map_lookup_elem(&mktme_gen_cgroups, &slot);
	if (!cgroups)
		return 0;
	for (int i = 0; i < MKTME_MAX_DEPTH; i++) {
		const struct mktme_pol_cgroup *v;
		__u64 cgid;

		if (i >= (int)s->o.depth)
			break;
		cgid = s->o.cgids[i];
		v = bpf_map_lookup_elem(cgroups, &cgid);
		if (v && (v->flags & MKTME_CF_DENIAL_RATE) && v->denial_rate) {
			*rate = v->denial_rate;
			return cgid;
		}
	}
	return 0;
}

/*
 * One record from @cgid's budget of @rate a second (GCRA, struct
 * mktme_pol_budget): false if the subtree is over it, and the denial is
 * counted as suppressed instead. Lock-free: a compare-and-swap on tat,
 * retried a few times against other CPUs. What cannot be metered (the
 * cgroup gone, no storage, the retries spent) is logged: a budget only
 * ever takes records away for a reason it counts.
 */
static __always_inline bool budget_take(__u64 cgid, __u32 rate)
{
	struct cgroup *cg = bpf_cgroup_from_id(cgid);
	struct mktme_pol_budget *b;
	__u64 now, tat, next, interval = NSEC_PER_SEC / rate;
	bool ok = true;

	if (!cg)
		return true;
	b = bpf_cgrp_storage_get(&mktme_denial_budget, cg, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (b) {
		now = bpf_ktime_get_boot_ns();
		tat = b->tat;
		for (int i = 0; i < 4; i++) {
			__u64 old;

			/* At most rate records ahead of the rate: a second's worth. */
			next = (tat > now ? tat : now) + interval;
			if (next > now + NSEC_PER_SEC) {
				__sync_fetch_and_add(&b->suppressed, 1);
				ok = false;
				break;
			}
			old = __sync_val_compare_and_swap(&b->tat, tat, next);
			if (old == tat)
				break;
			tat = old;
		}
	}
	bpf_cgroup_release(cg);
	return ok;
}

/* The denials of @cgid's subtree suppressed since its last record, now reset. */
static __always_inline __u32 budget_claim(__u64 cgid)
{
	struct cgroup *cg = bpf_cgroup_from_id(cgid);
	struct mktme_pol_budget *b;
	__u64 n = 0;

	if (!cg)
		return 0;
	b = bpf_cgrp_storage_get(&mktme_denial_budget, cg, 0, 0);
	if (b)
		n = __sync_lock_test_and_set(&b->suppressed, 0);
	bpf_cgroup_release(cg);
	return n > 0xffffffffULL ? 0xffffffffU : n;
}

static const struct mktme_pol_counter zero_counter;

/*
 * The counter of (@cgid, the key name of fingerprint @fp), made when there
 * is none yet (the first count, or the LRU dropped it) with the name: @name
 * if @have_name, else read from @key (a kept decision had no need of it).
 * A reader may see a new counter's name a moment after the counter.
 */
static __always_inline void count(__u64 cgid, __u64 fp, const struct key *key, const char *name,
				  bool have_name, __u32 op, __u8 verdict, __u8 mode)
{
	struct mktme_pol_count_key ck = { .cgid = cgid, .name_fp = fp };
	struct mktme_pol_counter *c;

	c = bpf_map_lookup_elem(&mktme_counters, &ck);
	if (!c) {
		if (bpf_map_update_elem(&mktme_counters, &ck, &zero_counter, BPF_NOEXIST))
			return;
		c = bpf_map_lookup_elem(&mktme_counters, &ck);
		if (!c)
			return;
		if (have_name)
			__builtin_memcpy(c->name, name, sizeof(c->name));
		else
			read_name(key, c->name);
	}
	if (verdict == MKTME_DENY && mode == MKTME_MODE_AUDIT)
		__sync_fetch_and_add(&c->audit_would_deny, 1);
	else if (op == MKTME_OP_CREATE)
		__sync_fetch_and_add(verdict == MKTME_DENY ? &c->create_denied : &c->create_allowed, 1);
	else if (op == MKTME_OP_BIND)
		__sync_fetch_and_add(verdict == MKTME_DENY ? &c->bind_denied : &c->bind_allowed, 1);
	else
		__sync_fetch_and_add(verdict == MKTME_DENY ? &c->mmap_denied : &c->mmap_allowed, 1);
}

/*
 * The decision in this CPU's totals (mktme_stats): atomic all the same (the
 * program can be preempted by another run of it on this CPU), but on a
 * line no other CPU writes.
 */
static __always_inline struct mktme_pol_stats *tally(bool denial)
{
	struct mktme_pol_stats *st = stats();

	if (st) {
		__sync_fetch_and_add(&st->decisions, 1);
		if (denial)
			__sync_fetch_and_add(&st->denials, 1);
	}
	return st;
}

static __always_inline void emit(const struct mktme_pol_subject *s, __u64 cgid,
				 const struct key *key, const char *name, bool name_ok, __u32 op,
				 __u32 keyid, const struct mktme_pol_meta *meta,
				 const struct mktme_pol_decision *d, int ret)
{
	bool denial = d->verdict == MKTME_DENY;
	struct mktme_pol_stats *st = tally(denial);
	__u32 stream = denial ? MKTME_STREAM_DENIALS : MKTME_STREAM_ALLOWS;
	struct mktme_pol_event *e, *last;
	__u64 *seq, nr, budget = 0;
	__u32 rate = 0;

	/* Allows are counted (mktme_counters) always, logged only on request. */
	if (!denial && !(meta && meta->audit == MKTME_AUDIT_ALL))
		return;
	/*
	 * A subtree over its denial_rate is not logged (and takes no
	 * sequence number: it is not lost, its next record says how many),
	 * so that one tenant's flood of denials cannot fill mktme_denials
	 * and push out another's.
	 */
	if (denial) {
		budget = budget_cgroup(meta, s, &rate);
		if (budget && !budget_take(budget, rate)) {
			if (st)
				__sync_fetch_and_add(&st->denials_suppressed, 1);
			return;
		}
	}
	seq = bpf_map_lookup_elem(&mktme_seq, &stream);
	if (!seq)
		return;
	nr = __sync_add_and_fetch(seq, 1);
	e = bpf_ringbuf_reserve(denial ? (void *)&mktme_denials : (void *)&mktme_events,
				sizeof(*e), 0);
	if (!e) {
		if (st) {
			if (denial)
				__sync_fetch_and_add(&st->denials_lost, 1);
			else
				__sync_fetch_and_add(&st->allows_lost, 1);
		}
		return;
	}
	e->seq = nr;
	e->time_ns = bpf_ktime_get_boot_ns();
	e->cgid = cgid;
	e->rule_cgid = d->rule_cgid;
	e->budget_cgid = budget;
	e->suppressed = budget ? budget_claim(budget) : 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->uid = s->uid;
	e->key_serial = BPF_CORE_READ(key, serial);
	e->keyid = keyid;
	e->generation = meta ? meta->generation : 0;
	e->rule_id = d->rule_id;
	e->ret = ret;
	e->hook = op;
	e->verdict = d->verdict;
	e->mode = meta ? meta->mode : MKTME_MODE_ENFORCE;
	e->reason = d->reason;
	e->flags = name_ok ? 0 : MKTME_EV_NAME_TOO_LONG;
	e->key_type = s->o.type;
	e->key_alg = s->o.alg;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	__builtin_memcpy(e->key, name, sizeof(e->key));
	if (denial) {
		__u32 slot = nr % MKTME_DENIALS_LAST;

		last = bpf_map_lookup_elem(&mktme_denials_last, &slot);
		if (last)
			__builtin_memcpy(last, e, sizeof(*e));
	}
	bpf_ringbuf_submit(e, 0);
}

/*
 * Count the decision for the task's own cgroup and the key name (@fp its
 * fingerprint), and log it. @name goes into a record: every decision that
 * may be logged has read it (@have_name); only a kept allow under "audit:
 * denials" has not.
 */
static __always_inline void account(const struct mktme_pol_subject *s, __u64 cgid, __u64 fp,
				    const struct key *key, const char *name, bool have_name,
				    bool name_ok, __u32 op, __u32 keyid,
				    const struct mktme_pol_meta *meta,
				    const struct mktme_pol_decision *d, __u8 mode, int ret)
{
	count(cgid, fp, key, name, have_name, op, d->verdict, mode);
	emit(s, cgid, key, name, name_ok, op, keyid, meta, d, ret);
}

/*
 * The generation in force: its metadata from the slot. False if the slot
 * holds a generation without it (not one mktmectl makes): the caller fails
 * closed.
 */
static __always_inline bool generation(const struct mktme_pol_meta **meta, bool *none)
{
	__u32 zero = 0;
	void *slot = bpf_map_lookup_elem(&mktme_policy, &zero);

	*none = !slot;
	if (!slot)
		return true;
	*meta = bpf_map_lookup_elem(slot, &zero);
	return *meta && (*meta)->generation;
}

/*
 * The walk's maps of @meta's generation: its rules and (for create) its
 * cgroups' limits, at its slot. False if it is not whole (mktmectl fills
 * the slot before it switches): the caller fails closed. Only a walk reads
 * them, so a kept answer (mktme_decided) does not look them up.
 */
static __always_inline bool generation_maps(__u32 op, const struct mktme_pol_meta *meta,
					    void **rules, void **cgroups)
{
	__u32 slot = meta->slot;

	*rules = bpf_map_lookup_elem(&mktme_gen_rules, &slot);
	if (!*rules)
		return false;
	if (op != MKTME_OP_CREATE)
		return true;
	*cgroups = bpf_map_lookup_elem(&mktme_gen_cgroups, &slot);
	return *cgroups != 0;
}

static __always_inline __u64 *epoch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&mktme_epoch, &zero);
}

/*
 * The slot of @dc holding an allow for exactly this question, or -1 (@gen
 * 0: under no policy). A task deeper than the walk never matches: its slots
 * are keyed by the ancestor the walk started at, not by its own cgroup.
 */
static __always_inline int decided_find(const struct mktme_pol_decided *dc, __u64 cgid,
					const struct key *key, __s32 serial, __u32 gen,
					__u32 uid, __u32 op, __u64 ep)
{
	for (int i = 0; i < MKTME_DECIDED_SLOTS; i++) {
		const struct mktme_pol_decided_slot *e = &dc->slot[i];

		/* What tells a task's slots apart first: the operation, the key. */
		if (e->op == op && e->key == (__u64)key && e->serial == serial &&
		    e->generation == gen && e->epoch == ep && e->cgid == cgid && e->uid == uid)
			return i;
	}
	return -1;
}

/* Keep an allow of the full walk for the next same question (decided_find()). */
static __always_inline void decided_store(struct mktme_pol_decided *dc, __u64 cgid, __u32 uid,
					  const struct key *key, __s32 serial, __u32 gen,
					  __u32 op, __u64 ep, __u64 fp,
					  const struct mktme_pol_decision *d)
{
	struct mktme_pol_decided_slot *e;
	__u32 i = dc->next % MKTME_DECIDED_SLOTS;

	if (i >= MKTME_DECIDED_SLOTS)
		return;
	dc->next = i + 1;
	e = &dc->slot[i];
	e->cgid = cgid;
	e->key = (__u64)key;
	e->epoch = ep;
	e->rule_cgid = d->rule_cgid;
	e->name_fp = fp;
	e->serial = serial;
	e->generation = gen;
	e->uid = uid;
	e->rule_id = d->rule_id;
	e->op = op;
	e->reason = d->reason;
}

/*
 * The key's type and algorithm, from the key itself (its payload is a
 * struct mktme_key, arch/x86/mm/mktme/mktme.h, in the kernel's BTF), not
 * from what was recorded at its creation: a key created before the programs
 * were attached has no record. Unreadable: unknown, which matches deny rules
 * only (mktme_rule_matches()).
 */
static __always_inline void key_type_alg(const struct key *key, struct mktme_pol_subject *s)
{
	const struct mktme_key *mk = BPF_CORE_READ(key, payload.data[0]);
	unsigned int t = MKTME_TYPE_UNKNOWN, a = MKTME_TYPE_UNKNOWN;

	if (mk && (bpf_core_read(&t, sizeof(t), &mk->type) ||
		   bpf_core_read(&a, sizeof(a), &mk->alg)))
		t = a = MKTME_TYPE_UNKNOWN;
	s->o.type = t > 7 ? MKTME_TYPE_UNKNOWN : t;
	s->o.alg = a > 7 ? MKTME_TYPE_UNKNOWN : a;
}

/*
 * The decision from the generation's maps (or from no policy), for every
 * create and every bind or mmap without a kept answer (kept()): @dc and
 * @ep as kept() left them, to keep an allow.
 */
static __always_inline int walk(__u32 op, const struct key *key, __u32 keyid, __u8 type,
				__u8 alg, struct task_struct *t, __u64 cgid, __s32 serial,
				const struct mktme_pol_meta *meta, bool none, bool whole,
				struct mktme_pol_decided *dc, __u64 ep)
{
	struct mktme_pol_subject s = {};
	struct mktme_pol_rule_key kname = {};
	struct mktme_pol_decision d = { .verdict = MKTME_ALLOW, .reason = MKTME_REASON_NO_POLICY };
	__u8 mode = MKTME_MODE_ENFORCE;
	void *rules = 0, *cgroups = 0;
	bool name_ok;
	int ret, level;
	__u64 fp;

	if (op != MKTME_OP_CREATE) {
		/*
		 * Attached with no policy: allowed, counted, kept; nothing to
		 * walk for (only create charges, which needs the walk), and
		 * no record (allows are logged only at a policy's request).
		 */
		if (whole && none) {
			name_ok = read_name(key, kname.name);
			fp = mktme_name_fp(kname.name);
			s.uid = task_euid(t);
			if (dc)
				decided_store(dc, cgid, s.uid, key, serial, 0, op, ep, fp, &d);
			account(&s, cgid, fp, key, kname.name, true, name_ok, op, keyid, 0, &d, mode, 0);
			return 0;
		}
		key_type_alg(key, &s);
	}
	if (whole && !none && meta)
		whole = generation_maps(op, meta, &rules, &cgroups);
	name_ok = read_name(key, kname.name);
	fp = mktme_name_fp(kname.name);
	fill_subject(t, &s);
	if (op == MKTME_OP_CREATE) {
		s.o.type = type;
		s.o.alg = alg;
		/* Created here: in the subtree of every cgroup the walk visits. */
		s.owner_levels = s.o.depth;
	} else {
		/*
		 * Where the key was created, as recorded at its creation: its
		 * name is its creator's choice, so only this tells whose it
		 * is. No record: created while the programs did not run.
		 */
		const struct mktme_pol_key_owner *ko = bpf_map_lookup_elem(&mktme_keys, &serial);

		s.owner_levels = ko ? mktme_owner_levels(ko, &s.o) : MKTME_OWNER_UNKNOWN;
	}

	if (!whole) {
		/* A generation that is not whole: fail closed, enforced. */
		meta = 0;
		d.verdict = MKTME_DENY;
		d.reason = MKTME_REASON_ERROR;
	} else if (!none && meta) {
		struct mktme_pol_rule_key kwild = { .name = "*" };

		mode = meta->mode;
		mktme_decide(rules, meta, &s, &kname, &kwild, name_ok, op, &d);
		if (dc && d.verdict == MKTME_ALLOW)
			decided_store(dc, s.o.cgids[0], s.uid, key, serial, meta->generation, op,
				      ep, fp, &d);
	}
	/*
	 * A key is charged once. While an upgrade replaces the programs, a
	 * hook runs two builds' programs for a moment (tools/mktmectl/
	 * programs.c), newest first (kernel/bpf/trampoline.c adds to the
	 * head); the second finds the first's record and only decides. A
	 * serial is unique among live keys and its record goes at key_free,
	 * so nothing else leaves a record behind.
	 *
	 * Every key the hook lets be created is charged and recorded: in
	 * audit mode a rule's would-deny creates it too, and left uncounted it
	 * outlived the switch to enforce beyond its subtree's limit, without
	 * a creator for owner: subtree (policy/REFERENCE.md: counted as in
	 * enforce). The rule's reason stays when it already denies.
	 */
	if (op == MKTME_OP_CREATE &&
	    (d.verdict == MKTME_ALLOW || mode == MKTME_MODE_AUDIT) &&
	    !bpf_map_lookup_elem(&mktme_keys, &serial)) {
		bool rule_denied = d.verdict == MKTME_DENY;

		level = mktme_charge(meta ? cgroups : 0, &mktme_live, &s);
		if (!rule_denied && level >= 0 && level < MKTME_MAX_DEPTH) {
			d.verdict = MKTME_DENY;
			d.reason = MKTME_REASON_QUOTA;
			d.rule_id = 0;
			d.rule_cgid = s.o.cgids[level];
		}
		if (d.verdict == MKTME_DENY && mode == MKTME_MODE_ENFORCE) {
			mktme_uncharge(&mktme_live, &s.o);
		} else if (bpf_map_update_elem(&mktme_keys, &serial, &s.o, BPF_ANY)) {
			/* Untracked, it would never be uncharged: refuse it. */
			struct mktme_pol_stats *st = stats();

			mktme_uncharge(&mktme_live, &s.o);
			if (st)
				__sync_fetch_and_add(&st->keys_untracked, 1);
			d.verdict = MKTME_DENY;
			d.reason = MKTME_REASON_ERROR;
			if (mode == MKTME_MODE_ENFORCE) {
				account(&s, cgid, fp, key, kname.name, true, name_ok, op, keyid, meta,
					&d, mode, -ENOSPC);
				return -ENOSPC;
			}
		}
	}

	ret = mktme_hook_ret(mode, &d);
	account(&s, cgid, fp, key, kname.name, true, name_ok, op, keyid, meta, &d, mode, ret);
	return lsm_ret(ret);
}

/*
 * A kept allow (struct mktme_pol_decided) under "audit: all": the same
 * answer, logged as the walk would have logged it. Apart from kept(), so
 * that only a logged answer pays for the record's subject and name.
 */
static __always_inline int kept_logged(__u32 op, const struct key *key, __u32 keyid, __u64 cgid,
				       __u32 uid, const struct mktme_pol_meta *meta,
				       const struct mktme_pol_decided_slot *e)
{
	struct mktme_pol_subject s = { .uid = uid };
	struct mktme_pol_rule_key kname = {};
	struct mktme_pol_decision d = {
		.verdict = MKTME_ALLOW,
		.reason = e->reason,
		.rule_id = e->rule_id,
		.rule_cgid = e->rule_cgid,
	};
	bool name_ok;

	key_type_alg(key, &s);
	name_ok = read_name(key, kname.name);
	account(&s, cgid, e->name_fp, key, kname.name, true, name_ok, op, keyid, meta, &d,
		meta->mode, 0);
	return 0;
}

/*
 * Bind and mmap: the same question as an allow this task was given under
 * this generation (0: no policy) gets the same answer without the walk
 * (struct mktme_pol_decided): 0. Else -1, with the task's entries (@dc, 0
 * if it has none) and the epoch read (@ep) for the walk to keep its allow.
 * The epoch is read before anything the answer depends on, so a key revoked
 * or freed meanwhile makes the entry stored after the walk stale at once.
 * Nothing the answer does not need is read: the key's name only to make
 * its counter (the entry has its fingerprint) or a record, its type and
 * algorithm only for a record, and an allow is recorded only under "audit:
 * all"; the generation's rules only matter to a walk (an entry exists only
 * after a walk found them). The walk's own locals (the subject, the name)
 * are not here: a kept answer does not even zero them.
 */
static __always_inline int kept(__u32 op, const struct key *key, __u32 keyid,
				struct task_struct *t, __u64 cgid, __s32 serial,
				const struct mktme_pol_meta *meta, bool none,
				struct mktme_pol_decided **dc, __u64 *ep)
{
	const struct mktme_pol_decided_slot *e;
	__u64 *epp = epoch();
	__u32 uid, gen;
	int i;

	if (!epp)
		return -1;
	uid = task_euid(t);
	gen = none || !meta ? 0 : meta->generation;
	*ep = *epp;
	*dc = bpf_task_storage_get(&mktme_decided, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!*dc)
		return -1;
	i = decided_find(*dc, cgid, key, serial, gen, uid, op, *ep);
	if (i < 0 || i >= MKTME_DECIDED_SLOTS)
		return -1;
	e = &(*dc)->slot[i];
	if (gen && meta && meta->audit == MKTME_AUDIT_ALL)
		return kept_logged(op, key, keyid, cgid, uid, meta, e);
	/* What account() does for an allow it does not log. */
	count(cgid, e->name_fp, key, 0, false, op, MKTME_ALLOW, MKTME_MODE_ENFORCE);
	tally(false);
	return 0;
}

/* All three hooks: decide, charge (create), count, log, answer. */
static __always_inline int check(__u32 op, const struct key *key, __u32 keyid, __u8 type,
				 __u8 alg)
{
	const struct mktme_pol_meta *meta = 0;
	struct mktme_pol_decided *dc = 0;
	struct task_struct *t = bpf_get_current_task_btf();
	__s32 serial = key->serial;
	__u64 ep = 0, cgid = task_cgid(t);
	bool none, whole;

	whole = generation(&meta, &none);
	if (op != MKTME_OP_CREATE && whole && !kept(op, key, keyid, t, cgid, serial, meta, none,
						     &dc, &ep))
		return 0;
	return walk(op, key, keyid, type, alg, t, cgid, serial, meta, none, whole, dc, ep);
}

SEC("lsm/mktme_key_create")
int BPF_PROG(mktme_create, const struct key *key, unsigned int type, unsigned int alg, int ret)
{
	/* An earlier BPF LSM program already denied: keep its answer. */
	if (ret)
		return ret;
	return check(MKTME_OP_CREATE, key, 0, type, alg);
}

SEC("lsm/mktme_key_bind")
int BPF_PROG(mktme_bind, struct file *file, const struct key *key, unsigned int keyid, int ret)
{
	if (ret)
		return ret;
	return check(MKTME_OP_BIND, key, keyid, 0, 0);
}

SEC("lsm/mktme_mmap")
int BPF_PROG(mktme_mmap, struct file *file, const struct key *key, unsigned int keyid,
	     struct vm_area_struct *vma, int ret)
{
	if (ret)
		return ret;
	return check(MKTME_OP_MMAP, key, keyid, 0, 0);
}

/*
 * The executable at exec: bprm->file is what begin_new_exec() made the new
 * mm's exe_file (fs/exec.c; for a script, the interpreter), and the kernel
 * names its device as the inode's super_block does. Failing to record it
 * leaves an old record of another executable: drop that rather than keep it.
 */
SEC("lsm/bprm_committed_creds")
void BPF_PROG(mktme_exec, const struct linux_binprm *bprm)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct inode *inode = BPF_CORE_READ(bprm, file, f_inode);
	struct mktme_pol_exe *e;

	/* Decided for the executable before: gone with it (mktme_decided). */
	bpf_task_storage_delete(&mktme_decided, t);
	e = bpf_task_storage_get(&mktme_exe, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!e)
		return;
	if (!inode) {
		bpf_task_storage_delete(&mktme_exe, t);
		return;
	}
	e->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	e->ino = BPF_CORE_READ(inode, i_ino);
}

/*
 * Task storage is not copied on fork or clone: the new task runs its
 * parent's executable until it execs, so it gets the parent's record (none
 * if the parent has none, or if this fails: unknown, fail closed).
 */
SEC("lsm/task_alloc")
int BPF_PROG(mktme_fork, struct task_struct *task, unsigned long clone_flags, int ret)
{
	struct mktme_pol_exe *pe, *ce;

	if (ret)
		return ret;
	pe = bpf_task_storage_get(&mktme_exe, bpf_get_current_task_btf(), 0, 0);
	if (!pe)
		return 0;
	ce = bpf_task_storage_get(&mktme_exe, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ce) {
		ce->dev = pe->dev;
		ce->ino = pe->ino;
	}
	return 0;
}

/*
 * A key's record and its charge last as long as its KeyID: until it is
 * revoked, or destroyed if it never is. A revoked key holds no KeyID but may
 * stay allocated for good (a keyring links it: key_is_dead() in
 * security/keys/internal.h ignores revocation), so releasing only at
 * key_free let a create-and-revoke loop fill mktme_keys, after which every
 * tenant's next key was refused (keys_untracked). Released at the first of
 * the two; the second finds no record.
 */
static __always_inline void mktme_key_release(const struct key *key)
{
	__s32 serial = BPF_CORE_READ(key, serial);
	struct mktme_pol_key_owner *o = bpf_map_lookup_elem(&mktme_keys, &serial);
	__u64 *ep = epoch();

	/*
	 * Every key, of any type (a freed key's serial may already be handed
	 * out again: key_garbage_collector() in security/keys/gc.c takes it
	 * out of the serial tree before key_gc_unused_keys() calls us), so
	 * that no mktme_decided entry outlives the key it was for.
	 */
	if (ep)
		__sync_fetch_and_add(ep, 1);
	if (!o)
		return;
	mktme_uncharge(&mktme_live, o);
	bpf_map_delete_elem(&mktme_keys, &serial);
}

SEC("lsm/key_free")
void BPF_PROG(mktme_key_free, struct key *key)
{
	mktme_key_release(key);
}

SEC("lsm/mktme_key_revoked")
void BPF_PROG(mktme_revoked, const struct key *key)
{
	mktme_key_release(key);
}

/*
 * Self-protection. The pins are root's (0600, in a 0700 directory that
 * mktmectl checks is root's), but file modes stop neither uid 0 with every
 * capability dropped nor the root of a user namespace that maps uid 0: both
 * own the files. Without these programs either could open a map for writing
 * and empty the policy slot (everything allowed), or unlink a link pin, the
 * link's last reference, which detaches its program. Who may change
 * enforcement is who may load it: a task with CAP_SYS_ADMIN in the initial
 * user namespace (tools/mktmectl/caps.c checks the same before it starts).
 * Read-only opens stay with the file modes: they change nothing.
 *
 * The pin directory and its ancestors on bpffs are known by device and
 * inode number, set by mktmectl before load (read-only data: frozen once
 * loaded). Entry 0 is the pin directory itself.
 */
#define MKTME_GUARD_DIRS 4
const volatile __u32 guard_dev = 0;			/* kernel dev_t: MKDEV(major, minor) */
const volatile __u64 guard_ino[MKTME_GUARD_DIRS] = {};	/* 0: unused */

/* include/uapi/linux/capability.h */
#define CAP_SYS_ADMIN 21
/* include/linux/fs.h: a map opened for writing (bpf_map_new_fd, OPEN_FMODE) */
#define FMODE_WRITE 0x2

static __always_inline bool may_change_enforcement(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	const struct cred *cred = BPF_CORE_READ(t, cred);
	__u64 eff = BPF_CORE_READ(cred, cap_effective.val);

	/* Only the initial user namespace has level 0 (kernel/user_namespace.c). */
	return (eff & (1ULL << CAP_SYS_ADMIN)) && BPF_CORE_READ(cred, user_ns, level) == 0;
}

/* Is @inode one of the guarded directories (@any) or the pin directory? */
static __always_inline bool guarded(const struct inode *inode, bool any)
{
	__u64 ino;

	if (!inode || !guard_ino[0] || BPF_CORE_READ(inode, i_sb, s_dev) != guard_dev)
		return false;
	ino = BPF_CORE_READ(inode, i_ino);
	if (ino == guard_ino[0])
		return true;
	if (!any)
		return false;
	for (int i = 1; i < MKTME_GUARD_DIRS; i++)
		if (guard_ino[i] && ino == guard_ino[i])
			return true;
	return false;
}

static __always_inline int guard_ret(bool touches)
{
	if (!touches || may_change_enforcement())
		return 0;
	return lsm_ret(1);
}

/* The rules or cgroups map of slot @slot. */
static __always_inline bool in_slot(const struct bpf_map *map, __u32 slot)
{
	return map == bpf_map_lookup_elem(&mktme_gen_rules, &slot) ||
	       map == bpf_map_lookup_elem(&mktme_gen_cgroups, &slot);
}

/*
 * One of the maps of a generation the programs hold: the metadata in force,
 * or the rules and cgroups of either slot (the one in force, and the one
 * the next load fills).
 */
static __always_inline bool in_force(const struct bpf_map *map)
{
	__u32 zero = 0;

	_Static_assert(MKTME_GEN_SLOTS == 2, "in_force() looks at two slots");
	return map == bpf_map_lookup_elem(&mktme_policy, &zero) || in_slot(map, 0) ||
	       in_slot(map, 1);
}

static __always_inline bool our_map(const struct bpf_map *map)
{
	return map == (void *)&mktme_policy || map == (void *)&mktme_gen_rules ||
	       map == (void *)&mktme_gen_cgroups || map == (void *)&mktme_meta_tpl ||
	       map == (void *)&mktme_rules_tpl || map == (void *)&mktme_cgroups_tpl ||
	       map == (void *)&mktme_live || map == (void *)&mktme_keys ||
	       map == (void *)&mktme_counters || map == (void *)&mktme_assign ||
	       map == (void *)&mktme_state || map == (void *)&mktme_source ||
	       map == (void *)&mktme_stats ||
	       map == (void *)&mktme_events || map == (void *)&mktme_denials ||
	       map == (void *)&mktme_seq || map == (void *)&mktme_denials_last ||
	       map == (void *)&mktme_exe || map == (void *)&mktme_build ||
	       map == (void *)&mktme_denial_budget || map == (void *)&mktme_decided ||
	       map == (void *)&mktme_epoch ||
	       /* the generations held (those in force pinned as mktme_meta, _rules, _cgroups) */
	       in_force(map);
}

SEC("lsm/bpf_map")
int BPF_PROG(mktme_map_open, struct bpf_map *map, fmode_t fmode, int ret)
{
	if (ret)
		return ret;
	return guard_ret((fmode & FMODE_WRITE) && our_map(map));
}

SEC("lsm/inode_unlink")
int BPF_PROG(mktme_unlink, struct inode *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return guard_ret(guarded(dir, false));
}

SEC("lsm/inode_rmdir")
int BPF_PROG(mktme_rmdir, struct inode *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return guard_ret(guarded(BPF_CORE_READ(dentry, d_inode), true));
}

SEC("lsm/inode_rename")
int BPF_PROG(mktme_rename, struct inode *old_dir, struct dentry *old_dentry, struct inode *new_dir,
	     struct dentry *new_dentry, int ret)
{
	if (ret)
		return ret;
	/* A pin renamed away or over, or the directory (or an ancestor) moved. */
	return guard_ret(guarded(old_dir, false) || guarded(new_dir, false) ||
			 guarded(BPF_CORE_READ(old_dentry, d_inode), true));
}

SEC("lsm/inode_setattr")
int BPF_PROG(mktme_setattr, struct mnt_idmap *idmap, struct dentry *dentry, struct iattr *attr,
	     int ret)
{
	if (ret)
		return ret;
	/* chmod/chown of the directories or of a pin. */
	return guard_ret(guarded(BPF_CORE_READ(dentry, d_inode), true) ||
			 guarded(BPF_CORE_READ(dentry, d_parent, d_inode), false));
}
