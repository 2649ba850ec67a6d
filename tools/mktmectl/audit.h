/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading the audit streams (mktmectl audit, and the daemon): the denial
 * ring buffer mktme_denials first, then the allows' mktme_events.
 *
 * A BPF ring buffer has one consumer position: two readers would each take
 * records the other never sees. So a reader holds an exclusive lock for the
 * stream (audit_lock.c), and a second one is refused with who holds it.
 */
#ifndef MKTMECTL_AUDIT_H
#define MKTMECTL_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct pins;
struct audit;

/*
 * Take the streams of @p (its fds are duplicated: @p may be closed) and
 * print each record to @out, text or one JSON object per line. NULL with
 * @err set if another reader holds them (-EBUSY, err names it) or on error.
 */
struct audit *audit_open(const struct pins *p, bool json, FILE *out, int *errp, char *err,
			 size_t errlen);
/*
 * Whether @a reads the denial ring @ring_fd (the pinned one). Not once the
 * programs were detached and attached again by anyone: their rings are new,
 * and the ones @a holds are written by nothing.
 */
bool audit_reads(const struct audit *a, int ring_fd);
/* Readable when records wait. */
int audit_epoll_fd(const struct audit *a);
/*
 * Print what waits, denials first, and report records the kernel dropped
 * since the last call (its per-CPU counters) and gaps in the sequence
 * numbers. With @idle (nothing came for a while), a gap at the end of what
 * was read is reported too. Records printed, or a negative errno.
 */
int audit_consume(struct audit *a, bool idle);
/* Read the rest, report the last gaps, release the streams. */
void audit_close(struct audit *a);

/*
 * The lock that makes a reader the streams' only one, for the ring buffer
 * @ring_fd: an fd to keep while reading, or a negative errno; -EBUSY with
 * @who describing the holder ("pid 123 (mktmectl daemon --policy ...)").
 */
int audit_lock(int ring_fd, char *who, size_t wholen);

#endif
