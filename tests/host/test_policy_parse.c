// SPDX-License-Identifier: GPL-2.0
/*
 * The policy parser and resolver: every way a policy file can be wrong gives
 * its exact "LINE:COLUMN: message" (1-based), and what is right is read as
 * written. Cgroups are HOST-SIMULATED (policy_test.h).
 */
#include "policy_test.h"

#include <sys/sysmacros.h>

#include "names.h"

TestSuite(parse, .init = test_tree, .fini = test_tree_remove);

#define RULE_A "rules:\n  - cgroup: /tenants/a\n    keys: [a]\n    verdict: allow\n"

/* ---- YAML itself -------------------------------------------------------- */

Test(parse, malformed_yaml)
{
	assert_error("version: 1\nrules: [1, 2\nmode: audit\n",
		     "4:1: YAML: flow sequence without a closing bracket");
}

Test(parse, unclosed_quote)
{
	assert_error("version: 1\nmode: \"enforce\n", "2:8: YAML: double-quoted scalar without closing quote");
}

Test(parse, duplicate_yaml_key)
{
	assert_error("version: 1\nmode: audit\nmode: enforce\n", "3:1: YAML: duplicate key");
}

/* A key given twice inside a rule's flow mapping: the rule is not read with either. */
Test(parse, duplicate_key_in_a_rule)
{
	assert_error("version: 1\nrules:\n  - {cgroup: /tenants/a, keys: [a], cgroup: /tenants/b, verdict: allow}\n",
		     "3:37: YAML: duplicate key");
}

/*
 * A mapping too large to scan key by key is checked when it closes: a
 * duplicate far down is found, and the first one in the file is named.
 * Also the cost: 100,000 keys (the 1 MiB a file may have) took the scan
 * 30 s; the test's own timeout says it must not.
 */
Test(parse, duplicate_key_in_a_large_mapping, .timeout = 10)
{
	size_t cap = 1 << 20, n;
	char *y = malloc(cap);

	cr_assert(y);
	n = snprintf(y, cap, "version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [a]\n    verdict: allow\n");
	for (int i = 0; i < 100; i++)
		n += snprintf(y + n, cap - n, "k%d: 1\n", i);
	/* Lines 106 and 107 repeat k7 and k3: k7's comes first. */
	n += snprintf(y + n, cap - n, "k7: 2\nk3: 2\n");
	assert_error(y, "106:1: YAML: duplicate key");
	n = snprintf(y, cap, "version: 1\n");
	for (int i = 0; n < cap - 64; i++)
		n += snprintf(y + n, cap - n, "k%d: 1\n", i);
	assert_error(y, "2:1: unknown field \"k0\" (expected one of: version, mode, audit, default, limits, rules)");
	free(y);
}

/*
 * Nesting is bounded (yaml_tree.c): a file of 100 nested lists is refused
 * with a message, not read into 100 levels of tree (or more: the file may
 * be 1 MiB of '[').
 */
Test(parse, deep_nesting_is_refused)
{
	char y[512];
	int n = snprintf(y, sizeof(y), "version: 1\nrules: ");

	for (int i = 0; i < 100; i++)
		y[n++] = '[';
	for (int i = 0; i < 100; i++)
		y[n++] = ']';
	y[n++] = '\n';
	y[n] = '\0';
	assert_error(y, "2:71: YAML: nested more than 64 levels deep");
}

Test(parse, empty_file)
{
	assert_error("", "1:1: empty policy (expected a mapping with at least \"version: 1\")");
}

Test(parse, comments_only)
{
	assert_error("# nothing\n", "1:1: empty policy (expected a mapping with at least \"version: 1\")");
}

Test(parse, two_documents)
{
	assert_error("version: 1\n---\nversion: 1\n",
		     "3:1: more than one YAML document (a policy is one document)");
}

/* Found by tests/fuzz: libfyaml 0.7.12 never returned (corpus: regress-directive-*). */
Test(parse, directive_with_invalid_utf8, .timeout = 10)
{
	assert_error("%\xff\n", "1:2: not valid UTF-8 (a policy is UTF-8 text)");
}

