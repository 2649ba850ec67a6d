// SPDX-License-Identifier: GPL-2.0
/*
 * tools/vm/run uses KVM only when it can really start the guest. /dev/kvm can
 * be there and still not work: a node that is not KVM, QEMU 7.2 aborting on an
 * MSR under nested virtualization, or a guest that spins without printing. In
 * each case the runner must fall back to TCG, say why in one line, and still
 * run the command; the probe runs once per host boot (its answer is cached).
 *
 * Each test runs the runner in a mount namespace whose /dev/kvm is fake
 * (tests/host/vm/with-fake-kvm), with QEMU behind tests/host/vm/fake-qemu,
 * which plays the KVM failure (a TCG boot is the real QEMU), and a cache
 * directory of its own.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

#define FAKE_KVM "tests/host/vm/with-fake-kvm"
#define FALLBACK "vm: KVM cannot start this guest ("

struct accel_env {
	char dir[64];
	char cache[128], log[128], qemu[4200], kvm_mode[64], timeout[64];
};

/*
 * @kvm_mode: FAKE_QEMU_KVM. The probe may take 60 s (a TCG boot on a loaded
 * machine took 16 s), except where it is meant to time out: 10 s.
 */
static void accel_env_init(struct accel_env *e, const char *kvm_mode)
{
	char cwd[4096];

	strcpy(e->dir, "/tmp/mktme-accel-XXXXXX");
	cr_assert_not_null(mkdtemp(e->dir));
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(e->cache, sizeof(e->cache), "MKTME_VM_CACHE=%s/cache", e->dir);
	snprintf(e->log, sizeof(e->log), "FAKE_QEMU_LOG=%s/qemu.log", e->dir);
	snprintf(e->qemu, sizeof(e->qemu), "MKTME_QEMU=%s/tests/host/vm/fake-qemu", cwd);
	snprintf(e->kvm_mode, sizeof(e->kvm_mode), "FAKE_QEMU_KVM=%s", kvm_mode);
	snprintf(e->timeout, sizeof(e->timeout), "MKTME_VM_PROBE_TIMEOUT=%d",
		 strcmp(kvm_mode, "hang") ? 60 : 10);
}

static void accel_env_fini(struct accel_env *e)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	cr_assert_eq(system(cmd), 0);
}

/* How many boots fake-qemu saw with -accel @accel (lines of its log). */
static int boots_with(struct accel_env *e, const char *accel)
{
	char path[128], line[64], want[64];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/qemu.log", e->dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	snprintf(want, sizeof(want), "%s\n", accel);
	while (fgets(line, sizeof(line), f))
		n += strcmp(line, want) == 0;
	fclose(f);
	return n;
}

static int kvm_boots(struct accel_env *e)
{
	return boots_with(e, "kvm");
}

/*
 * Run "echo guest-ran; exit 7" in the guest with /dev/kvm in @kvm_dev mode,
 * with @accel (default MKTME_VM_ACCEL=auto) and @extra (may be NULL) in its
 * environment.
 */
static void run_guest(struct run_result *r, struct accel_env *e, const char *kvm_dev,
		      char *accel, char *extra)
{
	char *argv[] = { FAKE_KVM, (char *)kvm_dev, "--", "tools/vm/run", "--timeout", "120",
			 "--", "/bin/sh", "-c", "echo guest-ran; exit 7", NULL };
	char *env[] = { e->cache, e->log, e->qemu, e->kvm_mode, e->timeout,
			"MKTME_VM_TIMING=1", accel ? accel : "MKTME_VM_ACCEL=auto", extra, NULL };

	run_cmd(r, argv, env, (uid_t)-1);
}

static void assert_ran_under(struct run_result *r, const char *accel)
{
	char want[32];

	cr_assert_eq(r->status, 7, "exit %d, stderr: %s", r->status, r->err);
	cr_assert(strstr(r->out, "guest-ran"), "stdout: %s", r->out);
	snprintf(want, sizeof(want), "vm: %s: guest uptime", accel);
	cr_assert(strstr(r->err, want), "not run under %s: %s", accel, r->err);
}

