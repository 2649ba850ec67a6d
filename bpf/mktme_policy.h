/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mktme policy: the map layout shared by the BPF programs and mktmectl, and
 * the decision itself. The decision is a header so that the exact code the
 * LSM programs run is also compiled into the host unit tests: LSM programs
 * cannot be run with BPF_PROG_TEST_RUN.
 *
 * The includer provides MKTME_LOOKUP_BUCKET(rules, key), returning a
 * const struct mktme_pol_bucket * or NULL, and MKTME_LOOKUP_CGROUP(cgroups,
 * cgid pointer), returning a const struct mktme_pol_cgroup * or NULL:
 * bpf_map_lookup_elem() on BPF, a lookup in the compiled policy on the
 * host; and MKTME_CHARGE and MKTME_UNCHARGE for the live-key counts
 * (mktme_charge()).
 */
#ifndef MKTME_POLICY_H
#define MKTME_POLICY_H

#ifndef __bpf__
#include <linux/types.h>
#include <stdbool.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#endif

/* Bumped with any change to the structs below: it names the pin directory. */
#define MKTME_ABI		7
#define MKTME_PIN_DIR		"/sys/fs/bpf/mktme/v7"

#define MKTME_NAME_LEN		64	/* key name buffer: names are 1..63 bytes */
#define MKTME_MAX_DEPTH		16	/* cgroup levels walked, root = level 0 */
#define MKTME_BUCKET_MAX	16	/* rules for one (cgroup, key name) */
#define MKTME_MAX_RULES		10000	/* entries of rules: in a policy file */
#define MKTME_MAX_ASSIGN	1024	/* runtime assignments */
#define MKTME_RULES_ENTRIES	65536	/* buckets of one generation's mktme_rules map */
#define MKTME_MAX_LIMITS	1024	/* entries of one generation's mktme_cgroups map */
#define MKTME_GEN_SLOTS		2	/* mktme_gen_rules/_cgroups: the generation in
					 * force and the next (or the one before) */
/*
 * Keys tracked: those holding a KeyID, created while attached (a record is
 * dropped when its key is revoked or freed). Each holds a KeyID of its own,
 * and there are at most 2^15 - 1 of those: IA32_TME_CAPABILITY (MSR 0x981)
 * bits 35:32, MK_TME_MAX_KEYID_BITS, are at most 15 (Intel Architecture
 * Memory Encryption Technologies Specification, rev. 1.3, section 2.2.1;
 * arch/x86/mm/mktme/backend_hw.c reads them). So the table cannot fill.
 */
#define MKTME_MAX_LIVE_KEYS	32768
#define MKTME_MAX_CGROUPS	16384	/* what the shared live-count table held, before
					 * the counts moved into cgroup storage (a test
					 * floods past it) */
#define MKTME_MAX_COUNTERS	16384	/* (cgroup, key name fingerprint) counters, LRU */
#define MKTME_EVENTS_BYTES	(256 * 1024)	/* allow records (audit: all) */
#define MKTME_DENIALS_BYTES	(1024 * 1024)	/* denials: 6,241 records of 160 + 8 bytes */
#define MKTME_DENIALS_LAST	1024	/* the latest denials, for bpftool */
#define MKTME_ASSIGN_ID_BASE	0x10000	/* rule ids of assignments start here */
#define MKTME_EPERM		1	/* no errno.h on the BPF side */

enum mktme_pol_op {
	MKTME_OP_CREATE = 0,
	MKTME_OP_BIND = 1,
	MKTME_OP_MMAP = 2,
	MKTME_NR_OPS,
};
#define MKTME_OPS_ALL		((1u << MKTME_NR_OPS) - 1)

enum mktme_pol_verdict {
	MKTME_ALLOW = 0,
	MKTME_DENY = 1,
};

enum mktme_pol_mode {
	MKTME_MODE_ENFORCE = 0,
	MKTME_MODE_AUDIT = 1,
};

