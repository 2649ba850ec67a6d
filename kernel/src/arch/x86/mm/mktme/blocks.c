// SPDX-License-Identifier: GPL-2.0
/*
 * Memory for /dev/mktme regions, taken from the page allocator in 2 MiB
 * blocks.
 *
 * A page mapped through /dev/mktme must not be in the kernel's direct map.
 * Removing single 4 KiB pages, as memfd_secret does, splits the 2 MiB (or
 * 1 GiB) direct-map page around each one, and x86 never merges the pieces
 * back (/proc/vmstat direct_map_level2_splits only grows): a busy machine
 * ends with a direct map of 4 KiB pages and the TLB misses that come with
 * it. Here a block of 2 MiB, aligned, is removed as a whole: one PMD of the
 * direct map is made not-present (set_memory_np() keeps a 2 MiB page whole
 * when the range covers it exactly: __should_split_large_page() in
 * arch/x86/mm/pat/set_memory.c), and put back present when the block is
 * returned. Blocks serve 4 KiB pages and whole 2 MiB pages.
 *
 * Blocks are kept per NUMA node, and a block serves only faults whose
 * memory policy asks for its node (mktme_blocks_alloc() takes the node).
 * A block with no page in use stays out of the direct map for reuse, at
 * most MKTME_BLOCKS_KEEP per node; a shrinker gives those back under memory
 * pressure.
 *
 * What the pool hands out has no dirty KeyID-0 cache lines (written back
 * when the block was taken) and is not zeroed: the caller zeroes it with
 * the KeyID it maps it with, and zeroes and flushes it with that KeyID
 * before giving it back (dev.c).
 *
 * If no 2 MiB block can be had on a node a 4 KiB fault may use, the fault
 * is served with a single page removed on its own, splitting the direct
 * map as memfd_secret does; /sys/kernel/mm/mktme/single_pages counts
 * them.
 *
 * Locking: one spinlock per node protects its lists and the blocks' use
 * maps. Nothing that can sleep (set_memory_*(), the page allocator) runs
 * under it.
 */
#define pr_fmt(fmt) "mktme: " fmt

#include <linux/bitmap.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/set_memory.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include <asm/cacheflush.h>
#include <asm/tlbflush.h>

#include "mktme.h"

/* Empty blocks kept out of the direct map per node, beyond the shrinker. */
#define MKTME_BLOCKS_KEEP		4

struct mktme_block {
	struct list_head list;		/* partial or empty list; full: none */
	struct page *page;		/* first of MKTME_BLOCK_PAGES */
	int nid;
	unsigned int nr_used;		/* 4 KiB pages handed out */
	DECLARE_BITMAP(used, MKTME_BLOCK_PAGES);
};

struct mktme_node_blocks {
	spinlock_t lock;
	struct list_head partial;	/* some pages in use, some free */
	struct list_head empty;		/* no page in use */
	unsigned long nr_empty;
};

static struct mktme_node_blocks *mktme_node_blocks[MAX_NUMNODES];
static struct shrinker *mktme_blocks_shrinker;

atomic_long_t mktme_blocks_nr = ATOMIC_LONG_INIT(0);
atomic_long_t mktme_single_pages = ATOMIC_LONG_INIT(0);

static struct mktme_block *mktme_page_block(struct page *page)
{
	return (struct mktme_block *)page_private(page);
}

/*
 * A new block on @nid, out of the direct map, or NULL. Every page of it
 * points at the block (page->private), so that a 4 KiB page finds its
 * block when it is freed.
 */
static struct mktme_block *mktme_block_new(int nid, gfp_t gfp)
{
	struct mktme_block *b;
	struct page *page;
	unsigned long addr;
	unsigned int i;

	b = kzalloc_node(sizeof(*b), GFP_KERNEL, nid);
	if (!b)
		return NULL;
	/*
	 * Not compound: the pages of a block are handed out one by one.
	 * No reclaim storm for a block: the caller has a fallback.
	 */
	page = alloc_pages_node(nid, (gfp | __GFP_THISNODE | __GFP_NOWARN |
				      __GFP_NORETRY) & ~__GFP_ZERO,
				MKTME_BLOCK_ORDER);
	if (!page) {
		kfree(b);
		return NULL;
	}
	addr = (unsigned long)page_address(page);

	/* Dirty KeyID-0 lines written back later would corrupt the block. */
	clflush_cache_range((void *)addr, MKTME_BLOCK_SIZE);
	/* One PMD of the direct map, not-present; flushes every CPU's TLB. */
	if (set_memory_np(addr, MKTME_BLOCK_PAGES)) {
		__free_pages(page, MKTME_BLOCK_ORDER);
		kfree(b);
		return NULL;
	}
	for (i = 0; i < MKTME_BLOCK_PAGES; i++)
		set_page_private(page + i, (unsigned long)b);
	INIT_LIST_HEAD(&b->list);
	b->page = page;
	b->nid = page_to_nid(page);
	atomic_long_inc(&mktme_blocks_nr);
	return b;
}

