// SPDX-License-Identifier: GPL-2.0
/*
 * The tooling fails loudly and says what happened: a missing package, a guest
 * kernel that panics, a guest command that hangs, a missing kernel. And when
 * things work, the guest command's status, output and directory come through.
 * And the kernel side passes checkpatch.
 */
#include <criterion/criterion.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

#define VM "tools/vm/run"

Test(deps, check_names_the_missing_package)
{
	struct run_result r;
	char *argv[] = { "scripts/deps.sh", "--check", NULL };
	char *env[] = { "MKTME_DEPS_EXTRA=mktme-no-such-package", NULL };

	run_cmd(&r, argv, env, (uid_t)-1);
	cr_assert_eq(r.status, 1, "exit %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "missing: mktme-no-such-package"), "stderr: %s", r.err);
	run_result_free(&r);
}

Test(deps, check_passes_when_everything_is_installed)
{
	struct run_result r;
	char *argv[] = { "scripts/deps.sh", "--check", NULL };

	run_cmd(&r, argv, NULL, (uid_t)-1);
	cr_assert_eq(r.status, 0, "exit %d, stderr: %s", r.status, r.err);
	run_result_free(&r);
}

Test(deps, non_root_says_what_to_install_and_installs_nothing)
{
	struct run_result r;
	/*
	 * The checkout may not be reachable by nobody (a clone under a 0700
	 * mktemp directory): run a copy of the self-contained script from a
	 * directory anyone can enter.
	 */
	char dir[] = "/tmp/mktme-deps-XXXXXX", script[64];
	char *argv[] = { script, NULL };
	char *env[] = { "MKTME_DEPS_EXTRA=mktme-no-such-package", NULL };
	struct run_result cp;

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0755), 0);
	snprintf(script, sizeof(script), "%s/deps.sh", dir);
	char *cpargv[] = { "/bin/cp", "scripts/deps.sh", script, NULL };

	run_cmd(&cp, cpargv, NULL, (uid_t)-1);
	cr_assert_eq(cp.status, 0, "copy deps.sh: %s", cp.err);
	run_result_free(&cp);
	run_cmd(&r, argv, env, 65534);
	unlink(script);
	rmdir(dir);
	cr_assert_eq(r.status, 1, "exit %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "not root"), "stderr: %s", r.err);
	cr_assert(strstr(r.err, "apt-get install mktme-no-such-package"), "stderr: %s", r.err);
	run_result_free(&r);
}