/* Which decisions get an audit record (the policy's `audit:`); all are counted. */
enum mktme_pol_audit {
	MKTME_AUDIT_DENIALS = 0,	/* denials and would-deny only */
	MKTME_AUDIT_ALL = 1,		/* allows too, on a ring buffer of their own */
};

/* Why a decision came out as it did (audit events). */
enum mktme_pol_reason {
	MKTME_REASON_RULE = 0,		/* rule_id decided */
	MKTME_REASON_DEFAULT = 1,	/* no rule matched: the policy's default */
	MKTME_REASON_QUOTA = 2,		/* rules allowed, a live-key limit did not */
	MKTME_REASON_NO_POLICY = 3,	/* programs attached, no policy loaded */
	MKTME_REASON_ERROR = 4,		/* could not track the key, or a generation without
					 * its metadata: fail closed */
};

/* Key types and algorithms as bit masks over the uapi enum values. */
#define MKTME_TYPES_ALL		0x0f	/* 1 << enum mktme_key_type */
#define MKTME_ALGS_ALL		0x05	/* 1 << enum mktme_key_alg (0, 2) */
#define MKTME_TYPE_UNKNOWN	0xff	/* key created before the programs ran */

/*
 * One generation of the policy is three maps, one per kind of entry, each
 * value sized for its kind:
 *
 *   meta      u32 0 -> struct mktme_pol_meta (mode, default, generation G),
 *             an array: looked up inline on every decision
 *   rules     struct mktme_pol_rule_key -> struct mktme_pol_bucket
 *   cgroups   cgroup id -> struct mktme_pol_cgroup (live-key limits)
 *
 * The meta map sits in the one-slot mktme_policy (the switch); the rules and
 * cgroup maps sit in mktme_gen_rules and mktme_gen_cgroups, arrays of two
 * slots, at the slot the meta names. A decision reads the switch once and
 * takes the slot from it, so it sees one whole generation: mktmectl puts
 * G's rules and cgroups in the slot not in force (replacing the generation
 * before the one in force), then switches. Each of those three map-in-map
 * updates returns only once no program can still be reading what it
 * replaced (maybe_wait_bpf_programs(), kernel/bpf/syscall.c): after the
 * switch, nothing reads the other slot, so the next load may fill it at
 * once. docs/design.md, "Generations".
 */

/* A bucket: the rules for (cgid, key name or "*"). */
struct mktme_pol_rule_key {
	__u64 cgid;
	char name[MKTME_NAME_LEN];	/* zero-padded: it is hashed whole */
};

#define MKTME_RF_EXE		0x01	/* exe_dev/exe_ino must match */
#define MKTME_RF_UID		0x02	/* uid must match */
#define MKTME_RF_WILDCARD	0x04	/* came from "*" (shown as such) */
#define MKTME_RF_ASSIGN		0x08	/* from `mktmectl assign`, not the file */
#define MKTME_RF_FINAL		0x10	/* final: nearer rules cannot override it */
#define MKTME_RF_OWNER		0x20	/* owner: subtree: the key was created in
					 * the rule's cgroup or below it */

/*
 * A rule as the programs see it. Rules of a bucket are sorted by
 * precedence by the compiler, final rules first; the first one that
 * matches wins. exe_dev is the kernel's dev_t (MKDEV: major << 20 | minor)
 * of the file's super_block, as /proc/self/mountinfo shows it.
 */
struct mktme_pol_rule {
	__u64 exe_dev;
	__u64 exe_ino;
	__u32 uid;
	__u32 id;
	__u8 flags;
	__u8 ops;	/* 1 << enum mktme_pol_op */
	__u8 verdict;	/* enum mktme_pol_verdict */
	__u8 types;	/* 1 << enum mktme_key_type */
	__u8 algs;	/* 1 << enum mktme_key_alg */
	__u8 pad[3];
};

