/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Policy generations in the pinned maps (pins.h): each one whole in three
 * fresh maps (meta, rules, cgroups), put in force by one update of the
 * mktme_policy slot.
 */
#ifndef MKTMECTL_GENERATION_H
#define MKTMECTL_GENERATION_H

#include <stddef.h>

#include "pins.h"
#include "policy.h"

/*
 * The generation in force, into a fresh @c. -ENOENT: no policy loaded. A
 * generation without its metadata (not one mktmectl makes) comes back with
 * none (compiled_meta() NULL).
 */
int policy_current(const struct pins *p, struct compiled *c);

/* The generation in force (0: none, or one without its metadata). */
unsigned int generation_in_force(const struct pins *p);

/* The last generation number handed out, at least the one in force (0 if none). */
unsigned int generation_last(const struct pins *p);

/*
 * Build @c completely in fresh maps, put its rules and cgroups in the slot
 * not in force, then switch to its metadata: one map update, so each call
 * is decided by the old generation or the new one. Three map-in-map
 * updates, three RCU grace periods. On failure nothing the programs read
 * has changed; @err says why.
 */
int policy_switch(const struct pins *p, const struct compiled *c, char *err, size_t errlen);

/* Empty the switch, then both slots: the programs allow everything (reason no-policy). */
int policy_clear(const struct pins *p);

/*
 * Recompile the generation in force with the current assignments and switch
 * to it (after assign/unassign). No policy loaded: nothing to do (0).
 */
int policy_reassign(const struct pins *p, char *err, size_t errlen);

#endif
