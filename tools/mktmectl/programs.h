/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The programs: loaded and attached once, pinned as links under the pin
 * directory, adopted by every later command.
 *
 *   links  link_mktme_create, link_mktme_bind, link_mktme_mmap,
 *          link_mktme_key_free, link_mktme_revoked; the pins' guards link_mktme_map_open,
 *          link_mktme_unlink, link_mktme_rmdir, link_mktme_rename,
 *          link_mktme_setattr; the exec records link_mktme_exec,
 *          link_mktme_fork
 *   build  mktme_build: which build attached them (programs_build_id())
 */
#ifndef MKTMECTL_PROGRAMS_H
#define MKTMECTL_PROGRAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define N_PROGS 12
/* Names of the programs: the decisions, key_free, the guards. */
extern const char *const prog_names[N_PROGS];

enum programs_how {
	PROGRAMS_ADOPTED,	/* this build's, all attached already */
	PROGRAMS_ATTACHED,	/* attached now (or what was missing) */
	PROGRAMS_UPGRADED,	/* another build's replaced by this one's */
};

/*
 * Make sure this build's programs are attached and everything is pinned:
 * adopt them; attach (and pin) what is missing; or replace another
 * build's, hook by hook without a moment with none, keeping every map
 * (keys, counts, assignments, the generation in force). *how says which.
 * Errors are reported (fail()); returns an exit code.
 */
int programs_ensure(enum programs_how *how);
const char *programs_how_str(enum programs_how how);

/*
 * The link_<prog>_new pins of an upgrade that stopped half-way (both
 * builds' programs run on those hooks): their names into @list, the count.
 */
size_t programs_halfway(char *list, size_t len);

/* This build's identity, and the attached one's (0: unknown, or none). */
uint64_t programs_build_id(void);
uint64_t programs_attached_build(void);

/*
 * Whether this build's programs are attached through every pin (what
 * programs_ensure() would adopt as they are), at the moment of asking.
 */
bool programs_current(void);

/* Detach (unpin the links) and remove every pin. */
int programs_remove(void);

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