struct mktme_pol_meta {
	__u32 generation;	/* never 0: 0 is a generation without metadata */
	__u8 mode;		/* enum mktme_pol_mode */
	__u8 dflt;		/* enum mktme_pol_verdict */
	__u8 audit;		/* enum mktme_pol_audit */
	__u8 slot;		/* of its rules and cgroups (< MKTME_GEN_SLOTS) */
	__u32 nr_rules;		/* rules in the file */
	__u32 nr_assign;	/* assignments merged in */
	__u64 loaded_at;	/* CLOCK_REALTIME seconds */
};

#define MKTME_CF_LIMIT		0x01	/* live_limit applies */
#define MKTME_CF_DENIAL_RATE	0x02	/* denial_rate applies */

struct mktme_pol_cgroup {
	__u32 flags;
	__u32 live_limit;	/* keys created in this subtree and alive */
	__u32 denial_rate;	/* denial records per second from this subtree,
				 * and as many at once (1..MKTME_MAX_DENIAL_RATE) */
};

/*
 * mktme_denial_budget (cgroup storage of a cgroup with a denial_rate): the
 * subtree's budget of denial records, a GCRA (virtual scheduling) meter.
 * tat: the theoretical arrival time, CLOCK_BOOTTIME ns, of the next record
 * if records came at exactly the rate; a record is logged if it is no more
 * than one second (rate records) ahead of that. suppressed: denials of the
 * subtree not logged since its last record, which the next record carries.
 */
struct mktme_pol_budget {
	__u64 tat;
	__u64 suppressed;
};

struct mktme_pol_bucket {
	__u32 nr;			/* rules in r[] */
	__u32 pad;
	struct mktme_pol_rule r[MKTME_BUCKET_MAX];
};

/*
 * mktme_keys: key serial -> where it was created, for key_free (which runs
 * in the key garbage collector, not in the creator) and for the key's type
 * at bind and mmap. It is also the head of struct mktme_pol_subject, so the
 * programs store it straight from there.
 */
struct mktme_pol_key_owner {
	__u64 cgids[MKTME_MAX_DEPTH];	/* nearest first, depth of them */
	__u32 depth;
	__u8 type;	/* enum mktme_key_type, MKTME_TYPE_UNKNOWN */
	__u8 alg;	/* enum mktme_key_alg, MKTME_TYPE_UNKNOWN */
	__u16 pad;
};

/*
 * mktme_assign: (cgroup, key name). The same fields as a rule key, but its
 * own type: the programs build one from the other.
 */
struct mktme_pol_cg_key {
	__u64 cgid;
	char name[MKTME_NAME_LEN];	/* zero-padded */
};

/*
 * mktme_counters: (the task's own cgroup, the key name's fingerprint,
 * mktme_name_fp()) -> the counts and the name. Keyed by 16 bytes, not by
 * the 72 of (cgroup, name): every decision updates its counter, and a kept
 * one (mktme_decided) takes the fingerprint from its entry instead of
 * reading the key's name. Two names of one cgroup with the same
 * fingerprint share a counter, which shows the first one's name: only that
 * cgroup's own counts can mix (its tasks chose both names), and records
 * carry the full name.
 */
struct mktme_pol_count_key {
	__u64 cgid;
	__u64 name_fp;
};

struct mktme_pol_counter {
	__u64 create_allowed;
	__u64 create_denied;
	__u64 bind_allowed;
	__u64 bind_denied;
	__u64 mmap_allowed;
	__u64 mmap_denied;
	__u64 audit_would_deny;	/* audit mode: denials not enforced */
	char name[MKTME_NAME_LEN];	/* the key name, as the first count saw it */
};

/*
 * The fingerprint of a zero-padded key name: its eight 64-bit words folded
 * with a multiply-xorshift (the finaliser of MurmurHash3's fmix64 after
 * each word), so that every bit of the name moves about half of the
 * result. Not keyed: see struct mktme_pol_count_key for what a collision
 * can do. The same code on both sides: userspace finds a counter by name.
 */