Test(parse, invalid_utf8)
{
	assert_error("version: 1\nrules:\n  - cgroup: /t\xc3\xa9\xc3\n",
		     "3:16: not valid UTF-8 (a policy is UTF-8 text)");
	assert_error("version: 1\n# overlong: \xc0\xaf\n", "2:13: not valid UTF-8 (a policy is UTF-8 text)");
	assert_error("version: 1\n# surrogate: \xed\xa0\x80\n",
		     "2:14: not valid UTF-8 (a policy is UTF-8 text)");
}

/*
 * Found by tests/fuzz (host/test_fuzz_smoke): libfyaml 0.7.12, Debian 12's,
 * crashed in fy_parser_destroy() on "? s:\t-" (7 bytes), after its error
 * "cannot use tab for indentation of block entry" under an explicit key:
 * its key list was freed twice (upstream libfyaml issue #57), so memory
 * was corrupted before the crash. A file with a tab never reaches libfyaml.
 */
Test(parse, tab_refused_before_libfyaml_sees_it, .timeout = 10)
{
	const char *why = "a tab character (a policy is indented and separated with spaces; "
			  "in a double-quoted string write \\t)";
	char want[256];

	snprintf(want, sizeof(want), "1:5: %s", why);
	assert_error("? s:\t-", want);
	snprintf(want, sizeof(want), "1:7: %s", why);
	assert_error("? [s]:\t-\n", want);
	snprintf(want, sizeof(want), "2:6: %s", why);
	assert_error("version: 1\nmode:\taudit\n", want);
	snprintf(want, sizeof(want), "2:3: %s", why);
	assert_error("version: 1\n# \tcomment\n", want);
}

/* YAML's character set (YAML 1.2 section 5.1, c-printable) has no C0 controls but these. */
Test(parse, control_characters)
{
	assert_error("version: 1\x01\n", "1:11: a control character (U+0001) is not YAML text");
	assert_error("version: 1\nmode: au\x7f" "dit\n",
		     "2:9: a control character (U+007F) is not YAML text");
	assert_error("version: 1\n\x1b[31m", "2:1: a control character (U+001B) is not YAML text");
	assert_error("version: 1\x0c\n", "1:11: a control character (U+000C) is not YAML text");
}

/* An escaped NUL would cut the string short: "/tenants/a\0/x" named /tenants/a. */
Test(parse, escaped_nul)
{
	assert_error("version: 1\nrules:\n  - cgroup: \"/tenants/a\\0/x\"\n    keys: [a]\n    verdict: allow\n",
		     "3:13: cgroup: contains a NUL character");
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [\"a\\x00b\"]\n    verdict: allow\n",
		     "4:12: keys: contains a NUL character");
}

Test(parse, alias)
{
	assert_error("version: 1\nmode: &m audit\ndefault: *m\n",
		     "3:10: aliases are not supported in a policy");
}

Test(parse, unquoted_star_is_an_alias)
{
	/* The classic slip: [*] is YAML for an alias. The error still points there. */
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [*]\n    verdict: allow\n",
		     "4:13: YAML: invalid alias detected");
}

/* ---- top level ---------------------------------------------------------- */

Test(parse, root_not_a_mapping)
{
	assert_error("- version: 1\n", "1:3: policy: expected a mapping, got a list");
}

Test(parse, missing_version)
{
	assert_error("mode: audit\n", "1:1: policy: missing required field \"version\"");
}

Test(parse, unsupported_version)
{
	assert_error("version: 2\n", "1:10: version: 2 is not supported (this mktmectl reads version 1)");
}

Test(parse, version_not_a_number)
{
	assert_error("version: one\n", "1:10: version: expected a non-negative integer, got \"one\"");
}

Test(parse, unknown_top_level_field)
{
	assert_error("version: 1\nmodes: audit\n",
		     "2:1: unknown field \"modes\" (expected one of: version, mode, audit, default, limits, rules)");
}

Test(parse, unknown_mode)
{
	assert_error("version: 1\nmode: permissive\n",
		     "2:7: mode: unknown value \"permissive\" (expected one of: enforce, audit)");
}

