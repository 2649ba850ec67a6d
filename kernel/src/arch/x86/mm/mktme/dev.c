// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/mktme: memory encrypted with a key of type "mktme", outside the
 * kernel direct map.
 *
 *   fd = open("/dev/mktme", O_RDWR);	   an empty region
 *   ioctl(fd, MKTME_IOC_SET_KEY, serial);  bind it, once, to a key
 *   p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
 *
 * The shape follows Andy Lutomirski's 2019 review of the MKTME RFC: a
 * device whose pages are removed from the direct map and
 * mapped in a VM_PFNMAP VMA, so that the kernel cannot touch them by
 * accident: get_user_pages() refuses VM_PFNMAP (check_vma_flags() in
 * mm/gup.c), fast GUP refuses special PTEs (gup_fast_pte_range()), and without
 * a vm_ops->access the /proc/pid/mem, ptrace and process_vm_readv paths
 * have no fallback (__access_remote_vm() in mm/memory.c).
 *
 * A region is one open file: every mapping of it, in this process or
 * another (fork(), SCM_RIGHTS), sees the same pages, which are found by
 * file offset. The struct file is the region's reference count: each VMA
 * holds a reference on vm_file, so ->release runs only when the last
 * mapping is gone and the last descriptor closed, and no PTE can still
 * point at a page when it is freed.
 *
 * Life of a page (mm/secretmem.c is the model):
 *  fault   take it from the block pool (blocks.c: 2 MiB blocks out of the
 *          direct map, on the node the memory policy asks for), charge it
 *          to RLIMIT_MEMLOCK and the region opener's memcg, zero it through
 *          the CPU's KeyID alias (alias.c), publish it in the region and
 *          map it: a 4 KiB page with vmf_insert_pfn_prot(), a 2 MiB page
 *          with vmf_insert_pfn_pmd(). The KeyID travels in the pgprot,
 *          never in the PFN (pte.c).
 *  free    zero it and flush its cache lines through the KeyID alias,
 *          uncharge it, and only then give it back to its block.
 *
 * The caches are not kept coherent between mappings of one physical page
 * with different KeyIDs (the TME-MK architecture leaves the flush to
 * software when a page changes KeyID; the 2019 MKTME RFC flushed in its
 * page allocation hooks for the same reason): hence the flushes on both
 * sides. The emulated backend runs exactly the same code.
 *
 * Revoke means stop. Once the region's key is revoked, invalidated or
 * expired, nothing more is mapped: mmap() fails, every fault raises
 * SIGBUS (pages never touched, and pages of the region that this mapping
 * does not map now), and a fork() child gets the mapping with no page in
 * it (VM_WIPEONFORK, set when the VMA is copied). What is mapped stays
 * mapped until it is unmapped, and the pages and the KeyID stay until the
 * region is released; only then is the KeyID reprogrammed.
 *
 * Memory cgroup. Each page handed to a region is charged to the memcg of
 * the task that opened it (as RLIMIT_MEMLOCK is charged to the opener's
 * user), as user memory (mem_cgroup_charge(), which cgroup.memory=nokmem
 * does not turn off), one 4 KiB page at a time (a block is not a compound
 * page), and shown in that memcg's memory.stat "kernel" line; it is
 * uncharged when the page goes back to its block. The region's xarrays
 * are kmem-accounted to the same memcg.
 */
#define pr_fmt(fmt) "mktme: " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/hugetlb.h>
#include <linux/key.h>
#include <linux/memcontrol.h>
#include <linux/mempolicy.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pagewalk.h>
#include <linux/pfn_t.h>
#include <linux/pgtable.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/sched/mm.h>
#include <linux/security.h>
#include <linux/set_memory.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>
#include <linux/xarray.h>

#include "mktme.h"

/* Pages held by all regions; /sys/kernel/mm/mktme/pages_mapped. */
atomic_long_t mktme_pages_mapped = ATOMIC_LONG_INIT(0);

