// SPDX-License-Identifier: GPL-2.0
/*
 * The hw backend under the TME-MK model (tools/qemu), on a platform unlike
 * the defaults (test_hw_enum.hwmodel): 4 KeyID bits, IA32_TME_CAPABILITY
 * MK_TME_MAX_KEYS 9, AES-XTS-128 only activated. What only hw has:
 *   - backend_hw.c decodes IA32_TME_ACTIVATE/CAPABILITY as configured:
 *     KeyIDs = min(2^4 - 1, 9) = 9, algorithms = AES-XTS-128;
 *   - 6.12's detect_tme_early() reduced x86_phys_bits by the KeyID bits
 *     (46 - 4 = 42) and pte.c took bits 45:42 out of physical_mask: the
 *     KeyID is read back from bits 45:42 of a real leaf entry, and data
 *     written through that entry reaches RAM (the model strips the bits;
 *     a wrong PFN would hit unassigned memory);
 *   - KEY_PROGRAM ran on both packages' key tables (the model's log);
 *   - PCONFIG at CPL 3 is #GP (SIGSEGV), as the SDM says, not #UD.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"

/* test_hw_enum.hwmodel */
#define KEYID_BITS	4
#define MAX_KEYS	9
#define PHYS_BITS	46

TestSuite(hw_enum, .init = guest_settle, .timeout = GUEST_TIMEOUT(300));

/* The model encrypts nothing, and the kernel must not claim it does. */
Test(hw_enum, the_hw_backend_runs_and_does_not_claim_encryption_in_a_vm)
{
	char *b = guest_read_file(MKTME_SYSFS "/backend", NULL);

	cr_assert_not_null(b, "no %s/backend: %s", MKTME_SYSFS, strerror(errno));
	cr_assert_str_eq(b, "hw\n");
	cr_assert_eq(mktme_sysfs("encrypts"), 0, "the hw backend under QEMU's model claims encryption");
	cr_assert(guest_kernel_log_has("mktme: hw: under a hypervisor"));
	free(b);
	cr_assert_eq(guest_sh(&b, "%s status", guest_ctl()), 0);
	cr_assert(strstr(b, "backend:   hw: memory is NOT encrypted (TME-MK under a hypervisor is a model"),
		  "mktmectl status: %s", b);
	free(b);
}

Test(hw_enum, msr_decode_matches_the_configured_platform)
{
	struct hwmodel_msrs m = hwmodel_msrs();
	char *algs = guest_read_file(MKTME_SYSFS "/algorithms", NULL);

	/* What firmware locked in (SDM Vol. 4, 981H/982H), as configured. */
	cr_assert_eq(m.activate & 3, 3, "ACTIVATE %#llx: not locked and enabled", m.activate);
	cr_assert_eq((m.activate >> 32) & 0xf, KEYID_BITS, "ACTIVATE %#llx", m.activate);
	cr_assert_eq(m.activate >> 48, 0x1, "ACTIVATE %#llx: algorithms", m.activate);
	cr_assert_eq((m.capability >> 36) & 0x7fff, MAX_KEYS, "CAPABILITY %#llx", m.capability);
	cr_assert_eq(m.phys_bits, PHYS_BITS);
	/* What the kernel made of it. */
	cr_assert_eq(mktme_sysfs("nr_keyids"), MAX_KEYS, "min(2^%d - 1, %d) KeyIDs", KEYID_BITS, MAX_KEYS);
	cr_assert_not_null(algs);
	cr_assert(guest_list_has(algs, "aes-xts-128"), "algorithms: %s", algs);
	cr_assert(!guest_list_has(algs, "aes-xts-256"), "algorithms: %s", algs);
	cr_assert(guest_kernel_log_has("mktme: hw: 9 KeyIDs (4 KeyID bits)"));
	free(algs);
}

Test(hw_enum, an_algorithm_not_activated_never_reaches_pconfig)
{
	struct hwmodel_pconfig *v;
	size_t before = hwmodel_pconfigs(0, &v), after;

	free(v);
	cr_assert_eq(mktme_key_add("hw-enum-256", PAYLOAD_CPU_256), -1);
	cr_assert_eq(errno, EOPNOTSUPP, "aes-xts-256, not activated: %s", strerror(errno));
	after = hwmodel_pconfigs(before, &v);
	free(v);
	cr_assert_eq(after, 0, "%zu PCONFIGs executed for a refused key", after);
}

