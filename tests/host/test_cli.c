// SPDX-License-Identifier: GPL-2.0
/*
 * The mktmectl command line, run as the real binary, without a kernel of
 * ours: --version, --help of every command, prefixes, `policy check
 * --offline` over the shipped examples and a set of malformed files, and
 * assign/unassign with their state file and capability checks where
 * nothing is pinned.
 *
 * Nothing here reaches BPF: --bpffs-dir always names a directory that does
 * not exist, so that a command that got past its checks finds no pins.
 * Cgroups are HOST-SIMULATED (a directory tree, as in policy_test.h).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "host.h"

static char tmp[64], cgroot[128], state[128], nopins[128], env_cg[160], env_state[160];

static void setup(void)
{
	char path[256];

	snprintf(tmp, sizeof(tmp), "/tmp/mktme-cli-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
	snprintf(cgroot, sizeof(cgroot), "%s/cgroup", tmp);
	snprintf(state, sizeof(state), "%s/state", tmp);
	snprintf(nopins, sizeof(nopins), "%s/no-such-bpffs/mktme", tmp);
	snprintf(env_cg, sizeof(env_cg), "MKTME_CGROUP_ROOT=%s", cgroot);
	snprintf(env_state, sizeof(env_state), "MKTME_STATE_DIR=%s", state);
	cr_assert_eq(mkdir(cgroot, 0755), 0);
	snprintf(path, sizeof(path), "%s/a", cgroot);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/b", cgroot);
	cr_assert_eq(mkdir(path, 0755), 0);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (tmp[0] && system(cmd))
		fprintf(stderr, "cannot remove %s\n", tmp);
}

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 60);

/* mktmectl ARGS... (NULL-terminated), with the test's cgroup root, state dir and no pins. */
static void ctl_as(struct run_result *r, uid_t uid, const char *first, ...)
{
	char *argv[32] = { MKTMECTL, "--bpffs-dir", nopins };
	char *env[] = { env_cg, env_state, NULL };
	size_t n = 3;
	va_list ap;

	va_start(ap, first);
	for (const char *a = first; a && n < 31; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	run_cmd(r, argv, env, uid);
}

#define ctl(r, ...) ctl_as((r), (uid_t)-1, __VA_ARGS__, NULL)

/* ---- version, help, prefixes ---------------------------------------------- */

Test(cli, version)
{
	struct run_result r;
	struct json_object *o, *v;

	ctl(&r, "--version");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(!strncmp(r.out, "mktmectl ", 9) && strchr(r.out, '.'), "%s", r.out);
	run_result_free(&r);
	ctl(&r, "-j", "version");
	cr_assert_eq(r.status, 0, "%s", r.err);
	o = json_tokener_parse(r.out);
	cr_assert(o && json_object_object_get_ex(o, "version", &v), "%s", r.out);
	cr_assert(json_object_get_string_len(v) > 0);
	json_object_put(o);
	run_result_free(&r);
}

/* Every command: --help (anywhere among its arguments) is its usage, exit 0, change nothing. */
Test(cli, help_for_every_command)
{
	static const char *const cmds[][3] = {
		{ "policy", "check", "policy check [--offline] FILE" },
		{ "policy", "load", "policy load FILE [--dry-run]" },
		{ "policy", "show", "policy show" },
		{ "policy", "unload", "policy unload [--detach]" },
		{ "key", "add", "key add NAME" },
		{ "key", "list", "key list" },
		{ "key", "rm", "key rm NAME" },
		{ "assign", NULL, "assign [--owner subtree|any] CGROUP KEY" },
		{ "unassign", NULL, "unassign CGROUP KEY | --all" },
		{ "audit", NULL, "audit [--follow]" },
		{ "status", NULL, "status" },
		{ "daemon", NULL, "daemon [--policy FILE]" },
		{ "version", NULL, "version" },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct run_result r;
		char want[128];

		if (cmds[i][1])
			ctl(&r, cmds[i][0], cmds[i][1], "some-arg", "--help");
		else
			ctl(&r, cmds[i][0], "--help");
		snprintf(want, sizeof(want), "Usage: mktmectl %s", cmds[i][2]);
		cr_assert_eq(r.status, 0, "%s %s --help: exit %d: %s", cmds[i][0],
			     cmds[i][1] ? cmds[i][1] : "", r.status, r.err);
		cr_assert(strstr(r.out, want), "%s --help: no \"%s\" in: %s", cmds[i][0], want, r.out);
		run_result_free(&r);
	}
	/* Families and the top: the list of their commands. */
	for (size_t i = 0; i < 3; i++) {
		static const char *const fam[] = { "policy", "key", "--help" };
		struct run_result r;

		ctl(&r, fam[i], "--help");
		cr_assert_eq(r.status, 0, "%s --help: %s", fam[i], r.err);
		cr_assert(strstr(r.out, i == 1 ? "mktmectl key rm NAME" : "mktmectl policy check"),
			  "%s", r.out);
		run_result_free(&r);
	}
}

Test(cli, help_json)
{
	struct run_result r;
	struct json_object *o, *u;

	ctl(&r, "-j", "policy", "check", "--help");
	cr_assert_eq(r.status, 0);
	o = json_tokener_parse(r.out);
	cr_assert(o && json_object_object_get_ex(o, "usage", &u), "%s", r.out);
	cr_assert_str_eq(json_object_get_string(u), "mktmectl policy check [--offline] FILE");
	json_object_put(o);
	run_result_free(&r);
}

Test(cli, unknown_option_is_a_usage_error)
{
	struct run_result r;

	ctl(&r, "policy", "check", "--bogus", "x.yaml");
	cr_assert_eq(r.status, 2, "%s", r.err);
	cr_assert(strstr(r.err, "unknown option \"--bogus\""), "%s", r.err);
	cr_assert(strstr(r.err, "Usage: mktmectl policy check [--offline] FILE"), "%s", r.err);
	run_result_free(&r);
	ctl(&r, "--bogus");
	cr_assert_eq(r.status, 2, "%s", r.err);
	run_result_free(&r);
}

/*
 * One argument style for every command (getopt_long, then a count of
 * operands): an unknown option and one operand too many are usage errors
 * (exit 2, the message, the command's usage line) before anything is
 * looked at, whichever command it is. `key rm --bogus` once searched for
 * a key named "--bogus"; `daemon --policy=FILE` was "bad argument".
 */
Test(cli, every_command_parses_its_arguments_the_same_way)
{
	static const struct {
		const char *words[4];	/* the command and exactly its operands */
		const char *usage;
	} cmds[] = {
		{ { "policy", "check", "x.yaml" }, "policy check [--offline] FILE" },
		{ { "policy", "load", "x.yaml" }, "policy load FILE" },
		{ { "policy", "show" }, "policy show" },
		{ { "policy", "unload" }, "policy unload" },
		{ { "key", "add", "k" }, "key add NAME" },
		{ { "key", "list" }, "key list" },
		{ { "key", "rm", "k" }, "key rm NAME" },
		{ { "assign", "/a", "k" }, "assign [--owner" },
		{ { "unassign", "/a", "k" }, "unassign CGROUP KEY" },
		{ { "audit" }, "audit [--follow]" },
		{ { "status" }, "status" },
		{ { "daemon" }, "daemon [--policy FILE]" },
		{ { "version" }, "version" },
		{ { "help" }, "help" },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		for (int extra = 0; extra < 2; extra++) {
			/* extra 0: an unknown option first; 1: one operand too many. */
			const char *a[8] = { 0 };
			struct run_result r;
			char want[128], usage[128];
			size_t n = 0;

			for (size_t w = 0; w < 4 && cmds[i].words[w]; w++)
				a[n++] = cmds[i].words[w];
			a[n++] = extra ? "one-too-many" : "--bogus-opt";
			ctl(&r, a[0], a[1], a[2], a[3], a[4]);
			snprintf(want, sizeof(want), extra ? "unexpected argument \"one-too-many\"" :
				 "unknown option \"--bogus-opt\"");
			snprintf(usage, sizeof(usage), "Usage: mktmectl %s", cmds[i].usage);
			cr_expect_eq(r.status, 2, "%s %s: exit %d: %s", a[0], a[1] ? a[1] : "",
				     r.status, r.err);
			cr_expect(strstr(r.err, want), "%s %s: no '%s' in: %s", a[0], a[1] ? a[1] : "",
				  want, r.err);
			cr_expect(strstr(r.err, usage), "%s %s: no '%s' in: %s", a[0], a[1] ? a[1] : "",
				  usage, r.err);
			run_result_free(&r);
		}
	}
	/* Long options take their argument either way, in every command. */
	{
		struct run_result r;

		ctl(&r, "daemon", "--policy=/nonexistent/p.yaml", "--no-audit", "--bogus-opt");
		cr_expect_eq(r.status, 2, "%s", r.err);
		cr_expect(strstr(r.err, "unknown option \"--bogus-opt\""), "%s", r.err);
		run_result_free(&r);
		ctl(&r, "daemon", "--policy");
		cr_expect_eq(r.status, 2, "%s", r.err);
		cr_expect(strstr(r.err, "option \"--policy\" needs an argument"), "%s", r.err);
		run_result_free(&r);
		ctl(&r, "key", "rm");
		cr_expect_eq(r.status, 2, "%s", r.err);
		cr_expect(strstr(r.err, "missing argument"), "%s", r.err);
		run_result_free(&r);
	}
}

Test(cli, prefixes_select_commands)
{
	struct run_result r;

	ctl(&r, "pol", "ch", "--offline", "policy/examples/two-tenants.yaml");
	cr_assert_eq(r.status, 0, "pol ch: %d: %s", r.status, r.err);
	cr_assert(strstr(r.out, "valid offline"), "%s", r.out);
	run_result_free(&r);
	ctl(&r, "p", "c", "--off", "policy/examples/two-tenants.yaml");
	cr_assert_eq(r.status, 0, "p c --off: %d: %s", r.status, r.err);
	run_result_free(&r);
	ctl(&r, "ve");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(!strncmp(r.out, "mktmectl ", 9), "%s", r.out);
	run_result_free(&r);
}

Test(cli, ambiguous_prefix_lists_the_candidates)
{
	struct run_result r;

	ctl(&r, "a", "/a", "k");
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "\"a\" is ambiguous: it could be assign, audit"), "%s", r.err);
	run_result_free(&r);
	ctl(&r, "-j", "a");
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.out, "\"error\":\"\\\"a\\\" is ambiguous: it could be assign, audit\"") &&
		  strstr(r.out, "\"exit_code\":2"), "-j: %s", r.out);
	run_result_free(&r);
	ctl(&r, "nosuch");
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "unknown command \"nosuch\""), "%s", r.err);
	run_result_free(&r);
}