struct mktme_region {
	struct mutex lock;		/* binding: key and keyid together */
	struct key *key;		/* NULL until SET_KEY; a reference */
	unsigned int keyid;		/* the key's; a KeyID reference */
	struct mutex publish;		/* which page backs an offset */
	struct xarray pages;		/* file page offset -> 4 KiB page */
	struct xarray huge;		/* 2 MiB chunk index -> 2 MiB page */
	atomic_long_t nr_pages;		/* in 4 KiB pages */
	struct user_struct *user;	/* charged for the pages */
	struct mem_cgroup *memcg;	/* the opener's: charged for them */
	bool unlimited;			/* the opener had CAP_IPC_LOCK */
};

/*
 * May the region map anything more? Not once its key is revoked,
 * invalidated or expired. r->key is set once (SET_KEY) and referenced
 * until ->release, so its payload cannot go away under us.
 */
static bool mktme_region_live(struct mktme_region *r)
{
	struct key *key = READ_ONCE(r->key);

	return key && mktme_key_keyid(key) > 0;
}

/*
 * Charge @nr pages at @page to the opener's memcg, as user memory: one
 * folio per 4 KiB page, since the pages of a block are not compound.
 * 0 or -ENOMEM; on failure nothing stays charged.
 */
static int mktme_memcg_charge(struct mktme_region *r, struct page *page,
			      unsigned long nr, gfp_t gfp)
{
	struct mem_cgroup *old;
	unsigned long i;
	int ret = 0;

	if (!r->memcg)
		return 0;
	old = set_active_memcg(r->memcg);
	for (i = 0; i < nr; i++) {
		ret = mem_cgroup_charge(page_folio(page + i), NULL, gfp);
		if (ret)
			break;
	}
	set_active_memcg(old);
	if (ret) {
		while (i--)
			mem_cgroup_uncharge(page_folio(page + i));
		return ret;
	}
	mod_memcg_page_state(page, MEMCG_KMEM, nr);
	return 0;
}

static void mktme_memcg_uncharge(struct page *page, unsigned long nr)
{
	unsigned long i;

	mod_memcg_page_state(page, MEMCG_KMEM, -(int)nr);
	for (i = 0; i < nr; i++)
		mem_cgroup_uncharge(page_folio(page + i));
}

/* Store in a region's xarray, charging its nodes to the opener's memcg. */
static void *mktme_xa_store(struct mktme_region *r, struct xarray *xa,
			    unsigned long index, void *entry)
{
	struct mem_cgroup *old = set_active_memcg(r->memcg);
	void *ret = xa_store(xa, index, entry, GFP_KERNEL_ACCOUNT);

	set_active_memcg(old);
	return ret;
}

/* RLIMIT_MEMLOCK, per page and per user, as memfd_secret does. */
static bool mktme_charge(struct mktme_region *r, unsigned long nr)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	long cur = atomic_long_read(&r->user->locked_vm);

	do {
		if (!r->unlimited && (unsigned long)cur + nr > limit)
			return false;
	} while (!atomic_long_try_cmpxchg(&r->user->locked_vm, &cur, cur + nr));
	return true;
}

static void mktme_uncharge(struct mktme_region *r, unsigned long nr)
{
	atomic_long_sub(nr, &r->user->locked_vm);
}

/* ---- pages of a region ------------------------------------------------- */

/*
 * A region's file offsets come in 2 MiB chunks (MKTME_BLOCK_PAGES pages).
 * A chunk is either one 2 MiB page, in r->huge at the chunk's index, or up
 * to 512 pages of 4 KiB, in r->pages at their offsets; never both. The
 * first fault into a chunk decides: a PMD fault of an aligned mapping takes
 * a 2 MiB page if the chunk has no 4 KiB page yet; any other fault takes a
 * 4 KiB page, unless the chunk already is a 2 MiB page, whose 4 KiB part
 * it then maps with a PTE (a second, unaligned mapping of the same file).
 * Pages are allocated and zeroed outside r->publish; only the decision and
 * the xarray store are under it.
 */
