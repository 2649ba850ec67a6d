// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl assign|unassign CGROUP KEY: allow KEY in CGROUP's subtree at
 * runtime. Kept in the pinned mktme_assign map, so they survive reloads
 * and daemon restarts, and merged into every generation as allow rules
 * that rank after the file's rules of the same precedence (REFERENCE.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "bpfobj.h"
#include "cgroup.h"
#include "json.h"
#include "main.h"

static void help(void)
{
	fprintf(stderr, "Usage: mktmectl assign CGROUP KEY\n       mktmectl unassign CGROUP KEY | --all\n");
}

static int parse(int argc, char **argv, struct mktme_pol_cg_key *k)
{
	const char *root = cgroup_root(cli.cgroup_root);
	int ret;

	if (argc != 2) {
		help();
		return fail(EXIT_USAGE, "expected CGROUP and KEY");
	}
	if (argv[0][0] != '/')
		return fail(EXIT_USAGE, "cgroup \"%s\" is not an absolute path (relative to %s). Nothing was changed.",
			    argv[0], root);
	if (!argv[1][0] || strlen(argv[1]) >= MKTME_NAME_LEN || strchr(argv[1], '*'))
		return fail(EXIT_USAGE, "key name \"%s\": 1 to %d bytes, no \"*\". Nothing was changed.",
			    argv[1], MKTME_NAME_LEN - 1);
	uint64_t id;

	memset(k, 0, sizeof(*k));
	ret = cgroup_id(root, argv[0], &id);
	k->cgid = id;
	if (ret)
		return fail(EXIT_USAGE, "cgroup %s: %s under %s. Nothing was changed.", argv[0],
			    ret == -ENOENT ? "does not exist" : strerror(-ret), root);
	strncpy(k->name, argv[1], sizeof(k->name) - 1);
	return EXIT_OK;
}

static int report(const char *what, const char *cg, const char *key, unsigned int id,
		  bool changed, bool policy_loaded)
{
	if (cli.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "cgroup", json_object_new_string(cg));
		json_object_object_add(o, "key", json_object_new_string(key));
		json_object_object_add(o, "rule_id", json_object_new_int64(id));
		json_object_object_add(o, "changed", json_object_new_boolean(changed));
		json_object_object_add(o, "in_force", json_object_new_boolean(policy_loaded));
		json_emit(o, stdout, cli.pretty);
		return EXIT_OK;
	}
	printf("%s%s: key \"%s\" in %s (rule %u)%s\n", changed ? "" : "already ", what, key, cg, id,
	       policy_loaded ? "" : "; no policy is loaded: it takes effect with the next policy load");
	return EXIT_OK;
}

static int open_pins(struct pins *p)
{
	int ret = pins_open(p, true);

	if (ret == -ENOENT)
		return fail(EXIT_RUNTIME, "the mktme programs are not loaded (nothing pinned under %s): run mktmectl policy load or mktmectl daemon first. Nothing was changed.",
			    cli.pin_dir);
	if (ret)
		return fail(EXIT_RUNTIME, "cannot open the pinned maps under %s: %s. Nothing was changed.",
			    cli.pin_dir, strerror(-ret));
	return EXIT_OK;
}