/* ---- policy check --offline ----------------------------------------------- */

Test(cli, offline_check_accepts_every_shipped_example)
{
	glob_t g;

	/* The cgroup root of the test has none of the examples' cgroups. */
	cr_assert_eq(glob("policy/examples/*.yaml", 0, NULL, &g), 0);
	cr_assert_geq(g.gl_pathc, 3, "examples: %zu", g.gl_pathc);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct run_result r;

		ctl(&r, "policy", "check", "--offline", g.gl_pathv[i]);
		cr_assert_eq(r.status, 0, "%s: exit %d: %s", g.gl_pathv[i], r.status, r.err);
		cr_assert(strstr(r.out, "valid offline"), "%s", r.out);
		run_result_free(&r);
		ctl(&r, "-j", "policy", "check", g.gl_pathv[i], "--offline");
		cr_assert_eq(r.status, 0, "%s -j: %s", g.gl_pathv[i], r.err);
		cr_assert(strstr(r.out, "\"offline\":true") && strstr(r.out, "\"valid\":true"), "%s",
			  r.out);
		cr_assert_null(strstr(r.out, "\"cgroup_id\":1"), "stand-in ids leaked: %s", r.out);
		run_result_free(&r);
	}
	globfree(&g);
}

/* What --offline is for: without it, a policy is checked against this system. */
Test(cli, check_without_offline_needs_the_cgroups)
{
	struct run_result r;

	ctl(&r, "policy", "check", "policy/examples/two-tenants.yaml");
	cr_assert_eq(r.status, 2, "exit %d", r.status);
	cr_assert(strstr(r.err, "two-tenants.yaml:28:13: cgroup: /tenants/a does not exist under"),
		  "%s", r.err);
	run_result_free(&r);
}

