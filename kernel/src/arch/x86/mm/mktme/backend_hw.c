// SPDX-License-Identifier: GPL-2.0
/*
 * The hardware backend: Intel TME-MK, keys programmed with PCONFIG.
 *
 * Sources:
 *  - Intel SDM Vol. 2B, PCONFIG; Intel ISE reference (May 2019), PCONFIG;
 *    Intel TME-MK specification (IA32_TME_CAPABILITY, IA32_TME_ACTIVATE);
 *  - Linux 6.12 arch/x86/kernel/cpu/intel.c detect_tme_early() (the same MSR
 *    fields; it also reduces x86_phys_bits by the KeyID bits), and Linux
 *    6.1 arch/x86/kernel/cpu/intel_pconfig.c and asm/intel_pconfig.h (CPUID
 *    leaf 0x1B targets, the PCONFIG instruction), which 6.12 no longer has:
 *    their code is carried below;
 *  - Intel tdx-module and Linux TDX host code, IA32_MKTME_KEYID_PARTITIONING
 *    (MSR 0x87): bits 31:0 MKTME KeyIDs, bits 63:32 TDX private KeyIDs, the
 *    private ones after the MKTME ones.
 *
 * None of this has been run on TME-MK hardware by this project. It is kept
 * small on purpose, and every operand goes through mktme_program_check()
 * first, the check the emulated backend is tested against.
 */
#define pr_fmt(fmt) "mktme: " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/init.h>
#include <linux/limits.h>
#include <linux/minmax.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/topology.h>
#include <asm/cpufeature.h>
#include <asm/cpuid.h>
#include <asm/msr.h>

#include "mktme.h"

#define MSR_TME_CAPABILITY		0x981
#define TME_CAP_MAX_KEYS(x)		(((x) >> 36) & 0x7fff)	/* 50:36 */

#define MSR_TME_ACTIVATE		0x982
#define TME_ACT_LOCKED			BIT_ULL(0)
#define TME_ACT_ENABLED			BIT_ULL(1)
#define TME_ACT_KEYID_BITS(x)		(((x) >> 32) & 0xf)	/* 35:32 */
#define TME_ACT_TDX_KEYID_BITS(x)	(((x) >> 36) & 0xf)	/* 39:36 */
#define TME_ACT_ALGS(x)			(((x) >> 48) & 0xffff)	/* 63:48 */

#define MSR_MKTME_KEYID_PARTITIONING	0x87
#define KEYID_PART_NR_MKTME(x)		((u32)(x))		/* 31:0 */

/*
 * PCONFIG targets, from CPUID leaf 0x1B as Linux 6.1's intel_pconfig_init()
 * read them: sub-leaves of type 1 list up to three target IDs each (EBX,
 * ECX, EDX), and the first sub-leaf of type 0 ends the list.
 */
#define PCONFIG_CPUID			0x1b
#define PCONFIG_CPUID_SUBLEAF_MASK	((1 << 12) - 1)
#define PCONFIG_CPUID_SUBLEAF_INVALID	0
#define PCONFIG_CPUID_SUBLEAF_TARGETID	1

static u64 mktme_pconfig_targets __ro_after_init;

static void __init mktme_pconfig_enumerate(void)
{
	int subleaf;

	if (!boot_cpu_has(X86_FEATURE_PCONFIG))
		return;

	for (subleaf = 0; subleaf < INT_MAX; subleaf++) {
		struct cpuid_regs regs;

		cpuid_count(PCONFIG_CPUID, subleaf,
			    &regs.eax, &regs.ebx, &regs.ecx, &regs.edx);

		switch (regs.eax & PCONFIG_CPUID_SUBLEAF_MASK) {
		case PCONFIG_CPUID_SUBLEAF_INVALID:
			return;
		case PCONFIG_CPUID_SUBLEAF_TARGETID:
			if (regs.ebx < 64)
				mktme_pconfig_targets |= BIT_ULL(regs.ebx);
			if (regs.ecx < 64)
				mktme_pconfig_targets |= BIT_ULL(regs.ecx);
			if (regs.edx < 64)
				mktme_pconfig_targets |= BIT_ULL(regs.edx);
			break;
		default:
			/* Unknown sub-leaf type: ignore it. */
			break;
		}
	}
}

