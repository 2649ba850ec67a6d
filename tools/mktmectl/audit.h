/* SPDX-License-Identifier: GPL-2.0 */
/* Reading the mktme_events ring buffer (mktmectl audit, and the daemon). */
#ifndef MKTMECTL_AUDIT_H
#define MKTMECTL_AUDIT_H

#include <stdbool.h>
#include <stdio.h>

struct ring_buffer;

/*
 * A reader on the pinned ring buffer that prints each event to @out, text
 * or one JSON object per line. A ring buffer has one consumer: events read
 * here are gone for any other reader (the daemon or another mktmectl audit).
 */
struct ring_buffer *audit_reader(int events_fd, bool json, FILE *out);

#endif