Test(cli, offline_check_rejects_every_malformed_file_with_its_position)
{
	glob_t g;

	cr_assert_eq(glob("tests/host/bad-policies/*.yaml", 0, NULL, &g), 0);
	cr_assert_geq(g.gl_pathc, 15, "malformed files: %zu", g.gl_pathc);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct run_result r;
		char first[512], want[700];
		FILE *f = fopen(g.gl_pathv[i], "r");

		cr_assert_not_null(f);
		cr_assert_not_null(fgets(first, sizeof(first), f));
		fclose(f);
		first[strcspn(first, "\n")] = '\0';
		cr_assert(!strncmp(first, "# expect: ", 10), "%s: no \"# expect:\" line", g.gl_pathv[i]);
		snprintf(want, sizeof(want), "%s:%s", g.gl_pathv[i], first + 10);
		ctl(&r, "policy", "check", "--offline", g.gl_pathv[i]);
		cr_assert_eq(r.status, 2, "%s: exit %d: %s", g.gl_pathv[i], r.status, r.out);
		cr_assert(!strncmp(r.err, want, strlen(want)), "%s:\n want %s\n got  %s", g.gl_pathv[i],
			  want, r.err);
		run_result_free(&r);
	}
	globfree(&g);
}

/* ---- assign and its state file, nothing pinned ------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);

	if (!f)
		return buf;
	if (!fread(buf, 1, (1 << 16) - 1, f))
		buf[0] = '\0';
	fclose(f);
	return buf;
}

static char *state_file(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/assignments", state);
	return slurp(path);
}

Test(cli, assign_stores_says_why_not_in_force_and_unassign_removes)
{
	struct run_result r;
	struct stat st;
	char path[256], *s;

	ctl(&r, "assign", "/a//", "shared");
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.out, "assigned: key \"shared\" in /a (rule 65536), stored in "), "%s", r.out);
	cr_assert(strstr(r.out, "not in force yet: the mktme programs are not attached"), "%s", r.out);
	cr_assert_null(strstr(r.out, "no policy is loaded"), "%s", r.out);
	run_result_free(&r);
	cr_assert_eq(stat(state, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700, "state dir mode %o", st.st_mode & 07777);
	snprintf(path, sizeof(path), "%s/assignments", state);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "state file mode %o", st.st_mode & 07777);
	s = state_file();
	cr_assert(strstr(s, "{\"mktme_assignments\":1}\n{\"cgroup\":\"/a\",\"key\":\"shared\",\"id\":65536,"),
		  "%s", s);
	free(s);

	/* Again: exit 0, unchanged, says so. JSON says everything. */
	ctl(&r, "-j", "assign", "/a", "shared");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "\"changed\":false") && strstr(r.out, "\"stored\":true") &&
		  strstr(r.out, "\"in_force\":false") && strstr(r.out, "\"rule_id\":65536") &&
		  strstr(r.out, "\"not_in_force_because\":\"the mktme programs are not attached"),
		  "%s", r.out);
	run_result_free(&r);
	ctl(&r, "assign", "/b", "other");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "(rule 65537)"), "%s", r.out);
	run_result_free(&r);

	/* The cgroup may be gone: unassign still works (by path). */
	snprintf(path, sizeof(path), "%s/b", cgroot);
	cr_assert_eq(rmdir(path), 0);
	ctl(&r, "unassign", "/b", "other");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "unassigned: key \"other\" in /b (rule 65537), removed from"), "%s",
		  r.out);
	run_result_free(&r);
	/* Not assigned: exit 0 as for assign, and it says nothing changed. */
	ctl(&r, "unassign", "/b", "other");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "was not assigned; nothing was changed"), "%s", r.out);
	run_result_free(&r);
	s = state_file();
	cr_assert(strstr(s, "\"shared\"") && !strstr(s, "\"other\""), "%s", s);
	free(s);
	ctl(&r, "-j", "unassign", "--all");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "\"removed\":1"), "%s", r.out);
	run_result_free(&r);
	s = state_file();
	cr_assert_str_eq(s, "{\"mktme_assignments\":1}\n");
	free(s);
}