static bool mktme_pconfig_target_supported(unsigned int target)
{
	return target < 64 && (mktme_pconfig_targets & BIT_ULL(target));
}

/* PCONFIG KEY_PROGRAM: a return code, or -ENXIO without the MKTME target. */
static int mktme_key_program(const struct mktme_key_program *prog)
{
	unsigned long rax = MKTME_KEY_PROGRAM;

	if (!mktme_pconfig_target_supported(MKTME_TARGET))
		return -ENXIO;

	asm volatile(PCONFIG
		     : "=a" (rax), "=b" (prog)
		     : "0" (rax), "1" (prog)
		     : "memory", "cc");

	return rax;
}

/*
 * KEY_PROGRAM runs on one CPU of each package: the key tables are
 * per package (the 2019 MKTME RFC, "mktme_keys: Program
 * MKTME keys across packages", programmed one lead CPU per package). The
 * SDM calls the key table "shared by all logical processors in a
 * platform"; programming it once per package is correct either way.
 */

/*
 * A later package failed: put the KeyID back to CLEAR_KEY on the packages
 * that took the new key, so that no package keeps a key the caller was told
 * did not get programmed. If even that fails the caller still gets the
 * error, and keyid.c's CLEAR_KEY on release (or quarantine) follows.
 */
static void mktme_hw_rollback(const struct mktme_hw_machine *m,
			      const struct mktme_key_program *prog,
			      unsigned int nr_done)
{
	struct mktme_key_program *undo = m->undo;
	unsigned int pkg;
	int attempt, code;

	memset(undo, 0, sizeof(*undo));
	undo->keyid = prog->keyid;
	undo->keyid_ctrl = MKTME_KEYID_CLEAR_KEY |
			   (prog->keyid_ctrl & MKTME_CTRL_ALG_MASK);
	for (pkg = 0; pkg < nr_done; pkg++) {
		int cpu = m->lead_cpu(m->ctx, pkg);

		for (attempt = 1; ; attempt++) {
			code = m->pconfig(m->ctx, cpu, undo);
			if (code != MKTME_DEVICE_BUSY ||
			    attempt == MKTME_PROGRAM_ATTEMPTS)
				break;
			usleep_range(50, 100);
		}
		if (code)
			pr_err("KeyID %u: rollback on package %u failed (%d)\n",
			       prog->keyid, pkg, code);
	}
}

/*
 * Every package or none. A package whose CPUs are all offline still has
 * its memory controller, which keeps encrypting its memory with whatever
 * its key table holds for a KeyID, and PCONFIG can only reach that table
 * from one of its own CPUs. Skipping it would leave the previous holder's
 * key (or none) under a KeyID handed to a new tenant. We refuse instead:
 * the key is not programmed anywhere, the caller gets -ENODEV and the log
 * names the package. We do not program such a package later from the
 * CPU-online callback, because the kernel does not keep key bytes
 * (SET_KEY_DIRECT operands are wiped once programmed, and a SET_KEY_RANDOM
 * key exists only inside each package), so there is nothing to replay;
 * the hotplug callbacks below refuse to change the set of packages with an
 * online CPU while keys are live, and so the refusal here only meets a
 * package that was already offline when the key was asked for. A
 * CLEAR_KEY refused this way leaves the KeyID quarantined (keyid.c), never
 * handed out.
 */
int mktme_hw_program_packages(const struct mktme_hw_machine *m,
			      const struct mktme_key_program *prog)
{
	unsigned int pkg, nr = m->nr_packages(m->ctx);
	int code;

	/* First make sure every package can be reached: all or nothing. */
	for (pkg = 0; pkg < nr; pkg++) {
		if (m->lead_cpu(m->ctx, pkg) < 0) {
			pr_err_ratelimited("KeyID %u: package %u has no online CPU, so its key table cannot be programmed; %s refused on every package, nothing changed\n",
					   prog->keyid, pkg,
					   mktme_cmd_name(prog->keyid_ctrl &
							  MKTME_CTRL_CMD_MASK));
			return -ENODEV;
		}
	}
	for (pkg = 0; pkg < nr; pkg++) {
		code = m->pconfig(m->ctx, m->lead_cpu(m->ctx, pkg), prog);
		if (code) {
			mktme_hw_rollback(m, prog, pkg);
			return code;
		}
	}
	return 0;
}

