// SPDX-License-Identifier: GPL-2.0
/*
 * mktmectl assign|unassign CGROUP KEY: allow KEY in CGROUP's subtree at
 * runtime. Kept in the state file (assign_state.h), so that they survive
 * reloads, daemon restarts and reboots, mirrored in the pinned mktme_assign
 * map, and merged into every generation as allow rules that rank after the
 * file's rules of the same precedence (REFERENCE.md).
 *
 * Lock order: the state directory, then the pins. Readers of the state file
 * (policy load, the daemon) hold only the pins' lock: the file is replaced
 * atomically, and a writer changes it only while holding both.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "assign_state.h"
#include "bpfobj.h"
#include "cgroup.h"
#include "json.h"
#include "main.h"

/* Where the command left things. */
struct outcome {
	bool changed;
	bool pinned;		/* the programs are attached */
	bool loaded;		/* a policy is in force */
	unsigned int generation;
};

/* The operands CGROUP and KEY: the cgroup's normal form into @cg. */
static int parse(char *const arg[2], char *cg, size_t len)
{
	char err[256];

	if (cgroup_path_normalize(arg[0], cg, len, err, sizeof(err)))
		return fail(EXIT_USAGE, "cgroup: %s. Nothing was changed.", err);
	if (!arg[1][0] || strlen(arg[1]) >= MKTME_NAME_LEN || strchr(arg[1], '*'))
		return fail(EXIT_USAGE, "key name \"%s\": 1 to %d bytes, no \"*\". Nothing was changed.",
			    arg[1], MKTME_NAME_LEN - 1);
	return EXIT_OK;
}

/* A new assignment must name a cgroup that exists: a typo is not stored. */
static int exists(const char *cg)
{
	const char *root = cgroup_root(cli.cgroup_root);
	uint64_t id;
	int ret = cgroup_id(root, cg, &id);

	if (ret)
		return fail(EXIT_USAGE, "cgroup %s: %s under %s. Nothing was changed.", cg,
			    ret == -ENOENT ? "does not exist" : strerror(-ret), root);
	return EXIT_OK;
}

static int state_fail(const struct diag *d)
{
	char where[300];

	if (d->pos.line > 0)
		snprintf(where, sizeof(where), "%s:%d:%d", d->file, d->pos.line, d->pos.col);
	else
		snprintf(where, sizeof(where), "%s", d->file);
	return fail(EXIT_RUNTIME, "%s: %s%s", where, d->msg,
		    strstr(d->msg, "Nothing was changed") || strstr(d->msg, "nothing was changed") ?
		    "" : ". Nothing was changed.");
}

/* The state directory, locked, and what it holds. */
static int state_open(struct state *s, int *dirfd)
{
	const char *dir = state_dir(cli.state_dir);
	struct diag d;

	*dirfd = state_dir_open(dir, true, true, &d);
	if (*dirfd < 0)
		return state_fail(&d);
	if (state_read(*dirfd, dir, s, &d)) {
		close(*dirfd);
		return state_fail(&d);
	}
	return EXIT_OK;
}

/* The pins, locked; -ENOENT (not an error) when nothing is pinned. */
static int pins_or_none(struct pins *p, struct outcome *o)
{
	int ret = pins_open(p, true);

	if (ret == -ENOENT)
		return EXIT_OK;
	if (ret)
		return fail(EXIT_RUNTIME, "cannot open the pinned maps under %s: %s. Nothing was changed.",
			    cli.pin_dir, strerror(-ret));
	o->pinned = true;
	return EXIT_OK;
}

/*
 * The state file now holds what was asked: put it in force (the generation
 * in force recompiled with it). On failure, @old goes back into the file
 * and into force, and the error says why.
 */