Test(cli, assign_bad_input_exits_2_and_stores_nothing)
{
	static const char *const bad[][2] = {
		{ "/nosuch", "k" }, { "a", "k" }, { "/a/../b", "k" }, { "/a", "*" },
		{ "/a", "0123456789012345678901234567890123456789012345678901234567890123" },
	};
	struct stat st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct run_result r;

		ctl(&r, "assign", bad[i][0], bad[i][1]);
		cr_assert_eq(r.status, 2, "assign %s %s: exit %d", bad[i][0], bad[i][1], r.status);
		cr_assert(strstr(r.err, "Nothing was changed"), "%s", r.err);
		run_result_free(&r);
	}
	cr_assert_neq(stat(state, &st), 0, "the state directory was created");
}

/* Writes @text as the state file (the directory made as the command would). */
static void put_state(const char *text, mode_t dir_mode, mode_t file_mode)
{
	char path[256];
	FILE *f;

	mkdir(state, 0700);
	cr_assert_eq(chmod(state, dir_mode), 0);
	snprintf(path, sizeof(path), "%s/assignments", state);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(chmod(path, file_mode), 0);
}

#define GOOD_STATE "{\"mktme_assignments\":1}\n{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":65536,\"assigned_at\":1}\n"

/* Each of assign, unassign: refused, exit 1, the file exactly as it was. */
static void refused(const char *why, const char *before)
{
	const char *const cmds[][3] = { { "assign", "/a", "k2" }, { "unassign", "/a", "k" },
					{ "unassign", "--all", NULL } };

	for (size_t i = 0; i < 3; i++) {
		struct run_result r;
		char *after;

		ctl(&r, cmds[i][0], cmds[i][1], cmds[i][2]);
		cr_assert_eq(r.status, 1, "%s %s: exit %d: %s", cmds[i][0], cmds[i][1], r.status,
			     r.out);
		cr_assert(strstr(r.err, why), "%s %s: no \"%s\" in: %s", cmds[i][0], cmds[i][1], why,
			  r.err);
		cr_assert(strstr(r.err, "othing was changed"), "%s", r.err);
		run_result_free(&r);
		after = state_file();
		cr_assert_str_eq(after, before, "%s changed the state file", cmds[i][0]);
		free(after);
	}
}