static bool mktme_region_pfn(struct mktme_region *r, pgoff_t pgoff,
			     unsigned long *pfn)
{
	struct page *page;

	page = xa_load(&r->huge, pgoff >> MKTME_BLOCK_ORDER);
	if (page) {
		*pfn = page_to_pfn(page) + (pgoff & (MKTME_BLOCK_PAGES - 1));
		return true;
	}
	page = xa_load(&r->pages, pgoff);
	if (page) {
		*pfn = page_to_pfn(page);
		return true;
	}
	return false;
}

/* Any 4 KiB page in the chunk of @pgoff? */
static bool mktme_chunk_has_pages(struct mktme_region *r, pgoff_t pgoff)
{
	unsigned long index = round_down(pgoff, MKTME_BLOCK_PAGES);

	return xa_find(&r->pages, &index, index + MKTME_BLOCK_PAGES - 1,
		       XA_PRESENT) != NULL;
}

/*
 * 2^@order pages for a fault of @vmf: charged to RLIMIT_MEMLOCK and to the
 * opener's memory cgroup (@gfp: how hard the memcg may reclaim), from the
 * node the memory policy asks for, out of the direct map and zeroed
 * through the region's KeyID.
 */
static struct page *mktme_alloc(struct mktme_region *r, struct vm_fault *vmf,
				unsigned int order, gfp_t gfp)
{
	unsigned long nr = 1UL << order;
	nodemask_t allowed;
	struct page *page;
	int nid;

	if (!mktme_charge(r, nr))
		return ERR_PTR(-EAGAIN);
	nid = vma_policy_node(vmf->vma, vmf->address, order, &allowed);
	page = mktme_blocks_alloc(order, nid, &allowed, GFP_HIGHUSER);
	if (!page)
		goto out_uncharge;
	if (mktme_memcg_charge(r, page, nr, gfp)) {
		mktme_blocks_free(page, order);
		goto out_uncharge;
	}
	mktme_alias_clear(page, nr, r->keyid);
	return page;

out_uncharge:
	mktme_uncharge(r, nr);
	return ERR_PTR(-ENOMEM);
}

/*
 * Zero 2^@order pages and drop their cache lines through @keyid, uncharge
 * them and give them back. The order matters: nothing of the region's data
 * and no line of its KeyID may remain when the memory can be reused.
 */
static void mktme_free(struct page *page, unsigned int order,
		       unsigned int keyid)
{
	mktme_alias_scrub(page, 1UL << order, keyid);
	mktme_memcg_uncharge(page, 1UL << order);
	mktme_blocks_free(page, order);
}

static vm_fault_t mktme_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mktme_region *r = vma->vm_file->private_data;
	struct page *page;
	unsigned long pfn;
	bool live;
	void *old;

	/* Revoked: nothing is mapped anew, not even a page that exists. */
	if (!mktme_region_live(r))
		return VM_FAULT_SIGBUS;
	if (!mktme_region_pfn(r, vmf->pgoff, &pfn)) {
		/* Over the memcg limit, reclaim, then OOM in that memcg. */
		page = mktme_alloc(r, vmf, 0, GFP_KERNEL);
		if (IS_ERR(page)) {
			/* Over RLIMIT_MEMLOCK: SIGBUS, as for memfd_secret. */
			if (PTR_ERR(page) == -EAGAIN)
				return VM_FAULT_SIGBUS;
			return VM_FAULT_OOM;
		}
		mutex_lock(&r->publish);
		/* Revoked while the page was being made? */
		live = mktme_region_live(r);
		old = NULL;
		if (live && !mktme_region_pfn(r, vmf->pgoff, &pfn)) {
			old = mktme_xa_store(r, &r->pages, vmf->pgoff, page);
			if (!xa_is_err(old)) {
				pfn = page_to_pfn(page);
				page = NULL;
				atomic_long_inc(&r->nr_pages);
				atomic_long_inc(&mktme_pages_mapped);
			}
		}
		mutex_unlock(&r->publish);
		/*
		 * Another fault published first, the key was revoked, or no
		 * memory for the xarray.
		 */
		if (page) {
			mktme_free(page, 0, r->keyid);
			mktme_uncharge(r, 1);
			if (!live)
				return VM_FAULT_SIGBUS;
			if (xa_is_err(old))
				return vmf_error(xa_err(old));
		}
	}
	/*
	 * The KeyID is set again rather than trusted to vm_page_prot, so
	 * that no path that rebuilds vm_page_prot can map it without.
	 */
	return vmf_insert_pfn_prot(vma, vmf->address, pfn,
				   mktme_pgprot(vma->vm_page_prot, r->keyid));
}

