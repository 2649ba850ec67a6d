/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pinned maps under the pin directory (default /sys/fs/bpf/mktme/v7):
 *
 *   mktme_policy       one-slot map-in-map: the metadata map of the
 *                      generation in force (the switch)
 *   mktme_gen_rules    two slots: the rules maps of the generation in force
 *                      (at the slot its metadata names) and of the one before
 *   mktme_gen_cgroups  the same for their cgroups maps (limits)
 *   mktme_meta, mktme_rules, mktme_cgroups
 *                      the generation in force, re-pinned at each switch
 *                      (for bpftool)
 *   mktme_meta_tpl, mktme_rules_tpl, mktme_cgroups_tpl
 *                      never filled: the BTF of the generations' maps
 *   mktme_source       the policy file the generation in force came from
 *   mktme_live, mktme_keys, mktme_counters, mktme_assign, mktme_state,
 *   mktme_stats (per CPU), the audit streams mktme_denials and mktme_events
 *   (allows), mktme_seq, mktme_denials_last, mktme_epoch; mktme_exe and
 *   mktme_decided (task storage); mktme_denial_budget (cgroup storage)
 *
 * and the links (programs.h).
 */
#ifndef MKTMECTL_PINS_H
#define MKTMECTL_PINS_H

#include <stdbool.h>
#include <stddef.h>

struct pins {
	int dir_fd;		/* flock()ed while changing anything */
	int policy, gen_rules, gen_cgroups, meta_tpl, rules_tpl, cgroups_tpl;
	int live, keys, counters, assign, state, source, stats, events, denials, seq,
	    denials_last;
	bool locked;		/* opened with the lock: may write */
};

/* Every fd -1: what pins_close() may be called on. */
#define PINS_INIT { .dir_fd = -1, .policy = -1, .gen_rules = -1, .gen_cgroups = -1,	\
		    .meta_tpl = -1, .rules_tpl = -1, .cgroups_tpl = -1, .live = -1,	\
		    .keys = -1, .counters = -1, .assign = -1, .state = -1, .source = -1,	\
		    .stats = -1, .events = -1, .denials = -1, .seq = -1, .denials_last = -1 }

/*
 * Open the pinned maps; with @lock, take the exclusive lock first (one
 * writer at a time: mktmectl commands and the daemon). -ENOENT: nothing is
 * pinned (programs never loaded, or detached).
 */
int pins_open(struct pins *p, bool lock);
void pins_close(struct pins *p);

/* @name under the pin directory; -ENAMETOOLONG. */
int pin_path(char *buf, size_t len, const char *name);
/* bpf_obj_get() of @name under the pin directory. */
int pin_obj_get(const char *name);

/* mktme_stats summed over the CPUs: 0, or a negative errno. */
struct mktme_pol_stats;
int stats_read(const struct pins *p, struct mktme_pol_stats *st);

#endif