Test(cli, corrupt_state_file_is_an_error_with_its_position)
{
	char want[256];

	put_state("{\"mktme_assignments\":1}\n{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":65536,\"assigned_at\":1}\n"
		  "{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":12,\"assigned_at\":1}\n", 0700, 0600);
	snprintf(want, sizeof(want), "%s/assignments:3:26: corrupt state file: \"id\": an integer from 65536",
		 state);
	refused(want, "{\"mktme_assignments\":1}\n{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":65536,\"assigned_at\":1}\n"
		"{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":12,\"assigned_at\":1}\n");
}

Test(cli, state_writable_by_others_is_refused)
{
	put_state(GOOD_STATE, 0700, 0666);
	refused("unsafe state file: it is writable by group or others", GOOD_STATE);
	put_state(GOOD_STATE, 0777, 0600);
	refused("unsafe state directory: it is writable by group or others", GOOD_STATE);
}

Test(cli, state_owned_by_another_user_is_refused)
{
	char path[256];

	put_state(GOOD_STATE, 0700, 0600);
	snprintf(path, sizeof(path), "%s/assignments", state);
	cr_assert_eq(chown(path, 65534, 65534), 0);
	refused("unsafe state file: it is owned by another user", GOOD_STATE);
	cr_assert_eq(chown(path, 0, 0), 0);
	cr_assert_eq(chown(state, 65534, 65534), 0);
	refused("unsafe state directory: it is owned by another user", GOOD_STATE);
}