/*
 * A 2 MiB fault (mm/memory.c calls this for a PMD with no table yet, on a
 * VM_PFNMAP VMA: create_huge_pmd(), and to make a read-only PMD writable:
 * wp_huge_pmd()). Whatever does not fit a 2 MiB page falls back to 4 KiB
 * faults: an unaligned or short part of the VMA, a chunk that has 4 KiB
 * pages, RLIMIT_MEMLOCK, no free 2 MiB block.
 */
static vm_fault_t mktme_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	struct mktme_region *r = vma->vm_file->private_data;
	unsigned long haddr = vmf->address & PMD_MASK;
	pgoff_t pgoff = vmf->pgoff - ((vmf->address - haddr) >> PAGE_SHIFT);
	pgoff_t chunk = pgoff >> MKTME_BLOCK_ORDER;
	struct page *page, *old;
	unsigned long pfn;

	if (order == 0)
		return mktme_fault(vmf);
	if (!mktme_region_live(r))
		return VM_FAULT_SIGBUS;
	if (order != PMD_ORDER || haddr < vma->vm_start ||
	    haddr + PMD_SIZE > vma->vm_end ||
	    !IS_ALIGNED(pgoff, MKTME_BLOCK_PAGES))
		return VM_FAULT_FALLBACK;
	/*
	 * vmf_insert_pfn_pmd() maps with vm_page_prot, which must carry the
	 * KeyID (mktme_mmap(); mprotect() keeps it: _PAGE_CHG_MASK).
	 */
	if (WARN_ON_ONCE(mktme_pte_to_keyid(pgprot_val(vma->vm_page_prot)) !=
			 r->keyid))
		return VM_FAULT_FALLBACK;

	page = xa_load(&r->huge, chunk);
	if (!page) {
		if (mktme_chunk_has_pages(r, pgoff))
			return VM_FAULT_FALLBACK;
		/* The memcg may reclaim but not OOM: 4 KiB faults can. */
		page = mktme_alloc(r, vmf, MKTME_BLOCK_ORDER,
				   GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN);
		if (IS_ERR(page))
			return VM_FAULT_FALLBACK;
		mutex_lock(&r->publish);
		old = xa_load(&r->huge, chunk);
		if (!mktme_region_live(r)) {
			old = NULL;
		} else if (!old && !mktme_chunk_has_pages(r, pgoff)) {
			old = mktme_xa_store(r, &r->huge, chunk, page);
			if (!xa_is_err(old)) {
				old = page;
				page = NULL;
				atomic_long_add(MKTME_BLOCK_PAGES, &r->nr_pages);
				atomic_long_add(MKTME_BLOCK_PAGES,
						&mktme_pages_mapped);
			}
		}
		mutex_unlock(&r->publish);
		if (page) {
			mktme_free(page, MKTME_BLOCK_ORDER, r->keyid);
			mktme_uncharge(r, MKTME_BLOCK_PAGES);
			if (!mktme_region_live(r))
				return VM_FAULT_SIGBUS;
			/* A 2 MiB page published meanwhile is ours too. */
			if (!old || xa_is_err(old))
				return VM_FAULT_FALLBACK;
		}
		page = old;
	}
	pfn = page_to_pfn(page);
	return vmf_insert_pfn_pmd(vmf, __pfn_to_pfn_t(pfn, PFN_DEV),
				  vmf->flags & FAULT_FLAG_WRITE);
}

