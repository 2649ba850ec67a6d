/* SPDX-License-Identifier: GPL-2.0 */
#ifndef MKTMECTL_ASSIGN_MAP_H
#define MKTMECTL_ASSIGN_MAP_H

#include <stddef.h>

#include "pins.h"
#include "policy.h"

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

#endif