Test(cli, state_under_a_replaceable_ancestor_is_refused)
{
	char mid[200];
	struct run_result r;
	char *argv[] = { MKTMECTL, "--bpffs-dir", nopins, "--state-dir", mid, "assign", "/a", "k", NULL };
	char *env[] = { env_cg, NULL };
	struct stat st;

	snprintf(mid, sizeof(mid), "%s/shared", tmp);
	cr_assert_eq(mkdir(mid, 0777), 0);
	cr_assert_eq(chmod(mid, 0777), 0);
	snprintf(mid, sizeof(mid), "%s/shared/state", tmp);
	run_cmd(&r, argv, env, (uid_t)-1);
	cr_assert_eq(r.status, 1, "%s", r.out);
	cr_assert(strstr(r.err, "its ancestor") && strstr(r.err, "/shared is writable by group or others"),
		  "%s", r.err);
	run_result_free(&r);
	cr_assert_neq(stat(mid, &st), 0, "the state directory was created");
}

/* ---- capabilities ------------------------------------------------------------ */

Test(cli, uid_65534_cannot_assign)
{
	char bin[128], cmd[300];
	struct run_result r;
	struct stat st;

	/* The checkout may be out of nobody's reach (a 0700 clone): a copy in reach. */
	snprintf(bin, sizeof(bin), "%s/mktmectl", tmp);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", MKTMECTL, bin);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(chmod(tmp, 0711), 0);
	char *argv[] = { bin, "--bpffs-dir", nopins, "assign", "/a", "k", NULL };

	run_cmd(&r, argv, (char *[]){ env_cg, env_state, NULL }, 65534);
	cr_assert_eq(r.status, 3, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "assigning a key needs CAP_SYS_ADMIN, CAP_BPF") &&
		  strstr(r.err, "missing: CAP_SYS_ADMIN, CAP_BPF") && strstr(r.err, "Nothing was changed"),
		  "%s", r.err);
	run_result_free(&r);
	cr_assert_neq(stat(state, &st), 0, "the state directory was created");
}

/*
 * The kernel grants CAP_BPF and CAP_PERFMON with CAP_SYS_ADMIN
 * (kernel/bpf/token.c): CAP_SYS_ADMIN alone passes the check (and then fails
 * on the missing pins), CAP_BPF and CAP_PERFMON without it do not.
 */
Test(cli, cap_sys_admin_grants_bpf_and_perfmon_as_in_the_kernel)
{
	static const char *const sets[][2] = { { "-all,+sys_admin", NULL },
					       { "-all,+bpf,+perfmon", "missing: CAP_SYS_ADMIN." } };

	for (size_t i = 0; i < 2; i++) {
		char *argv[] = { "/usr/bin/setpriv", "--bounding-set", (char *)sets[i][0], "--inh-caps", "-all",
				 MKTMECTL, "--bpffs-dir", nopins, "policy", "load", "policy/examples/two-tenants.yaml",
				 NULL };
		struct run_result r;

		run_cmd(&r, argv, (char *[]){ env_cg, env_state, NULL }, (uid_t)-1);
		if (sets[i][1]) {
			cr_assert_eq(r.status, 3, "%s: exit %d: %s", sets[i][0], r.status, r.err);
			cr_assert(strstr(r.err, sets[i][1]), "%s: %s", sets[i][0], r.err);
		} else {
			cr_assert_neq(r.status, 3, "%s: exit %d: %s", sets[i][0], r.status, r.err);
			cr_assert(!strstr(r.err, "missing: CAP_"), "%s: %s", sets[i][0], r.err);
		}
		run_result_free(&r);
	}
}

