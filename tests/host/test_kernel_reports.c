// SPDX-License-Identifier: GPL-2.0
/*
 * tools/vm/kernel-reports decides whether a guest's kernel log fails the boot
 * (tools/vm/run; make test-debug relies on it for KASAN, lockdep, kmemleak
 * and UBSAN). Each kind of report, as the 6.12 kernel prints it, must fail
 * with a line naming it; the banners the debug options print at every boot
 * must not.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

/* What a clean boot of the debug kernel says about its debug options. */
#define CLEAN_BOOT \
	"[    0.000000] Linux version 6.12.118 (mktme@mktme)\n" \
	"[    0.012000] kasan: KernelAddressSanitizer initialized (generic)\n" \
	"[    0.100000] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar\n" \
	"[    0.100001] ... MAX_LOCKDEP_SUBCLASSES:  8\n" \
	"[    0.200000] kmemleak: Kernel memory leak detector initialized (mem pool available: 15000)\n" \
	"[    0.210000] kmemleak: Automatic memory scanning thread started\n" \
	"[    0.964665] PCI: Using host bridge windows from ACPI; if necessary, use \"pci=nocrs\" and report a bug\n" \
	"[    1.500000] KTAP version 1\n" \
	"[    1.500001]     ok 1 mktme_keyid_alloc\n"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/mktme-reports-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(kernel_reports, .init = setup, .fini = teardown);

static void write_file(const char *name, const char *text, char *path, size_t size)
{
	FILE *f;

	snprintf(path, size, "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* Run kernel-reports on @dmesg (and @leaks, the kmemleak file, if not NULL). */
static void reports(struct run_result *r, const char *dmesg, const char *leaks)
{
	char dpath[128], lpath[128];
	char *argv[] = { "tools/vm/kernel-reports", dpath, leaks ? lpath : NULL, NULL };

	write_file("dmesg", dmesg, dpath, sizeof(dpath));
	if (leaks)
		write_file("kmemleak", leaks, lpath, sizeof(lpath));
	run_cmd(r, argv, NULL, (uid_t)-1);
}

static void assert_report(const char *dmesg, const char *leaks, const char *want)
{
	struct run_result r;

	reports(&r, dmesg, leaks);
	cr_assert_eq(r.status, 1, "exit %d, stdout:\n%s\nstderr: %s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, want), "\"%s\" not named in:\n%s", want, r.out);
	run_result_free(&r);
}

Test(kernel_reports, a_clean_debug_boot_passes)
{
	struct run_result r;

	reports(&r, CLEAN_BOOT, "");
	cr_assert_eq(r.status, 0, "exit %d, stdout:\n%s", r.status, r.out);
	cr_assert_str_empty(r.out);
	run_result_free(&r);
}

Test(kernel_reports, kasan)
{
	assert_report(CLEAN_BOOT
		      "[   12.345678] ==================================================================\n"
		      "[   12.345679] BUG: KASAN: slab-use-after-free in mktme_release+0x9c/0x1b0\n"
		      "[   12.345680] Read of size 8 at addr ffff888004a1c008 by task fuzz_device/412\n",
		      NULL, "11: BUG: KASAN: slab-use-after-free in mktme_release+0x9c/0x1b0");
}

Test(kernel_reports, lockdep)
{
	assert_report(CLEAN_BOOT
		      "[   13.000000] ======================================================\n"
		      "[   13.000001] WARNING: possible circular locking dependency detected\n"
		      "[   13.000002] 6.12.118 #1 Not tainted\n",
		      NULL, "WARNING: possible circular locking dependency detected");
	assert_report(CLEAN_BOOT "[   13.5] WARNING: possible recursive locking detected\n", NULL,
		      "WARNING: possible recursive locking detected");
	assert_report(CLEAN_BOOT "[   13.6] WARNING: suspicious RCU usage\n", NULL,
		      "WARNING: suspicious RCU usage");
	assert_report(CLEAN_BOOT "[   13.7] BUG: sleeping function called from invalid context at mm/slub.c:4119\n",
		      NULL, "BUG: sleeping function called from invalid context");
}

Test(kernel_reports, ubsan)
{
	assert_report(CLEAN_BOOT
		      "[   14.000000] ------------[ cut here ]------------\n"
		      "[   14.000001] UBSAN: shift-out-of-bounds in ../arch/x86/mm/mktme/pte.c:41:9\n",
		      NULL, "UBSAN: shift-out-of-bounds in ../arch/x86/mm/mktme/pte.c:41:9");
}

Test(kernel_reports, bug_warning_oops_stall)
{
	assert_report(CLEAN_BOOT "[   15.0] kernel BUG at arch/x86/mm/mktme/dev.c:200!\n", NULL,
		      "kernel BUG at arch/x86/mm/mktme/dev.c:200!");
	assert_report(CLEAN_BOOT "[   15.1] WARNING: CPU: 1 PID: 77 at arch/x86/mm/mktme/keyid.c:90 mktme_keyid_put+0x1/0x2\n",
		      NULL, "WARNING: CPU: 1 PID: 77 at arch/x86/mm/mktme/keyid.c:90");
	assert_report(CLEAN_BOOT "[   15.2] Oops: general protection fault, probably for non-canonical address\n",
		      NULL, "Oops: general protection fault");
	assert_report(CLEAN_BOOT "[   15.3] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n", NULL,
		      "rcu_preempt detected stalls");
}

Test(kernel_reports, kmemleak)
{
	const char *leak =
		"unreferenced object 0xffff888004a1c000 (size 64):\n"
		"  comm \"fuzz_device\", pid 412, jiffies 4294892296\n"
		"  hex dump (first 32 bytes):\n"
		"    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................\n"
		"  backtrace (crc 8d6d6f94):\n"
		"    kmemleak_alloc+0x4b/0x80\n"
		"    __kmalloc_cache_noprof+0x2a0/0x3c0\n"
		"    mktme_open+0x5e/0x2c0\n"
		"    chrdev_open+0x1a3/0x4e0\n";

	/* The scan's line in the log, and each object from the kmemleak file. */
	assert_report(CLEAN_BOOT "[  100.0] kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\n",
		      leak, "kmemleak: 1 new suspected memory leaks");
	assert_report(CLEAN_BOOT, leak,
		      "kmemleak: unreferenced object 0xffff888004a1c000 (size 64), allocated by mktme_open+0x5e/0x2c0");
}

Test(kernel_reports, an_unreadable_log_is_an_error)
{
	struct run_result r;
	char *argv[] = { "tools/vm/kernel-reports", "/nonexistent/dmesg", NULL };

	run_cmd(&r, argv, NULL, (uid_t)-1);
	cr_assert_eq(r.status, 2, "exit %d", r.status);
	cr_assert(strstr(r.err, "cannot read /nonexistent/dmesg"), "stderr: %s", r.err);
	run_result_free(&r);
}