/* Which decisions get an audit record: denials unless the policy asks for all. */
Test(parse, audit_defaults_to_denials)
{
	static const struct {
		const char *yaml;
		int audit;
	} cases[] = {
		{ "version: 1\n", MKTME_AUDIT_DENIALS },
		{ "version: 1\naudit: denials\n", MKTME_AUDIT_DENIALS },
		{ "version: 1\nmode: audit\naudit: all\n", MKTME_AUDIT_ALL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy p;
		struct compiled c;

		assert_ok(cases[i].yaml, &p, &c);
		cr_assert_eq(p.audit, cases[i].audit, "%s", cases[i].yaml);
		compiled_free(&c);
		policy_free(&p);
	}
}

Test(parse, unknown_audit)
{
	assert_error("version: 1\naudit: allows\n",
		     "2:8: audit: unknown value \"allows\" (expected one of: denials, all)");
	assert_error("version: 1\naudit: [all]\n", "2:9: audit: expected a scalar, got a list");
	assert_error("version: 1\naudit: true\n",
		     "2:8: audit: unknown value \"true\" (expected one of: denials, all)");
}

Test(parse, unknown_default)
{
	assert_error("version: 1\ndefault: maybe\n",
		     "2:10: default: unknown value \"maybe\" (expected one of: allow, deny)");
}

Test(parse, missing_value)
{
	assert_error("version: 1\ndefault:\n", "2:1: default: missing value");
}

Test(parse, mode_not_a_scalar)
{
	assert_error("version: 1\nmode: [audit]\n", "2:8: mode: expected a scalar, got a list");
}

Test(parse, rules_not_a_list)
{
	assert_error("version: 1\nrules:\n  cgroup: /tenants/a\n", "3:3: rules: expected a list, got a mapping");
}

Test(parse, too_many_rules)
{
	size_t cap = 64 * (MKTME_MAX_RULES + 2);
	char *y = malloc(cap);
	size_t len;

	cr_assert_not_null(y);
	len = snprintf(y, cap, "version: 1\nrules:\n");
	for (int i = 0; i <= MKTME_MAX_RULES; i++)
		len += snprintf(y + len, cap - len,
				"  - {cgroup: /tenants/a, keys: [k%d], verdict: allow}\n", i);
	assert_error(y, "2:1: rules: 10001 entries (at most 10000)");
	free(y);
}

Test(parse, file_too_big)
{
	struct policy p;
	struct diag d;
	FILE *f = fopen(test_file, "w");

	cr_assert_not_null(f);
	fputs("version: 1\n", f);
	for (int i = 0; i < (1 << 20) / 10 + 1; i++)
		fputs("#........\n", f);
	fclose(f);
	cr_assert_eq(policy_parse_file(test_file, &p, &d), -1);
	cr_assert_eq(d.pos.line, 0);
	cr_assert(strstr(d.msg, "(at most 1048576)"), "%s", d.msg);
}

Test(parse, file_missing)
{
	struct policy p;
	struct diag d;

	cr_assert_eq(policy_parse_file("/nonexistent/policy.yaml", &p, &d), -1);
	cr_assert_str_eq(d.file, "/nonexistent/policy.yaml");
	cr_assert_str_eq(d.msg, "cannot open: No such file or directory");
}

/* ---- rules -------------------------------------------------------------- */

Test(parse, rule_not_a_mapping)
{
	assert_error("version: 1\nrules:\n  - /tenants/a\n", "3:5: rule: expected a mapping, got a scalar");
}

Test(parse, rule_unknown_field)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [a]\n    verdict: allow\n    users: 1\n",
		     "6:5: rule: unknown field \"users\" (expected one of: cgroup, may_appear_later, exe, uid, keys, key_types, algorithms, operations, owner, final, verdict)");
}

Test(parse, rule_missing_cgroup)
{
	assert_error("version: 1\nrules:\n  - keys: [a]\n    verdict: allow\n",
		     "3:5: rule: missing required field \"cgroup\"");
}

Test(parse, rule_missing_keys)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    verdict: allow\n",
		     "3:5: rule: missing required field \"keys\"");
}