static int apply(int dirfd, const struct state *old, struct pins *p, struct outcome *o)
{
	struct compiled cur;
	struct diag d;
	char err[512], again[512];
	int code;

	if (!o->pinned)
		return EXIT_OK;
	o->loaded = policy_current(p, &cur) == 0;
	if (!o->loaded) {
		struct assignment *a = NULL;
		size_t n;

		/* Nothing to recompile: only the map, to mirror the file. */
		if (!assignments_read(p, &a, &n))
			free(a);
		return EXIT_OK;
	}
	compiled_free(&cur);
	if (!policy_reassign(p, err, sizeof(err))) {
		o->generation = generation_last(p);
		return EXIT_OK;
	}
	/* Compile errors (a bucket over its size) are the request's fault. */
	code = strncmp(err, "cannot ", 7) ? EXIT_USAGE : EXIT_RUNTIME;
	if (state_write(dirfd, old, &d)) {
		diag_print(&d, stderr);
		return fail(EXIT_RUNTIME, "%s; and the state file could not be put back: it holds the change, which is not in force",
			    err);
	}
	if (policy_reassign(p, again, sizeof(again)))
		return fail(EXIT_RUNTIME, "%s; the state file was put back, but the generation in force could not be rebuilt from it: %s",
			    err, again);
	return fail(code, "%s. Nothing was changed.", err);
}

static const char *why_not(const struct outcome *o, char *buf, size_t len)
{
	if (!o->pinned)
		snprintf(buf, len, "the mktme programs are not attached (nothing pinned under %s): it takes effect when a policy is loaded (mktmectl policy load, or the daemon)",
			 cli.pin_dir);
	else if (!o->loaded)
		snprintf(buf, len, "no policy is loaded (the programs allow everything): it takes effect with the next policy load");
	else
		return NULL;
	return buf;
}

static int report(const char *verb, const char *cg, const char *key, unsigned int id,
		  const struct outcome *o, const char *state_path)
{
	char why[512];
	const char *not = why_not(o, why, sizeof(why));
	bool remove = !strcmp(verb, "unassigned");

	if (cli.json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "cgroup", json_object_new_string(cg));
		json_object_object_add(j, "key", json_object_new_string(key));
		json_object_object_add(j, "rule_id", id ? json_object_new_int64(id) : NULL);
		json_object_object_add(j, "changed", json_object_new_boolean(o->changed));
		json_object_object_add(j, remove ? "removed" : "stored",
				       json_object_new_boolean(!remove || o->changed));
		json_object_object_add(j, "state_file", json_object_new_string(state_path));
		/* Nothing to remove: nothing was looked at in force either. */
		if (remove && !o->changed)
			not = "it was not assigned";
		json_object_object_add(j, "in_force", json_object_new_boolean(!not));
		json_object_object_add(j, "generation",
				       not ? NULL : json_object_new_int64(o->generation));
		json_object_object_add(j, "not_in_force_because", json_str(not));
		json_emit(j, stdout, cli.pretty);
		return EXIT_OK;
	}
	if (remove && !o->changed) {
		printf("not assigned: key \"%s\" in %s was not assigned; nothing was changed\n", key, cg);
		return EXIT_OK;
	}
	printf("%s%s: key \"%s\" in %s (rule %u), %s %s; ", o->changed ? "" : "already ", verb, key,
	       cg, id, remove ? "removed from" : "stored in", state_path);
	if (!not)
		printf("in force now (generation %u)\n", o->generation);
	else
		printf("%s: %s\n", remove ? "nothing to take out of force" : "not in force yet", not);
	return EXIT_OK;
}

/*
 * Write @next, put it in force, report. @s (the state as it was) is what
 * goes back on failure.
 */
static int change(int dirfd, const struct state *s, const struct state *next, struct pins *p,
		  struct outcome *o, const char *verb, const char *cg, const char *key,
		  unsigned int id)
{
	struct diag d;
	int ret;

	if (state_write(dirfd, next, &d))
		return state_fail(&d);
	o->changed = true;
	ret = apply(dirfd, s, p, o);
	return ret ? ret : report(verb, cg, key, id, o, s->path);
}

