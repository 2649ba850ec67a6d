// SPDX-License-Identifier: GPL-2.0
/*
 * Which capabilities an operation needs: those the kernel itself checks for
 * the calls it makes, so that a caller without them is told so before
 * anything is changed, instead of failing half-way with EPERM. From the
 * 6.12 tree (kernel/bpf/syscall.c):
 *
 *   CAP_BPF        BPF_MAP_CREATE while kernel.unprivileged_bpf_disabled is
 *                  set (map_create(); CONFIG_BPF_UNPRIV_DEFAULT_OFF, Debian's
 *                  default), which every new generation needs
 *                  (policy_switch()); BPF_PROG_LOAD of anything but socket
 *                  filters and BPF_BTF_LOAD (bpf_prog_load(), bpf_btf_load())
 *   CAP_PERFMON    BPF_PROG_LOAD of BPF_PROG_TYPE_LSM (is_perfmon_prog_type())
 *   CAP_SYS_ADMIN  BPF_MAP_GET_FD_BY_ID, BPF_PROG_GET_FD_BY_ID and
 *                  BPF_BTF_GET_FD_BY_ID: reading the generation in force
 *                  (policy_current()) and giving a new one its BTF
 *
 * Attaching the LSM links (BPF_LINK_CREATE), map updates through pinned
 * maps and bpffs pins check no capability, only file permissions on bpffs;
 * keyctl checks none (the policy decides). All are capable() checks: the
 * effective set, in the initial user namespace. mktmectl does not use BPF
 * tokens, so bpf_token_capable() is capable() for it.
 */
#include "main.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

static const struct {
	unsigned int bit;
	cap_value_t cap;
	const char *name;
} caps[] = {
	{ NEED_SYS_ADMIN, CAP_SYS_ADMIN, "CAP_SYS_ADMIN" },
	{ NEED_BPF, CAP_BPF, "CAP_BPF" },
	{ NEED_PERFMON, CAP_PERFMON, "CAP_PERFMON" },
};

/*
 * capable() asks about the initial user namespace; capabilities held in
 * another one (root in a container's user namespace) do not count. Its
 * uid_map maps every uid to itself; any other namespace's cannot. An
 * unreadable uid_map (other than absent) counts as another namespace.
 */
static bool initial_userns(void)
{
	FILE *f = fopen("/proc/self/uid_map", "r");
	unsigned long a, b, n;
	bool init;

	/* No such file: a kernel without CONFIG_USER_NS, only the initial one. */
	if (!f)
		return errno == ENOENT;
	init = fscanf(f, "%lu %lu %lu", &a, &b, &n) == 3 && a == 0 && b == 0 && n == 4294967295UL;
	fclose(f);
	return init;
}

/* The bits of @need that are missing from the effective set. */
static bool effective(cap_t cur, cap_value_t cap)
{
	cap_flag_value_t v = CAP_CLEAR;

	return cur && !cap_get_flag(cur, cap, CAP_EFFECTIVE, &v) && v == CAP_SET;
}

static unsigned int missing(unsigned int need, bool *userns)
{
	cap_t cur = cap_get_proc();
	unsigned int miss = 0;

	*userns = !initial_userns();
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if ((need & caps[i].bit) && (*userns || !effective(cur, caps[i].cap)))
			miss |= caps[i].bit;
	}
	/*
	 * As the kernel: CAP_SYS_ADMIN also grants CAP_BPF and CAP_PERFMON
	 * (bpf_ns_capable() in kernel/bpf/token.c, bpf_capable() and
	 * perfmon_capable() in include/linux/capability.h).
	 */
	if (!(miss & NEED_SYS_ADMIN) && !*userns && effective(cur, CAP_SYS_ADMIN))
		miss &= ~(NEED_BPF | NEED_PERFMON);
	cap_free(cur);
	return miss;
}

bool have_caps(unsigned int need)
{
	bool userns;

	return !missing(need, &userns);
}

static void names(char *buf, size_t len, unsigned int bits)
{
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (bits & caps[i].bit)
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? ", " : "",
				 caps[i].name);
}

int need_caps(const char *what, unsigned int need)
{
	char want[128], miss[128];
	bool userns;
	unsigned int m = missing(need, &userns);

	if (!m)
		return EXIT_OK;
	names(want, sizeof(want), need);
	names(miss, sizeof(miss), m);
	return fail(EXIT_PERM, "%s needs %s (effective, in the initial user namespace); missing: %s%s. Nothing was changed.",
		    what, want, miss,
		    userns ? " (this process is in a user namespace: capabilities there do not count)" : "");
}
