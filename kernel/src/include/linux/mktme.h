/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Multi-Key Total Memory Encryption: what the rest of the kernel may ask.
 * The implementation is in arch/x86/mm/mktme/.
 */
#ifndef _LINUX_MKTME_H
#define _LINUX_MKTME_H

#include <linux/types.h>

#ifdef CONFIG_MKTME
/* True while any KeyID is allocated (held by a key or a mapped region). */
bool mktme_active(void);
#else
static inline bool mktme_active(void)
{
	return false;
}
#endif

#endif /* _LINUX_MKTME_H */