int do_assign(int argc, char **argv)
{
	struct mktme_pol_cg_key k, ok, prev;
	struct mktme_pol_assign_val v = { .assigned_at = time(NULL) }, ov;
	struct compiled cur;
	struct pins p;
	char err[512];
	void *pk = NULL;
	unsigned int id = MKTME_ASSIGN_ID_BASE, n = 0;
	bool loaded;
	int ret;

	if ((ret = parse(argc, argv, &k)) || (ret = need_root("assigning a key")) ||
	    (ret = open_pins(&p)))
		return ret;
	loaded = policy_current(&p, &cur) == 0;
	if (loaded)
		compiled_free(&cur);
	if (!bpf_map_lookup_elem(p.assign, &k, &ov)) {
		pins_close(&p);
		return report("assigned", argv[0], argv[1], ov.id, false, loaded);
	}
	/* Ids are never reused while assigned: the next after the highest. */
	while (bpf_map_get_next_key(p.assign, pk, &ok) == 0) {
		prev = ok;
		pk = &prev;
		n++;
		if (!bpf_map_lookup_elem(p.assign, &prev, &ov) && ov.id >= id)
			id = ov.id + 1;
	}
	if (n >= MKTME_MAX_ASSIGN) {
		pins_close(&p);
		return fail(EXIT_USAGE, "already %u assignments (at most %d). Nothing was changed.", n,
			    MKTME_MAX_ASSIGN);
	}
	v.id = id;
	if (bpf_map_update_elem(p.assign, &k, &v, BPF_NOEXIST)) {
		ret = fail(EXIT_RUNTIME, "cannot store the assignment: %s. Nothing was changed.",
			   strerror(errno));
		pins_close(&p);
		return ret;
	}
	if (policy_reassign(&p, err, sizeof(err))) {
		/* Back out, so that what is stored is what is in force. */
		bpf_map_delete_elem(p.assign, &k);
		pins_close(&p);
		return fail(EXIT_USAGE, "%s. Nothing was changed.", err);
	}
	pins_close(&p);
	return report("assigned", argv[0], argv[1], id, true, loaded);
}

/* unassign --all: every assignment, for a clean slate. */
static int unassign_all(void)
{
	struct mktme_pol_cg_key k;
	struct pins p;
	char err[512];
	unsigned int n = 0;
	int ret;

	if ((ret = need_root("unassigning keys")) || (ret = open_pins(&p)))
		return ret;
	while (bpf_map_get_next_key(p.assign, NULL, &k) == 0 && !bpf_map_delete_elem(p.assign, &k))
		n++;
	if (policy_reassign(&p, err, sizeof(err))) {
		pins_close(&p);
		return fail(EXIT_RUNTIME, "%u assignments removed, but the policy in force still has them: %s",
			    n, err);
	}
	pins_close(&p);
	if (cli.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "removed", json_object_new_int64(n));
		json_emit(o, stdout, cli.pretty);
	} else {
		printf("unassigned: %u assignments removed\n", n);
	}
	return EXIT_OK;
}

int do_unassign(int argc, char **argv)
{
	struct mktme_pol_cg_key k;
	struct mktme_pol_assign_val ov;
	struct compiled cur;
	struct pins p;
	char err[512];
	bool loaded;
	int ret;

	if (argc == 1 && !strcmp(argv[0], "--all"))
		return unassign_all();
	if ((ret = parse(argc, argv, &k)) || (ret = need_root("unassigning a key")) ||
	    (ret = open_pins(&p)))
		return ret;
	loaded = policy_current(&p, &cur) == 0;
	if (loaded)
		compiled_free(&cur);
	if (bpf_map_lookup_elem(p.assign, &k, &ov)) {
		pins_close(&p);
		return fail(EXIT_USAGE, "key \"%s\" is not assigned to %s. Nothing was changed.", argv[1],
			    argv[0]);
	}
	if (bpf_map_delete_elem(p.assign, &k)) {
		ret = fail(EXIT_RUNTIME, "cannot remove the assignment: %s. Nothing was changed.",
			   strerror(errno));
		pins_close(&p);
		return ret;
	}
	if (policy_reassign(&p, err, sizeof(err))) {
		bpf_map_update_elem(p.assign, &k, &ov, BPF_NOEXIST);
		pins_close(&p);
		return fail(EXIT_RUNTIME, "%s. Nothing was changed.", err);
	}
	pins_close(&p);
	if (cli.json)
		return report("unassigned", argv[0], argv[1], ov.id, true, loaded);
	printf("unassigned: key \"%s\" in %s (was rule %u)\n", argv[1], argv[0], ov.id);
	return EXIT_OK;
}