/*
 * The machine itself: logical package IDs, online CPUs, PCONFIG by IPI.
 * Logical package IDs run from 0 to topology_max_packages() - 1, and that
 * count covers every package the firmware enumerated, CPUs never brought up
 * (maxcpus=, offline) included: 6.12 arch/x86/kernel/cpu/topology.c,
 * topology_init_possible_cpus(), counts the registered APIC IDs.
 */
static unsigned int mktme_hw_nr_packages(void *ctx)
{
	return topology_max_packages();
}

static int mktme_hw_lead_cpu(void *ctx, unsigned int pkg)
{
	unsigned int cpu;

	for_each_online_cpu(cpu)
		if (topology_logical_package_id(cpu) == pkg)
			return cpu;
	return -1;
}

struct mktme_hw_call {
	const struct mktme_key_program *prog;
	int code;
};

static void mktme_hw_pconfig(void *arg)
{
	struct mktme_hw_call *call = arg;

	call->code = mktme_key_program(call->prog);
}

static int mktme_hw_run(void *ctx, int cpu,
			const struct mktme_key_program *prog)
{
	struct mktme_hw_call call = { .prog = prog };
	int ret;

	ret = smp_call_function_single(cpu, mktme_hw_pconfig, &call, 1);
	return ret ? ret : call.code;
}

/* The rollback operand; 256-byte aligned, and never holds key bytes. */
static struct mktme_key_program mktme_hw_undo;

static const struct mktme_hw_machine mktme_hw_machine = {
	.nr_packages	= mktme_hw_nr_packages,
	.lead_cpu	= mktme_hw_lead_cpu,
	.pconfig	= mktme_hw_run,
	.undo		= &mktme_hw_undo,
};

static int mktme_hw_program(const struct mktme_backend *b,
			    const struct mktme_key_program *prog)
{
	int code;

	/* Never execute what the hardware would fault on (#GP). */
	code = mktme_program_check(prog, b->nr_keyids, b->algorithms);
	if (code)
		return code;

	/* The set of online CPUs stays as it is until we are done. */
	cpus_read_lock();
	code = mktme_hw_program_packages(&mktme_hw_machine, prog);
	cpus_read_unlock();
	return code;
}

/*
 * Keys cannot be replayed into a package that missed them (see above). So
 * while pages of regions or live keys exist (mktme_active(): on hw, any
 * KeyID in use), refuse to take the last CPU of a package offline, and to
 * bring up the first CPU of a package that was offline meanwhile; the log
 * says which.
 */
static bool mktme_hw_package_has_other_online(unsigned int cpu)
{
	unsigned int other;

	for_each_online_cpu(other)
		if (other != cpu && topology_logical_package_id(other) ==
				    topology_logical_package_id(cpu))
			return true;
	return false;
}

static int mktme_hw_cpu_online(unsigned int cpu)
{
	if (mktme_active() && !mktme_hw_package_has_other_online(cpu)) {
		mktme_report_busy("bringing up the first CPU of a package");
		return -EBUSY;
	}
	return 0;
}

static int mktme_hw_cpu_offline(unsigned int cpu)
{
	if (mktme_active() && !mktme_hw_package_has_other_online(cpu)) {
		mktme_report_busy("taking the last CPU of a package offline");
		return -EBUSY;
	}
	return 0;
}

/* A step of mktme_start(): undone by mktme_hw_stop() if a later one fails. */
static int mktme_hw_cpuhp_state;

static int mktme_hw_start(const struct mktme_backend *b)
{
	int ret;

	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "x86/mktme:online",
					mktme_hw_cpu_online,
					mktme_hw_cpu_offline);
	if (ret < 0) {
		pr_err("hw: CPU hotplug callbacks: %d\n", ret);
		return ret;
	}
	mktme_hw_cpuhp_state = ret;
	return 0;
}

static void mktme_hw_stop(const struct mktme_backend *b)
{
	cpuhp_remove_state_nocalls(mktme_hw_cpuhp_state);
	mktme_hw_cpuhp_state = 0;
}

static struct mktme_backend mktme_hw_backend = {
	.name		= "hw",
	.encrypts	= true,
	.program	= mktme_hw_program,
	.start		= mktme_hw_start,
	.stop		= mktme_hw_stop,
};