/*
 * A VMA made from one of ours: by fork() (dup_mmap() calls ->open before
 * copy_page_range(), and skips the copy for VM_WIPEONFORK), by a split or
 * by mremap(), each under mmap_lock held for writing. Once the key is
 * revoked, a copy carries no page into a child: the child's faults raise
 * SIGBUS like any other after revoke.
 */
static void mktme_vma_open(struct vm_area_struct *vma)
{
	struct mktme_region *r = vma->vm_file->private_data;

	if (!mktme_region_live(r))
		vm_flags_set(vma, VM_WIPEONFORK);
}

/* No ->access: that is what /proc/pid/mem and ptrace would fall back to. */
static const struct vm_operations_struct mktme_vm_ops = {
	.open = mktme_vma_open,
	.fault = mktme_fault,
	.huge_fault = mktme_huge_fault,
};

static int mktme_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct mktme_region *r = file->private_data;
	struct key *key;
	unsigned int keyid;
	int ret;

	/*
	 * Shared only: a private mapping of a VM_PFNMAP region would need
	 * copy-on-write of pages that the kernel cannot read.
	 * VM_MAYSHARE rather than VM_SHARED: MAP_SHARED of a read-only
	 * descriptor clears VM_SHARED (do_mmap()).
	 */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	/* Like a noexec mount (memfd_secret's MNT_NOEXEC). */
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;

	mutex_lock(&r->lock);
	key = r->key;
	keyid = r->keyid;
	mutex_unlock(&r->lock);
	if (!key)
		return -ENOKEY;

	/* A revoked or expired key maps no more memory. */
	ret = mktme_key_keyid(key);
	if (ret < 0)
		return ret;

	/* A mapping that could never be populated in full. */
	if (!r->unlimited &&
	    vma_pages(vma) > rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT)
		return -EAGAIN;

	ret = security_mktme_mmap(file, key, keyid, vma);
	if (ret)
		return ret;

	/*
	 * No VM_DONTCOPY: fork() copies the special PTEs of a VM_PFNMAP VMA
	 * (vma_needs_copy() in mm/memory.c) and the child shares the pages,
	 * until the key is revoked (mktme_vma_open()).
	 */
	vm_flags_mod(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP, VM_MAYEXEC);
	vma->vm_page_prot = mktme_pgprot(vma->vm_page_prot, keyid);
	vma->vm_ops = &mktme_vm_ops;
	return 0;
}

static long mktme_set_key(struct file *file, struct mktme_region *r,
			  unsigned long arg)
{
	struct key *key;
	key_ref_t kref;
	int keyid, ret;

	/* Serials are positive; the negative special IDs name keyrings. */
	if (!arg || arg > INT_MAX)
		return -EINVAL;
	if (READ_ONCE(r->key))
		return -EBUSY;

	/*
	 * Not under r->lock: the lookup can wait for a key under construction
	 * (request_key()), and mmap() of this file takes r->lock under
	 * mmap_lock. Using a key without reading it needs search permission,
	 * as in fscrypt (get_keyring_key() in fs/crypto/keyring.c) and nvdimm
	 * (nvdimm_lookup_user_key() in drivers/nvdimm/security.c).
	 */
	kref = lookup_user_key((key_serial_t)arg, 0, KEY_NEED_SEARCH);
	if (IS_ERR(kref))
		return PTR_ERR(kref);
	key = key_ref_to_ptr(kref);

	/*
	 * A revoke gives the key's KeyID back at once (key.c), so the KeyID
	 * the hook is asked about must be the one we keep: hold key->sem
	 * (revoke takes it for writing) from the lookup of the KeyID until
	 * our own reference on it is taken. The hook itself has no side
	 * effect to undo.
	 */
	down_read(&key->sem);
	keyid = mktme_key_keyid(key);
	if (keyid < 0) {
		ret = keyid;
		goto out_unlock;
	}

	ret = security_mktme_key_bind(file, key, keyid);
	if (ret)
		goto out_unlock;

	mutex_lock(&r->lock);
	if (r->key) {
		mutex_unlock(&r->lock);
		ret = -EBUSY;
		goto out_unlock;
	}
	mktme_keyid_get(keyid);
	r->keyid = keyid;
	WRITE_ONCE(r->key, key);	/* keeps the lookup's reference */
	mutex_unlock(&r->lock);
	up_read(&key->sem);
	return 0;

out_unlock:
	up_read(&key->sem);
	key_put(key);
	return ret;
}

