/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mktme: multi-key memory encryption regions (Intel TME-MK).
 *
 * open("/dev/mktme") gives an empty region. MKTME_IOC_SET_KEY binds it, once,
 * to a key of type "mktme" (add_key(2)); mmap(MAP_SHARED) of the fd then maps
 * pages that are allocated on first touch, removed from the kernel direct map,
 * and mapped with the key's KeyID in their page-table entries.
 */
#ifndef _UAPI_LINUX_MKTME_H
#define _UAPI_LINUX_MKTME_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* Payload "type=" values of an mktme key, as seen by the LSM hooks. */
enum mktme_key_type {
	MKTME_KEY_TYPE_CPU = 0,		/* CPU-generated random key */
	MKTME_KEY_TYPE_USER = 1,	/* key= and tweak= supplied by the caller */
	MKTME_KEY_TYPE_CLEAR = 2,	/* the KeyID uses the platform TME key */
	MKTME_KEY_TYPE_NO_ENCRYPT = 3,	/* the KeyID does not encrypt */
};

/*
 * Payload "algorithm=" values. The numbers are the IA32_TME_ACTIVATE bit
 * positions of the algorithms (bit 48 + n), see the kernel's mktme code.
 */
enum mktme_key_alg {
	MKTME_ALG_AES_XTS_128 = 0,
	MKTME_ALG_AES_XTS_256 = 2,
};

/* ioctl type 0xB8: see Documentation/userspace-api/ioctl/ioctl-number.rst. */
#define MKTME_IOC_MAGIC		0xB8

/* Bind the region to a key. The argument is the key serial, passed by value. */
#define MKTME_IOC_SET_KEY	_IO(MKTME_IOC_MAGIC, 0x01)

/* Levels reported by MKTME_IOC_QUERY_PTE. */
#define MKTME_PTE_NONE		0	/* not mapped */
#define MKTME_PTE_4K		1	/* a PTE */
#define MKTME_PTE_2M		2	/* a leaf PMD */
#define MKTME_PTE_1G		3	/* a leaf PUD */

#define MKTME_PTE_F_PRESENT	(1U << 0)
#define MKTME_PTE_F_WRITE	(1U << 1)
#define MKTME_PTE_F_USER	(1U << 2)
#define MKTME_PTE_F_SPECIAL	(1U << 3)
#define MKTME_PTE_F_NX		(1U << 4)

/*
 * Walk the caller's own page tables for @addr (any address of the calling
 * process, not only mappings of this fd). @entry is the raw leaf entry with
 * the page-frame bits cleared unless the caller has CAP_SYS_ADMIN.
 */
struct mktme_pte_query {
	__u64 addr;	/* in */
	__u32 level;	/* out: MKTME_PTE_* */
	__u32 keyid;	/* out: KeyID the entry carries (0 = none) */
	__u32 flags;	/* out: MKTME_PTE_F_* */
	__u32 pad;	/* must be zero */
	__u64 entry;	/* out */
};

#define MKTME_IOC_QUERY_PTE	_IOWR(MKTME_IOC_MAGIC, 0x02, struct mktme_pte_query)

/* What a region is bound to and holds. */
struct mktme_region_info {
	__s32 key_serial;	/* 0 until SET_KEY */
	__u32 keyid;
	__u64 nr_pages;		/* pages currently allocated to the region */
};

#define MKTME_IOC_GET_INFO	_IOR(MKTME_IOC_MAGIC, 0x03, struct mktme_region_info)

#endif /* _UAPI_LINUX_MKTME_H */
