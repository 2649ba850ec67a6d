// SPDX-License-Identifier: GPL-2.0
/*
 * Where a KeyID lives in a page-table entry.
 *
 * Hardware (Intel TME-MK): the KeyID takes the top keyid_bits of the
 * physical address, MAXPHYADDR - keyid_bits .. MAXPHYADDR - 1 (Intel ISE
 * reference, "Total Memory Encryption - Multi-Key"). Linux 6.12 already
 * subtracts those bits from boot_cpu_data.x86_phys_bits
 * (detect_tme_early() in arch/x86/kernel/cpu/intel.c) but leaves them in
 * physical_mask; we take them out of physical_mask, so that PTE_PFN_MASK
 * excludes them and pte_pfn() returns the real PFN while pte_flags() and
 * pgprot carry the KeyID. That is why the KeyID always travels in pgprot,
 * never in a PFN: PAT looks the PFN up to pick a memory type, and a PFN
 * with KeyID bits in it is not RAM, so the mapping would quietly become
 * UC- (arch/x86/mm/pat/memtype.c, lookup_memtype()).
 *
 * Emulated: bits 52..56. The CPU ignores bits 58:52 of a present leaf
 * entry (Intel SDM vol. 3A, section 4.5, formats of the paging-structure
 * entries; QEMU TCG ignores them too), and 6.12's
 * arch/x86/include/asm/pgtable_types.h uses two of them: bit 57
 * (_PAGE_BIT_SOFTW4, _PAGE_DEVMAP) and bit 58 (_PAGE_BIT_SOFTW5,
 * _PAGE_SAVED_DIRTY for shadow stacks); 59..62 are protection keys and 63
 * is NX. Five bits give KeyIDs 1..31. (6.1 used only bit 58, for
 * _PAGE_DEVMAP, and the field was 52..57 there.)
 *
 * Either way the bits are outside PTE_PFN_MASK, so pte_modify() would drop
 * them on mprotect() unless they are in _PAGE_CHG_MASK: see
 * _PAGE_KEYID_MASK in pgtable_types.h, which reads mktme_keyid_mask.
 */
#define pr_fmt(fmt) "mktme: " fmt

#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/printk.h>
#include <asm/page_types.h>
#include <asm/processor.h>

#include "mktme.h"

/* Read by _PAGE_CHG_MASK on every pte_modify(); 0 while mktme is off. */
u64 mktme_keyid_mask __ro_after_init;
unsigned int mktme_keyid_shift __ro_after_init;

/* The bits mktme_pte_init() took out of physical_mask, for its undoing. */
static u64 mktme_phys_cleared __initdata;

/* Emulated KeyID field: bits 52..56, see above. */
#define MKTME_EMU_KEYID_SHIFT		52
#define MKTME_EMU_KEYID_MAX_BITS	5

/*
 * Compute the KeyID field for backend @b, without applying it.
 * @phys_bits is boot_cpu_data.x86_phys_bits (already reduced by the KeyID
 * bits on TME-MK hardware), @max_phys_bits is MAXPHYADDR, CPUID
 * 0x80000008:EAX[7:0], which the hardware never reduces. Separate from
 * mktme_pte_init() so that it can be tested with any values.
 */
int mktme_pte_layout(const struct mktme_backend *b, unsigned int phys_bits,
		     unsigned int max_phys_bits, struct mktme_pte_layout *l)
{
	unsigned int bits = b->keyid_bits;

	if (!bits || b->nr_keyids < 1 || b->nr_keyids >= (1U << bits))
		return -EINVAL;

	if (!b->encrypts) {
		if (bits > MKTME_EMU_KEYID_MAX_BITS)
			return -EINVAL;
		l->shift = MKTME_EMU_KEYID_SHIFT;
		l->mask = GENMASK_ULL(l->shift + bits - 1, l->shift);
		l->phys_clear = 0;
		return 0;
	}

	/*
	 * IA32_TME_ACTIVATE[35:32] is four bits wide, and the field must sit
	 * inside the architectural physical-address width
	 * (__PHYSICAL_MASK_SHIFT, 52).
	 */
	if (bits > 15 || max_phys_bits > __PHYSICAL_MASK_SHIFT)
		return -EINVAL;
	/*
	 * keyid_shift = MAXPHYADDR - keyid_bits (TME-MK architecture
	 * specification: the KeyID bits are the top of the physical
	 * address). 6.12 has already done that subtraction on
	 * x86_phys_bits; if the two disagree, something else changed
	 * x86_phys_bits and we cannot know where the KeyID is.
	 */
	if (phys_bits + bits != max_phys_bits)
		return -EINVAL;
	l->shift = phys_bits;
	l->mask = GENMASK_ULL(l->shift + bits - 1, l->shift);
	l->phys_clear = l->mask;
	return 0;
}

int __init mktme_pte_init(const struct mktme_backend *b)
{
	unsigned int max_phys_bits = 0;
	struct mktme_pte_layout l;
	int ret;

	if (b->encrypts) {
		if (boot_cpu_data.extended_cpuid_level >= 0x80000008)
			max_phys_bits = cpuid_eax(0x80000008) & 0xff;
		if (!IS_ENABLED(CONFIG_DYNAMIC_PHYSICAL_MASK)) {
			pr_err("hw KeyIDs need DYNAMIC_PHYSICAL_MASK\n");
			return -EINVAL;
		}
	}
	ret = mktme_pte_layout(b, boot_cpu_data.x86_phys_bits, max_phys_bits,
			       &l);
	if (ret) {
		pr_err("no room for %u KeyID bits (phys bits %u of %u)\n",
		       b->keyid_bits, boot_cpu_data.x86_phys_bits,
		       max_phys_bits);
		return ret;
	}

#ifdef CONFIG_DYNAMIC_PHYSICAL_MASK
	/*
	 * Nothing can carry a KeyID yet, and RAM lies below the reduced
	 * physical-address width, so no existing entry changes meaning.
	 */
	physical_mask &= ~l.phys_clear;
#endif
	mktme_phys_cleared = l.phys_clear;
	mktme_keyid_shift = l.shift;
	mktme_keyid_mask = l.mask;
	pr_info("KeyID in PTE bits %u..%u\n", l.shift,
		l.shift + b->keyid_bits - 1);
	return 0;
}

/* A later step of mktme_start() failed: no KeyID reached a page table. */
void __init mktme_pte_exit(const struct mktme_backend *b)
{
#ifdef CONFIG_DYNAMIC_PHYSICAL_MASK
	physical_mask |= mktme_phys_cleared;
#endif
	mktme_phys_cleared = 0;
	mktme_keyid_mask = 0;
	mktme_keyid_shift = 0;
}
