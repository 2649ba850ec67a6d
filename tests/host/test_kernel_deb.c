// SPDX-License-Identifier: GPL-2.0
/*
 * make kernel-deb's configuration, without the hours of building: Debian's
 * own 6.12 configuration (linux-config-6.12) plus the mktme options, through
 * merge_config.sh and olddefconfig on the patched tree that kernel/build.sh
 * made, must keep every mktme option; and the check must catch an option that
 * does not stick.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

static char tmp[64];

static void mktmp(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/mktme-kdeb-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
}

static void rmtmp(void)
{
	struct run_result r;
	char *argv[] = { "/bin/rm", "-rf", tmp, NULL };

	run_cmd(&r, argv, NULL, (uid_t)-1);
	run_result_free(&r);
}

/* Under a shared lock of the kernel tree: never read it while kernel/build.sh rewrites it. */
static void configure(struct run_result *r, const char *fragment)
{
	char script[1024], frag[600];

	snprintf(frag, sizeof(frag), "MKTME_HOST_FRAGMENT=%s", fragment ? fragment : "");
	snprintf(script, sizeof(script),
		 "test -d build/kernel/src || { echo 'no build/kernel/src: build the kernel first (make kernel)' >&2; exit 99; }; "
		 "exec flock -s build/kernel/.lock packaging/kernel-deb config build/kernel/src %s/obj", tmp);
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	char *env[] = { frag, NULL };

	run_cmd(r, argv, fragment ? env : NULL, (uid_t)-1);
}

/* OPT's value in the resulting .config ("n" for "is not set" or absent). */
static char *config_value(const char *opt)
{
	char path[128], line[4096];
	size_t n = strlen(opt);
	FILE *f;

	snprintf(path, sizeof(path), "%s/obj/.config", tmp);
	f = fopen(path, "r");
	cr_assert_not_null(f, "no %s", path);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, opt, n) && line[n] == '=') {
			fclose(f);
			line[strcspn(line, "\n")] = '\0';
			return strdup(line + n + 1);
		}
	}
	fclose(f);
	return strdup("n");
}

TestSuite(kernel_deb, .init = mktmp, .fini = rmtmp, .timeout = 600);

Test(kernel_deb, debian_config_keeps_every_mktme_option)
{
	struct run_result r;
	char line[512], *v;
	FILE *f;
	int n = 0;

	configure(&r, NULL);
	cr_assert_eq(r.status, 0, "exit %d\n%s%s", r.status, r.out, r.err);
	run_result_free(&r);
	/* Every CONFIG_MKTME* of the guest's fragment, its test-only options aside, is set as there. */
	f = fopen("kernel/config/mktme.fragment", "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');

		if (strncmp(line, "CONFIG_MKTME", 12) || !eq || !strncmp(line, "CONFIG_MKTME_KUNIT_TEST=", 24) ||
		    !strncmp(line, "CONFIG_MKTME_EMULATE=", 21))
			continue;
		*eq = '\0';
		eq[1 + strcspn(eq + 1, "\n")] = '\0';
		v = config_value(line);
		cr_expect_str_eq(v, eq + 1, "%s: %s, wanted %s", line, v, eq + 1);
		free(v);
		n++;
	}
	fclose(f);
	cr_assert_geq(n, 1, "no CONFIG_MKTME option in kernel/config/mktme.fragment?");
	v = config_value("CONFIG_MKTME_KUNIT_TEST");
	cr_expect_str_eq(v, "n", "KUnit suite in a production kernel: %s", v);
	free(v);
	/* The emulated backend encrypts nothing: never in a kernel for real machines. */
	v = config_value("CONFIG_MKTME_EMULATE");
	cr_expect_str_eq(v, "n", "emulated backend in a production kernel: %s", v);
	free(v);
	v = config_value("CONFIG_BPF_LSM");
	cr_expect_str_eq(v, "y");
	free(v);
	v = config_value("CONFIG_LSM");
	cr_expect(strstr(v, ",bpf"), "CONFIG_LSM=%s has no bpf", v);
	free(v);
	/* Debian's configuration, not the guest's minimal one. */
	v = config_value("CONFIG_NR_CPUS");
	cr_expect_str_eq(v, "8192", "CONFIG_NR_CPUS=%s: not Debian's amd64 configuration", v);
	free(v);
	v = config_value("CONFIG_VIRTIO_BLK");
	cr_expect_str_eq(v, "m", "CONFIG_VIRTIO_BLK=%s: not Debian's amd64 configuration", v);
	free(v);
}

Test(kernel_deb, an_option_that_does_not_stick_fails)
{
	struct run_result r;
	char frag[128];
	FILE *f;

	/* Debian's configuration selects KEYS from many places: n cannot stick. */
	snprintf(frag, sizeof(frag), "%s/bad.fragment", tmp);
	f = fopen(frag, "w");
	cr_assert_not_null(f);
	fputs("CONFIG_MKTME=y\nCONFIG_KEYS=n\n", f);
	fclose(f);
	configure(&r, frag);
	cr_assert_eq(r.status, 1, "exit %d\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.err, "CONFIG_KEYS: wanted n") && strstr(r.err, "nothing built"), "stderr: %s", r.err);
	run_result_free(&r);
}
