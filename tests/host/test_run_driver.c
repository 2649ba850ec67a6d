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

/*
 * A Criterion stand-in with the tests named in @tests (blank-separated), as
 * run-in-guest drives it: "--list" lists them, "--filter fake/NAME --tap=FILE"
 * runs one. @cases is a bash case body run for that test: "NAME) ...;;" lines
 * that may call "result ok" or "result 'not ok'" (the TAP line Criterion would
 * write), exit, hang or kill; any other test passes.
 */
static void fake_suite(struct driver *d, const char *name, const char *tests, const char *cases)
{
	char path[512], body[4096];

	snprintf(path, sizeof(path), "%s/tests/guest/%s", d->build, name);
	snprintf(body, sizeof(body),
		 "tests='%s'\n"
		 "if [ \"$1\" = --list ]; then\n"
		 "  set -- $tests; echo \"fake: $# tests\"\n"
		 "  for t; do echo \"├── $t\"; done; exit 0\n"
		 "fi\n"
		 "for a; do case $a in --tap=*) tap=${a#--tap=} ;; fake/*) tc=${a#fake/} ;; esac; done\n"
		 "result() { printf 'TAP version 13\\n1..1\\n%%s - fake::%%s  (0.00s)\\n' \"$1\" \"$tc\" >\"$tap\"; }\n"
		 "case $tc in\n%s\n*) result ok ;;\nesac\n",
		 tests, cases);
	write_script(path, body);
}

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
		fake_suite(d, name, "passes", "");
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

/* tests/run @suites (one argument, e.g. "guest" or "guest:test_policy"). */
static void driver_run_suites(struct driver *d, struct run_result *r, char *suites,
			      char *extra_env)
{
	char *argv[] = { "tests/run", suites, NULL };
	char *env[] = { d->env_build, d->env_out, d->env_runner, extra_env, NULL };

	run_cmd(r, argv, env, (uid_t)-1);
}

