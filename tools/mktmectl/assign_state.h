/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The assignments' state file (mktmectl assign), so that they survive a
 * reboot: DIR/assignments, DIR being /var/lib/mktme (--state-dir,
 * $MKTME_STATE_DIR). JSON lines: a header, then one object per assignment,
 * keyed by cgroup path (cgroup ids do not survive a reboot):
 *
 *   {"mktme_assignments":1}
 *   {"cgroup":"/tenants/a","key":"shared","id":65536,"assigned_at":1767225600}
 *   {"cgroup":"/vmm","key":"shared","id":65537,"assigned_at":1767225601,"owner":"any"}
 *
 * "owner" is written only for "any" (assign --owner any); without it the
 * assignment allows only keys created in the cgroup's subtree.
 *
 * Written whole, atomically (temporary file, fsync, rename, fsync of the
 * directory), mode 0600 in a directory of mode 0700. Read only from a
 * directory and file owned by root (or the caller) that no one else can
 * write, under ancestors no one else can replace. Needs no kernel: the host
 * tests link it.
 */
#ifndef MKTMECTL_ASSIGN_STATE_H
#define MKTMECTL_ASSIGN_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define STATE_DIR_DEFAULT	"/var/lib/mktme"
#define STATE_FILE		"assignments"
#define STATE_FORMAT		1
#define STATE_MAX_FILE		(8 << 20)

struct state_entry {
	char *cgroup;			/* normalized: "/a/b", "/" */
	char key[MKTME_NAME_LEN];
	uint32_t id;			/* rule id, from MKTME_ASSIGN_ID_BASE */
	uint64_t assigned_at;		/* CLOCK_REALTIME seconds */
	bool owner_any;			/* "owner":"any" (absent: subtree) */
};

struct state {
	char path[4200];		/* DIR/assignments, for messages */
	bool exists;			/* the file was there */
	struct state_entry *e;
	size_t n, cap;
};

/* @dir if set, else $MKTME_STATE_DIR, else STATE_DIR_DEFAULT. */
const char *state_dir(const char *dir);

/*
 * "/a//b/" -> "/a/b" into @out. -1 (and a message in @err) for a path that
 * is not absolute, has "." or "..", is too long or too deep.
 */
int cgroup_path_normalize(const char *in, char *out, size_t len, char *err, size_t errlen);

/*
 * Open the state directory @dir, check that it and its ancestors are safe
 * (see above), and with @lock take its lock (one writer at a time). With
 * @create, a missing @dir is made (mode 0700; its parent must exist).
 * Returns the directory's fd, -ENOENT if it does not exist and !@create,
 * or another negative errno with @d saying what is wrong.
 */
int state_dir_open(const char *dir, bool create, bool lock, struct diag *d);

/*
 * Read the state file in @dirfd into a fresh @s (an absent file: empty,
 * !s->exists). -1 with @d ("FILE:LINE:COL: what") for a file that is
 * unsafe, unreadable or not exactly what state_write() writes.
 */
int state_read(int dirfd, const char *dir, struct state *s, struct diag *d);

/* Replace the state file with @s, atomically. -1 with @d. */
int state_write(int dirfd, const struct state *s, struct diag *d);

/* Open @dir (never creating it), read, close: no lock (writes are atomic). */
int state_load(const char *dir, struct state *s, struct diag *d);

void state_free(struct state *s);
/* Index of (@cgroup, @key) in @s, or -1. @cgroup normalized. */
long state_find(const struct state *s, const char *cgroup, const char *key);
int state_add(struct state *s, const char *cgroup, const char *key, uint32_t id,
	      uint64_t assigned_at);
/* A fresh copy of @s into @out, leaving out entry @skip (-1: none). */
int state_copy(const struct state *s, long skip, struct state *out);
/* The next free rule id: one past the highest, from MKTME_ASSIGN_ID_BASE. */
uint32_t state_next_id(const struct state *s);

/*
 * The entries whose cgroup exists under @cgroup_root, with their ids, for
 * policy_compile(); *pending counts those whose cgroup does not (yet).
 * Returns 0 or a negative errno.
 */
int state_resolve(const struct state *s, const char *cgroup_root, struct assignment **a,
		  size_t *n, size_t *pending);

#endif