/*
 * --owner subtree (the default): the assignment allows only keys created
 * in the cgroup's subtree, since a key's name is its creator's choice and
 * any tenant of the same uid could make one under this name. --owner any:
 * every key of that name, whoever made it (a VMM that uses its tenants'
 * keys).
 */
int do_assign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "owner", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct state s, next;
	struct outcome o = { 0 };
	struct pins p = PINS_INIT;
	char cg[POLICY_MAX_PATH + 2], *arg[2];
	unsigned int id;
	bool owner_any = false;
	long at;
	int ret, dirfd;

	opts_begin();
	while ((ret = opts_next(argc, argv, "", opts)) != -1) {
		if (ret != 'o')
			return opts_error(ret, argv);
		if (strcmp(optarg, "any") && strcmp(optarg, "subtree"))
			return fail(EXIT_USAGE, "--owner %s: expected subtree or any. Nothing was changed.",
				    optarg);
		owner_any = !strcmp(optarg, "any");
	}
	if ((ret = opts_operands(argc, argv, 2, arg)) || (ret = parse(arg, cg, sizeof(cg))) ||
	    (ret = need_caps("assigning a key", CAPS_CHANGE)) || (ret = exists(cg)) ||
	    (ret = state_open(&s, &dirfd)))
		return ret;
	if ((ret = pins_or_none(&p, &o)))
		goto out;
	at = state_find(&s, cg, arg[1]);
	if (at >= 0 && s.e[at].owner_any == owner_any) {
		/*
		 * Stored already, and put in force again all the same: the
		 * cgroup may be a new one by that path (a container restarted),
		 * which the generation in force knows only by the old one's id.
		 */
		ret = apply(dirfd, &s, &p, &o);
		if (!ret)
			ret = report("assigned", cg, arg[1], s.e[at].id, &o, s.path);
		goto out;
	}
	if (at < 0 && s.n >= MKTME_MAX_ASSIGN) {
		ret = fail(EXIT_USAGE, "already %zu assignments (at most %d). Nothing was changed.", s.n,
			   MKTME_MAX_ASSIGN);
		goto out;
	}
	/*
	 * The same assignment with the other owner condition keeps its id (it
	 * replaces the entry at @at); ids are never reused while assigned, so a
	 * new one is the next after the highest.
	 */
	id = at >= 0 ? s.e[at].id : state_next_id(&s);
	if (state_copy(&s, at, &next) || state_add(&next, cg, arg[1], id, time(NULL))) {
		state_free(&next);
		ret = fail(EXIT_RUNTIME, "out of memory. Nothing was changed.");
		goto out;
	}
	next.e[next.n - 1].owner_any = owner_any;
	ret = change(dirfd, &s, &next, &p, &o, "assigned", cg, arg[1], id);
	state_free(&next);
out:
	pins_close(&p);
	state_free(&s);
	close(dirfd);
	return ret;
}

/* unassign --all: every assignment, for a clean slate. */
static int unassign_all(void)
{
	struct state s, none;
	struct outcome o = { 0 };
	struct pins p = PINS_INIT;
	struct diag d;
	int ret, dirfd;

	if ((ret = need_caps("unassigning keys", CAPS_CHANGE)) || (ret = state_open(&s, &dirfd)))
		return ret;
	if ((ret = pins_or_none(&p, &o)))
		goto out;
	none = s;
	none.n = 0;
	if (state_write(dirfd, &none, &d)) {
		ret = state_fail(&d);
		goto out;
	}
	o.changed = s.n > 0;
	ret = apply(dirfd, &s, &p, &o);
	if (ret)
		goto out;
	if (cli.json) {
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "removed", json_object_new_int64(s.n));
		json_object_object_add(j, "state_file", json_object_new_string(s.path));
		json_object_object_add(j, "in_force", json_object_new_boolean(o.pinned));
		json_emit(j, stdout, cli.pretty);
	} else {
		printf("unassigned: %zu assignments removed from %s%s\n", s.n, s.path,
		       o.pinned ? " and from the policy in force" : "");
	}