/* Bits of a leaf entry that are not the page frame, by level. */
static u64 mktme_level_pfn_mask(u32 level)
{
	switch (level) {
	case MKTME_PTE_1G:
		return PHYSICAL_PUD_PAGE_MASK;
	case MKTME_PTE_2M:
		return PHYSICAL_PMD_PAGE_MASK;
	default:
		return PTE_PFN_MASK;
	}
}

/*
 * The leaf entry mapping one address, found by the kernel's page walker
 * (mm/pagewalk.c) under mmap_read_lock. The walk never changes a mapping,
 * which the walker would by default: a pmd_entry() that lets it descend into
 * a huge PMD, or a pud_entry() into a huge PUD, makes it split them
 * (split_huge_pmd(), split_huge_pud()), and that zaps a VM_PFNMAP 2 MiB
 * mapping. So both stop at a leaf (ACTION_CONTINUE), and the PTE is read in
 * pmd_entry() itself, with no pte_entry(), as the pagemap reader does
 * (pagemap_pmd_range() in fs/proc/task_mmu.c).
 */
struct mktme_walk {
	u32 level;		/* MKTME_PTE_*, NONE until a leaf is found */
	u64 entry;		/* its raw value */
};

/*
 * A leaf at PUD level has _PAGE_PSE, or is not present at all (PROT_NONE,
 * migration or swap entries): an entry pointing to a PMD table is present
 * without _PAGE_PSE. Called only for an entry that is not pud_none().
 */
static int mktme_walk_pud(pud_t *pud, unsigned long addr, unsigned long next,
			  struct mm_walk *walk)
{
	struct mktme_walk *w = walk->private;
	pud_t val = pudp_get(pud);

	if (pud_present(val) && !pud_leaf(val))
		return 0;
	w->level = MKTME_PTE_1G;
	w->entry = pud_val(val);
	walk->action = ACTION_CONTINUE;
	return 0;
}

static int mktme_walk_pmd(pmd_t *pmd, unsigned long addr, unsigned long next,
			  struct mm_walk *walk)
{
	struct mktme_walk *w = walk->private;
	spinlock_t *ptl;
	pte_t *pte, val;

	walk->action = ACTION_CONTINUE;
	/* A 2 MiB leaf, a PROT_NONE one, or a migration entry. */
	ptl = pmd_trans_huge_lock(pmd, walk->vma);
	if (ptl) {
		w->level = MKTME_PTE_2M;
		w->entry = pmd_val(pmdp_get(pmd));
		spin_unlock(ptl);
		return 0;
	}
	/*
	 * A PTE table can go away under mmap_read_lock (khugepaged's
	 * retract_page_tables() frees it after RCU): pte_offset_map_lock()
	 * checks the PMD again and fails if it no longer points to one; the
	 * walker then looks at the PMD again.
	 */
	pte = pte_offset_map_lock(walk->mm, pmd, addr, &ptl);
	if (!pte) {
		walk->action = ACTION_AGAIN;
		return 0;
	}
	val = ptep_get(pte);
	if (!pte_none(val)) {
		w->level = MKTME_PTE_4K;
		w->entry = pte_val(val);
	}
	pte_unmap_unlock(pte, ptl);
	return 0;
}

#ifdef CONFIG_HUGETLB_PAGE
/*
 * A hugetlb VMA's entries (PMDs or PUDs, possibly shared between processes)
 * come here instead, with its vma lock held (walk_hugetlb_range()), so that
 * huge_pmd_unshare() cannot free the table under us.
 */
static int mktme_walk_hugetlb(pte_t *pte, unsigned long hmask,
			      unsigned long addr, unsigned long next,
			      struct mm_walk *walk)
{
	struct mktme_walk *w = walk->private;
	pte_t val = huge_ptep_get(walk->mm, addr, pte);