Test(parse, rule_missing_verdict)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [a]\n",
		     "3:5: rule: missing required field \"verdict\"");
}

Test(parse, unknown_verdict)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [a]\n    verdict: permit\n",
		     "5:14: verdict: unknown value \"permit\" (expected one of: allow, deny)");
}

Test(parse, cgroup_relative)
{
	assert_error("version: 1\nrules:\n  - cgroup: tenants/a\n    keys: [a]\n    verdict: allow\n",
		     "3:13: cgroup: \"tenants/a\" is not an absolute path (cgroup v2 paths start with /, relative to the cgroup2 mount)");
}

Test(parse, cgroup_dotdot)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/../b\n    keys: [a]\n    verdict: allow\n",
		     "3:13: cgroup: \"/tenants/../b\": \".\" and \"..\" are not allowed");
}

Test(parse, cgroup_too_deep)
{
	char y[1024], path[512] = "";

	for (int i = 0; i < MKTME_MAX_DEPTH; i++)
		strcat(path, "/d");
	snprintf(y, sizeof(y), "version: 1\nrules:\n  - cgroup: %s\n    keys: [a]\n    verdict: allow\n", path);
	char want[1024];

	snprintf(want, sizeof(want), "3:13: cgroup: \"%s\" is 16 levels deep (at most 15)", path);
	assert_error(y, want);
}

Test(parse, cgroup_15_deep_is_fine_if_later)
{
	char y[1024], path[512] = "";
	struct policy p;
	struct compiled c;

	for (int i = 0; i < MKTME_MAX_DEPTH - 1; i++)
		strcat(path, "/d");
	snprintf(y, sizeof(y), "version: 1\nrules:\n  - cgroup: %s\n    may_appear_later: true\n    keys: [a]\n    verdict: allow\n", path);
	assert_ok(y, &p, &c);
	cr_assert_eq(c.nr_pending, 1);
	compiled_free(&c);
	policy_free(&p);
}

Test(parse, cgroup_not_a_scalar)
{
	assert_error("version: 1\nrules:\n  - cgroup: [/a]\n    keys: [a]\n    verdict: allow\n",
		     "3:14: cgroup: expected a scalar, got a list");
}

Test(parse, may_appear_later_not_bool)
{
	assert_error("version: 1\nrules:\n  - cgroup: /x\n    may_appear_later: yes\n    keys: [a]\n    verdict: allow\n",
		     "4:23: may_appear_later: expected true or false, got \"yes\"");
}

Test(parse, owner_and_final)
{
	struct policy p;
	struct compiled c;

	assert_ok("version: 1\nrules:\n"
		  "  - {cgroup: /tenants/a, keys: [a], owner: subtree, final: true, verdict: allow}\n"
		  "  - {cgroup: /tenants/b, keys: [a], owner: any, final: false, verdict: allow}\n"
		  "  - {cgroup: /vm, keys: [a], verdict: allow}\n", &p, &c);
	cr_assert(p.rules[0].owner_subtree && p.rules[0].final);
	cr_assert(!p.rules[1].owner_subtree && !p.rules[1].final);
	cr_assert(!p.rules[2].owner_subtree && !p.rules[2].final, "file rules default to owner any");
	compiled_free(&c);
	policy_free(&p);
}

Test(parse, owner_unknown_value)
{
	assert_error("version: 1\nrules:\n  - {cgroup: /tenants/a, keys: [a], owner: mine, verdict: allow}\n",
		     "3:44: owner: unknown value \"mine\" (expected one of: any, subtree)");
}

Test(parse, final_not_bool)
{
	assert_error("version: 1\nrules:\n  - {cgroup: /tenants/a, keys: [a], final: 1, verdict: allow}\n",
		     "3:44: final: expected true or false, got \"1\"");
}

Test(parse, exe_relative)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    exe: qemu\n    keys: [a]\n    verdict: allow\n",
		     "4:10: exe: \"qemu\" is not an absolute path");
}

