/* SPDX-License-Identifier: GPL-2.0 */
/*
 * /run/mktme ($MKTME_RUN_DIR): the locks that say who is doing what, the
 * audit streams' reader (audit_lock.c) and the policy's owner (owner.c).
 */
#ifndef MKTMECTL_RUN_DIR_H
#define MKTMECTL_RUN_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * The directory (with @create, created 0700 if missing), as an O_DIRECTORY fd. -EPERM
 * (with @why) if it is not root's alone: whoever could write it could swap
 * a lock file under its holder. Other errors: a negative errno.
 */
int run_dir_open(bool create, char *why, size_t whylen);

/* "pid N (argv0 argv1 ...)", or "pid N" if /proc does not tell more. */
void lock_holder(pid_t pid, char *who, size_t len);

/*
 * Take the write lock of the lock file @fd without waiting: 0, or -EBUSY
 * with @who naming the holder (@churn if holders kept letting go between
 * the tries), or another negative errno. @fd stays open either way.
 */
int run_lock_take(int fd, const char *churn, char *who, size_t wholen);

#endif
