// SPDX-License-Identifier: GPL-2.0
/*
 * tests/run cannot report green while something broke: a guest suite whose
 * boot logged a kernel WARNING, a guest suite that was not built, one that
 * ran no test, one killed part-way. Each is driven here with a fake build
 * directory (scripts standing in for the test binaries) and a fake guest
 * runner (tests/host/vm/fake-vm-run, which runs the "guest" command on the
 * host), and must make the run fail with a line that says why. A control
 * run with everything fine passes.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"

struct driver {
	char dir[64];
	char build[128], out[160];
	char env_build[160], env_out[200], env_runner[4200];
};

static void write_script(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fprintf(f, "#!/bin/bash\n%s\n", body);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0755), 0);
}

/* A Criterion stand-in: "--jobs 1 --tap=FILE", @tap written to FILE, then @tail. */
static void fake_suite(struct driver *d, const char *name, const char *tap, const char *tail)
{
	char path[512], body[1024];

	snprintf(path, sizeof(path), "%s/tests/guest/%s", d->build, name);
	snprintf(body, sizeof(body),
		 "for a; do case $a in --tap=*) tap=${a#--tap=} ;; esac; done\n"
		 "printf '%s' >\"$tap\"\n%s", tap, tail);
	write_script(path, body);
}

#define TAP_OK "TAP version 13\\n1..1\\nok - fake::passes  (0.00s)\\n"

/* A fake build with every guest suite of the tree passing, and the selftests. */
static void driver_init(struct driver *d)
{
	char cwd[4096], path[512];
	DIR *src;
	struct dirent *e;

	strcpy(d->dir, "/tmp/mktme-driver-XXXXXX");
	cr_assert_not_null(mkdtemp(d->dir));
	snprintf(d->build, sizeof(d->build), "%s/build", d->dir);
	snprintf(d->out, sizeof(d->out), "%s/results", d->dir);
	snprintf(path, sizeof(path), "mkdir -p %s/tests/guest %s/tests/selftests", d->build, d->build);
	cr_assert_eq(system(path), 0);
	src = opendir("tests/guest");
	cr_assert_not_null(src);
	while ((e = readdir(src))) {
		size_t n = strlen(e->d_name);
		char name[256];

		if (strncmp(e->d_name, "test_", 5) || n < 3 || strcmp(e->d_name + n - 2, ".c"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - 2), e->d_name);
		fake_suite(d, name, TAP_OK, "exit 0");
	}
	closedir(src);
	snprintf(path, sizeof(path), "%s/tests/selftests/memfd_secret", d->build);
	write_script(path, "echo 1..1; echo 'ok 1 fake'");
	snprintf(path, sizeof(path), "%s/tests/selftests/protection_keys", d->build);
	write_script(path, "echo 'has pkeys: 1'; echo 'done (all tests OK)'");

	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(d->env_build, sizeof(d->env_build), "MKTME_TEST_BUILD=%s", d->build);
	snprintf(d->env_out, sizeof(d->env_out), "MKTME_TEST_OUT=%s", d->out);
	snprintf(d->env_runner, sizeof(d->env_runner), "MKTME_VM_RUNNER=%s/tests/host/vm/fake-vm-run", cwd);
}

static void driver_run(struct driver *d, struct run_result *r, char *extra_env)
{
	char *argv[] = { "tests/run", "guest", NULL };
	char *env[] = { d->env_build, d->env_out, d->env_runner, extra_env, NULL };

	run_cmd(r, argv, env, (uid_t)-1);
}

static void driver_fini(struct driver *d)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
	cr_assert_eq(system(cmd), 0);
}

/* The run failed, with @line in its output, and its last line counts a failure. */
static void assert_failed_with(struct run_result *r, const char *line)
{
	const char *last = r->out + strlen(r->out);
	long passed, failed;

	cr_assert_neq(r->status, 0, "the run passed:\n%s", r->out);
	cr_assert(strstr(r->out, line), "no \"%s\" in:\n%s", line, r->out);
	while (last > r->out && last[-1] == '\n')
		last--;
	while (last > r->out && last[-1] != '\n')
		last--;
	cr_assert_eq(sscanf(last, "%ld passed, %ld failed", &passed, &failed), 2,
		     "last line is not the total: %s", last);
	cr_assert_gt(failed, 0, "the total does not count the failure: %s", last);
}

Test(run_driver, all_fine_passes)
{
	struct driver d;
	struct run_result r;

	driver_init(&d);
	driver_run(&d, &r, NULL);
	cr_assert_eq(r.status, 0, "exit %d:\n%s\n%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, " passed, 0 failed\n"), "%s", r.out);
	run_result_free(&r);
	driver_fini(&d);
}

Test(run_driver, a_warning_in_a_suite_with_its_own_boot_fails)
{
	struct driver d;
	struct run_result r;

	driver_init(&d);
	driver_run(&d, &r, "FAKE_VM_WARN=test_policy");
	assert_failed_with(&r, "guest/test_policy/kernel-log:");
	cr_assert(strstr(r.out, "WARNING: CPU: 0 PID: 1 at mm/fake.c:1"), "the warning is not shown:\n%s", r.out);
	run_result_free(&r);
	driver_fini(&d);
}

Test(run_driver, a_warning_in_the_main_boot_fails)
{
	struct driver d;
	struct run_result r;

	driver_init(&d);
	driver_run(&d, &r, "FAKE_VM_WARN=test_core_map");
	assert_failed_with(&r, "guest/kernel-log:");
	/* The failure's own line names the report (make test-debug's KASAN,
	 * lockdep, kmemleak... come through the same way). */
	assert_failed_with(&r, "1 kernel report(s), first: WARNING: CPU: 0 PID: 1 at mm/fake.c:1");
	run_result_free(&r);
	driver_fini(&d);
}

Test(run_driver, a_suite_that_was_not_built_fails)
{
	struct driver d;
	struct run_result r;
	char path[256];

	driver_init(&d);
	snprintf(path, sizeof(path), "%s/tests/guest/test_core_map", d.build);
	cr_assert_eq(unlink(path), 0);
	driver_run(&d, &r, NULL);
	assert_failed_with(&r, "guest/test_core_map:");
	cr_assert(strstr(r.out, "not built: "), "%s", r.out);
	run_result_free(&r);
	driver_fini(&d);
}

Test(run_driver, a_suite_that_ran_no_test_fails)
{
	struct driver d;
	struct run_result r;

	driver_init(&d);
	fake_suite(&d, "test_chain", "TAP version 13\\n1..0\\n", "exit 0");
	driver_run(&d, &r, NULL);
	assert_failed_with(&r, "ran no tests (TAP plan 1..0)");
	run_result_free(&r);
	driver_fini(&d);
}

Test(run_driver, a_suite_killed_part_way_fails)
{
	struct driver d;
	struct run_result r;

	driver_init(&d);
	fake_suite(&d, "test_core_keys", "TAP version 13\\n1..3\\nok - fake::first  (0.00s)\\n",
		   "kill -9 $$");
	driver_run(&d, &r, NULL);
	assert_failed_with(&r, "2 of 3 planned results missing");
	run_result_free(&r);
	driver_fini(&d);
}