out:
	pins_close(&p);
	state_free(&s);
	close(dirfd);
	return ret;
}

int do_unassign(int argc, char **argv)
{
	static int all;
	static const struct option opts[] = {
		{ "all", no_argument, &all, 1 },
		{ NULL, 0, NULL, 0 },
	};
	struct state s, next;
	struct outcome o = { 0 };
	struct pins p = PINS_INIT;
	char cg[POLICY_MAX_PATH + 2], *arg[2];
	long at;
	int ret, dirfd;

	opts_begin();
	while ((ret = opts_next(argc, argv, "", opts)) != -1)
		if (ret)
			return opts_error(ret, argv);
	/* --all: no CGROUP or KEY. */
	if ((ret = opts_operands(argc, argv, all ? 0 : 2, arg)))
		return ret;
	if (all)
		return unassign_all();
	/* The cgroup may be gone: its assignment can still be removed. */
	if ((ret = parse(arg, cg, sizeof(cg))) ||
	    (ret = need_caps("unassigning a key", CAPS_CHANGE)) || (ret = state_open(&s, &dirfd)))
		return ret;
	at = state_find(&s, cg, arg[1]);
	if (at < 0) {
		ret = report("unassigned", cg, arg[1], 0, &o, s.path);
		goto out;
	}
	if ((ret = pins_or_none(&p, &o)))
		goto out;
	if (state_copy(&s, at, &next)) {
		ret = fail(EXIT_RUNTIME, "out of memory. Nothing was changed.");
		goto out;
	}
	ret = change(dirfd, &s, &next, &p, &o, "unassigned", cg, arg[1], s.e[at].id);
	state_free(&next);
out:
	pins_close(&p);
	state_free(&s);
	close(dirfd);
	return ret;
}

/*
 * At the daemon's start (and after a reboot): the state file's assignments
 * into the map and into the generation in force, if any. Errors are
 * reported; the daemon goes on with what is in force (the policy file is
 * still loaded, without assignments it cannot read: fail closed).
 */
int assign_state_apply(void)
{
	const char *dir = state_dir(cli.state_dir);
	struct assignment *a = NULL;
	struct state s;
	struct pins p;
	struct diag d;
	char err[512];
	size_t n = 0, pending;
	int ret;

	if (state_load(dir, &s, &d)) {
		diag_print(&d, stderr);
		return fail(EXIT_RUNTIME, "assignments not reapplied from the state file; those in force (if any) are kept");
	}
	ret = state_resolve(&s, cgroup_root(cli.cgroup_root), &a, &n, &pending);
	free(a);
	a = NULL;
	if (ret) {
		state_free(&s);
		return fail(EXIT_RUNTIME, "assignments not reapplied: %s", strerror(-ret));
	}
	ret = pins_open(&p, true);
	if (ret) {
		state_free(&s);
		return fail(EXIT_RUNTIME, "assignments not reapplied: cannot open the pins under %s: %s",
			    cli.pin_dir, strerror(-ret));
	}
	if (assignments_read(&p, &a, &n)) {
		ret = fail(EXIT_RUNTIME, "assignments not reapplied: %s", strerror(errno));
	} else if (policy_reassign(&p, err, sizeof(err))) {
		ret = fail(EXIT_RUNTIME, "assignments not reapplied: %s", err);
	} else {
		fprintf(stderr, "mktmectl %s: assignments: %zu in %s%s (%zu with their cgroup, %zu waiting for it)\n",
			cli.cmd ? cli.cmd : "", s.n, s.path, s.exists ? "" : " (no such file)", n,
			pending);
		ret = EXIT_OK;
	}
	free(a);
	pins_close(&p);
	state_free(&s);
	return ret;
}
