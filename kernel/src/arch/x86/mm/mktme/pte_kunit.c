// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the KeyID field of page-table entries (pte.c) and for the
 * pte_modify()/pmd_modify()/pgprot_modify() change that keeps it
 * (kernel/patches, _PAGE_KEYID_MASK in _COMMON_PAGE_CHG_MASK).
 *
 * The layout tests run on any machine. The encode/decode tests use the live
 * layout and are skipped when mktme is off.
 */
#include <kunit/test.h>
#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/pgtable.h>

#include "mktme.h"

static const u64 mktme_kunit_other_bits = _PAGE_PKEY_BIT0 | _PAGE_PKEY_BIT1 |
	_PAGE_PKEY_BIT2 | _PAGE_PKEY_BIT3 | _PAGE_NX | _PAGE_SOFTW4 |
	_PAGE_DEVMAP | _PAGE_SAVED_DIRTY;

static void mktme_pte_emu_layout_test(struct kunit *test)
{
	struct mktme_backend b = { .encrypts = false, .keyid_bits = 5,
				   .nr_keyids = 31 };
	struct mktme_pte_layout l;

	KUNIT_ASSERT_EQ(test, mktme_pte_layout(&b, 46, 0, &l), 0);
	KUNIT_EXPECT_EQ(test, l.shift, 52U);
	KUNIT_EXPECT_EQ(test, l.mask, GENMASK_ULL(56, 52));
	KUNIT_EXPECT_EQ(test, l.phys_clear, 0ULL);
	/*
	 * Bits the CPU or Linux use: pkeys 59..62, NX 63, SOFTW5 58
	 * (SAVED_DIRTY), SOFTW4 57 (DEVMAP).
	 */
	KUNIT_EXPECT_EQ(test, l.mask & mktme_kunit_other_bits, 0ULL);

	b.nr_keyids = 3;
	b.keyid_bits = 2;
	KUNIT_ASSERT_EQ(test, mktme_pte_layout(&b, 46, 0, &l), 0);
	KUNIT_EXPECT_EQ(test, l.mask, GENMASK_ULL(53, 52));

	b.keyid_bits = 6;	/* would reach bit 57, _PAGE_DEVMAP */
	b.nr_keyids = 63;
	KUNIT_EXPECT_EQ(test, mktme_pte_layout(&b, 46, 0, &l), -EINVAL);
	b.keyid_bits = 5;
	b.nr_keyids = 32;	/* does not fit in 5 bits */
	KUNIT_EXPECT_EQ(test, mktme_pte_layout(&b, 46, 0, &l), -EINVAL);
	b.nr_keyids = 0;
	KUNIT_EXPECT_EQ(test, mktme_pte_layout(&b, 46, 0, &l), -EINVAL);
	b.keyid_bits = 0;
	b.nr_keyids = 1;
	KUNIT_EXPECT_EQ(test, mktme_pte_layout(&b, 46, 0, &l), -EINVAL);
}

static void mktme_pte_hw_layout_test(struct kunit *test)
{
	/* MAXPHYADDR 46, 6 KeyID bits: 6.12 reduced x86_phys_bits to 40. */
	struct mktme_backend b = { .encrypts = true, .keyid_bits = 6,
				   .nr_keyids = 63 };
	struct mktme_pte_layout l;

	KUNIT_ASSERT_EQ(test, mktme_pte_layout(&b, 40, 46, &l), 0);
	KUNIT_EXPECT_EQ(test, l.shift, 40U);
	KUNIT_EXPECT_EQ(test, l.mask, GENMASK_ULL(45, 40));
	KUNIT_EXPECT_EQ(test, l.phys_clear, l.mask);

	/* TDX partitioning: fewer MKTME KeyIDs than the field could hold. */
	b.nr_keyids = 15;
	KUNIT_ASSERT_EQ(test, mktme_pte_layout(&b, 40, 46, &l), 0);
	KUNIT_EXPECT_EQ(test, l.mask, GENMASK_ULL(45, 40));

	/* MAXPHYADDR 52 is the architectural limit and still fits. */
	KUNIT_ASSERT_EQ(test, mktme_pte_layout(&b, 46, 52, &l), 0);
	KUNIT_EXPECT_EQ(test, l.mask, GENMASK_ULL(51, 46));
	KUNIT_EXPECT_EQ(test, l.mask & mktme_kunit_other_bits, 0ULL);

	/* x86_phys_bits not reduced by exactly keyid_bits: no layout. */
	KUNIT_EXPECT_EQ(test, mktme_pte_layout(&b, 46, 46, &l), -EINVAL);
	KUNIT_EXPECT_EQ(test, mktme_pte_layout(&b, 41, 46, &l), -EINVAL);
	/* Beyond __PHYSICAL_MASK_SHIFT. */
	KUNIT_EXPECT_EQ(test, mktme_pte_layout(&b, 47, 53, &l), -EINVAL);
	/* IA32_TME_ACTIVATE[35:32] holds at most 15. */
	b.keyid_bits = 16;
	KUNIT_EXPECT_EQ(test, mktme_pte_layout(&b, 30, 46, &l), -EINVAL);
}