	if (huge_pte_none(val))
		return 0;
	w->level = ~hmask + 1 >= PUD_SIZE ? MKTME_PTE_1G : MKTME_PTE_2M;
	w->entry = pte_val(val);
	return 0;
}
#else
#define mktme_walk_hugetlb NULL
#endif

static const struct mm_walk_ops mktme_walk_ops = {
	.pud_entry	= mktme_walk_pud,
	.pmd_entry	= mktme_walk_pmd,
	.hugetlb_entry	= mktme_walk_hugetlb,
	.walk_lock	= PGWALK_RDLOCK,
};

/*
 * The leaf entry mapping @addr in @mm: its level and raw value, or
 * MKTME_PTE_NONE. Only under a VMA, walked as a VMA (walk_page_range()
 * would skip a VM_PFNMAP one: walk_page_test()); under mmap_read_lock,
 * page tables are freed only for detached VMAs (munmap() downgrades the
 * lock before free_pgtables()).
 */
static u32 mktme_walk(struct mm_struct *mm, unsigned long addr, u64 *entry)
{
	struct mktme_walk w = { .level = MKTME_PTE_NONE };
	struct vm_area_struct *vma;

	vma = vma_lookup(mm, addr);
	if (!vma)
		return MKTME_PTE_NONE;
	addr &= PAGE_MASK;
	if (walk_page_range_vma(vma, addr, addr + PAGE_SIZE, &mktme_walk_ops,
				&w))
		return MKTME_PTE_NONE;
	*entry = w.entry;
	return w.level;
}

static long mktme_query_pte(struct file *file, void __user *uarg)
{
	struct mm_struct *mm = current->mm;
	struct mktme_pte_query q;
	bool show_pfn, present;
	u64 entry = 0;
	u32 level;

	if (copy_from_user(&q, uarg, sizeof(q)))
		return -EFAULT;
	if (q.pad)
		return -EINVAL;
	if (!mm)
		return -EINVAL;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	level = mktme_walk(mm, q.addr, &entry);
	mmap_read_unlock(mm);

	/* Physical addresses are for CAP_SYS_ADMIN, as in pagemap_open(). */
	show_pfn = file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN);
	present = entry & (_PAGE_PRESENT | _PAGE_PROTNONE);

	q.level = level;
	q.keyid = 0;
	q.flags = 0;
	if (level != MKTME_PTE_NONE && present) {
		/* Present in Linux's sense (pte_present()): PROT_NONE too. */
		q.keyid = mktme_pte_to_keyid(entry);
		if (entry & _PAGE_PRESENT)
			q.flags |= MKTME_PTE_F_PRESENT;
		else
			q.flags |= MKTME_PTE_F_PROTNONE;
		if (entry & _PAGE_RW)
			q.flags |= MKTME_PTE_F_WRITE;
		if (entry & _PAGE_USER)
			q.flags |= MKTME_PTE_F_USER;
		/* pmd_special() uses the same bit (6.12 pgtable.h). */
		if (level != MKTME_PTE_1G && (entry & _PAGE_SPECIAL))
			q.flags |= MKTME_PTE_F_SPECIAL;
		if (entry & _PAGE_NX)
			q.flags |= MKTME_PTE_F_NX;
		if (!show_pfn)
			entry &= ~mktme_level_pfn_mask(level);
	} else if (!show_pfn) {
		/* A swap or migration entry: nearly all of it is the offset. */
		entry = 0;
	}
	q.entry = entry;

	if (copy_to_user(uarg, &q, sizeof(q)))
		return -EFAULT;
	return 0;
}