static __always_inline __u64 mktme_fp_mix(__u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static __always_inline __u64 mktme_name_fp(const char name[MKTME_NAME_LEN])
{
	__u64 h = 0x6d6b746d65000000ULL;	/* "mktme" */

	for (int i = 0; i < MKTME_NAME_LEN / 8; i++) {
		__u64 w;

		__builtin_memcpy(&w, name + 8 * i, sizeof(w));
		h = mktme_fp_mix(h ^ w) + i;
	}
	return h;
}

#define MKTME_AF_OWNER_ANY	0x01	/* assign --owner any: no owner condition */

/* mktme_assign: (cgroup, key name) -> assignment, kept across reloads. */
struct mktme_pol_assign_val {
	__u64 assigned_at;	/* CLOCK_REALTIME seconds */
	__u32 id;		/* rule id, >= MKTME_ASSIGN_ID_BASE */
	__u32 flags;		/* MKTME_AF_* */
};

/*
 * mktme_exe (task storage): the executable a task was last exec'd from,
 * recorded at exec (lsm/bprm_committed_creds) and copied to every task it
 * forks or clones (lsm/task_alloc). Not mm->exe_file, which
 * prctl(PR_SET_MM_MAP) lets its own process change.
 */
struct mktme_pol_exe {
	__u64 dev;		/* kernel dev_t of the inode's super_block */
	__u64 ino;
};

/*
 * mktme_decided (task storage): the allows a task was given lately, so that
 * the next bind or mmap of the same key, by the same task in the same
 * cgroup, as the same uid, under the same generation, skips the walk.
 * The no-policy answer is kept the same way, as generation 0. What else a
 * decision reads cannot change under such an entry without removing it: the task's exec record changes only at exec, which deletes
 * the task's entries (a new task starts with none); a key's name, type and
 * algorithm never change, and its creation record goes only when it is
 * revoked or freed, which advances mktme_epoch[0] (every entry taken
 * before is stale). Denials and create are always decided afresh.
 */
#define MKTME_DECIDED_SLOTS	4

struct mktme_pol_decided_slot {
	__u64 cgid;		/* the task's own cgroup (walk level 0) */
	__u64 key;		/* struct key address, with the serial below; 0: empty */
	__u64 epoch;		/* mktme_epoch[0] when decided */
	__u64 rule_cgid;
	__u64 name_fp;		/* mktme_name_fp() of the key's name: its counter */
	__s32 serial;
	__u32 generation;	/* 0: no policy */
	__u32 uid;		/* effective uid */
	__u32 rule_id;
	__u8 op;
	__u8 reason;		/* MKTME_REASON_RULE, _DEFAULT or _NO_POLICY */
	__u8 pad[6];
};

struct mktme_pol_decided {
	struct mktme_pol_decided_slot slot[MKTME_DECIDED_SLOTS];
	__u32 next;		/* the slot the next decision replaces */
	__u32 pad;
};

/*
 * mktme_source[0]: the policy file the generation in force was compiled
 * from, as it was read, so that `mktmectl assign` compiles that file with
 * the stored assignments (data flows one way: file and assignments, the
 * compiler, the maps). Written by mktmectl only, under its lock, after
 * each switch; the programs never read it. In a map, not a file, so that
 * the pins' guards protect it like the generation it describes.
 */
#define MKTME_SOURCE_MAX	(1 << 20)	/* a policy file's size limit */
struct mktme_pol_source {
	__u32 generation;	/* compiled from this (0: nothing stored) */
	__u32 len;
	char file[256];		/* the path it was read from, for messages */
	char text[MKTME_SOURCE_MAX];
};

/* mktme_state[0]: written by mktmectl only, under its lock. */
struct mktme_pol_state {
	__u32 generation;	/* the last one handed out */
	__u32 pad;
	__u64 changed_at;	/* CLOCK_REALTIME seconds */
};

/*
 * mktme_stats[0], per CPU (userspace sums the CPUs): health of the programs
 * themselves. Per CPU so that counting costs the hot path no shared cache line.
 */
struct mktme_pol_stats {
	__u64 decisions;
	__u64 denials;		/* deny and would-deny decisions: each one a record */
	__u64 denials_lost;	/* mktme_denials full: the record is gone */
	__u64 denials_suppressed; /* over their subtree's denial_rate: not logged,
				   * counted in the subtree's next record */
	__u64 allows_lost;	/* mktme_events full (audit: all) */
	__u64 keys_untracked;	/* mktme_keys full: create denied */
};

/*
 * mktme_seq: the sequence number last given on each stream. A record takes
 * its number before it reserves its place, so a record lost to a full ring
 * buffer leaves a gap a reader sees.
 */
enum mktme_pol_stream {
	MKTME_STREAM_DENIALS = 0,	/* mktme_denials: deny and would-deny */
	MKTME_STREAM_ALLOWS = 1,	/* mktme_events: allows (audit: all) */
	MKTME_NR_STREAMS,
};

#define MKTME_EV_NAME_TOO_LONG	0x01	/* key name > 63 bytes: only "*" matched */

/*
 * One per logged decision: denials (and would-deny) on mktme_denials, allows
 * on mktme_events. Ring buffers carry no BTF of their records: the programs'
 * BTF has this struct (bpftool btf dump), and mktme_denials_last keeps the
 * latest denials in a map with it as its value type (bpftool map dump).
 */
struct mktme_pol_event {
	__u64 seq;		/* per stream, from 1: a gap is records lost */
	__u64 time_ns;		/* CLOCK_BOOTTIME */
	__u64 cgid;		/* the task's own cgroup */
	__u64 rule_cgid;	/* cgroup of the deciding rule or limit */
	__u64 budget_cgid;	/* cgroup whose denial_rate this record was under
				 * (0: none) */
	__u32 pid;		/* tgid */
	__u32 uid;		/* effective uid */
	__s32 key_serial;
	__u32 keyid;		/* 0 at create: not allocated yet */
	__u32 generation;
	__u32 rule_id;		/* 0: default verdict or no policy */
	__s32 ret;		/* what the hook returned */
	__u32 suppressed;	/* denials of budget_cgid's subtree not logged
				 * since its previous record (over its rate) */
	__u8 hook;		/* enum mktme_pol_op */
	__u8 verdict;		/* the decision, enforced or not */
	__u8 mode;
	__u8 reason;		/* enum mktme_pol_reason */
	__u8 flags;		/* MKTME_EV_* */
	__u8 key_type;
	__u8 key_alg;
	__u8 pad;
	char comm[16];
	char key[MKTME_NAME_LEN];
};

/*
 * A denial_rate's limit: its burst (as many records as its rate) must fit
 * in mktme_denials (a BPF ring buffer record has an 8-byte header,
 * BPF_RINGBUF_HDR_SZ in include/uapi/linux/bpf.h).
 */
#define MKTME_MAX_DENIAL_RATE	(MKTME_DENIALS_BYTES / (sizeof(struct mktme_pol_event) + 8))

#define MKTME_OWNER_UNKNOWN	0xff	/* owner_levels of a key with no record */

/*
 * Who asks: o.cgids[0] is the task's own cgroup (or its ancestor at level
 * MKTME_MAX_DEPTH - 1 when it is deeper), then its parent, ...; o.type and
 * o.alg are the key's. exe_known: the task has an exec record (it or an
 * ancestor was exec'd while the programs ran); without one exe_dev and
 * exe_ino mean nothing. owner_levels: how many cgroups, from the root
 * down, the task's ancestry shares with the key creator's (the creator's
 * cgroup is in the subtree of the task's ancestor at level L iff
 * L < owner_levels), MKTME_OWNER_UNKNOWN for a key created while the
 * programs did not run.
 */
struct mktme_pol_subject {
	struct mktme_pol_key_owner o;
	__u32 uid;
	__u8 exe_known;
	__u8 owner_levels;
	__u16 pad;
	__u64 exe_dev;
	__u64 exe_ino;
};

struct mktme_pol_decision {
	__u8 verdict;
	__u8 reason;
	__u32 rule_id;
	__u64 rule_cgid;
};

#endif /* MKTME_POLICY_H */

/*
 * The decision: only where the includer said how to look entries up (a host
 * test may include this header again once it has).
 */
#if defined(MKTME_LOOKUP_BUCKET) && !defined(MKTME_POLICY_DECIDE)
#define MKTME_POLICY_DECIDE

/* How mktme_bucket_match() is defined: the BPF programs make it global. */
#ifndef MKTME_BUCKET_MATCH_FN
#define MKTME_BUCKET_MATCH_FN static __always_inline
#endif

/*
 * Root-down levels that the ancestries @a and @b (nearest first, as in
 * struct mktme_pol_key_owner) share: the owner_levels of a subject.
 */
static __always_inline __u8 mktme_owner_levels(const struct mktme_pol_key_owner *a,
					       const struct mktme_pol_key_owner *b)
{
	__u32 na = a->depth, nb = b->depth;
	__u8 l = 0;

	for (int i = 0; i < MKTME_MAX_DEPTH; i++) {
		if (i >= (int)na || i >= (int)nb)
			break;
		if (a->cgids[(na - 1 - i) & (MKTME_MAX_DEPTH - 1)] !=
		    b->cgids[(nb - 1 - i) & (MKTME_MAX_DEPTH - 1)])
			break;
		l = i + 1;
	}
	return l;
}

/*
 * @level: the root-down level of the cgroup whose rule this is (owner).
 * What the task or key could not tell (no exec record, no creation record,
 * an unreadable type or algorithm) matches deny rules that ask about it and
 * never an allow rule: fail closed.
 */
static __always_inline bool mktme_rule_matches(const struct mktme_pol_rule *r,
					       const struct mktme_pol_subject *s,
					       __u32 op, __u32 level)
{
	if (!(r->ops & (1u << op)))
		return false;
	if ((r->flags & MKTME_RF_EXE) &&
	    (s->exe_known ? r->exe_dev != s->exe_dev || r->exe_ino != s->exe_ino :
			    r->verdict != MKTME_DENY))
		return false;
	if ((r->flags & MKTME_RF_OWNER) &&
	    (s->owner_levels == MKTME_OWNER_UNKNOWN ? r->verdict != MKTME_DENY :
						      level >= s->owner_levels))
		return false;
	if ((r->flags & MKTME_RF_UID) && r->uid != s->uid)
		return false;
	/*
	 * Fail closed: an unknown type or algorithm (the key could not be
	 * read) matches every deny rule that filters on it and no allow rule.
	 */
	if (r->types != MKTME_TYPES_ALL &&
	    (s->o.type > 7 ? r->verdict != MKTME_DENY : !(r->types & (1u << s->o.type))))
		return false;
	if (r->algs != MKTME_ALGS_ALL &&
	    (s->o.alg > 7 ? r->verdict != MKTME_DENY : !(r->algs & (1u << s->o.alg))))
		return false;
	return true;
}

/*
 * The rules of a bucket are in precedence order: first match wins. Returns
 * the index of the match or -1. As a global BPF function it is verified on
 * its own, with pointer arguments that may be NULL: hence the check.
 */
MKTME_BUCKET_MATCH_FN int mktme_bucket_match(const struct mktme_pol_bucket *v,
					     const struct mktme_pol_subject *s,
					     __u32 op, __u32 level)
{
	if (!v || !s)
		return -1;
	for (int j = 0; j < MKTME_BUCKET_MAX; j++) {
		if (j >= (int)v->nr)
			break;
		if (mktme_rule_matches(&v->r[j], s, op, level))
			return j;
	}
	return -1;
}

/*
 * Nearest cgroup first: at each level, the bucket for the exact key name,
 * which the compiler already merged with that cgroup's "*" rules, else the
 * "*" bucket. The farthest level whose first matching rule is final
 * decides; else the nearest level with a matching rule; none: default.
 * A bucket sorts its final rules first, so its first match is final iff
 * any of its final rules matches: one match per level tells both.
 *
 * @kname and @kwild are keys the caller filled (name zero-padded, and "*");
 * this sets their cgid. @name_ok is false when the key's name is longer
 * than any policy name, so only "*" can match it.
 */
static __always_inline void mktme_decide(void *rules, const struct mktme_pol_meta *meta,
					 const struct mktme_pol_subject *s,
					 struct mktme_pol_rule_key *kname,
					 struct mktme_pol_rule_key *kwild,
					 bool name_ok, __u32 op,
					 struct mktme_pol_decision *d)
{
	d->verdict = meta->dflt;
	d->reason = MKTME_REASON_DEFAULT;
	d->rule_id = 0;
	d->rule_cgid = 0;

	for (int i = 0; i < MKTME_MAX_DEPTH; i++) {
		const struct mktme_pol_bucket *v = 0;
		bool final;
		int j;

		if (i >= (int)s->o.depth)
			break;
		if (name_ok) {
			kname->cgid = s->o.cgids[i];
			v = MKTME_LOOKUP_BUCKET(rules, kname);
		}
		if (!v) {
			kwild->cgid = s->o.cgids[i];
			v = MKTME_LOOKUP_BUCKET(rules, kwild);
		}
		if (!v)
			continue;
		j = mktme_bucket_match(v, s, op, s->o.depth - 1 - i);
		if (j < 0 || j >= MKTME_BUCKET_MAX)
			continue;
		final = v->r[j].flags & MKTME_RF_FINAL;
		/* A nearer decision stands unless this one is final. */
		if (d->reason == MKTME_REASON_RULE && !final)
			continue;
		d->verdict = v->r[j].verdict;
		d->reason = MKTME_REASON_RULE;
		d->rule_id = v->r[j].id;
		d->rule_cgid = s->o.cgids[i];
	}
}

/*
 * Live-key limits are hierarchical, like cgroup resource limits: a limit on
 * a cgroup counts the keys created anywhere in its subtree, and every
 * ancestor's limit applies. So a new key is charged to every level, whatever
 * the policy (a limit added by a later reload sees the keys already alive).
 *
 * The includer provides MKTME_CHARGE(live, cgid): add one to the live count
 * of @cgid, atomically, and return the count before (~0 if it cannot count:
 * then any limit there is reached, failing closed). Returns the first level
 * whose limit the key goes past, or -1. @cgroups (the generation's limits)
 * may be NULL: no policy.
 */
static __always_inline int mktme_charge(void *cgroups, void *live,
					const struct mktme_pol_subject *s)
{
	int over = -1;

	for (int i = 0; i < MKTME_MAX_DEPTH; i++) {
		const struct mktme_pol_cgroup *v = 0;
		__u64 before, cgid;

		if (i >= (int)s->o.depth)
			break;
		cgid = s->o.cgids[i];
		before = MKTME_CHARGE(live, cgid);
		if (!cgroups || over >= 0)
			continue;
		v = MKTME_LOOKUP_CGROUP(cgroups, &cgid);
		if (v && (v->flags & MKTME_CF_LIMIT) && before >= v->live_limit)
			over = i;
	}
	return over;
}

/* Undo mktme_charge(): a refused key, or key_free. MKTME_UNCHARGE(live, cgid). */
static __always_inline void mktme_uncharge(void *live, const struct mktme_pol_key_owner *o)
{
	for (int i = 0; i < MKTME_MAX_DEPTH; i++) {
		if (i >= (int)o->depth)
			break;
		MKTME_UNCHARGE(live, o->cgids[i]);
	}
}

/*
 * What the hook returns for a decision: audit mode never denies. Only 0 or
 * a negative errno: the verifier does not range-check lsm/ return values.
 */
static __always_inline int mktme_hook_ret(__u8 mode, const struct mktme_pol_decision *d)
{
	if (d->verdict == MKTME_DENY && mode == MKTME_MODE_ENFORCE)
		return -MKTME_EPERM;
	return 0;
}

#endif /* MKTME_LOOKUP_BUCKET */