/*
 * Decode the TME MSRs into what the backend needs. Pure, for the KUnit
 * tests: @part is IA32_MKTME_KEYID_PARTITIONING, or NULL if unreadable.
 * -ENODEV when TME-MK is not usable as configured.
 */
int mktme_hw_decode(u64 act, u64 cap, const u64 *part, struct mktme_hw_enum *e)
{
	unsigned int bits = TME_ACT_KEYID_BITS(act);
	u32 nr;

	if (!(act & TME_ACT_LOCKED) || !(act & TME_ACT_ENABLED) || !bits)
		return -ENODEV;
	e->keyid_bits = bits;
	/* Only the algorithms we know the key sizes of. */
	e->algorithms = TME_ACT_ALGS(act) &
			(MKTME_ALG_BIT(MKTME_ALG_AES_XTS_128) |
			 MKTME_ALG_BIT(MKTME_ALG_AES_XTS_256));
	/* The ISE's INVALID_KEYID bounds: 2^bits - 1 and MK_TME_MAX_KEYS. */
	nr = min_t(u32, (1U << bits) - 1, TME_CAP_MAX_KEYS(cap));
	if (TME_ACT_TDX_KEYID_BITS(act)) {
		/* TDX took the upper KeyIDs: only 1..MSR 0x87[31:0] are ours. */
		if (!part)
			return -ENODEV;
		nr = min_t(u32, nr, KEYID_PART_NR_MKTME(*part));
	}
	e->nr_keyids = nr;
	if (!nr || !e->algorithms)
		return -ENODEV;
	return 0;
}

const struct mktme_backend * __init mktme_hw_probe(void)
{
	u64 act, cap, part, other;
	struct mktme_hw_enum e = { };
	unsigned int cpu;
	bool have_part;

	mktme_pconfig_enumerate();
	if (!boot_cpu_has(X86_FEATURE_TME) ||
	    !boot_cpu_has(X86_FEATURE_PCONFIG) ||
	    !mktme_pconfig_target_supported(MKTME_TARGET)) {
		pr_info("hw: no TME-MK (CPUID TME, PCONFIG, MKTME target)\n");
		return NULL;
	}
	if (rdmsrl_safe(MSR_TME_ACTIVATE, &act) ||
	    rdmsrl_safe(MSR_TME_CAPABILITY, &cap)) {
		pr_info("hw: TME MSRs unreadable\n");
		return NULL;
	}
	/* intel.c only prints a mismatch between CPUs; we must not use it. */
	for_each_online_cpu(cpu) {
		if (rdmsrl_safe_on_cpu(cpu, MSR_TME_ACTIVATE, &other) ||
		    other != act) {
			pr_err("hw: IA32_TME_ACTIVATE differs between CPUs\n");
			return NULL;
		}
	}
	have_part = !rdmsrl_safe(MSR_MKTME_KEYID_PARTITIONING, &part);
	if (mktme_hw_decode(act, cap, have_part ? &part : NULL, &e)) {
		pr_info("hw: TME-MK not usable (IA32_TME_ACTIVATE %#llx, KeyIDs %u, algorithms %#x)\n",
			act, e.nr_keyids, e.algorithms);
		return NULL;
	}

	mktme_hw_backend.keyid_bits = e.keyid_bits;
	mktme_hw_backend.nr_keyids = e.nr_keyids;
	mktme_hw_backend.algorithms = e.algorithms;

	/*
	 * We know of no hypervisor that gives a guest TME-MK (KVM does not
	 * enumerate TME or PCONFIG); one that does is a model, such as the
	 * project's QEMU (tools/qemu), which holds every key even where it
	 * transforms the pages (tme-ciphertext). Do not claim
	 * encryption there (sysfs encrypts), but keep every rule of the
	 * hardware, which is what the model is for.
	 */
	if (boot_cpu_has(X86_FEATURE_HYPERVISOR)) {
		mktme_hw_backend.model = true;
		pr_notice("hw: under a hypervisor: its TME-MK is taken for a model, and nothing is reported encrypted\n");
	}

	pr_info("hw: %u KeyIDs (%u KeyID bits), algorithms %#x\n",
		e.nr_keyids, e.keyid_bits, e.algorithms);
	return &mktme_hw_backend;
}
