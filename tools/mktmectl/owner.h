/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who owns the policy. While `mktmectl daemon --policy FILE` runs, it does:
 * it holds an exclusive POSIX lock on /run/mktme/owner-PINDIR.lock (PINDIR:
 * the pin directory, '/' as '-'), the file saying its pid and FILE. A
 * second such daemon is refused, and so are `policy load` and `policy
 * unload` from the command line, naming the daemon; with --force they go
 * ahead and leave an override note (override-PINDIR) that makes the daemon
 * stand back, saying so once, until FILE changes, it gets SIGHUP, or it
 * restarts. Without the note, the daemon would put FILE back at its next
 * 2 s refresh. `assign`/`unassign` are not gated: the daemon compiles every
 * generation with the assignments, so the two never disagree.
 */
#ifndef MKTMECTL_OWNER_H
#define MKTMECTL_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * The daemon: take the lock, write our pid and @file into it. Returns the
 * lock's fd (kept open while the daemon runs), or a negative errno; -EBUSY:
 * another daemon owns it (@why: who).
 */
int owner_take(const char *file, char *why, size_t whylen);

/*
 * The command line: is a daemon the owner? 1 (*@pid, @who: "pid N (cmdline)",
 * @file: its policy file), 0 (none), or a negative errno.
 */
int owner_get(pid_t *pid, char *who, size_t wholen, char *file, size_t filelen);

/*
 * The override note: what overrode the daemon, in @what. owner_override_get
 * returns 1 (note there, @buf filled), 0 (none) or a negative errno.
 */
int owner_override_set(const char *what);
int owner_override_get(char *buf, size_t len);
int owner_override_clear(void);

#endif