Test(parse, uid_negative)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    uid: -1\n    keys: [a]\n    verdict: allow\n",
		     "4:10: uid: expected a non-negative integer, got \"-1\"");
}

Test(parse, uid_past_limit)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    uid: 4294967295\n    keys: [a]\n    verdict: allow\n",
		     "4:10: uid: 4294967295 is past the limit (at most 4294967294)");
}

Test(parse, uid_name)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    uid: root\n    keys: [a]\n    verdict: allow\n",
		     "4:10: uid: expected a non-negative integer, got \"root\"");
}

Test(parse, keys_not_a_list)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: a\n    verdict: allow\n",
		     "4:11: keys: expected a list, got a scalar");
}

Test(parse, keys_empty)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: []\n    verdict: allow\n",
		     "4:5: keys: empty list");
}

Test(parse, key_name_too_long)
{
	char name[MKTME_NAME_LEN + 1], y[512], want[256];

	memset(name, 'k', MKTME_NAME_LEN);
	name[MKTME_NAME_LEN] = '\0';
	snprintf(y, sizeof(y), "version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [ok, %s]\n    verdict: allow\n", name);
	snprintf(want, sizeof(want), "4:16: keys: name \"kkkkkkkkkkkkkkkkkkkk...\" is 64 bytes (at most 63)");
	assert_error(y, want);
}

Test(parse, key_name_63_bytes_is_fine)
{
	char name[MKTME_NAME_LEN], y[512];
	struct policy p;
	struct compiled c;

	memset(name, 'k', MKTME_NAME_LEN - 1);
	name[MKTME_NAME_LEN - 1] = '\0';
	snprintf(y, sizeof(y), "version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [%s]\n    verdict: allow\n", name);
	assert_ok(y, &p, &c);
	cr_assert_str_eq(p.rules[0].keys[0].name, name);
	compiled_free(&c);
	policy_free(&p);
}

Test(parse, key_name_empty)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [\"\"]\n    verdict: allow\n",
		     "4:12: keys: empty key name");
}

Test(parse, key_name_glob)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [\"tenant-*\"]\n    verdict: allow\n",
		     "4:12: keys: \"tenant-*\": \"*\" is not a glob, only \"*\" alone (any key) is allowed");
}

Test(parse, key_name_control_character)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [\"a\\tb\"]\n    verdict: allow\n",
		     "4:12: keys: name contains a control character");
}

Test(parse, key_listed_twice)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [a, b, a]\n    verdict: allow\n",
		     "4:18: keys: \"a\" listed twice");
}

Test(parse, too_many_keys)
{
	char y[4096];
	size_t len = snprintf(y, sizeof(y), "version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [");

	for (int i = 0; i <= POLICY_MAX_KEYS; i++)
		len += snprintf(y + len, sizeof(y) - len, "%sk%d", i ? ", " : "", i);
	snprintf(y + len, sizeof(y) - len, "]\n    verdict: allow\n");
	assert_error(y, "4:12: keys: 65 names (at most 64 per rule)");
}

Test(parse, unknown_key_type)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [a]\n    key_types: [cpu, aes]\n    verdict: allow\n",
		     "5:22: key_types: unknown value \"aes\" (expected one of: cpu, user, clear, no-encrypt)");
}

Test(parse, key_type_twice)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [a]\n    key_types: [cpu, cpu]\n    verdict: allow\n",
		     "5:22: key_types: \"cpu\" listed twice");
}

Test(parse, unknown_algorithm)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [a]\n    algorithms: [aes-xts-512]\n    verdict: allow\n",
		     "5:18: algorithms: unknown value \"aes-xts-512\" (expected one of: aes-xts-128, aes-xts-256)");
}

Test(parse, unknown_operation)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [a]\n    operations: [create, read]\n    verdict: allow\n",
		     "5:26: operations: unknown value \"read\" (expected one of: create, bind, mmap)");
}

Test(parse, operations_empty)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    keys: [a]\n    operations: []\n    verdict: allow\n",
		     "5:5: operations: empty list");
}

/* ---- limits ------------------------------------------------------------- */

