// SPDX-License-Identifier: GPL-2.0
/* What `policy check` and `policy show` print: the same view of a policy. */
#include "policy.h"

#include <string.h>
#include <time.h>

#include "json.h"
#include "names.h"

static void print_mask(FILE *out, const struct name_val *t, unsigned int mask, unsigned int all)
{
	bool first = true;

	if (mask == all) {
		fputs("all", out);
		return;
	}
	for (; t->name; t++) {
		if (!(mask & (1u << t->val)))
			continue;
		fprintf(out, "%s%s", first ? "" : ",", t->name);
		first = false;
	}
}

static void print_dev(char *buf, size_t len, uint64_t kdev)
{
	snprintf(buf, len, "%llu:%llu", (unsigned long long)(kdev >> 20),
		 (unsigned long long)(kdev & 0xfffff));
}

void policy_print_text(const struct policy *p, const struct compiled *c, FILE *out)
{
	char dev[32];

	if (p->loaded) {
		char when[64] = "?";
		time_t t = p->loaded_at;
		struct tm tm;

		if (localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(out, "loaded policy: generation %u, loaded %s\n", p->generation, when);
	} else if (p->offline) {
		fprintf(out, "policy %s: valid offline (cgroups and executables checked for form only: check it again on the system it is for)\n",
			p->file);
	} else {
		fprintf(out, "policy %s: valid\n", p->file);
	}
	fprintf(out, "mode %s, default %s\n", name_of(mode_names, p->mode),
		name_of(verdict_names, p->dflt));
	fprintf(out, "audit %s: %s\n", name_of(audit_names, p->audit),
		p->audit == MKTME_AUDIT_ALL ? "every decision logged" :
					      "denials logged, allows counted only");
	fputs(p->nr_limits ? "limits:\n" : "limits: none\n", out);
	for (size_t i = 0; i < p->nr_limits; i++) {
		const struct policy_limit *l = &p->limits[i];

		if (p->offline)
			fprintf(out, "  %s: ", l->cgroup);
		else if (l->cgid)
			fprintf(out, "  %s (cgroup id %llu): ", l->cgroup, (unsigned long long)l->cgid);
		else
			fprintf(out, "  %s (does not exist yet: pending): ", l->cgroup);
		if (l->has_max_live_keys)
			fprintf(out, "at most %u live keys%s", l->max_live_keys, l->denial_rate ? ", " : "");
		if (l->denial_rate)
			fprintf(out, "at most %u denial records a second", l->denial_rate);
		fputc('\n', out);
	}
	fprintf(out, "rules: %s\n", p->nr_rules ? "(at the nearest cgroup, the first match wins)" : "none");
	for (size_t i = 0; i < p->nr_rules; i++) {
		const struct policy_rule *r = &p->rules[i];

		if (r->from_assign)
			fprintf(out, "  assign %u: %s", r->id, r->cgroup);
		else
			fprintf(out, "  rule %u: %s", r->id, r->cgroup);
		if (r->cgid && !p->offline)
			fprintf(out, " (cgroup id %llu)", (unsigned long long)r->cgid);
		else if (!r->cgid)
			fprintf(out, " (does not exist yet: pending)");
		fprintf(out, " %s keys", name_of(verdict_names, r->verdict));
		for (size_t k = 0; k < r->nr_keys; k++)
			fprintf(out, " %s", r->keys[k].name);
		fputs(" for ", out);
		print_mask(out, op_names, r->ops, MKTME_OPS_ALL);
		if (r->has_exe) {
			print_dev(dev, sizeof(dev), r->exe_dev);
			if (r->exe)
				fprintf(out, ", exe %s", r->exe);
			else
				fprintf(out, ", exe");
			if (r->exe_ino && !p->offline)
				fprintf(out, " (dev %s inode %llu)", dev, (unsigned long long)r->exe_ino);
		}
		if (r->has_uid)
			fprintf(out, ", uid %u", r->uid);
		if (r->types != MKTME_TYPES_ALL) {
			fputs(", types ", out);
			print_mask(out, type_names, r->types, MKTME_TYPES_ALL);
		}
		if (r->algs != MKTME_ALGS_ALL) {
			fputs(", algorithms ", out);
			print_mask(out, alg_names, r->algs, MKTME_ALGS_ALL);
		}
		if (r->owner_subtree)
			fputs(", owner subtree", out);
		if (r->final)
			fputs(", final", out);
		fputc('\n', out);
	}
	if (c)
		fprintf(out, "compiled: %zu map entries, %zu pending\n", compiled_entries(c), c->nr_pending);
}

static struct json_object *rule_json(const struct policy *p, const struct policy_rule *r)
{
	struct json_object *o = json_object_new_object(), *keys = json_object_new_array();
	char dev[32];

	json_object_object_add(o, "id", json_object_new_int64(r->id));
	json_object_object_add(o, "source", json_object_new_string(r->from_assign ? "assign" : "policy"));
	json_object_object_add(o, "cgroup", json_str(r->cgroup));
	json_object_object_add(o, "cgroup_id", r->cgid && !p->offline ? json_u64(r->cgid) : NULL);
	json_object_object_add(o, "pending", json_object_new_boolean(!r->cgid));
	json_object_object_add(o, "exe", json_str(r->exe));
	if (r->has_exe && r->exe_ino && !p->offline) {
		print_dev(dev, sizeof(dev), r->exe_dev);
		json_object_object_add(o, "exe_dev", json_object_new_string(dev));
		json_object_object_add(o, "exe_ino", json_u64(r->exe_ino));
	}
	json_object_object_add(o, "uid", r->has_uid ? json_object_new_int64(r->uid) : NULL);
	for (size_t k = 0; k < r->nr_keys; k++)
		json_object_array_add(keys, json_object_new_string(r->keys[k].name));
	json_object_object_add(o, "keys", keys);
	json_object_object_add(o, "key_types", json_mask(type_names, r->types));
	json_object_object_add(o, "algorithms", json_mask(alg_names, r->algs));
	json_object_object_add(o, "operations", json_mask(op_names, r->ops));
	json_object_object_add(o, "owner", json_object_new_string(r->owner_subtree ? "subtree" : "any"));
	json_object_object_add(o, "final", json_object_new_boolean(r->final));
	json_object_object_add(o, "verdict", json_object_new_string(name_of(verdict_names, r->verdict)));
	return o;
}

struct json_object *policy_to_json(const struct policy *p, const struct compiled *c)
{
	struct json_object *o = json_object_new_object();
	struct json_object *rules = json_object_new_array(), *limits = json_object_new_array();

	if (p->loaded) {
		json_object_object_add(o, "loaded", json_object_new_boolean(true));
		json_object_object_add(o, "generation", json_object_new_int64(p->generation));
		json_object_object_add(o, "loaded_at", json_object_new_int64(p->loaded_at));
	} else {
		json_object_object_add(o, "file", json_str(p->file));
		json_object_object_add(o, "valid", json_object_new_boolean(true));
		json_object_object_add(o, "offline", json_object_new_boolean(p->offline));
	}
	json_object_object_add(o, "version", json_object_new_int(p->version));
	json_object_object_add(o, "mode", json_object_new_string(name_of(mode_names, p->mode)));
	json_object_object_add(o, "default", json_object_new_string(name_of(verdict_names, p->dflt)));
	json_object_object_add(o, "audit", json_object_new_string(name_of(audit_names, p->audit)));
	for (size_t i = 0; i < p->nr_limits; i++) {
		const struct policy_limit *l = &p->limits[i];
		struct json_object *lo = json_object_new_object();

		json_object_object_add(lo, "cgroup", json_str(l->cgroup));
		json_object_object_add(lo, "cgroup_id", l->cgid && !p->offline ? json_u64(l->cgid) : NULL);
		json_object_object_add(lo, "pending", json_object_new_boolean(!l->cgid));
		json_object_object_add(lo, "max_live_keys",
				       l->has_max_live_keys ? json_object_new_int64(l->max_live_keys) : NULL);
		json_object_object_add(lo, "denial_records_per_second",
				       l->denial_rate ? json_object_new_int64(l->denial_rate) : NULL);
		json_object_array_add(limits, lo);
	}
	json_object_object_add(o, "limits", limits);
	for (size_t i = 0; i < p->nr_rules; i++)
		json_object_array_add(rules, rule_json(p, &p->rules[i]));
	json_object_object_add(o, "rules", rules);
	if (c) {
		json_object_object_add(o, "map_entries", json_object_new_int64(compiled_entries(c)));
		json_object_object_add(o, "pending", json_object_new_int64(c->nr_pending));
	}
	return o;
}