Test(vm_accel, kvm_node_that_is_not_kvm_falls_back_once_per_boot)
{
	struct accel_env e;
	struct run_result r;

	accel_env_init(&e, "real");
	run_guest(&r, &e, "null", NULL, NULL);
	assert_ran_under(&r, "tcg");
	cr_assert(strstr(r.err, FALLBACK), "no fallback line: %s", r.err);
	cr_assert(strstr(r.err, "failed to initialize kvm"), "QEMU's reason missing: %s", r.err);
	cr_assert(strstr(r.err, "using TCG"), "stderr: %s", r.err);
	cr_assert_eq(kvm_boots(&e), 1);
	run_result_free(&r);

	/* The answer is kept: the next run says why again, but does not probe. */
	run_guest(&r, &e, "null", NULL, NULL);
	assert_ran_under(&r, "tcg");
	cr_assert(strstr(r.err, FALLBACK), "no fallback line: %s", r.err);
	cr_assert_eq(kvm_boots(&e), 1, "probed again: %d KVM boots", kvm_boots(&e));
	run_result_free(&r);
	accel_env_fini(&e);
}

Test(vm_accel, kvm_that_aborts_falls_back_with_qemus_reason)
{
	struct accel_env e;
	struct run_result r;

	accel_env_init(&e, "abort");
	run_guest(&r, &e, "null", NULL, NULL);
	assert_ran_under(&r, "tcg");
	cr_assert(strstr(r.err, FALLBACK "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69; QEMU exit 134)"),
		  "stderr: %s", r.err);
	run_result_free(&r);
	accel_env_fini(&e);
}

Test(vm_accel, kvm_guest_that_never_starts_falls_back_after_the_probe_timeout)
{
	struct accel_env e;
	struct run_result r;

	accel_env_init(&e, "hang");
	run_guest(&r, &e, "null", NULL, NULL);
	assert_ran_under(&r, "tcg");
	cr_assert(strstr(r.err, FALLBACK "the guest did not reach its first command within 10s"),
		  "stderr: %s", r.err);
	run_result_free(&r);
	accel_env_fini(&e);
}

Test(vm_accel, kvm_that_starts_the_guest_is_used)
{
	struct accel_env e;
	struct run_result r;

	accel_env_init(&e, "works");
	run_guest(&r, &e, "null", NULL, NULL);
	assert_ran_under(&r, "kvm");
	cr_assert_null(strstr(r.err, FALLBACK), "stderr: %s", r.err);
	/* The probe boot and the real one. */
	cr_assert_eq(kvm_boots(&e), 2);
	run_result_free(&r);
	accel_env_fini(&e);
}

Test(vm_accel, tcg_asked_for_never_touches_kvm)
{
	struct accel_env e;
	struct run_result r;

	accel_env_init(&e, "abort");
	run_guest(&r, &e, "null", "MKTME_VM_ACCEL=tcg", NULL);
	assert_ran_under(&r, "tcg");
	cr_assert_null(strstr(r.err, FALLBACK), "stderr: %s", r.err);
	cr_assert_eq(kvm_boots(&e), 0);
	run_result_free(&r);
	accel_env_fini(&e);
}

/* --icount (benchmarks): instruction-counted time under TCG, never asked of KVM. */
Test(vm_accel, icount_is_given_to_tcg_only)
{
	struct accel_env e;
	struct run_result r;

	accel_env_init(&e, "works");
	run_guest(&r, &e, "null", "MKTME_VM_ACCEL=tcg", "MKTME_VM_ICOUNT=1");
	assert_ran_under(&r, "tcg");
	cr_assert_eq(boots_with(&e, "tcg,thread=single +icount"), 1, "TCG boot without -icount");
	run_result_free(&r);

	run_guest(&r, &e, "null", NULL, "MKTME_VM_ICOUNT=1");
	assert_ran_under(&r, "kvm");
	/* The probe and the boot, both plain KVM: QEMU refuses -icount with KVM. */
	cr_assert_eq(kvm_boots(&e), 2, "KVM boots without -icount: %d", kvm_boots(&e));
	cr_assert_eq(boots_with(&e, "kvm +icount"), 0);
	run_result_free(&r);
	accel_env_fini(&e);
}