Test(parse, limit_unknown_field)
{
	assert_error("version: 1\nlimits:\n  - cgroup: /tenants\n    max_keys: 3\n",
		     "4:5: limit: unknown field \"max_keys\" (expected one of: cgroup, max_live_keys, denial_records_per_second, may_appear_later)");
}

Test(parse, limit_missing_max)
{
	assert_error("version: 1\nlimits:\n  - cgroup: /tenants\n",
		     "3:5: limit: needs max_live_keys, denial_records_per_second or both");
}

/* A budget must leave room for a record, and its burst must fit in mktme_denials. */
Test(parse, denial_rate_bounds)
{
	char want[128];

	assert_error("version: 1\nlimits:\n  - cgroup: /tenants\n    denial_records_per_second: 0\n",
		     "4:32: denial_records_per_second: 0 would log no denial of the subtree (at least 1)");
	snprintf(want, sizeof(want),
		 "4:32: denial_records_per_second: %lu is past the limit (at most %lu)",
		 (unsigned long)MKTME_MAX_DENIAL_RATE + 1, (unsigned long)MKTME_MAX_DENIAL_RATE);
	{
		char yaml[128];

		snprintf(yaml, sizeof(yaml),
			 "version: 1\nlimits:\n  - cgroup: /tenants\n    denial_records_per_second: %lu\n",
			 (unsigned long)MKTME_MAX_DENIAL_RATE + 1);
		assert_error(yaml, want);
	}
	cr_assert_eq(MKTME_MAX_DENIAL_RATE, 6241, "1 MiB of 160-byte records and their 8-byte headers");
}

Test(parse, limit_past_limit)
{
	assert_error("version: 1\nlimits:\n  - cgroup: /tenants\n    max_live_keys: 65536\n",
		     "4:20: max_live_keys: 65536 is past the limit (at most 65535)");
}

Test(parse, limits_not_a_list)
{
	assert_error("version: 1\nlimits: 3\n", "2:9: limits: expected a list, got a scalar");
}

/* ---- resolving against the (simulated) system --------------------------- */

Test(parse, cgroup_missing)
{
	char want[1024];

	snprintf(want, sizeof(want),
		 "3:13: cgroup: /tenants/c does not exist under %s (add \"may_appear_later: true\" if it will be created later)",
		 test_root);
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/c\n    keys: [a]\n    verdict: allow\n", want);
}

Test(parse, cgroup_missing_but_may_appear_later)
{
	struct policy p;
	struct compiled c;

	assert_ok("version: 1\nrules:\n  - cgroup: /tenants/c\n    may_appear_later: true\n    keys: [a]\n    verdict: allow\n",
		  &p, &c);
	cr_assert_eq(p.rules[0].cgid, 0);
	cr_assert_eq(c.nr_pending, 1);
	cr_assert_eq(compiled_entries(&c), 1, "only the meta entry");
	compiled_free(&c);
	policy_free(&p);
}

Test(parse, cgroup_is_a_file)
{
	char want[1024];

	snprintf(want, sizeof(want), "3:13: cgroup: /tenants/cgroup.procs is not a cgroup (not a directory under %s)",
		 test_root);
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/cgroup.procs\n    keys: [a]\n    verdict: allow\n", want);
}

Test(parse, limit_cgroup_missing)
{
	char want[1024];

	snprintf(want, sizeof(want),
		 "3:13: cgroup: /gone does not exist under %s (add \"may_appear_later: true\" if it will be created later)",
		 test_root);
	assert_error("version: 1\nlimits:\n  - cgroup: /gone\n    max_live_keys: 1\n", want);
}

Test(parse, exe_missing)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    exe: /nonexistent/qemu\n    keys: [a]\n    verdict: allow\n",
		     "4:10: exe: /nonexistent/qemu: No such file or directory");
}

Test(parse, exe_directory)
{
	assert_error("version: 1\nrules:\n  - cgroup: /tenants/a\n    exe: /usr/bin\n    keys: [a]\n    verdict: allow\n",
		     "4:10: exe: /usr/bin is not a regular file");
}

/* ---- what is right is read as written ----------------------------------- */

