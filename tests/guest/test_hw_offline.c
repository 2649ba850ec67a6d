// SPDX-License-Identifier: GPL-2.0
/*
 * A package whose CPUs are all offline (the TME-MK model: two packages of
 * one CPU each, CPU 1 alone on package 1). backend_hw.c refuses to program
 * a key that cannot reach every package: -ENODEV, nothing executed
 * anywhere (the model logs no PCONFIG), the log names the package. With a
 * key live, the hotplug callback refuses to take the last CPU of a package
 * offline (EBUSY).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

#define CPU1 "/sys/devices/system/cpu/cpu1/online"

static void cpu1_online(void)
{
	guest_write_str(CPU1, "1");
}

TestSuite(hw_offline, .init = guest_settle, .fini = cpu1_online, .timeout = GUEST_TIMEOUT(300));

Test(hw_offline, a_package_without_online_cpu_refuses_everywhere)
{
	struct hwmodel_pconfig *v;
	size_t before, n;
	key_serial_t k;
	int keyid;

	cr_assert_eq(guest_write_str(CPU1, "0"), 0, "cannot take CPU 1 offline with no key live");
	before = hwmodel_pconfigs(0, &v);
	free(v);
	cr_assert_eq(mktme_key_add("hw-offline-1", PAYLOAD_CPU_128), -1,
		     "a key was programmed with package 1 offline");
	cr_assert_eq(errno, ENODEV, "add_key: %s, want ENODEV", strerror(errno));
	n = hwmodel_pconfigs(before, &v);
	free(v);
	cr_assert_eq(n, 0, "%zu PCONFIGs executed while package 1 was offline", n);
	cr_assert(guest_kernel_log_has("package 1 has no online CPU"));

	cr_assert_eq(guest_write_str(CPU1, "1"), 0);
	k = mktme_key_add_ok("hw-offline-2", PAYLOAD_CPU_128);
	keyid = mktme_key_keyid(k);
	cr_assert_str_eq(hwmodel_state(0, keyid), "random");
	cr_assert_str_eq(hwmodel_state(1, keyid), "random");
	/* A live key: package 1 must keep a CPU. */
	cr_assert_eq(guest_write_str(CPU1, "0"), -EBUSY, "took package 1's last CPU offline under a live key");
	cr_assert_eq(guest_read_long(CPU1), 1);
	mktme_key_drop(k);
	cr_assert_eq(mktme_wait_keyids(0), 0);
}
