// SPDX-License-Identifier: GPL-2.0
/*
 * What mktmectl prints for `policy check` (the real command, run in-process
 * through the library) and for `policy show` (the same view of a policy read
 * back from its compiled entries): text and -j JSON. Cgroups are
 * HOST-SIMULATED (policy_test.h).
 */
#include "policy_test.h"

#include <json-c/json.h>

#include "policy_check.h"

TestSuite(output, .init = test_tree, .fini = test_tree_remove);

struct out {
	char *out, *err;
	size_t outlen, errlen;
	int ret;
};

static struct out check(const char *yaml, bool json)
{
	struct resolve_opts o = { .cgroup_root = test_root };
	struct out r = { 0 };
	FILE *out = open_memstream(&r.out, &r.outlen), *err = open_memstream(&r.err, &r.errlen);

	test_write(yaml);
	r.ret = policy_check_run(test_file, &o, json, false, out, err);
	fclose(out);
	fclose(err);
	return r;
}

static struct json_object *get(struct json_object *o, const char *path)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *t = strtok_r(buf, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
		struct json_object *next = NULL;

		if (*t >= '0' && *t <= '9')
			next = json_object_array_get_idx(o, atoi(t));
		else
			json_object_object_get_ex(o, t, &next);
		cr_assert_not_null(next, "no %s in %s", t, json_object_to_json_string(o));
		o = next;
	}
	return o;
}

static const char *str(struct json_object *o, const char *path)
{
	return json_object_get_string(get(o, path));
}

static int64_t num(struct json_object *o, const char *path)
{
	return json_object_get_int64(get(o, path));
}

#define POLICY                                                                     \
	"version: 1\nmode: audit\ndefault: allow\n"                                \
	"limits:\n  - {cgroup: /tenants, max_live_keys: 6}\n"                      \
	"  - {cgroup: /later, max_live_keys: 1, denial_records_per_second: 9, may_appear_later: true}\n" \
	"rules:\n"                                                                 \
	"  - {cgroup: /tenants/a, keys: [ka, \"*\"], operations: [bind, mmap], verdict: deny}\n" \
	"  - {cgroup: /vm, exe: /bin/sh, uid: 0, keys: [v], key_types: [cpu], verdict: allow}\n" \
	"  - {cgroup: /nope, may_appear_later: true, keys: [n], verdict: allow}\n"

Test(output, check_json_valid)
{
	struct out r = check(POLICY, true);
	struct json_object *o;

	cr_assert_eq(r.ret, 0, "stderr: %s", r.err);
	cr_assert_str_empty(r.err);
	o = json_tokener_parse(r.out);
	cr_assert_not_null(o, "not JSON: %s", r.out);
	cr_assert_str_eq(str(o, "file"), test_file);
	cr_assert(json_object_get_boolean(get(o, "valid")));
	cr_assert_eq(num(o, "version"), 1);
	cr_assert_str_eq(str(o, "mode"), "audit");
	cr_assert_str_eq(str(o, "default"), "allow");
	cr_assert_eq(json_object_array_length(get(o, "limits")), 2);
	cr_assert_str_eq(str(o, "limits.0.cgroup"), "/tenants");
	cr_assert_eq((uint64_t)json_object_get_uint64(get(o, "limits.0.cgroup_id")), test_cgid("/tenants"));
	cr_assert_eq(num(o, "limits.0.max_live_keys"), 6);
	cr_assert_not(json_object_get_boolean(get(o, "limits.0.pending")));
	cr_assert(json_object_get_boolean(get(o, "limits.1.pending")));
	{
		struct json_object *v = (struct json_object *)1;

		cr_assert(json_object_object_get_ex(get(o, "limits.0"), "denial_records_per_second", &v) && !v,
			  "none set: null");
	}
	cr_assert_eq(num(o, "limits.1.denial_records_per_second"), 9);
	cr_assert_eq(num(o, "limits.1.max_live_keys"), 1);
	cr_assert_eq(json_object_array_length(get(o, "rules")), 3);
	cr_assert_eq(num(o, "rules.0.id"), 1);
	cr_assert_str_eq(str(o, "rules.0.source"), "policy");
	cr_assert_str_eq(str(o, "rules.0.cgroup"), "/tenants/a");
	cr_assert_str_eq(str(o, "rules.0.keys.0"), "ka");
	cr_assert_str_eq(str(o, "rules.0.keys.1"), "*");
	cr_assert_str_eq(str(o, "rules.0.operations.0"), "bind");
	cr_assert_str_eq(str(o, "rules.0.operations.1"), "mmap");
	cr_assert_eq(json_object_array_length(get(o, "rules.0.key_types")), 4);
	cr_assert_str_eq(str(o, "rules.0.verdict"), "deny");
	cr_assert_str_eq(str(o, "rules.1.exe"), "/bin/sh");
	cr_assert_eq(num(o, "rules.1.uid"), 0);
	cr_assert_str_eq(str(o, "rules.1.key_types.0"), "cpu");
	cr_assert(json_object_get_boolean(get(o, "rules.2.pending")));
	cr_assert_eq(num(o, "pending"), 2);
	/* meta + 1 limit + (/tenants/a: ka, *) + (/vm: v) */
	cr_assert_eq(num(o, "map_entries"), 5);
	json_object_put(o);
	free(r.out);
	free(r.err);
}