Test(hw_enum, physical_address_width_is_reduced_by_the_keyid_bits)
{
	char *out = NULL;

	cr_assert_eq(guest_sh(&out, "grep -m1 '^address sizes' /proc/cpuinfo"), 0);
	cr_assert(strstr(out, ": 42 bits physical"), "/proc/cpuinfo: %s (want %d - %d)", out,
		  PHYS_BITS, KEYID_BITS);
	cr_assert(guest_kernel_log_has("x86_phys_bits reduced by 4"));
	free(out);
}

Test(hw_enum, the_keyid_is_in_the_top_address_bits_and_data_reaches_ram)
{
	struct guest_region r = guest_region_new(PAYLOAD_CPU_128, 4);
	struct mktme_pte_query q = { 0 };
	unsigned long long kid;

	for (size_t i = 0; i < r.len; i++)
		r.p[i] = (char)(i * 7 + 3);
	cr_assert_eq(mktme_query(r.fd, r.p + PAGE_SZ, &q), 0);
	kid = (q.entry >> (PHYS_BITS - KEYID_BITS)) & ((1ULL << KEYID_BITS) - 1);
	cr_assert_eq(q.keyid, (unsigned int)r.keyid, "QUERY_PTE KeyID %u, key's %d", q.keyid, r.keyid);
	cr_assert_eq(kid, (unsigned long long)r.keyid, "entry %#llx: bits 45:42 hold %llu, want %d",
		     (unsigned long long)q.entry, kid, r.keyid);
	cr_assert_eq(q.entry >> PHYS_BITS & 0x3f, 0, "entry %#llx: bits above MAXPHYADDR",
		     (unsigned long long)q.entry);
	for (size_t i = 0; i < r.len; i++)
		cr_assert_eq(r.p[i], (char)(i * 7 + 3), "byte %zu lost: not RAM behind the KeyID", i);
	guest_region_free(&r);
}

Test(hw_enum, every_package_is_programmed_and_cleared)
{
	key_serial_t k = mktme_key_add_ok("hw-enum-pkg", PAYLOAD_CPU_128);
	int keyid = mktme_key_keyid(k);

	cr_assert_gt(keyid, 0);
	cr_assert_str_eq(hwmodel_state(0, keyid), "random");
	cr_assert_str_eq(hwmodel_state(1, keyid), "random");
	mktme_key_drop(k);
	cr_assert_eq(mktme_wait_keyids(0), 0);
	cr_assert_str_eq(hwmodel_state(0, keyid), "clear");
	cr_assert_str_eq(hwmodel_state(1, keyid), "clear");
}

/* In the child: which fault PCONFIG raised, as its exit status. */
static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	/* #GP in user mode: SIGSEGV with si_code SI_KERNEL; #UD: SIGILL. */
	_exit(sig == SIGSEGV && si->si_code == SI_KERNEL ? 42 : sig == SIGILL ? 43 : 44);
}

Test(hw_enum, pconfig_in_user_mode_is_gp_not_ud)
{
	pid_t pid = fork();
	int st;

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		/* Handled, so that the kernel logs no "general protection" trap. */
		struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO };

		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGILL, &sa, NULL);
		/* PCONFIG, EAX = 0 (KEY_PROGRAM), RBX = an aligned nothing. */
		__asm__ __volatile__(".byte 0x0f, 0x01, 0xc5" : : "a"(0), "b"(0) : "memory", "cc");
		_exit(0);
	}
	st = guest_wait_child(pid);
	cr_assert(WIFEXITED(st), "status %#x", st);
	cr_assert_neq(WEXITSTATUS(st), 0, "PCONFIG at CPL 3 did not fault");
	cr_assert_neq(WEXITSTATUS(st), 43, "PCONFIG at CPL 3 was #UD (SIGILL), want #GP");
	cr_assert_eq(WEXITSTATUS(st), 42, "PCONFIG at CPL 3: not a #GP (SIGSEGV, SI_KERNEL)");
}