Test(parse, defaults)
{
	struct policy p;
	struct compiled c;

	assert_ok("version: 1\n" RULE_A, &p, &c);
	cr_assert_eq(p.mode, MKTME_MODE_ENFORCE);
	cr_assert_eq(p.dflt, MKTME_DENY);
	cr_assert_eq(p.nr_rules, 1);
	cr_assert_eq(p.rules[0].ops, MKTME_OPS_ALL);
	cr_assert_eq(p.rules[0].types, MKTME_TYPES_ALL);
	cr_assert_eq(p.rules[0].algs, MKTME_ALGS_ALL);
	cr_assert_not(p.rules[0].has_exe);
	cr_assert_not(p.rules[0].has_uid);
	cr_assert_not(p.rules[0].may_appear_later);
	cr_assert_eq(p.rules[0].cgid, test_cgid("/tenants/a"));
	compiled_free(&c);
	policy_free(&p);
}

Test(parse, every_field)
{
	struct policy p;
	struct compiled c;
	struct stat st;

	assert_ok("version: 1\nmode: audit\ndefault: allow\n"
		  "limits:\n  - cgroup: /tenants\n    max_live_keys: 0\n"
		  "rules:\n  - cgroup: /vm\n    exe: /bin/sh\n    uid: 107\n    keys: [\"*\", vm-1]\n"
		  "    key_types: [user, no-encrypt]\n    algorithms: [aes-xts-256]\n"
		  "    operations: [mmap, bind]\n    verdict: deny\n",
		  &p, &c);
	cr_assert_eq(p.mode, MKTME_MODE_AUDIT);
	cr_assert_eq(p.dflt, MKTME_ALLOW);
	cr_assert_eq(p.nr_limits, 1);
	cr_assert_eq(p.limits[0].max_live_keys, 0);
	cr_assert_eq(p.limits[0].cgid, test_cgid("/tenants"));
	cr_assert_eq(p.rules[0].uid, 107);
	cr_assert(p.rules[0].has_uid && p.rules[0].has_exe);
	cr_assert_eq(stat("/bin/sh", &st), 0);
	cr_assert_eq(p.rules[0].exe_ino, st.st_ino);
	cr_assert_eq(p.rules[0].exe_dev, ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev),
		     "the kernel's dev_t encoding, not stat's");
	cr_assert_eq(p.rules[0].nr_keys, 2);
	cr_assert_str_eq(p.rules[0].keys[0].name, "*");
	cr_assert_str_eq(p.rules[0].keys[1].name, "vm-1");
	cr_assert_eq(p.rules[0].types, (1 << 1) | (1 << 3));
	cr_assert_eq(p.rules[0].algs, 1 << 2);
	cr_assert_eq(p.rules[0].ops, (1 << MKTME_OP_BIND) | (1 << MKTME_OP_MMAP));
	cr_assert_eq(p.rules[0].verdict, MKTME_DENY);
	compiled_free(&c);
	policy_free(&p);
}

Test(parse, examples_are_valid)
{
	static const char *const files[] = {
		"policy/examples/two-tenants.yaml",
		"policy/examples/vmm-any-key.yaml",
		"policy/examples/audit-rollout.yaml",
	};
	struct resolve_opts o = { .cgroup_root = test_root };

	for (size_t i = 0; i < 3; i++) {
		struct policy p;
		struct compiled c;
		struct diag d;
		int ret = policy_parse_file(files[i], &p, &d);

		cr_assert_eq(ret, 0, "%s:%d:%d: %s", d.file, d.pos.line, d.pos.col, d.msg);
		/* vmm-any-key names the VMM binary, which may not be installed. */
		if (i == 1 && access(p.rules[0].exe, F_OK)) {
			free(p.rules[0].exe);
			p.rules[0].exe = strdup("/bin/sh");
		}
		ret = policy_resolve(&p, &o, &d) || policy_compile(&p, NULL, 0, 1, &c, &d);
		cr_assert_eq(ret, 0, "%s:%d:%d: %s", d.file, d.pos.line, d.pos.col, d.msg);
		compiled_free(&c);
		policy_free(&p);
	}
}
