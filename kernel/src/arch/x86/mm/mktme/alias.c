// SPDX-License-Identifier: GPL-2.0
/*
 * Per-CPU kernel aliases with a KeyID, for zeroing and flushing pages that
 * are out of the direct map (and, on hardware, must be written with their
 * own KeyID: through KeyID 0 a write lands as garbage under the key).
 *
 * Each CPU owns one page of kernel virtual address space whose PTE is set
 * and cleared with preemption off, and only this CPU's TLB is flushed, as
 * kmap_local does on 32-bit x86 (arch_kmap_local_post_unmap() in
 * arch/x86/include/asm/highmem.h): no other CPU ever uses the address, so
 * no other TLB can hold it. A vmap per page, as before, needed a flush of
 * every CPU's TLB (an IPI each) per page.
 */
#define pr_fmt(fmt) "mktme: " fmt

#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/pgtable.h>
#include <linux/preempt.h>
#include <linux/vmalloc.h>

#include <asm/cacheflush.h>
#include <asm/tlbflush.h>

#include "mktme.h"

struct mktme_alias {
	unsigned long addr;
	pte_t *pte;
};
static DEFINE_PER_CPU(struct mktme_alias, mktme_alias);

/* Remember the PTE of each CPU's page as apply_to_page_range() walks. */
static int mktme_alias_pte(pte_t *pte, unsigned long addr, void *data)
{
	unsigned int *cpu = data;

	*cpu = cpumask_next(*cpu, cpu_possible_mask);
	if (WARN_ON_ONCE(*cpu >= nr_cpu_ids))
		return -EINVAL;
	per_cpu(mktme_alias, *cpu).addr = addr;
	per_cpu(mktme_alias, *cpu).pte = pte;
	return 0;
}

/* Freed only if mktme fails to start; the aliases use it from then on. */
static struct vm_struct *mktme_alias_area __initdata;

int __init mktme_alias_init(void)
{
	unsigned long size = num_possible_cpus() * PAGE_SIZE;
	unsigned int cpu = -1;
	int ret;

	mktme_alias_area = get_vm_area(size, VM_MAP);
	if (!mktme_alias_area)
		return -ENOMEM;
	ret = apply_to_page_range(&init_mm,
				  (unsigned long)mktme_alias_area->addr, size,
				  mktme_alias_pte, &cpu);
	if (ret)
		mktme_alias_exit();
	return ret;
}

/* Nothing was mapped at the aliases yet: only the area to give back. */
void __init mktme_alias_exit(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		per_cpu(mktme_alias, cpu).addr = 0;
		per_cpu(mktme_alias, cpu).pte = NULL;
	}
	free_vm_area(mktme_alias_area);
	mktme_alias_area = NULL;
}

/*
 * Map @page with @keyid at this CPU's alias; preemption stays off until
 * mktme_alias_unmap(). Nothing may sleep in between.
 */
static void *mktme_alias_map(struct page *page, unsigned int keyid)
{
	struct mktme_alias *a;

	preempt_disable();
	a = this_cpu_ptr(&mktme_alias);
	set_pte(a->pte, pfn_pte(page_to_pfn(page),
				mktme_pgprot(PAGE_KERNEL, keyid)));
	return (void *)a->addr;
}

static void mktme_alias_unmap(void)
{
	struct mktme_alias *a = this_cpu_ptr(&mktme_alias);

	/*
	 * No translation with this KeyID may outlive the alias, or a
	 * speculative access could bring KeyID lines of the page back into
	 * the cache after it has been given back.
	 */
	pte_clear(&init_mm, a->addr, a->pte);
	flush_tlb_one_kernel(a->addr);
	preempt_enable();
}

static void mktme_alias_zero(struct page *page, unsigned long nr,
			     unsigned int keyid, bool flush)
{
	unsigned long i;
	void *va;

	for (i = 0; i < nr; i++) {
		va = mktme_alias_map(page + i, keyid);
		clear_page(va);
		if (flush)
			clflush_cache_range(va, PAGE_SIZE);
		mktme_alias_unmap();
		if (nr > 1)
			cond_resched();
	}
}

/* Zero @nr pages from @page through @keyid: a page handed to a region. */
void mktme_alias_clear(struct page *page, unsigned long nr, unsigned int keyid)
{
	mktme_alias_zero(page, nr, keyid, false);
}

/*
 * Zero @nr pages through @keyid and write back and drop their @keyid cache
 * lines: a page leaving a region. Dirty lines of the old KeyID written
 * back later would corrupt the next owner's data.
 */
void mktme_alias_scrub(struct page *page, unsigned long nr, unsigned int keyid)
{
	mktme_alias_zero(page, nr, keyid, true);
}
