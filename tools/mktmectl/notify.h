/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The service manager's notifications (sd_notify(3)) for the daemon under a
 * Type=notify unit. libsystemd is loaded only there, when NOTIFY_SOCKET is
 * set: linked into mktmectl, it and what it needs (libgcrypt, liblzma,
 * libzstd, liblz4, libgpg-error) were loaded by every command, about 15 ms
 * of each one's start in the test guest, for two functions only the daemon
 * calls.
 */
#ifndef MKTMECTL_NOTIFY_H
#define MKTMECTL_NOTIFY_H

#include <stddef.h>

/*
 * Load sd_notify() if NOTIFY_SOCKET is set. 0, or -1 with @err saying why
 * (a manager waits for READY=1 that would never come: the caller exits).
 */
int notify_init(char *err, size_t errlen);

/* sd_notify(0, the formatted text); nothing without NOTIFY_SOCKET. */
void notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