Test(vm, passes_status_output_and_directory_through)
{
	struct run_result r;
	char cwd[4096], script[8192];

	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(script, sizeof(script),
		 "echo guest-says-hello; test \"$PWD\" = '%s' || exit 9; exit 7", cwd);
	char *argv[] = { VM, "--timeout", "120", "--", "/bin/sh", "-c", script, NULL };

	run_cmd(&r, argv, NULL, (uid_t)-1);
	cr_assert_eq(r.status, 7, "exit %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.out, "guest-says-hello"), "stdout: %s", r.out);
	run_result_free(&r);
}

Test(vm, hung_command_times_out_with_console_tail)
{
	struct run_result r;
	/*
	 * The bound covers the boot too: 25 s was too short for a boot on a
	 * loaded 2-core host, which then timed out before the command.
	 */
	char *argv[] = { VM, "--timeout", "90", "--", "/bin/sh", "-c", "echo hanging-now; sleep 1000", NULL };

	run_cmd(&r, argv, NULL, (uid_t)-1);
	cr_assert_eq(r.status, 124, "exit %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "timeout: the command was still running"), "stderr: %s", r.err);
	cr_assert(strstr(r.err, "hanging-now"), "console tail missing: %s", r.err);
	run_result_free(&r);
}

Test(vm, kernel_panic_is_reported)
{
	struct run_result r;
	char *argv[] = { VM, "--timeout", "120", "--", "/bin/sh", "-c", "echo c >/proc/sysrq-trigger; sleep 60", NULL };

	run_cmd(&r, argv, NULL, (uid_t)-1);
	cr_assert_eq(r.status, 125, "exit %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "the guest kernel panicked"), "stderr: %s", r.err);
	run_result_free(&r);
}

Test(vm, missing_kernel_is_reported)
{
	struct run_result r;
	char *argv[] = { VM, "--", "true", NULL };
	char *env[] = { "MKTME_BZIMAGE=/nonexistent/bzImage", NULL };

	run_cmd(&r, argv, env, (uid_t)-1);
	cr_assert_eq(r.status, 2, "exit %d, stderr: %s", r.status, r.err);
	cr_assert(strstr(r.err, "no kernel at /nonexistent/bzImage"), "stderr: %s", r.err);
	run_result_free(&r);
}

/*
 * A checkout anywhere works, a tmpfs under /tmp included (the guest's own /tmp
 * is a tmpfs that hides the host's), with blanks and commas in its path: the
 * runner shares the checkout, the working directory and the output directory
 * at their own paths. The "checkout" is a copy of tools/vm in a private mount
 * namespace; the command reads a file of it and writes into --out.
 */
Test(vm, checkout_under_a_tmpfs_path_runs_a_guest_command)
{
	struct run_result r;
	char dir[] = "/tmp/mktme-clone-XXXXXX", kernel[4096], env_kernel[4200];
	char script[8192];

	cr_assert_not_null(mkdtemp(dir));
	const char *bz = getenv("MKTME_BZIMAGE");

	cr_assert_not_null(realpath(bz ? bz : "build/kernel/obj/arch/x86/boot/bzImage", kernel),
			   "no kernel: make kernel");
	snprintf(env_kernel, sizeof(env_kernel), "MKTME_BZIMAGE=%s", kernel);
	snprintf(script, sizeof(script),
		 "set -e; mount -t tmpfs tmpfs '%s'; c='%s/my clone,1'; mkdir -p \"$c/tools\";"
		 "cp -r tools/vm \"$c/tools/\"; cd \"$c\"; echo from-the-clone >marker;"
		 "printf '%%s\\n' '#!/bin/sh' 'test \"$PWD\" = \"$1\" || exit 9'"
		 " 'test \"$(cat marker)\" = from-the-clone || exit 10'"
		 " 'echo from-the-guest >\"$1/out/written\"' 'exit 7' >check.sh; chmod +x check.sh;"
		 "set +e; tools/vm/run --timeout 120 --out \"$c/out\" -- \"$c/check.sh\" \"$c\"; rc=$?;"
		 "test \"$(cat \"$c/out/written\")\" = from-the-guest || exit 11; exit $rc",
		 dir, dir);
	char *argv[] = { "/usr/bin/unshare", "--mount", "--propagation", "private",
			 "/bin/sh", "-c", script, NULL };
	char *env[] = { env_kernel, NULL };

	run_cmd(&r, argv, env, (uid_t)-1);
	rmdir(dir);
	cr_assert_eq(r.status, 7, "exit %d, stdout: %s\nstderr: %s", r.status, r.out, r.err);
	run_result_free(&r);
}

/*
 * The kernel side stays in kernel style: make check (scripts/checkpatch.sh,
 * the kernel tree's checkpatch.pl over kernel/src and every patch in
 * kernel/patches/series) is part of make test, not only a target to remember.
 */
static void checkpatch_env(char *buf, size_t len)
{
	const char *b = getenv("MKTME_TEST_BUILD");
	char build[4096];

	cr_assert_not_null(realpath(b ? b : "build", build), "no build directory: make kernel");
	snprintf(buf, len, "MKTME_BUILD=%s", build);
}

Test(style, kernel_sources_and_patches_are_checkpatch_clean, .timeout = 600)
{
	struct run_result r;
	char env_build[4200];
	char *argv[] = { "scripts/checkpatch.sh", NULL };
	char *env[] = { env_build, NULL };

	checkpatch_env(env_build, sizeof(env_build));
	run_cmd(&r, argv, env, (uid_t)-1);
	cr_assert_eq(r.status, 0, "exit %d:\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "checkpatch: clean"), "stdout: %s", r.out);
	run_result_free(&r);
}

/* ... and the check can fail: a tree whose one kernel file breaks the style. */
Test(style, checkpatch_names_a_file_that_breaks_the_style, .timeout = 120)
{
	struct run_result r;
	char dir[] = "/tmp/mktme-style-XXXXXX", env_build[4200], script[8192];

	checkpatch_env(env_build, sizeof(env_build));
	cr_assert_not_null(mkdtemp(dir));
	snprintf(script, sizeof(script),
		 "set -e; mkdir -p '%s/scripts' '%s/kernel/src'; cp scripts/checkpatch.sh '%s/scripts/';"
		 "printf '%%s\\n' '// SPDX-License-Identifier: GPL-2.0' 'int f(void){return 0;}'"
		 " >'%s/kernel/src/bad.c'; set +e; '%s/scripts/checkpatch.sh'; rc=$?; rm -rf '%s'; exit $rc",
		 dir, dir, dir, dir, dir, dir);
	char *argv[] = { "/bin/sh", "-c", script, NULL };
	char *env[] = { env_build, NULL };

	run_cmd(&r, argv, env, (uid_t)-1);
	cr_assert_eq(r.status, 1, "exit %d:\n%s%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "kernel/src/bad.c") && !strstr(r.out, "checkpatch: clean"),
		  "stdout: %s", r.out);
	run_result_free(&r);
}