static void driver_run(struct driver *d, struct run_result *r, char *extra_env)
{
	driver_run_suites(d, r, "guest", extra_env);
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

/*
 * guest:NAMES splits a long run (the debug kernel's) over several
 * invocations: only the named suites run, the main boot only if one of its
 * suites is named, and the rest is neither run nor counted.
 */
Test(run_driver, guest_names_run_only_those_suites)
{
	struct driver d;
	struct run_result r;
	char path[256];
	struct stat st;

	driver_init(&d);
	driver_run_suites(&d, &r, "guest:test_policy,selftests", NULL);
	cr_assert_eq(r.status, 0, "exit %d:\n%s\n%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "guest/test_policy ["), "test_policy did not run:\n%s", r.out);
	cr_assert(strstr(r.out, "selftests/memfd_secret:"), "the selftests did not run:\n%s", r.out);
	cr_assert_null(strstr(r.out, "guest/test_core_map"), "an unnamed suite ran:\n%s", r.out);
	cr_assert_null(strstr(r.out, "guest/test_cli"), "an unnamed suite ran:\n%s", r.out);
	snprintf(path, sizeof(path), "%s/guest-main", d.out);
	cr_assert_neq(stat(path, &st), 0, "the main boot ran with none of its suites named");
	run_result_free(&r);

	/* A suite of the main boot: that boot, with that suite alone. */
	driver_run_suites(&d, &r, "guest:test_core_map", NULL);
	cr_assert_eq(r.status, 0, "exit %d:\n%s\n%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "guest/test_core_map:"), "test_core_map did not run:\n%s", r.out);
	cr_assert_null(strstr(r.out, "guest/test_core_keys"), "an unnamed suite ran:\n%s", r.out);
	cr_assert_null(strstr(r.out, "selftests/"), "the selftests ran unnamed:\n%s", r.out);
	run_result_free(&r);

	/* Its failures still fail the run. */
	fake_suite(&d, "test_policy", "good bad", "bad) result 'not ok'; exit 1 ;;");
	driver_run_suites(&d, &r, "guest:test_policy", NULL);
	assert_failed_with(&r, "guest/test_policy [");
	run_result_free(&r);
	driver_fini(&d);
}

/* A mistyped name must not make a run of nothing that passes. */
Test(run_driver, a_guest_name_that_is_no_suite_is_refused)
{
	struct driver d;
	struct run_result r;
	struct stat st;

	driver_init(&d);
	driver_run_suites(&d, &r, "guest:test_polcy", NULL);
	cr_assert_eq(r.status, 2, "exit %d:\n%s\n%s", r.status, r.out, r.err);
	cr_assert(strstr(r.err, "test_polcy in guest:test_polcy is not a guest suite"), "%s", r.err);
	cr_assert(strstr(r.err, "nothing ran"), "%s", r.err);
	cr_assert_neq(stat(d.out, &st), 0, "results were written: %s", d.out);
	run_result_free(&r);
	/* A hw-only suite runs under hwmodel, not here. */
	driver_run_suites(&d, &r, "guest:test_hw_cipher", NULL);
	cr_assert_eq(r.status, 2, "exit %d:\n%s\n%s", r.status, r.out, r.err);
	run_result_free(&r);
	driver_run_suites(&d, &r, "guest:", NULL);
	cr_assert_eq(r.status, 2, "exit %d:\n%s\n%s", r.status, r.out, r.err);
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

/*
 * The runner's note that it fell back to TCG is no kernel report: a failing
 * test in a suite of its own boot is that test's failure alone (it was also
 * counted as "kernel-log" on hosts with an unusable /dev/kvm).
 */
Test(run_driver, the_tcg_fallback_note_is_not_a_kernel_report)
{
	struct driver d;
	struct run_result r;

	driver_init(&d);
	fake_suite(&d, "test_policy", "good bad", "bad) result 'not ok'; exit 1 ;;");
	driver_run(&d, &r, "FAKE_VM_TCG_NOTE=1");
	assert_failed_with(&r, "guest/test_policy []:");
	cr_assert_null(strstr(r.out, "kernel-log"), "the TCG note counted as a kernel report:\n%s", r.out);
	cr_assert(strstr(r.out, "\n0 passed, 1 failed") || strstr(r.out, " passed, 1 failed\n"),
		  "not exactly one failure:\n%s", r.out);
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
	fake_suite(&d, "test_chain", "", "");
	driver_run(&d, &r, NULL);
	assert_failed_with(&r, "ran no tests (TAP plan 1..0)");
	run_result_free(&r);
	driver_fini(&d);
}

/* A test killed part-way loses its own result only: the others still run. */
Test(run_driver, a_test_killed_part_way_fails_alone)
{
	struct driver d;
	struct run_result r;

	driver_init(&d);
	fake_suite(&d, "test_core_keys", "first second third", "second) kill -9 $$ ;;");
	driver_run(&d, &r, NULL);
	assert_failed_with(&r, "guest/test_core_keys:                    2 passed, 1 failed\n");
	cr_assert(strstr(r.out, "not ok 2 - fake::second # no result (exit 137)"), "%s", r.out);
	run_result_free(&r);
	driver_fini(&d);
}

/* A hung test is killed by run-in-guest's guard; the rest of its binary runs. */
Test(run_driver, a_hung_test_is_killed_alone)
{
	struct driver d;
	struct run_result r;

	driver_init(&d);
	fake_suite(&d, "test_core_map", "first hangs last", "hangs) sleep 1000 ;;");
	driver_run(&d, &r, "MKTME_TEST_TIMEOUT=2");
	assert_failed_with(&r, "guest/test_core_map:                     2 passed, 1 failed\n");
	cr_assert(strstr(r.out, "not ok 2 - fake::hangs # killed after 2s"), "%s", r.out);
	run_result_free(&r);
	driver_fini(&d);
}

/*
 * The guest dies while a test runs (here: run-in-guest itself is killed, as
 * a panic or the runner's timeout would): the results written before it
 * stay, and the rest of the plan counts as failed.
 */
Test(run_driver, a_guest_dying_part_way_keeps_earlier_results)
{
	struct driver d;
	struct run_result r;

	driver_init(&d);
	/* $PPID is timeout(1); its parent is run-in-guest. */
	fake_suite(&d, "test_core_keys", "first second third",
		   "second) kill -9 $(ps -o ppid= -p $PPID) ;;");
	driver_run(&d, &r, NULL);
	assert_failed_with(&r, "2 of 3 planned results missing");
	cr_assert(strstr(r.out, "guest/test_core_keys:                    1 passed, 2 failed"), "%s", r.out);
	run_result_free(&r);
	driver_fini(&d);
}

/* A failing test's line and Criterion's diagnostics under it reach the report. */
Test(run_driver, a_failing_test_is_named)
{
	struct driver d;
	struct run_result r;

	driver_init(&d);
	fake_suite(&d, "test_core_lsm", "good bad",
		   "bad) result 'not ok'; echo '  fake.c:1: Assertion failed' >>\"$tap\"; exit 1 ;;");
	driver_run(&d, &r, NULL);
	assert_failed_with(&r, "guest/test_core_lsm:                     1 passed, 1 failed\n");
	cr_assert(strstr(r.out, "not ok 2 - fake::bad"), "%s", r.out);
	run_result_free(&r);
	driver_fini(&d);
}

/*
 * run-in-guest's guard on one test must stay above every Criterion
 * .timeout of the guest suites, or it would kill a slow test that Criterion
 * still allows, and no report would say why. Both scale by the same factor
 * under the debug kernel: run-in-guest's at run time, GUEST_TIMEOUT() at build.
 */
Test(run_driver, the_guard_on_a_test_is_above_every_criterion_timeout)
{
	char line[512];
	long guard = 0, worst = 0;
	FILE *f = fopen("tests/guest/run-in-guest", "r");
	DIR *src = opendir("tests/guest");
	struct dirent *e;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TEST_TIMEOUT=%ld", &guard) == 1)
			break;
	fclose(f);
	cr_assert_gt(guard, 0, "no TEST_TIMEOUT= default in run-in-guest");
	cr_assert_not_null(src);
	while ((e = readdir(src))) {
		char path[512];
		const char *p;
		long t;

		if (strncmp(e->d_name, "test_", 5) || !strstr(e->d_name, ".c"))
			continue;
		snprintf(path, sizeof(path), "tests/guest/%s", e->d_name);
		f = fopen(path, "r");
		cr_assert_not_null(f, "%s", path);
		while (fgets(line, sizeof(line), f)) {
			p = strstr(line, ".timeout = ");
			if (!p)
				continue;
			/* A bare number would not be scaled for the debug kernel. */
			cr_assert(!strncmp(p, ".timeout = GUEST_TIMEOUT(", strlen(".timeout = GUEST_TIMEOUT(")),
				  "%s: a .timeout that is not GUEST_TIMEOUT(seconds): %s", path, line);
			t = atol(p + strlen(".timeout = GUEST_TIMEOUT("));
			cr_assert_gt(t, 0, "%s: %s", path, line);
			if (t > worst)
				worst = t;
			cr_assert_lt(t + 30, guard, "%s: .timeout = %ld, run-in-guest's guard is %ld s", path, t, guard);
		}
		fclose(f);
	}
	closedir(src);
	cr_assert_gt(worst, 0, "no .timeout found in tests/guest: the check checked nothing");
}

/* ---- KUnit: its results come from the boot's kernel log ------------------- */

static void driver_run_kunit(struct driver *d, struct run_result *r, char *dmesg_env)
{
	char *argv[] = { "tests/run", "kunit", NULL };
	char *env[] = { d->env_build, d->env_out, d->env_runner, dmesg_env, NULL };

	run_cmd(r, argv, env, (uid_t)-1);
}

/*
 * A kernel log holding the KTAP of every suite in tests/kunit/expected-suites
 * but @skip (NULL: none), each with one passing test, written to
 * DIR/dmesg; the real kunit.py of the kernel build reads it.
 */
static void kunit_log(struct driver *d, const char *skip, char *env, size_t envlen)
{
	char path[200], line[256], cwd[4096], cmd[8800];
	FILE *in = fopen("tests/kunit/expected-suites", "r"), *out;
	int n = 0;

	cr_assert_not_null(in);
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/kernel/src/tools/testing && ln -s %s/build/kernel/src/tools/testing/kunit %s/kernel/src/tools/testing/kunit",
		 d->build, cwd, d->build);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(path, sizeof(path), "%s/dmesg", d->dir);
	out = fopen(path, "w");
	cr_assert_not_null(out);
	char names[64][256];
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0] || line[0] == '#' || (skip && !strcmp(line, skip)))
			continue;
		cr_assert_lt(n, 64);
		snprintf(names[n++], sizeof(names[0]), "%s", line);
	}
	fclose(in);
	fprintf(out, "[    0.000000] Linux version 6.12.0-fake\n[    1.000000] KTAP version 1\n"
		     "[    1.000000] 1..%d\n", n);
	for (int i = 0; i < n; i++)
		fprintf(out, "[    1.000000]     KTAP version 1\n[    1.000000]     # Subtest: %s\n"
			     "[    1.000000]     1..1\n[    1.000000]     ok 1 fake_case\n"
			     "[    1.000000] ok %d %s\n", names[i], i + 1, names[i]);
	fclose(out);
	cr_assert_gt(n, 1, "tests/kunit/expected-suites names too few suites");
	snprintf(env, envlen, "FAKE_VM_DMESG=%s", path);
}

Test(run_driver, kunit_all_expected_suites_pass)
{
	struct driver d;
	struct run_result r;
	char env[300];

	driver_init(&d);
	kunit_log(&d, NULL, env, sizeof(env));
	driver_run_kunit(&d, &r, env);
	cr_assert_eq(r.status, 0, "exit %d:\n%s\n%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "kunit/mktme_pte:"), "%s", r.out);
	run_result_free(&r);
	driver_fini(&d);
}

Test(run_driver, kunit_missing_suite_fails)
{
	struct driver d;
	struct run_result r;
	char env[300];

	driver_init(&d);
	kunit_log(&d, "mktme_pte", env, sizeof(env));
	driver_run_kunit(&d, &r, env);
	assert_failed_with(&r, "suite mktme_pte expected (tests/kunit/expected-suites) but did not run");
	run_result_free(&r);
	driver_fini(&d);
}

/* kunit.py writes its JSON even from a log with no KTAP in it. */
Test(run_driver, kunit_no_ktap_fails)
{
	struct driver d;
	struct run_result r;
	char env[300], path[256];
	FILE *f;

	driver_init(&d);
	kunit_log(&d, NULL, env, sizeof(env));
	snprintf(path, sizeof(path), "%s/dmesg", d.dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "[    0.000000] Linux version 6.12.0-fake\n[    1.000000] Run /init as init process\n");
	fclose(f);
	driver_run_kunit(&d, &r, env);
	assert_failed_with(&r, "no KTAP output in the guest's kernel log");
	run_result_free(&r);
	driver_fini(&d);
}

/* A kunit.py that crashes, and one whose JSON cannot be read: both fail. */
Test(run_driver, kunit_parser_failures_fail)
{
	static const char *const fakes[][2] = {
		/* run as python3 kunit.py */
		{ "import sys\nsys.exit('Traceback: boom')", "kunit.py parse wrote no results (exit 1" },
		{ "import sys\nfor a in sys.argv:\n    if a.startswith('--json='):\n        open(a[7:], 'w').write('{not json')",
		  "failed (exit 1)" },
	};

	for (size_t i = 0; i < sizeof(fakes) / sizeof(fakes[0]); i++) {
		struct driver d;
		struct run_result r;
		char env[300], path[512], cmd[600];

		driver_init(&d);
		kunit_log(&d, NULL, env, sizeof(env));
		snprintf(cmd, sizeof(cmd), "rm %s/kernel/src/tools/testing/kunit && mkdir %s/kernel/src/tools/testing/kunit",
			 d.build, d.build);
		cr_assert_eq(system(cmd), 0);
		snprintf(path, sizeof(path), "%s/kernel/src/tools/testing/kunit/kunit.py", d.build);
		write_script(path, fakes[i][0]);
		driver_run_kunit(&d, &r, env);
		assert_failed_with(&r, fakes[i][1]);
		run_result_free(&r);
		driver_fini(&d);
	}
}
