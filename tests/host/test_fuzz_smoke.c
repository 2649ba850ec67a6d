// SPDX-License-Identifier: GPL-2.0
/*
 * The policy fuzzer (tests/fuzz/fuzz_policy.c, mk/fuzz.mk) in `make test`:
 * a short run with a fixed seed over a copy of the seed corpus, and every
 * corpus file on its own. Either must exit 0 with no sanitizer report.
 * `make fuzz` is the long run.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host.h"

#ifndef FUZZ_POLICY
#error "FUZZ_POLICY (the fuzzer binary) comes from mk/fuzz.mk"
#endif

/* About 15 s on a quiet 2-core machine (~16000 runs/s). */
#define SMOKE_RUNS "-runs=200000"

static char tmp[64];
static char corpus[96];
static char artifacts[128];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/mktme-fuzz-smoke-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
	snprintf(corpus, sizeof(corpus), "%s/corpus", tmp);
	snprintf(artifacts, sizeof(artifacts), "-artifact_prefix=%s/", tmp);
	cr_assert_eq(mkdir(corpus, 0755), 0);
}

static void teardown(void)
{
	if (tmp[0])
		nftw(tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(fuzz, .init = setup, .fini = teardown);

/* The seed corpus's file names, sorted; NULL-terminated. */
static char **corpus_files(size_t *n)
{
	struct dirent **de;
	char **names;
	int nr = scandir(FUZZ_CORPUS, &de, NULL, alphasort);

	cr_assert_gt(nr, 0, "no seed corpus in %s", FUZZ_CORPUS);
	names = calloc(nr + 1, sizeof(*names));
	cr_assert_not_null(names);
	*n = 0;
	for (int i = 0; i < nr; i++) {
		if (de[i]->d_name[0] != '.')
			cr_assert(asprintf(&names[(*n)++], "%s/%s", FUZZ_CORPUS, de[i]->d_name) > 0);
		free(de[i]);
	}
	free(de);
	return names;
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	cr_assert_not_null(in, "%s", from);
	cr_assert_not_null(out, "%s", to);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
}

/* Exit 0, and nothing from a sanitizer, libFuzzer's crash handler or the
 * harness's own checks. */
static void assert_clean(const struct run_result *r)
{
	static const char *const bad[] = {
		"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
		"ERROR: libFuzzer", "SUMMARY:", "fuzz_policy harness:", "deadly signal",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_null(strstr(r->err, bad[i]), "\"%s\" in the fuzzer's output:\n%s", bad[i],
			       r->err);
	cr_assert_eq(r->status, 0, "exit %d:\n%s", r->status, r->err);
}

Test(fuzz, seeded_run_is_clean, .timeout = 600)
{
	char *argv[] = { FUZZ_POLICY, "-seed=1", SMOKE_RUNS, "-timeout=10",
			 "-dict=" FUZZ_DICT, artifacts, corpus, NULL };
	struct run_result r;
	char **files, path[PATH_MAX];
	size_t n;

	/* A copy: libFuzzer adds what it finds to the first corpus directory. */
	files = corpus_files(&n);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", corpus, strrchr(files[i], '/') + 1);
		copy_file(files[i], path);
		free(files[i]);
	}
	free(files);

	run_cmd(&r, argv, NULL, (uid_t)-1);
	assert_clean(&r);
	cr_assert(strstr(r.err, "Done 200000 runs"), "did not finish its runs:\n%s", r.err);
	run_result_free(&r);
}

Test(fuzz, every_corpus_file_is_clean, .timeout = 300)
{
	struct run_result r;
	char **files, **argv;
	size_t n;

	files = corpus_files(&n);
	argv = calloc(n + 3, sizeof(*argv));
	cr_assert_not_null(argv);
	argv[0] = FUZZ_POLICY;
	argv[1] = artifacts;
	memcpy(argv + 2, files, n * sizeof(*files));

	run_cmd(&r, argv, NULL, (uid_t)-1);
	assert_clean(&r);
	for (size_t i = 0; i < n; i++) {
		char want[PATH_MAX + 16];

		snprintf(want, sizeof(want), "Executed %s in", files[i]);
		cr_assert(strstr(r.err, want), "%s was not run:\n%s", files[i], r.err);
		free(files[i]);
	}
	free(files);
	free(argv);
	run_result_free(&r);
}
