// SPDX-License-Identifier: GPL-2.0
/*
 * The assignments' state file (tools/mktmectl/assign_state.c): what is
 * written is read back, and every way a file can be wrong is an error with
 * its line and column, never a silently shorter list. Cgroups are
 * HOST-SIMULATED (policy_test.h).
 */
#include "policy_test.h"

#include <errno.h>
#include <fcntl.h>

#include "assign_state.h"

static char dir[256];

static void setup(void)
{
	test_tree();
	snprintf(dir, sizeof(dir), "%s/state", test_dir);
}

TestSuite(state, .init = setup, .fini = test_tree_remove);

Test(state, cgroup_paths_are_normalized)
{
	static const char *const ok[][2] = {
		{ "/", "/" }, { "//", "/" }, { "/a", "/a" }, { "/a/", "/a" }, { "//a//b///", "/a/b" },
		{ "/a.b/..c/d..", "/a.b/..c/d.." },
	};
	static const char *const bad[] = { "", "a", "a/b", "/a/./b", "/a/..", "/../a" };
	char out[POLICY_MAX_PATH + 2], err[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(cgroup_path_normalize(ok[i][0], out, sizeof(out), err, sizeof(err)), 0,
			     "%s: %s", ok[i][0], err);
		cr_assert_str_eq(out, ok[i][1]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(cgroup_path_normalize(bad[i], out, sizeof(out), err, sizeof(err)), -1,
			     "accepted \"%s\"", bad[i]);
}

/* Each failure says its own errno (every one used to read "Cannot allocate memory"). */
Test(state, a_failed_write_says_why)
{
	struct state s = { 0 };
	struct diag d;

	snprintf(s.path, sizeof(s.path), "%s/%s", dir, STATE_FILE);
	cr_assert_eq(state_add(&s, "/tenants/a", "k1", state_next_id(&s), 10), 0);
	cr_assert_eq(state_write(-1, &s, &d), -1);
	cr_assert(strstr(d.msg, strerror(EBADF)) && strstr(d.msg, "Nothing was changed"), "%s", d.msg);
	state_free(&s);
}

Test(state, written_is_read_back_atomically_and_private)
{
	struct state s = { 0 }, r;
	struct diag d;
	struct stat st;
	char path[300];
	int fd = state_dir_open(dir, true, true, &d);

	cr_assert_geq(fd, 0, "%s", d.msg);
	snprintf(s.path, sizeof(s.path), "%s/%s", dir, STATE_FILE);
	cr_assert_eq(state_add(&s, "/tenants/a", "k1", state_next_id(&s), 10), 0);
	cr_assert_eq(state_add(&s, "/vm", "k\"2\\", state_next_id(&s), 20), 0);
	s.e[1].owner_any = true;
	cr_assert_eq(s.e[1].id, MKTME_ASSIGN_ID_BASE + 1);
	cr_assert_eq(state_write(fd, &s, &d), 0, "%s", d.msg);
	cr_assert_eq(state_read(fd, dir, &r, &d), 0, "%d:%d: %s", d.pos.line, d.pos.col, d.msg);
	cr_assert(r.exists);
	cr_assert_eq(r.n, 2);
	cr_assert_str_eq(r.e[1].cgroup, "/vm");
	cr_assert_str_eq(r.e[1].key, "k\"2\\");
	cr_assert_eq(r.e[1].id, MKTME_ASSIGN_ID_BASE + 1);
	cr_assert_eq(r.e[1].assigned_at, 20);
	cr_assert(r.e[1].owner_any, "--owner any was not kept");
	cr_assert(!r.e[0].owner_any, "the default owner condition was lost");
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/.assignments.tmp", dir);
	cr_assert_neq(access(path, F_OK), 0, "the temporary file was left behind");
	state_free(&r);
	state_free(&s);
	close(fd);
}

Test(state, absent_file_or_directory_is_empty)
{
	struct state s;
	struct diag d;

	cr_assert_eq(state_load(dir, &s, &d), 0, "%s", d.msg);
	cr_assert(!s.exists && s.n == 0);
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(state_load(dir, &s, &d), 0, "%s", d.msg);
	cr_assert(!s.exists && s.n == 0);
}

/* @text as the state file must fail with "LINE:COL: corrupt state file: @want...". */
static void assert_corrupt(const char *text, const char *want)
{
	char path[300], got[700];
	struct state s;
	struct diag d;
	FILE *f;

	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fwrite(text, 1, strlen(text) + (strstr(want, "NUL") ? 2 : 0), f);
	fclose(f);
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(state_load(dir, &s, &d), -1, "accepted: %s", text);
	cr_assert_str_eq(d.file, path);
	snprintf(got, sizeof(got), "%d:%d: %s", d.pos.line, d.pos.col, d.msg);
	cr_assert(!strncmp(got, want, strlen(want)), "\n want %s\n got  %s", want, got);
	cr_assert(strstr(d.msg, "nothing was changed"), "%s", d.msg);
}

#define HDR "{\"mktme_assignments\":1}\n"
#define E1 "{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":65536,\"assigned_at\":1}\n"

Test(state, every_corruption_names_its_line)
{
	assert_corrupt("", "1:1: corrupt state file: empty");
	assert_corrupt("{\"mktme_assignments\":2}\n", "1:1: corrupt state file: the first line must be");
	assert_corrupt(E1, "1:1: corrupt state file: the first line must be");
	assert_corrupt(HDR E1 "{\"cgroup\":\"/a\",\"key\":\"k2\",\"id\":65537,\"assigned_at\":1}",
		       "3:1: corrupt state file: the last line is not complete");
	assert_corrupt(HDR E1 "{\"cgroup\":\"/a\",\"key\":\"k2\",\"id\":65537,\n",
		       "3:38: corrupt state file: not one JSON object: the line ends inside it");
	assert_corrupt(HDR E1 "{\"cgroup\":\"/a\",\"key\":\"k2\",\"id\":65537,\"assigned_at\":1} x\n",
		       "3:55: corrupt state file: not one JSON object: text after the object");
	assert_corrupt(HDR "[1]\n", "2:1: corrupt state file: not a JSON object");
	assert_corrupt(HDR "\n", "2:1: corrupt state file: not one JSON object");
	assert_corrupt(HDR E1 E1, "3:1: corrupt state file: key \"k\" in /a is assigned twice");
	assert_corrupt(HDR E1 "{\"cgroup\":\"/b\",\"key\":\"k\",\"id\":65536,\"assigned_at\":1}\n",
		       "3:26: corrupt state file: rule id 65536 is used twice");
	assert_corrupt(HDR "{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":12,\"assigned_at\":1}\n",
		       "2:26: corrupt state file: \"id\": an integer from 65536");
	assert_corrupt(HDR "{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":\"65536\",\"assigned_at\":1}\n",
		       "2:26: corrupt state file: \"id\": an integer");
	assert_corrupt(HDR "{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":4294967296,\"assigned_at\":1}\n",
		       "2:26: corrupt state file: \"id\": an integer");
	assert_corrupt(HDR "{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":65536,\"assigned_at\":-1}\n",
		       "2:37: corrupt state file: \"assigned_at\"");
	assert_corrupt(HDR "{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":65536}\n",
		       "2:1: corrupt state file: \"assigned_at\"");
	assert_corrupt(HDR "{\"cgroup\":\"a\",\"key\":\"k\",\"id\":65536,\"assigned_at\":1}\n",
		       "2:2: corrupt state file: \"cgroup\": \"a\" is not an absolute path");
	assert_corrupt(HDR "{\"cgroup\":\"/a/\",\"key\":\"k\",\"id\":65536,\"assigned_at\":1}\n",
		       "2:2: corrupt state file: \"cgroup\": \"/a/\" is not written as \"/a\"");
	assert_corrupt(HDR "{\"cgroup\":\"/a\",\"key\":\"*\",\"id\":65536,\"assigned_at\":1}\n",
		       "2:16: corrupt state file: \"key\": \"*\" is not a key name");
	assert_corrupt(HDR "{\"cgroup\":\"/a\",\"key\":\"\",\"id\":65536,\"assigned_at\":1}\n",
		       "2:16: corrupt state file: \"key\": \"\" is not a key name");
	assert_corrupt(HDR "{\"cgroup\":\"/a\",\"key\":\"a\\u0000b\",\"id\":65536,\"assigned_at\":1}\n",
		       "2:16: corrupt state file: \"key\":");
	assert_corrupt(HDR "{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":65536,\"assigned_at\":1,\"x\":1}\n",
		       "2:53: corrupt state file: unknown field \"x\"");
	assert_corrupt(HDR E1 "\0\n", "3:1: corrupt state file: a NUL byte");
	/* "subtree" is the default, never written: only "any" may be there. */
	assert_corrupt(HDR "{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":65536,\"assigned_at\":1,\"owner\":\"subtree\"}\n",
		       "2:53: corrupt state file: \"owner\": only \"any\"");
	assert_corrupt(HDR "{\"cgroup\":\"/a\",\"key\":\"k\",\"id\":65536,\"assigned_at\":1,\"owner\":1}\n",
		       "2:53: corrupt state file: \"owner\": only \"any\"");
}

Test(state, too_many_assignments_is_corrupt)
{
	char *text = malloc((MKTME_MAX_ASSIGN + 2) * 96), *p = text, want[64];

	p += sprintf(p, HDR);
	for (int i = 0; i <= MKTME_MAX_ASSIGN; i++)
		p += sprintf(p, "{\"cgroup\":\"/a\",\"key\":\"k%d\",\"id\":%d,\"assigned_at\":1}\n", i,
			     MKTME_ASSIGN_ID_BASE + i);
	snprintf(want, sizeof(want), "%d:1: corrupt state file: more than %d", MKTME_MAX_ASSIGN + 2,
		 MKTME_MAX_ASSIGN);
	assert_corrupt(text, want);
	free(text);
}

Test(state, symlinked_file_is_refused)
{
	char path[300];
	struct state s;
	struct diag d;

	cr_assert_eq(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
	cr_assert_eq(symlink("/etc/passwd", path), 0);
	cr_assert_eq(state_load(dir, &s, &d), -1);
	cr_assert(strstr(d.msg, "symbolic link"), "%s", d.msg);
}

Test(state, resolve_counts_missing_cgroups_as_pending)
{
	struct state s = { 0 };
	struct assignment *a;
	size_t n, pending;

	cr_assert_eq(state_add(&s, "/tenants/a", "k", 65536, 1), 0);
	cr_assert_eq(state_add(&s, "/gone", "k", 65537, 1), 0);
	cr_assert_eq(state_add(&s, "/vm", "v", 65538, 1), 0);
	cr_assert_eq(state_resolve(&s, test_root, &a, &n, &pending), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(pending, 1);
	cr_assert_eq(a[0].cgid, test_cgid("/tenants/a"));
	cr_assert_eq(a[1].cgid, test_cgid("/vm"));
	cr_assert_eq(a[1].id, 65538);
	cr_assert_str_eq(a[1].name, "v");
	free(a);
	state_free(&s);
}
