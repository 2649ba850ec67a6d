// SPDX-License-Identifier: GPL-2.0
/*
 * ENTROPY_ERROR retried (the TME-MK model, test_hw_entropy.hwmodel): each
 * package answers ENTROPY_ERROR to its next 3 SET_KEY_RANDOMs. A cpu key
 * (SET_KEY_RANDOM) then takes 3 failed attempts on package 0, and 3 more
 * on package 1 after package 0 succeeded (each rolled back), 7 attempts in
 * all, within program.c's bound: add_key succeeds, both packages hold the
 * key. A user key (SET_KEY_DIRECT) never meets the RNG.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

TestSuite(hw_entropy, .init = guest_settle, .timeout = GUEST_TIMEOUT(300));

Test(hw_entropy, entropy_errors_are_retried_on_each_package)
{
	struct hwmodel_pconfig *v;
	size_t before = hwmodel_pconfigs(0, &v), n;
	unsigned int errs[2] = { 0, 0 };
	key_serial_t k;
	int keyid;

	free(v);
	k = mktme_key_add_ok("hw-entropy", PAYLOAD_CPU_256);
	keyid = mktme_key_keyid(k);
	n = hwmodel_pconfigs(before, &v);
	for (size_t i = 0; i < n; i++) {
		cr_assert(v[i].rc == 0 || v[i].rc == 2, "PCONFIG status %u", v[i].rc);
		if (v[i].rc == 2) {
			cr_assert_eq(v[i].cmd, 1, "ENTROPY_ERROR for command %u", v[i].cmd);
			cr_assert(v[i].package == 0 || v[i].package == 1);
			errs[v[i].package]++;
		}
	}
	free(v);
	cr_assert_eq(errs[0], 3, "package 0: %u ENTROPY_ERRORs", errs[0]);
	cr_assert_eq(errs[1], 3, "package 1: %u ENTROPY_ERRORs", errs[1]);
	cr_assert_str_eq(hwmodel_state(0, keyid), "random");
	cr_assert_str_eq(hwmodel_state(1, keyid), "random");
	mktme_key_drop(k);
	cr_assert_eq(mktme_wait_keyids(0), 0);
}
