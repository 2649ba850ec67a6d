// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the input is a policy file, taken through everything
 * `mktmectl policy check` does (policy_check.c) short of reading it from disk:
 * parse, resolve, compile, then the text and JSON views of the result, or of
 * the error. Output goes to /dev/null; errors come back in struct diag.
 *
 * Cgroups resolve in a stand-in tree (a temporary directory made once per
 * process, as in tests/host/policy_test.h), never in /sys/fs/cgroup.
 * Executables are only stat()ed, as policy_resolve() does.
 *
 * Beyond what the sanitizers see, every input must end in exactly one of:
 * success, or an error with a message, this file's name and a sane position.
 *
 * mk/fuzz.mk builds it; `make fuzz` runs it; tests/host/test_fuzz_smoke.c
 * runs a short deterministic pass of it in `make test`.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "policy.h"

#define FUZZ_FILE "fuzz.yaml"

/*
 * One leak that is libfyaml's, not ours: in 0.7.12 (Debian 12's),
 * fy_atom_format_text() returns from inside its chunk loop without
 * fy_atom_iter_finish() when a chunk does not fit, leaving the iterator's
 * chunk array (grown past its startup chunks: a quoted scalar with many
 * escapes, such as a run of '' in single quotes) allocated: 4 KiB per such
 * scalar read, the first time its text is asked for. libfyaml's document
 * API leaked the same. Upstream breaks out of the loop instead (src/lib/
 * fy-atom.c, "must fit (something is really off)"). The sanitizer's fast
 * unwinder stops in libfyaml (built without frame pointers), so the
 * suppression names the library: only allocations made inside libfyaml,
 * which never allocates for us, are let through; a leak of ours fails.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libfyaml.so\n";
}

/* The cgroups the seed corpus and policy/examples name, a file where a
 * cgroup is expected, and a 15-level path (the deepest a policy may name). */
static const char *const tree_dirs[] = {
	"/tenants", "/tenants/a", "/tenants/a/job", "/tenants/a/job/step", "/tenants/b",
	"/machines", "/vm", "/batch", "/system.slice", "/system.slice/db.service",
	"/d", "/d/d", "/d/d/d", "/d/d/d/d", "/d/d/d/d/d", "/d/d/d/d/d/d", "/d/d/d/d/d/d/d",
	"/d/d/d/d/d/d/d/d", "/d/d/d/d/d/d/d/d/d", "/d/d/d/d/d/d/d/d/d/d",
	"/d/d/d/d/d/d/d/d/d/d/d", "/d/d/d/d/d/d/d/d/d/d/d/d", "/d/d/d/d/d/d/d/d/d/d/d/d/d",
	"/d/d/d/d/d/d/d/d/d/d/d/d/d/d", "/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d",
};
static const char *const tree_files[] = { "/tenants/cgroup.procs" };

static char tree[4096];
static char cgroot[4096 + 16];
static FILE *devnull;
/* FUZZ_POLICY_VERBOSE=1: print each verdict (triage: `fuzz_policy FILE`). */
static FILE *verbose;

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fuzz_policy harness: %s %s: ", what, path);
	perror(NULL);
	abort();
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void tree_remove(void)
{
	nftw(tree, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char path[sizeof(cgroot) + 64];

	(void)argc;
	(void)argv;
	snprintf(tree, sizeof(tree), "%s/mktme-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tree))
		die("mkdtemp", tree);
	atexit(tree_remove);
	snprintf(cgroot, sizeof(cgroot), "%s/cgroup", tree);
	if (mkdir(cgroot, 0755))
		die("mkdir", cgroot);
	for (size_t i = 0; i < sizeof(tree_dirs) / sizeof(tree_dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", cgroot, tree_dirs[i]);
		if (mkdir(path, 0755))
			die("mkdir", path);
	}
	for (size_t i = 0; i < sizeof(tree_files) / sizeof(tree_files[0]); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s%s", cgroot, tree_files[i]);
		f = fopen(path, "w");
		if (!f)
			die("create", path);
		fclose(f);
	}
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		die("open", "/dev/null");
	tmp = getenv("FUZZ_POLICY_VERBOSE");
	verbose = tmp && *tmp && strcmp(tmp, "0") ? stderr : devnull;
	return 0;
}

static void bad_diag(const struct diag *d, const char *why)
{
	fprintf(stderr, "fuzz_policy harness: bad error report (%s): file \"%s\", %d:%d, \"%s\"\n", why,
		d->file, d->pos.line, d->pos.col, d->msg);
	abort();
}

/* An error as `policy check` reports it, and what every report must be. */
static void error_out(const struct diag *d)
{
	if (!d->msg[0])
		bad_diag(d, "no message");
	if (strcmp(d->file, FUZZ_FILE))
		bad_diag(d, "wrong file name");
	if (d->pos.line < 0 || d->pos.col < 0 || (d->pos.line > 0) != (d->pos.col > 0))
		bad_diag(d, "position");
	diag_print(d, verbose);
	json_emit(diag_to_json(d), devnull, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resolve_opts o = { .cgroup_root = cgroot };
	struct policy p;
	struct compiled c;
	struct diag d;

	/* Not NUL-terminated: policy_parse_buf() must stay within @size. */
	if (policy_parse_buf(FUZZ_FILE, (const char *)data, size, &p, &d)) {
		error_out(&d);
		return 0;
	}
	if (policy_resolve(&p, &o, &d) || policy_compile(&p, NULL, 0, 1, &c, &d)) {
		policy_free(&p);
		error_out(&d);
		return 0;
	}
	if (!compiled_meta(&c)) {
		fprintf(stderr, "fuzz_policy harness: compiled policy without its meta entry\n");
		abort();
	}
	policy_print_text(&p, &c, verbose);
	json_emit(policy_to_json(&p, &c), devnull, true);
	compiled_free(&c);
	policy_free(&p);
	return 0;
}