/* Back to the direct map as a 2 MiB page, and to the page allocator. */
static void mktme_block_free(struct mktme_block *b)
{
	unsigned long addr = (unsigned long)page_address(b->page);
	unsigned int i;

	for (i = 0; i < MKTME_BLOCK_PAGES; i++)
		set_page_private(b->page + i, 0);
	if (set_memory_p(addr, MKTME_BLOCK_PAGES)) {
		/* Cannot happen for a range that was a whole 2 MiB page. */
		pr_warn_ratelimited("cannot restore a block to the direct map: leaking 2 MiB\n");
		return;
	}
	__free_pages(b->page, MKTME_BLOCK_ORDER);
	atomic_long_dec(&mktme_blocks_nr);
	kfree(b);
}

/* A 4 KiB page of a partial or empty block of @pool; under its lock. */
static struct page *mktme_block_take(struct mktme_node_blocks *pool,
				     struct mktme_block *b)
{
	unsigned int i;

	lockdep_assert_held(&pool->lock);
	i = find_first_zero_bit(b->used, MKTME_BLOCK_PAGES);
	if (WARN_ON_ONCE(i >= MKTME_BLOCK_PAGES))
		return NULL;
	if (!b->nr_used) {
		pool->nr_empty--;
		list_move(&b->list, &pool->partial);
	}
	__set_bit(i, b->used);
	if (++b->nr_used == MKTME_BLOCK_PAGES)
		list_del_init(&b->list);
	return b->page + i;
}

static struct page *mktme_node_alloc_page(int nid, gfp_t gfp)
{
	struct mktme_node_blocks *pool = mktme_node_blocks[nid];
	struct mktme_block *b;
	struct page *page = NULL;

	if (!pool)
		return NULL;
	spin_lock(&pool->lock);
	b = list_first_entry_or_null(&pool->partial, struct mktme_block, list);
	if (!b)
		b = list_first_entry_or_null(&pool->empty, struct mktme_block,
					     list);
	if (b)
		page = mktme_block_take(pool, b);
	spin_unlock(&pool->lock);
	if (page)
		return page;

	b = mktme_block_new(nid, gfp);
	if (!b)
		return NULL;
	spin_lock(&pool->lock);
	list_add(&b->list, &pool->empty);
	pool->nr_empty++;
	page = mktme_block_take(pool, b);
	spin_unlock(&pool->lock);
	return page;
}

static struct page *mktme_node_alloc_block(int nid, gfp_t gfp)
{
	struct mktme_node_blocks *pool = mktme_node_blocks[nid];
	struct mktme_block *b;

	if (!pool)
		return NULL;
	spin_lock(&pool->lock);
	b = list_first_entry_or_null(&pool->empty, struct mktme_block, list);
	if (b) {
		list_del_init(&b->list);
		pool->nr_empty--;
	}
	spin_unlock(&pool->lock);
	if (!b) {
		b = mktme_block_new(nid, gfp);
		if (!b)
			return NULL;
	}
	bitmap_fill(b->used, MKTME_BLOCK_PAGES);
	b->nr_used = MKTME_BLOCK_PAGES;
	return b->page;
}

static struct page *mktme_node_alloc(unsigned int order, int nid, gfp_t gfp)
{
	return order ? mktme_node_alloc_block(nid, gfp) :
		       mktme_node_alloc_page(nid, gfp);
}

/* A single page out of the direct map: what memfd_secret does. */
static struct page *mktme_single_alloc(int nid, gfp_t gfp)
{
	unsigned long addr;
	struct page *page;

	page = alloc_pages_node(nid, gfp & ~__GFP_ZERO, 0);
	if (!page)
		return NULL;
	addr = (unsigned long)page_address(page);
	clflush_cache_range((void *)addr, PAGE_SIZE);
	if (set_direct_map_invalid_noflush(page)) {
		__free_page(page);
		return NULL;
	}
	flush_tlb_kernel_range(addr, addr + PAGE_SIZE);
	atomic_long_inc(&mktme_single_pages);
	return page;
}

/**
 * mktme_blocks_alloc - memory for a region, out of the direct map
 * @order: 0 for a 4 KiB page, MKTME_BLOCK_ORDER for a whole 2 MiB block
 * @nid: the node the memory policy asks for
 * @allowed: the nodes it may come from if @nid has none (a bind policy's
 *	nodes), or NULL for any node
 * @gfp: GFP_HIGHUSER and the like; never __GFP_ZERO (the caller zeroes
 *	with its KeyID)
 *
 * A 2 MiB block comes from @nid or a node in @allowed; NULL means the caller
 * falls back to 4 KiB pages. A 4 KiB page comes from a block on @nid, else
 * from a block on another allowed node, else on its own (the direct map
 * is split for it). Returns NULL when there is no memory at all.
 */
