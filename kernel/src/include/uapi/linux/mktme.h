/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mktme: multi-key memory encryption regions (Intel TME-MK).
 *
 * open("/dev/mktme") gives an empty region. MKTME_IOC_SET_KEY binds it, once,
 * to a key of type "mktme" (add_key(2)); mmap(MAP_SHARED) of the fd then maps
 * pages that are allocated on first touch, removed from the kernel direct map,
 * and mapped with the key's KeyID in their page-table entries.
 *
 * A region is the open file: every mapping of it, in any process (fork(),
 * SCM_RIGHTS), sees the same pages at the same file offsets. Its pages are
 * zeroed and freed when the last mapping is gone and the last descriptor
 * closed.
 *
 * mmap() errors:
 *   EINVAL   MAP_PRIVATE
 *   EPERM    PROT_EXEC (and mprotect() cannot add it later: EACCES)
 *   ENOKEY   no MKTME_IOC_SET_KEY yet
 *   EKEYREVOKED, EKEYEXPIRED  the region's key was revoked or has expired
 *   EAGAIN   the mapping is larger than RLIMIT_MEMLOCK (no CAP_IPC_LOCK)
 *   an LSM's error (mktme_mmap hook), typically EPERM
 * A page fault that would take the region owner's locked memory (counted per
 * page, in the user's locked_vm, as for memfd_secret) past the faulting
 * task's RLIMIT_MEMLOCK raises SIGBUS, unless the region was opened with
 * CAP_IPC_LOCK. The pages are also charged to the faulting task's memory
 * cgroup. read(), write() and friends on the fd fail with EINVAL.
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

/*
 * Bind the region to a key. The argument is the key serial, passed by value
 * (not a pointer). The caller needs search permission on the key (as for
 * fscrypt and keyctl_pkey_*). The region takes a reference on the key and on
 * its KeyID, both held until the region is released. Errors:
 *   EINVAL   serial <= 0, or not a key of type "mktme"
 *   EBUSY    the region is already bound (even to the same key)
 *   ENOKEY, EACCES, EKEYREVOKED, EKEYEXPIRED  from the key lookup
 *   an LSM's error (mktme_key_bind hook), typically EPERM
 */
#define MKTME_IOC_SET_KEY	_IO(MKTME_IOC_MAGIC, 0x01)

/* Levels reported by MKTME_IOC_QUERY_PTE. */
#define MKTME_PTE_NONE		0	/* not mapped */
#define MKTME_PTE_4K		1	/* a PTE */
#define MKTME_PTE_2M		2	/* a leaf PMD */
#define MKTME_PTE_1G		3	/* a leaf PUD */

/* Flags reported by MKTME_IOC_QUERY_PTE; all 0 for a swap/migration entry. */
#define MKTME_PTE_F_PRESENT	(1U << 0)	/* present to the hardware */
#define MKTME_PTE_F_WRITE	(1U << 1)
#define MKTME_PTE_F_USER	(1U << 2)
#define MKTME_PTE_F_SPECIAL	(1U << 3)	/* 4K, 2M: no struct page use */
#define MKTME_PTE_F_NX		(1U << 4)
#define MKTME_PTE_F_PROTNONE	(1U << 5)	/* PROT_NONE (or NUMA hint) */

/*
 * Walk the caller's own page tables for @addr (any address of the calling
 * process, not only mappings of this fd; the region need not be bound).
 * @entry is the raw leaf entry with the page-frame bits cleared unless the
 * fd was opened with CAP_SYS_ADMIN (as /proc/pid/pagemap does); it is 0 for
 * a swap or migration entry then. @keyid is decoded from @entry with the
 * running kernel's KeyID layout (0 for none). Errors: EINVAL if @pad is not
 * zero, EFAULT.
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
	__u32 keyid;		/* 0 until SET_KEY */
	__u64 nr_pages;		/* pages currently allocated to the region */
};

#define MKTME_IOC_GET_INFO	_IOR(MKTME_IOC_MAGIC, 0x03, struct mktme_region_info)

#endif /* _UAPI_LINUX_MKTME_H */