static unsigned int mktme_kunit_max_keyid(void)
{
	return mktme_keyid_mask >> mktme_keyid_shift;
}

static void mktme_pte_encode_test(struct kunit *test)
{
	unsigned long pfn = 0x12345;
	unsigned int keyid;

	if (!mktme_keyid_mask)
		kunit_skip(test, "mktme is off");

	/* The field is outside the PFN, so pte_pfn() is the real PFN. */
	KUNIT_EXPECT_EQ(test, mktme_keyid_mask & PTE_PFN_MASK, 0ULL);
	KUNIT_EXPECT_EQ(test, mktme_keyid_mask & mktme_kunit_other_bits, 0ULL);

	for (keyid = 0; keyid <= mktme_kunit_max_keyid(); keyid++) {
		pte_t pte = pfn_pte(pfn, mktme_pgprot(PAGE_SHARED, keyid));

		KUNIT_EXPECT_EQ(test, mktme_pte_to_keyid(pte_val(pte)), keyid);
		KUNIT_EXPECT_EQ(test, pte_pfn(pte), pfn);
		KUNIT_EXPECT_EQ(test,
				mktme_pte_to_keyid(mktme_keyid_to_pte(keyid)),
				keyid);
	}
	/* mktme_pgprot() replaces the field, it does not OR into it. */
	KUNIT_EXPECT_EQ(test,
			mktme_pte_to_keyid(pgprot_val(mktme_pgprot(
				mktme_pgprot(PAGE_SHARED, mktme_kunit_max_keyid()),
				1))), 1U);
}

static void mktme_pte_modify_test(struct kunit *test)
{
	unsigned int keyid;
	pgprot_t prot;
	pte_t pte;
	pmd_t pmd;

	if (!mktme_keyid_mask)
		kunit_skip(test, "mktme is off");
	keyid = mktme_kunit_max_keyid();

	/* mprotect(PROT_READ), then PROT_NONE, then back: KeyID kept. */
	pte = pfn_pte(0x4242, mktme_pgprot(PAGE_SHARED, keyid));
	pte = pte_modify(pte, PAGE_READONLY);
	KUNIT_EXPECT_EQ(test, mktme_pte_to_keyid(pte_val(pte)), keyid);
	KUNIT_EXPECT_FALSE(test, pte_write(pte));
	pte = pte_modify(pte, PAGE_NONE);
	KUNIT_EXPECT_EQ(test, mktme_pte_to_keyid(pte_val(pte)), keyid);
	KUNIT_EXPECT_EQ(test, pte_pfn(pte), 0x4242UL);
	pte = pte_modify(pte, PAGE_SHARED);
	KUNIT_EXPECT_EQ(test, mktme_pte_to_keyid(pte_val(pte)), keyid);
	KUNIT_EXPECT_EQ(test, pte_pfn(pte), 0x4242UL);

	/* Protection keys still change under pte_modify(): not in the mask. */
	pte = pte_modify(pte, __pgprot(pgprot_val(PAGE_SHARED) |
				       _PAGE_PKEY_BIT1 | _PAGE_PKEY_BIT3));
	KUNIT_EXPECT_EQ(test, pte_val(pte) & (_PAGE_PKEY_BIT0 |
		_PAGE_PKEY_BIT1 | _PAGE_PKEY_BIT2 | _PAGE_PKEY_BIT3),
		(u64)(_PAGE_PKEY_BIT1 | _PAGE_PKEY_BIT3));
	KUNIT_EXPECT_EQ(test, mktme_pte_to_keyid(pte_val(pte)), keyid);
	pte = pte_modify(pte, PAGE_SHARED);
	KUNIT_EXPECT_EQ(test, pte_val(pte) & _PAGE_PKEY_BIT1, 0ULL);

	/* The PMD variant (_HPAGE_CHG_MASK). */
	pmd = pfn_pmd(0x200, __pgprot(pgprot_val(mktme_pgprot(PAGE_SHARED,
							      keyid)) |
				      _PAGE_PSE));
	pmd = pmd_modify(pmd, PAGE_READONLY);
	KUNIT_EXPECT_EQ(test, mktme_pte_to_keyid(pmd_val(pmd)), keyid);
	KUNIT_EXPECT_EQ(test, pmd_pfn(pmd), 0x200UL);

	/* vm_page_prot across mprotect() (vm_pgprot_modify()). */
	prot = pgprot_modify(mktme_pgprot(PAGE_SHARED, keyid), PAGE_READONLY);
	KUNIT_EXPECT_EQ(test, mktme_pte_to_keyid(pgprot_val(prot)), keyid);
	KUNIT_EXPECT_EQ(test, pgprot_val(prot) & _PAGE_RW, 0ULL);
}

static struct kunit_case mktme_pte_cases[] = {
	KUNIT_CASE(mktme_pte_emu_layout_test),
	KUNIT_CASE(mktme_pte_hw_layout_test),
	KUNIT_CASE(mktme_pte_encode_test),
	KUNIT_CASE(mktme_pte_modify_test),
	{}
};

static struct kunit_suite mktme_pte_suite = {
	.name = "mktme_pte",
	.test_cases = mktme_pte_cases,
};

kunit_test_suites(&mktme_pte_suite);