Test(cli, root_without_capabilities_cannot_assign_or_unassign)
{
	const char *const cmds[][3] = { { "assign", "/a", "k2" }, { "unassign", "/a", "k" },
					{ "unassign", "--all", NULL } };

	put_state(GOOD_STATE, 0700, 0600);
	for (size_t i = 0; i < 3; i++) {
		char *argv[] = { "/usr/bin/setpriv", "--bounding-set", "-all", "--inh-caps", "-all", MKTMECTL,
				 "--bpffs-dir", nopins, (char *)cmds[i][0], (char *)cmds[i][1],
				 (char *)cmds[i][2], NULL };
		struct run_result r;
		char *after;

		run_cmd(&r, argv, (char *[]){ env_cg, env_state, NULL }, (uid_t)-1);
		cr_assert_eq(r.status, 3, "%s: exit %d: %s", cmds[i][0], r.status, r.err);
		cr_assert(strstr(r.err, "missing: CAP_SYS_ADMIN, CAP_BPF") &&
			  strstr(r.err, "Nothing was changed"), "%s", r.err);
		run_result_free(&r);
		after = state_file();
		cr_assert_str_eq(after, GOOD_STATE);
		free(after);
	}
}

/* All capabilities, in a user namespace of its own: none of them count. */
Test(cli, root_in_a_user_namespace_cannot_assign)
{
	char *argv[] = { "/usr/bin/unshare", "--user", "--map-root-user", MKTMECTL, "--bpffs-dir",
			 nopins, "assign", "/a", "k", NULL };
	struct run_result r;
	struct stat st;

	run_cmd(&r, argv, (char *[]){ env_cg, env_state, NULL }, (uid_t)-1);
	cr_assert_eq(r.status, 3, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "missing: CAP_SYS_ADMIN, CAP_BPF (this process is in a user namespace: capabilities there do not count)"),
		  "%s", r.err);
	run_result_free(&r);
	cr_assert_neq(stat(state, &st), 0, "the state directory was created");
}

/*
 * Under systemd (JOURNAL_STREAM names stderr), the daemon's fatal errors
 * carry journald's error priority like its other log lines, not the default
 * (info) that journald gives a line without one (sd-daemon(3)).
 */
Test(cli, daemon_errors_under_systemd_have_error_priority)
{
	char dir[] = "/tmp/mktme-journal-XXXXXX", cmd[1024], err[512] = "";
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0777), 0);
	snprintf(cmd, sizeof(cmd),
		 "cp '%s' %s/mktmectl && setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "
		 "'exec 2>%s/err; export JOURNAL_STREAM=$(stat -c %%d:%%i %s/err); "
		 "%s/mktmectl daemon --policy /nonexistent; test $? = 3'",
		 MKTMECTL, dir, dir, dir, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(cmd, sizeof(cmd), "%s/err", dir);
	f = fopen(cmd, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(err, sizeof(err), f));
	fclose(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	static const char want[] = "<3>mktmectl daemon: the daemon needs CAP_SYS_ADMIN";

	cr_assert(!strncmp(err, want, strlen(want)), "%s", err);
}

/* Without bpf among the LSMs nothing is attached, and the error shows the whole list. */
Test(cli, missing_bpf_lsm_names_every_active_lsm)
{
	char sysfs[192], path[256], env_sysfs[224], pol[192];
	char *argv[] = { MKTMECTL, "--bpffs-dir", nopins, "daemon", "--policy", pol, NULL };
	char *env[] = { env_cg, env_state, env_sysfs, NULL };
	struct run_result r;
	FILE *f;

	snprintf(sysfs, sizeof(sysfs), "%s/sys", tmp);
	snprintf(env_sysfs, sizeof(env_sysfs), "MKTME_SYSFS=%s", sysfs);
	snprintf(path, sizeof(path), "%s/kernel", sysfs);
	cr_assert_eq(mkdir(sysfs, 0755) || mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/kernel/security", sysfs);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/kernel/security/lsm", sysfs);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("lockdown,capability,landlock,yama,apparmor\n", f);
	fclose(f);
	snprintf(pol, sizeof(pol), "%s/policy.yaml", tmp);
	f = fopen(pol, "w");
	cr_assert_not_null(f);
	fputs("version: 1\ndefault: allow\nrules: []\n", f);
	fclose(f);
	run_cmd(&r, argv, env, (uid_t)-1);
	cr_assert_eq(r.status, 4, "exit %d: %s", r.status, r.err);
	cr_assert(strstr(r.err, "BPF LSM is NOT active (" ) &&
		  strstr(r.err, ": lockdown,capability,landlock,yama,apparmor)"), "%s", r.err);
	run_result_free(&r);
}