/*
 * QEMU refuses -icount with multi-threaded TCG ("No MTTCG when icount is
 * enabled"): asking for both is the caller's error, said before anything
 * boots, not QEMU's message after the console's tail. No /dev/kvm, so auto
 * picks TCG (the accelerator's slot carries the thread mode here).
 */
Test(vm_accel, icount_with_multi_threaded_tcg_is_an_error)
{
	struct accel_env e;
	struct run_result r;

	accel_env_init(&e, "works");
	run_guest(&r, &e, "none", "MKTME_VM_TCG_THREAD=multi", "MKTME_VM_ICOUNT=1");
	cr_assert_eq(r.status, 2, "exit %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "--icount needs one TCG thread"), "stderr: %s", r.err);
	cr_assert(!strstr(r.out, "guest-ran"), "stdout: %s", r.out);
	cr_assert_eq(boots_with(&e, "tcg,thread=multi +icount"), 0);
	run_result_free(&r);
	accel_env_fini(&e);
}

Test(vm_accel, kvm_asked_for_without_dev_kvm_is_an_error)
{
	struct accel_env e;
	struct run_result r;

	accel_env_init(&e, "works");
	run_guest(&r, &e, "none", "MKTME_VM_ACCEL=kvm", NULL);
	cr_assert_eq(r.status, 2, "exit %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "MKTME_VM_ACCEL=kvm, but /dev/kvm is missing"), "stderr: %s", r.err);
	cr_assert_eq(kvm_boots(&e), 0);
	run_result_free(&r);
	accel_env_fini(&e);
}

Test(vm_accel, unknown_accelerator_is_an_error)
{
	struct accel_env e;
	struct run_result r;

	accel_env_init(&e, "works");
	run_guest(&r, &e, "null", "MKTME_VM_ACCEL=hvf", NULL);
	cr_assert_eq(r.status, 2, "exit %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "wants kvm, tcg or auto, not \"hvf\""), "stderr: %s", r.err);
	cr_assert_eq(kvm_boots(&e), 0);
	run_result_free(&r);
	accel_env_fini(&e);
}

/*
 * QEMU 7.2's multi-threaded TCG can run a stale translation of kernel text
 * another vCPU has just rewritten (docs/design.md §4: "Oops: int3" while BPF
 * programs attach), so TCG runs every vCPU on one host thread unless
 * MKTME_VM_TCG_THREAD=multi asks otherwise.
 */
Test(vm_accel, tcg_runs_every_vcpu_on_one_thread_unless_asked)
{
	struct accel_env e;
	struct run_result r;

	accel_env_init(&e, "abort");
	run_guest(&r, &e, "null", "MKTME_VM_ACCEL=tcg", NULL);
	assert_ran_under(&r, "tcg");
	cr_assert_eq(boots_with(&e, "tcg,thread=single"), 1, "not one thread: see %s/qemu.log", e.dir);
	run_result_free(&r);

	run_guest(&r, &e, "null", "MKTME_VM_ACCEL=tcg", "MKTME_VM_TCG_THREAD=multi");
	assert_ran_under(&r, "tcg");
	cr_assert_eq(boots_with(&e, "tcg,thread=multi"), 1, "multi not honoured: see %s/qemu.log", e.dir);
	run_result_free(&r);

	run_guest(&r, &e, "null", "MKTME_VM_ACCEL=tcg", "MKTME_VM_TCG_THREAD=many");
	cr_assert_eq(r.status, 2, "exit %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "MKTME_VM_TCG_THREAD wants single or multi, not \"many\""), "stderr: %s", r.err);
	cr_assert_eq(boots_with(&e, "tcg,thread=single") + boots_with(&e, "tcg,thread=multi"), 2);
	run_result_free(&r);
	accel_env_fini(&e);
}