Test(output, check_json_error)
{
	struct out r = check("version: 1\nrules:\n  - {cgroup: /vm, keys: [k], verdict: maybe}\n", true);
	struct json_object *o;

	cr_assert_eq(r.ret, 2);
	o = json_tokener_parse(r.out);
	cr_assert_not_null(o, "not JSON: %s", r.out);
	cr_assert_not(json_object_get_boolean(get(o, "valid")));
	cr_assert_str_eq(str(o, "error.file"), test_file);
	cr_assert_eq(num(o, "error.line"), 3);
	cr_assert_eq(num(o, "error.column"), 39);
	cr_assert_str_eq(str(o, "error.message"),
			 "verdict: unknown value \"maybe\" (expected one of: allow, deny)");
	/* The error is on stderr too, in the FILE:LINE:COLUMN form. */
	char want[512];
	snprintf(want, sizeof(want), "%s:3:39: verdict: unknown value \"maybe\" (expected one of: allow, deny)\n",
		 test_file);
	cr_assert_str_eq(r.err, want);
	json_object_put(o);
	free(r.out);
	free(r.err);
}

Test(output, check_text)
{
	struct out r = check(POLICY, false);
	char want[256];

	cr_assert_eq(r.ret, 0, "stderr: %s", r.err);
	snprintf(want, sizeof(want), "policy %s: valid\n", test_file);
	cr_assert(strstr(r.out, want), "%s", r.out);
	cr_assert(strstr(r.out, "mode audit, default allow\n"), "%s", r.out);
	cr_assert(strstr(r.out, "audit denials: denials logged, allows counted only\n"), "%s", r.out);
	cr_assert(strstr(r.out, "  /tenants (cgroup id "), "%s", r.out);
	cr_assert(strstr(r.out, "): at most 6 live keys\n"), "%s", r.out);
	cr_assert(strstr(r.out, "  /later (does not exist yet: pending): at most 1 live keys, at most 9 denial records a second\n"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "  rule 1: /tenants/a (cgroup id "), "%s", r.out);
	cr_assert(strstr(r.out, ") deny keys ka * for bind,mmap\n"), "%s", r.out);
	cr_assert(strstr(r.out, "allow keys v for all, exe /bin/sh (dev "), "%s", r.out);
	cr_assert(strstr(r.out, "), uid 0, types cpu\n"), "%s", r.out);
	cr_assert(strstr(r.out, "  rule 3: /nope (does not exist yet: pending) allow keys n for all\n"), "%s", r.out);
	cr_assert(strstr(r.out, "compiled: 5 map entries, 2 pending\n"), "%s", r.out);
	free(r.out);
	free(r.err);
}

Test(output, check_text_error_only_on_stderr)
{
	struct out r = check("version: 1\nbogus: 1\n", false);
	char want[512];

	cr_assert_eq(r.ret, 2);
	cr_assert_str_empty(r.out);
	snprintf(want, sizeof(want), "%s:2:1: unknown field \"bogus\" (expected one of: version, mode, audit, default, limits, rules)\n",
		 test_file);
	cr_assert_str_eq(r.err, want);
	free(r.out);
	free(r.err);
}

Test(output, show_json_from_compiled_entries)
{
	struct policy p, back;
	struct compiled c;
	struct diag d;
	struct resolve_opts o = { .cgroup_root = test_root };
	struct assignment a = { .name = "shared", .id = MKTME_ASSIGN_ID_BASE };
	struct json_object *j;

	test_write(POLICY);
	cr_assert_eq(policy_parse_file(test_file, &p, &d), 0);
	cr_assert_eq(policy_resolve(&p, &o, &d), 0);
	a.cgid = test_cgid("/tenants/b");
	cr_assert_eq(policy_compile(&p, &a, 1, 42, &c, &d), 0);
	cr_assert_eq(policy_decompile(&c, &o, &back), 0);
	j = policy_to_json(&back, &c);
	cr_assert(json_object_get_boolean(get(j, "loaded")));
	cr_assert_eq(num(j, "generation"), 42);
	cr_assert_str_eq(str(j, "mode"), "audit");
	cr_assert_str_eq(str(j, "audit"), "denials");
	cr_assert_eq(json_object_array_length(get(j, "limits")), 1, "pending limits are not loaded");
	cr_assert_eq(json_object_array_length(get(j, "rules")), 3);
	cr_assert_eq(num(j, "rules.0.id"), 1);
	cr_assert_eq(json_object_array_length(get(j, "rules.0.keys")), 2);
	cr_assert_eq(num(j, "rules.1.id"), 2);
	cr_assert(json_object_object_get_ex(get(j, "rules.1"), "exe_ino", NULL));
	cr_assert_eq(num(j, "rules.2.id"), MKTME_ASSIGN_ID_BASE);
	cr_assert_str_eq(str(j, "rules.2.source"), "assign");
	cr_assert_str_eq(str(j, "rules.2.cgroup"), "/tenants/b");
	cr_assert_str_eq(str(j, "rules.2.keys.0"), "shared");
	cr_assert_str_eq(str(j, "rules.2.verdict"), "allow");
	json_object_put(j);
	policy_free(&back);
	compiled_free(&c);
	policy_free(&p);
}
