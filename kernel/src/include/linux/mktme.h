/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Multi-Key Total Memory Encryption: what the rest of the kernel may ask.
 * The implementation is in arch/x86/mm/mktme/.
 */
#ifndef _LINUX_MKTME_H
#define _LINUX_MKTME_H

#include <linux/types.h>

#ifdef CONFIG_MKTME
/*
 * True while something would be lost to a hibernation image or to a
 * package losing its key table: pages of /dev/mktme regions, or, on
 * hardware, live keys (their bytes are not kept to program them again).
 * Lockless.
 */
bool mktme_active(void);
/* Log (ratelimited) which of the two refuses @what. */
void mktme_report_busy(const char *what);
/*
 * kexec: -EBUSY (logged) while a KeyID holds a key on hardware that
 * encrypts (dirty cache lines of its KeyID, and its key, would outlive the
 * kernel); else no KeyID is handed out until mktme_kexec_finish(), which a
 * kexec that returns (KEXEC_JUMP) or fails later calls.
 */
int mktme_kexec_prepare(void);
void mktme_kexec_finish(void);
#else
static inline bool mktme_active(void)
{
	return false;
}

static inline void mktme_report_busy(const char *what)
{
}

static inline int mktme_kexec_prepare(void)
{
	return 0;
}

static inline void mktme_kexec_finish(void)
{
}
#endif

#endif /* _LINUX_MKTME_H */