struct page *mktme_blocks_alloc(unsigned int order, int nid,
			      const nodemask_t *allowed, gfp_t gfp)
{
	struct page *page;
	int n;

	if (nid == NUMA_NO_NODE || !node_state(nid, N_MEMORY) ||
	    (allowed && !node_isset(nid, *allowed)))
		nid = allowed ? first_node(*allowed) : numa_mem_id();
	if (nid >= MAX_NUMNODES)
		return NULL;

	page = mktme_node_alloc(order, nid, gfp);
	if (page)
		return page;
	for_each_node_state(n, N_MEMORY) {
		if (n == nid || (allowed && !node_isset(n, *allowed)))
			continue;
		page = mktme_node_alloc(order, n, gfp);
		if (page)
			return page;
	}
	if (order)
		return NULL;
	return mktme_single_alloc(nid, gfp);
}

/*
 * The caller has zeroed @page and flushed its KeyID's cache lines. A page
 * of a block goes back to its block; a block with no page in use is kept
 * or given back.
 */
void mktme_blocks_free(struct page *page, unsigned int order)
{
	struct mktme_block *b = mktme_page_block(page);
	struct mktme_node_blocks *pool;
	bool give_back = false;

	if (!b) {
		/* A single page: into the direct map before the allocator. */
		WARN_ON_ONCE(order);
		set_direct_map_default_noflush(page);
		__free_page(page);
		atomic_long_dec(&mktme_single_pages);
		return;
	}

	pool = mktme_node_blocks[b->nid];
	spin_lock(&pool->lock);
	if (order) {
		WARN_ON_ONCE(b->nr_used != MKTME_BLOCK_PAGES);
		bitmap_zero(b->used, MKTME_BLOCK_PAGES);
		b->nr_used = 0;
	} else {
		unsigned int i = page - b->page;

		WARN_ON_ONCE(!__test_and_clear_bit(i, b->used));
		/* It was full: it has a free page again. */
		if (b->nr_used-- == MKTME_BLOCK_PAGES)
			list_add(&b->list, &pool->partial);
	}
	if (!b->nr_used) {
		if (pool->nr_empty >= MKTME_BLOCKS_KEEP) {
			list_del_init(&b->list);
			give_back = true;
		} else {
			list_move(&b->list, &pool->empty);
			pool->nr_empty++;
		}
	}
	spin_unlock(&pool->lock);
	if (give_back)
		mktme_block_free(b);
}

unsigned long mktme_blocks_empty(void)
{
	unsigned long n = 0;
	int nid;

	for_each_node(nid)
		if (mktme_node_blocks[nid])
			n += READ_ONCE(mktme_node_blocks[nid]->nr_empty);
	return n;
}

/* Give back every empty block; the shrinker and the sysfs "drop" file. */
unsigned long mktme_blocks_drain(unsigned long max_blocks)
{
	unsigned long freed = 0;
	int nid;

	for_each_node(nid) {
		struct mktme_node_blocks *pool = mktme_node_blocks[nid];
		struct mktme_block *b;

		if (!pool)
			continue;
		while (freed < max_blocks) {
			spin_lock(&pool->lock);
			b = list_first_entry_or_null(&pool->empty,
						     struct mktme_block, list);
			if (b) {
				list_del_init(&b->list);
				pool->nr_empty--;
			}
			spin_unlock(&pool->lock);
			if (!b)
				break;
			mktme_block_free(b);
			freed++;
		}
	}
	return freed;
}

static unsigned long mktme_blocks_count(struct shrinker *s,
				      struct shrink_control *sc)
{
	unsigned long n = mktme_blocks_empty();

	return n ? n * MKTME_BLOCK_PAGES : SHRINK_EMPTY;
}

static unsigned long mktme_blocks_scan(struct shrinker *s,
				     struct shrink_control *sc)
{
	unsigned long blocks = DIV_ROUND_UP(sc->nr_to_scan, MKTME_BLOCK_PAGES);

	return mktme_blocks_drain(blocks) * MKTME_BLOCK_PAGES;
}

int __init mktme_blocks_init(void)
{
	int nid;

	for_each_node(nid) {
		struct mktme_node_blocks *pool;

		pool = kzalloc_node(sizeof(*pool), GFP_KERNEL,
				    node_state(nid, N_MEMORY) ? nid :
								NUMA_NO_NODE);
		if (!pool)
			goto fail;
		spin_lock_init(&pool->lock);
		INIT_LIST_HEAD(&pool->partial);
		INIT_LIST_HEAD(&pool->empty);
		mktme_node_blocks[nid] = pool;
	}

	mktme_blocks_shrinker = shrinker_alloc(0, "mktme-blocks");
	if (!mktme_blocks_shrinker)
		goto fail;
	mktme_blocks_shrinker->count_objects = mktme_blocks_count;
	mktme_blocks_shrinker->scan_objects = mktme_blocks_scan;
	/* Empty blocks cost a direct-map change to recreate, no I/O. */
	mktme_blocks_shrinker->seeks = 1;
	shrinker_register(mktme_blocks_shrinker);
	return 0;

fail:
	mktme_blocks_exit();
	return -ENOMEM;
}

/* mktme failed to start: no block was ever taken out of the direct map. */
void __init mktme_blocks_exit(void)
{
	int nid;

	shrinker_free(mktme_blocks_shrinker);
	mktme_blocks_shrinker = NULL;
	for_each_node(nid) {
		kfree(mktme_node_blocks[nid]);
		mktme_node_blocks[nid] = NULL;
	}
}
