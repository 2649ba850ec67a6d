/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pinned objects under the pin directory (default /sys/fs/bpf/mktme/v2):
 * loading and attaching the programs once, adopting them afterwards, and
 * switching policy generations.
 *
 *   maps   mktme_policy (one-slot map-in-map: the generation in force),
 *          mktme_rules (that generation, re-pinned at each switch),
 *          mktme_rules_tpl, mktme_live, mktme_keys, mktme_counters,
 *          mktme_assign, mktme_state, mktme_stats (per CPU), the audit
 *          streams mktme_denials and mktme_events (allows), mktme_seq,
 *          mktme_denials_last; mktme_exe (task storage: the executable at exec)
 *   links  link_mktme_create, link_mktme_bind, link_mktme_mmap,
 *          link_mktme_key_free, link_mktme_revoked; the pins' guards link_mktme_map_open,
 *          link_mktme_unlink, link_mktme_rmdir, link_mktme_rename,
 *          link_mktme_setattr; the exec records link_mktme_exec,
 *          link_mktme_fork
 */
#ifndef MKTMECTL_BPFOBJ_H
#define MKTMECTL_BPFOBJ_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

struct pins {
	int dir_fd;		/* flock()ed while changing anything */
	int policy, tpl, live, keys, counters, assign, state, stats, events;
	int denials, seq, denials_last;
	bool locked;		/* opened with the lock: may write */
};

#define PINS_INIT { -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, false }

#define N_PROGS 12
/* Names of the programs: the decisions, key_free, the guards. */
extern const char *const prog_names[N_PROGS];

/*
 * Open the pinned maps; with @lock, take the exclusive lock first (one
 * writer at a time: mktmectl commands and the daemon). -ENOENT: nothing is
 * pinned (programs never loaded, or detached).
 */
int pins_open(struct pins *p, bool lock);
void pins_close(struct pins *p);

/*
 * Make sure the programs are attached and everything is pinned: adopt what
 * is pinned, load and attach (and pin) what is missing. *adopted says which.
 * Errors are reported (fail()); returns an exit code.
 */
int programs_ensure(bool *adopted);

/* mktme_stats summed over the CPUs: 0, or a negative errno. */
struct mktme_pol_stats;
int stats_read(const struct pins *p, struct mktme_pol_stats *st);

/* Detach (unpin the links) and remove every pin. */
int programs_remove(void);

/* The generation in force, into a fresh @c. -ENOENT: no policy loaded. */
int policy_current(const struct pins *p, struct compiled *c);

/* The last generation number handed out (0 if none). */
unsigned int generation_last(const struct pins *p);

/*
 * Build @c completely in a fresh map, then switch the slot to it: one map
 * update, so each call is decided by the old generation or the new one.
 */
int policy_switch(const struct pins *p, const struct compiled *c, char *err, size_t errlen);

/* Empty the slot: the programs allow everything (reason no-policy). */
int policy_clear(const struct pins *p);

/*
 * The runtime assignments (mktmectl assign) to compile with, malloc'ed: those
 * of the state file (assign_state.h) whose cgroup exists now. With the lock
 * held, the pinned mktme_assign map is made to mirror them. A state file that
 * cannot be read (corrupt, unsafe) is reported on stderr with its position,
 * once per distinct error, and the map's assignments (those in force) are
 * used instead: an error never adds an assignment nor silently drops one
 * that is in force. Returns 0, or a negative errno (errno set too).
 */
int assignments_read(const struct pins *p, struct assignment **a, size_t *n);

/*
 * Recompile the generation in force with the current assignments and switch
 * to it (after assign/unassign). No policy loaded: nothing to do (0).
 */
int policy_reassign(const struct pins *p, char *err, size_t errlen);

/*
 * The programs attached through the pins under the pin directory: names,
 * program ids and link ids (0: not attached). Returns how many are.
 */
int programs_attached(char names[N_PROGS][32], unsigned int prog_ids[N_PROGS],
		      unsigned int link_ids[N_PROGS]);

/*
 * Every LSM link in the kernel running a program named as ours, wherever
 * it is pinned: up to @max ids into @ids, the count into *@n. Needs
 * CAP_SYS_ADMIN. Returns 0 or a negative errno.
 */
int programs_in_kernel(unsigned int *ids, size_t max, size_t *n);

#endif
