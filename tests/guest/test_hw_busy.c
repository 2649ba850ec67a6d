// SPDX-License-Identifier: GPL-2.0
/*
 * Every package or none, under DEVICE_BUSY (the TME-MK model,
 * test_hw_busy.hwmodel): package 1's key table answers DEVICE_BUSY to its
 * next 12 PCONFIGs, package 0's never; PCONFIG errors as the current SDM has
 * them (tme-pconfig=sdm), while the core suites' boot has the ISE's.
 *
 * backend_hw.c programs package 0, then package 1; when package 1 is busy it
 * puts package 0 back to CLEAR_KEY (rollback), and program.c retries the
 * whole program a bounded number of times (docs/design.md 2.1). So a key
 * asked for while package 1 stays busy longer than that bound is refused
 * with EBUSY, and no package keeps it: package 0's entry was cleared after
 * each attempt, package 1's was never written. Once package 1 answers again,
 * a key is programmed on both.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

TestSuite(hw_busy, .init = guest_settle, .timeout = GUEST_TIMEOUT(300));

Test(hw_busy, busy_package_refuses_everywhere_then_both_are_programmed)
{
	struct hwmodel_pconfig *v;
	size_t before = hwmodel_pconfigs(0, &v), n;
	unsigned int keyid = 0, busy = 0, set0 = 0, undo0 = 0, set1 = 0;
	key_serial_t k;
	int id;

	free(v);
	cr_assert_eq(mktme_key_add("hw-busy-1", PAYLOAD_CPU_128), -1,
		     "a key was programmed while package 1 was busy");
	cr_assert_eq(errno, EBUSY, "add_key: %s, want EBUSY", strerror(errno));

	n = hwmodel_pconfigs(before, &v);
	for (size_t i = 0; i < n; i++) {
		if (v[i].cmd == 1 && !keyid)
			keyid = v[i].keyid;
		if (v[i].keyid != keyid)
			continue;
		if (v[i].package == 1 && v[i].cmd == 1 && v[i].rc == 5)
			busy++;
		else if (v[i].package == 0 && v[i].cmd == 1 && v[i].rc == 0)
			set0++;
		else if (v[i].package == 0 && v[i].cmd == 2 && v[i].rc == 0)
			undo0++;
		else if (v[i].package == 1 && v[i].cmd == 1 && v[i].rc == 0)
			set1++;
	}
	free(v);
	cr_assert_gt(keyid, 0, "no SET_KEY_RANDOM in the model's log");
	cr_assert(busy >= 2 && busy <= 10, "%u DEVICE_BUSY answers: want retries, at most 10", busy);
	cr_assert_eq(set1, 0, "package 1 took the key");
	cr_assert_eq(set0, busy, "package 0 programmed %u times for %u attempts", set0, busy);
	cr_assert_geq(undo0, set0, "package 0: %u programs, %u rollbacks", set0, undo0);
	cr_assert_str_neq(hwmodel_state(0, keyid), "random", "package 0 kept the refused key");
	cr_assert_str_neq(hwmodel_state(1, keyid), "random", "package 1 has the refused key");

	/* Package 1 has used up its injected answers by now (12 in all). */
	cr_assert_eq(mktme_wait_keyids(0), 0);
	k = mktme_key_add_ok("hw-busy-2", PAYLOAD_CPU_128);
	id = mktme_key_keyid(k);
	cr_assert_gt(id, 0);
	cr_assert_str_eq(hwmodel_state(0, id), "random");
	cr_assert_str_eq(hwmodel_state(1, id), "random");
	mktme_key_drop(k);
	cr_assert_eq(mktme_wait_keyids(0), 0);
}