static long mktme_get_info(struct mktme_region *r, void __user *uarg)
{
	struct mktme_region_info info = {};

	mutex_lock(&r->lock);
	if (r->key) {
		info.key_serial = r->key->serial;
		info.keyid = r->keyid;
	}
	mutex_unlock(&r->lock);
	info.nr_pages = atomic_long_read(&r->nr_pages);

	if (copy_to_user(uarg, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static long mktme_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mktme_region *r = file->private_data;

	switch (cmd) {
	case MKTME_IOC_SET_KEY:
		return mktme_set_key(file, r, arg);
	case MKTME_IOC_QUERY_PTE:
		return mktme_query_pte(file, (void __user *)arg);
	case MKTME_IOC_GET_INFO:
		return mktme_get_info(r, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static int mktme_open(struct inode *inode, struct file *file)
{
	struct mktme_region *r;

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return -ENOMEM;
	mutex_init(&r->lock);
	mutex_init(&r->publish);
	/* Nodes of sparse offsets cost more slab than the pages: account. */
	xa_init_flags(&r->pages, XA_FLAGS_ACCOUNT);
	xa_init_flags(&r->huge, XA_FLAGS_ACCOUNT);
	atomic_long_set(&r->nr_pages, 0);
	r->user = get_uid(current_user());
	/* NULL when memcg is off; a css reference until ->release. */
	r->memcg = get_mem_cgroup_from_mm(current->mm);
	/*
	 * As can_do_mlock() decides, but quietly: most openers are not
	 * expected to hold CAP_IPC_LOCK, and their open is no denial.
	 */
	r->unlimited = ns_capable_noaudit(&init_user_ns, CAP_IPC_LOCK);
	file->private_data = r;
	return 0;
}

static int mktme_release(struct inode *inode, struct file *file)
{
	struct mktme_region *r = file->private_data;
	unsigned long index, nr = 0;
	struct page *page;

	/* No mapping is left (each holds the file): nothing can fault. */
	xa_for_each(&r->huge, index, page) {
		mktme_free(page, MKTME_BLOCK_ORDER, r->keyid);
		nr += MKTME_BLOCK_PAGES;
		cond_resched();
	}
	xa_destroy(&r->huge);
	xa_for_each(&r->pages, index, page) {
		mktme_free(page, 0, r->keyid);
		if (!(++nr % 64))
			cond_resched();
	}
	xa_destroy(&r->pages);
	mktme_uncharge(r, nr);
	atomic_long_sub(nr, &mktme_pages_mapped);

	/* Only now can no page carry the KeyID: drop the region's reference. */
	if (r->key) {
		mktme_keyid_put(r->keyid);
		key_put(r->key);
	}
	free_uid(r->user);
	mem_cgroup_put(r->memcg);
	kfree(r);
	return 0;
}

/*
 * No read/write/splice: file I/O on a region fails with -EINVAL
 * (vfs_read() without FMODE_CAN_READ), as it does on memfd_secret. No
 * llseek: lseek() fails with -ESPIPE (do_dentry_open() clears FMODE_LSEEK
 * without one; 6.12 has no no_llseek() to name).
 */
static const struct file_operations mktme_fops = {
	.owner		= THIS_MODULE,
	.open		= mktme_open,
	.release	= mktme_release,
	.mmap		= mktme_mmap,
	/* 2 MiB-aligned addresses for mappings of 2 MiB and more. */
	.get_unmapped_area = thp_get_unmapped_area,
	.unlocked_ioctl	= mktme_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

/*
 * Anyone may open the device, as anyone may call memfd_secret(): what a
 * region can do is decided by the key's permissions (KEY_NEED_SEARCH) and
 * by the LSM hooks, and its memory is charged to RLIMIT_MEMLOCK and memcg.
 */
static struct miscdevice mktme_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "mktme",
	.fops	= &mktme_fops,
	.mode	= 0666,
};

int __init mktme_dev_init(void)
{
	int ret;

	if (!can_set_direct_map()) {
		pr_err("/dev/mktme needs a direct map it can change\n");
		return -ENODEV;
	}
	ret = mktme_alias_init();
	if (ret)
		return ret;
	ret = mktme_blocks_init();
	if (ret)
		goto out_alias;
	ret = misc_register(&mktme_misc);
	if (ret)
		goto out_blocks;
	return 0;

out_blocks:
	mktme_blocks_exit();
out_alias:
	mktme_alias_exit();
	return ret;
}
