// SPDX-License-Identifier: GPL-2.0
/*
 * `policy check FILE`: everything a load does short of touching the kernel.
 * In the library (not main.c) so that host tests run the real command.
 */
#include "policy_check.h"

#include "json.h"

int policy_check_run(const char *file, const struct resolve_opts *o, bool json, bool pretty,
		     FILE *out, FILE *err)
{
	struct policy p;
	struct compiled c;
	struct diag d;

	if (policy_parse_file(file, &p, &d))
		goto bad;
	if (policy_resolve(&p, o, &d) || policy_compile(&p, NULL, 0, 0, &c, &d)) {
		policy_free(&p);
		goto bad;
	}
	if (json)
		json_emit(policy_to_json(&p, &c), out, pretty);
	else
		policy_print_text(&p, &c, out);
	compiled_free(&c);
	policy_free(&p);
	return 0;
bad:
	if (json) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "file", json_object_new_string(file));
		json_object_object_add(e, "valid", json_object_new_boolean(false));
		json_object_object_add(e, "error", diag_to_json(&d));
		json_emit(e, out, pretty);
	}
	diag_print(&d, err);
	return 2;
}
