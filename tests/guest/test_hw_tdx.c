// SPDX-License-Identifier: GPL-2.0
/*
 * A TDX partition (the TME-MK model, test_hw_tdx.hwmodel): 5 KeyID bits, 2
 * of them for TDX. IA32_MKTME_KEYID_PARTITIONING (MSR 87H) then has
 * 2^3 - 1 = 7 MKTME KeyIDs in [31:0] and 24 TDX private ones in [63:32],
 * the private ones after the MKTME ones. backend_hw.c must use 1..7 only:
 * the 8th key is ENOKEY and no PCONFIG ever names a KeyID above 7.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

#define NR_MKTME 7

TestSuite(hw_tdx, .init = guest_settle, .timeout = GUEST_TIMEOUT(300));

Test(hw_tdx, only_the_mktme_keyids_are_used)
{
	struct hwmodel_msrs m = hwmodel_msrs();
	struct hwmodel_pconfig *v;
	key_serial_t keys[NR_MKTME];
	size_t n;

	cr_assert_eq((m.activate >> 36) & 0xf, 2, "ACTIVATE %#llx: TDX KeyID bits", m.activate);
	cr_assert_eq(m.partitioning, (24ULL << 32) | NR_MKTME, "MSR 87H %#llx", m.partitioning);
	cr_assert_eq(mktme_sysfs("nr_keyids"), NR_MKTME);
	for (int i = 0; i < NR_MKTME; i++) {
		char name[32];

		snprintf(name, sizeof(name), "hw-tdx-%d", i);
		keys[i] = mktme_key_add_ok(name, PAYLOAD_CPU_128);
		cr_assert_leq(mktme_key_keyid(keys[i]), NR_MKTME);
	}
	cr_assert_eq(mktme_key_add("hw-tdx-extra", PAYLOAD_CPU_128), -1);
	cr_assert_eq(errno, ENOKEY, "the 8th key: %s, want ENOKEY", strerror(errno));
	n = hwmodel_pconfigs(0, &v);
	for (size_t i = 0; i < n; i++)
		cr_assert(v[i].keyid >= 1 && v[i].keyid <= NR_MKTME, "PCONFIG for KeyID %u", v[i].keyid);
	free(v);
	for (int i = 0; i < NR_MKTME; i++)
		mktme_key_drop(keys[i]);
	cr_assert_eq(mktme_wait_keyids(0), 0);
}
